"""The array namespace a model sees as ``nn.numpy`` on the NumPy backend.

Model code is written once against ``nn.numpy`` and runs on both backends:
nnjax exposes ``jax.numpy`` under that name, nnref exposes this module. It is
NumPy's own namespace (every function is NumPy's, so results are NumPy's
results) with one deliberate difference: **default dtypes are 32-bit**, as in
``jax.numpy`` with ``jax_enable_x64`` off.

* Creation functions default to ``float32`` (``zeros``, ``ones``, ``empty``,
  ``eye``, ``identity``, ``tri``, ``linspace``, ``logspace``, ``geomspace``),
  and to ``int32`` for integer data (``arange(5)``, ``array([1, 2])``).
* Python numbers are *weakly typed*, as in JAX: ``array(1.5)`` is ``float32``,
  ``full(3, 2)`` is ``int32``, and ``asarray(x) * 2.0`` keeps ``x``'s dtype.
* Any other function whose arguments are all at most 32 bits wide returns at
  most 32 bits: ``sum`` of ``int32`` stays ``int32``, ``mean`` of ``int32``
  and ``sqrt`` of an integer array are ``float32``, ``argmax`` is ``int32``.

To get ``float64`` (or ``int64``), ask for it: pass ``dtype=float64``, or pass
arrays that already are 64-bit; 64-bit inputs give 64-bit results. Unlike
``jax.numpy`` with x64 off, nothing is ever silently demoted from 64 bits.

Python operators on arrays (``a / b``) and array methods (``a.mean()``) are
NumPy's and follow NumPy's promotion, which this module cannot reach.

>>> from nnref import numpy as jnp
>>> jnp.zeros((2,)).dtype, jnp.arange(3).dtype, jnp.array([0.5]).dtype
(dtype('float32'), dtype('int32'), dtype('float32'))
>>> jnp.zeros((2,), dtype=jnp.float64).dtype
dtype('float64')
>>> jnp.mean(jnp.array([1, 2])).dtype
dtype('float32')
"""

import builtins as _builtins
import types as _types

import ml_dtypes as _ml_dtypes
import numpy as _np
from numpy import *  # noqa: F401,F403  (the namespace *is* NumPy's)

# Names that ``import *`` leaves out on some NumPy versions because they
# shadow builtins; model code uses them constantly.
from numpy import (  # noqa: F401,A004  # noqa: F401  # noqa: F401  # noqa: F401
    abs,
    all,
    any,
    bool_,
    clip,
    complex64,
    complex128,
    dot,
    einsum,
    fft,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    linalg,
    matmul,
    max,
    min,
    round,
    sum,
    take,
    uint8,
    uint16,
    uint32,
    uint64,
    where,
)

# Low-precision floats come from ml_dtypes, as they do inside JAX.
bfloat16 = _ml_dtypes.bfloat16
float8_e4m3fn = _ml_dtypes.float8_e4m3fn
float8_e5m2 = _ml_dtypes.float8_e5m2
int4 = _ml_dtypes.int4
uint4 = _ml_dtypes.uint4
# ml_dtypes' finfo/iinfo understand bfloat16 as well as NumPy's own types.
finfo = _ml_dtypes.finfo
iinfo = _ml_dtypes.iinfo

# NumPy submodules that jax.numpy does not have; leaving them here would let
# model code run on nnref and then fail on nnjax (randomness goes through
# nnref.random keys, never np.random).
for _name in (
    'random',
    'ma',
    'char',
    'rec',
    'ctypeslib',
    'testing',
    'lib',
    'core',
    'f2py',
    'typing',
    'polynomial',
    'emath',
    'strings',
    'exceptions',
    'dtypes',
    'test',
):  # numpy's self-test runner; pytest would try to collect it
    globals().pop(_name, None)

# 64-bit dtypes and the 32-bit dtype each one narrows to.
_NARROW = {
    _np.dtype(_np.float64): _np.dtype(_np.float32),
    _np.dtype(_np.int64): _np.dtype(_np.int32),
    _np.dtype(_np.uint64): _np.dtype(_np.uint32),
    _np.dtype(_np.complex128): _np.dtype(_np.complex64),
}
_DEFAULT_FLOAT = _np.dtype(_np.float32)


def _leaves(obj):
    """Yield the scalars/arrays inside nested lists and tuples."""
    if isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _leaves(item)
    else:
        yield obj


def _typed_dtype(leaf):
    """The dtype a leaf insists on, or None for weak Python data."""
    if isinstance(leaf, _np.dtype):
        return leaf
    if isinstance(leaf, type) and (issubclass(leaf, _np.generic) or leaf in (float, int, complex, _builtins.bool)):
        try:  # a dtype passed positionally, e.g. sum(x, 0, float64)
            return _np.dtype(leaf)
        except TypeError:  # abstract types such as np.floating
            return None
    dtype = getattr(leaf, 'dtype', None)
    return dtype if isinstance(dtype, _np.dtype) else None


def _has_wide_input(args, kwargs):
    """True when an argument is 64-bit, so the caller wants 64-bit results."""
    explicit = kwargs.get('dtype')
    if explicit is not None:
        return True  # an explicit dtype is always obeyed as NumPy reads it
    for leaf in _leaves(list(args) + list(kwargs.values())):
        dtype = _typed_dtype(leaf)
        if dtype is not None and dtype in _NARROW:
            return True
    return False


def _narrow(result):
    """Replace 64-bit arrays in a result (or tuple of results) by 32-bit ones."""
    if isinstance(result, (_np.ndarray, _np.generic)):
        target = _NARROW.get(result.dtype)
        return result if target is None else result.astype(target)
    if isinstance(result, tuple):
        items = [_narrow(item) for item in result]
        # Named tuples (unique_all, ...) are rebuilt field by field.
        return type(result)(*items) if hasattr(result, '_fields') else tuple(items)
    if isinstance(result, list):
        return [_narrow(item) for item in result]
    return result


def _integer_only(args):
    """True when every operand is bool/integer (typed or Python)."""
    for leaf in _leaves(list(args)):
        dtype = _typed_dtype(leaf)
        if dtype is None:
            if isinstance(leaf, (float, complex)) or not isinstance(leaf, (int, _np.integer)):
                return False
        elif dtype.kind not in 'biu':
            return False
    return True


def _produces_float(ufunc):
    """Whether a ufunc turns integers into floats (sqrt, exp, true_divide...)."""
    try:
        with _np.errstate(all='ignore'):
            out = ufunc(*([_np.int8(1)] * ufunc.nin))
    except (TypeError, ValueError):
        return False
    first = out[0] if isinstance(out, tuple) else out
    return _np.asarray(first).dtype.kind in 'fc'


class _X32:
    """A NumPy callable under the 32-bit rule: all-32-bit inputs, 32-bit outputs.

    An object rather than a closure so that NumPy's own docstrings stay
    NumPy's (doctest does not collect them as ours) and so that ufunc
    attributes (``add.at``, ``add.reduce``, ``nin``...) still reach NumPy.
    """

    def __init__(self, fn):
        self._fn = fn
        self._float_ufunc = isinstance(fn, _np.ufunc) and _produces_float(fn)
        self.__name__ = getattr(fn, '__name__', type(fn).__name__)
        self.__wrapped__ = fn

    def __call__(self, *args, **kwargs):
        fn = self._fn
        if kwargs.get('out') is not None:
            return fn(*args, **kwargs)  # the caller chose the storage
        wide = _has_wide_input(args, kwargs)
        if self._float_ufunc and not wide and _integer_only(args[: fn.nin]):
            # JAX turns integers into its default float, float32, whatever
            # their width; NumPy would pick float16 for int8, float64 for int32.
            kwargs['dtype'] = _DEFAULT_FLOAT
        result = fn(*args, **kwargs)
        return result if wide else _narrow(result)

    def __getattr__(self, name):
        value = getattr(self._fn, name)
        # ufunc methods (reduce, accumulate, outer...) follow the same rule.
        return _X32(value) if callable(value) and not isinstance(value, type) else value

    def __repr__(self):
        return f'<nnref.numpy {self.__name__} (NumPy, 32-bit defaults)>'


# ---------------------------------------------------------------------------
# Creation functions: where NumPy would choose a 64-bit default, choose 32.
# ---------------------------------------------------------------------------


def _weak_dtype(*objs):
    """The dtype JAX (x64 off) would infer for Python data mixed with arrays.

    Typed leaves (arrays, NumPy scalars) decide by NumPy promotion, with Python
    numbers joining weakly; data made only of Python numbers gets the 32-bit
    defaults. Returns None for anything else (strings, objects): NumPy decides.
    """
    typed, weak = [], []
    for leaf in _leaves(list(objs)):
        dtype = _typed_dtype(leaf)
        if dtype is not None:
            typed.append(dtype)
        elif isinstance(leaf, (_builtins.bool, int, float, complex)):
            weak.append(leaf)
        elif leaf is not None:
            return None
    if typed:
        return _np.result_type(*typed, *weak)
    if not weak:
        return None
    if _builtins.any(isinstance(v, complex) for v in weak):
        return _np.dtype(_np.complex64)
    if _builtins.any(isinstance(v, float) for v in weak):
        return _DEFAULT_FLOAT
    if _builtins.all(isinstance(v, _builtins.bool) for v in weak):
        return _np.dtype(_np.bool_)
    return _np.dtype(_np.int32)


def _float_dtype(*objs):
    """Like _weak_dtype but integers give float32 (linspace and friends)."""
    dtype = _weak_dtype(*objs)
    if dtype is None or dtype.kind not in 'fc':
        return _DEFAULT_FLOAT
    return dtype


def array(object, dtype=None, *, copy=True, order='K', ndmin=0):  # noqa: A002
    """``numpy.array`` with JAX's 32-bit defaults for Python data.

    >>> array([1.0, 2.0]).dtype, array([1, 2]).dtype, array([True]).dtype
    (dtype('float32'), dtype('int32'), dtype('bool'))
    """
    if dtype is None:
        dtype = _weak_dtype(object)
    return _np.array(object, dtype=dtype, copy=copy, order=order, ndmin=ndmin)


def asarray(a, dtype=None, order=None, *, copy=None):
    """``numpy.asarray``; arrays keep their dtype, Python data gets 32 bits.

    >>> asarray(3.0).dtype, asarray(_np.ones(2)).dtype
    (dtype('float32'), dtype('float64'))
    """
    if dtype is None:
        dtype = _weak_dtype(a)
    return _np.asarray(a, dtype=dtype, order=order, copy=copy)


def zeros(shape, dtype=None, order='C'):
    """``numpy.zeros`` defaulting to float32.

    >>> zeros((2, 3)).dtype
    dtype('float32')
    """
    return _np.zeros(shape, dtype=_DEFAULT_FLOAT if dtype is None else dtype, order=order)


def ones(shape, dtype=None, order='C'):
    """``numpy.ones`` defaulting to float32.

    >>> ones(2)
    array([1., 1.], dtype=float32)
    """
    return _np.ones(shape, dtype=_DEFAULT_FLOAT if dtype is None else dtype, order=order)


def empty(shape, dtype=None, order='C'):
    """Zeros, as ``jax.numpy.empty`` gives (it cannot hand out uninitialized
    memory); defaults to float32. NumPy's ``empty`` would return whatever the
    memory held, so model code that forgot to fill it would differ by backend.

    >>> empty(2)
    array([0., 0.], dtype=float32)
    """
    return _np.zeros(shape, dtype=_DEFAULT_FLOAT if dtype is None else dtype, order=order)


def full(shape, fill_value, dtype=None, order='C'):
    """``numpy.full``; the dtype follows ``fill_value`` with weak Python numbers.

    >>> full(2, 7).dtype, full(2, 0.5).dtype
    (dtype('int32'), dtype('float32'))
    """
    if dtype is None:
        dtype = _weak_dtype(fill_value)
    return _np.full(shape, fill_value, dtype=dtype, order=order)


def _like(numpy_fn):
    """Build a ``*_like`` creator: arrays keep their dtype, Python data gets 32 bits."""

    def like(a, dtype=None, order='K', subok=True, shape=None):
        if dtype is None and _typed_dtype(a) is None:
            dtype = _weak_dtype(a)
        return numpy_fn(a, dtype=dtype, order=order, subok=subok, shape=shape)

    like.__name__ = like.__qualname__ = numpy_fn.__name__
    like.__doc__ = f'``numpy.{numpy_fn.__name__}``; an array keeps its dtype, Python data gets JAX\'s 32-bit default.\n'
    return like


zeros_like = _like(_np.zeros_like)
ones_like = _like(_np.ones_like)
# jax.numpy.empty_like gives zeros (see `empty`); so does this one.
empty_like = _like(_np.zeros_like)
empty_like.__name__ = empty_like.__qualname__ = 'empty_like'
empty_like.__doc__ = (
    'Zeros shaped like ``a``, as ``jax.numpy.empty_like`` gives; an array keeps '
    "its dtype, Python data gets JAX's 32-bit default.\n\n"
    '>>> empty_like([1.5, 2.5])\n'
    "array([0., 0.], dtype=float32)\n"
)


def full_like(a, fill_value, dtype=None, order='K', subok=True, shape=None):
    """``numpy.full_like``; Python data for ``a`` gets JAX's 32-bit default.

    >>> full_like([1.0, 2.0], 3).dtype
    dtype('float32')
    """
    if dtype is None and _typed_dtype(a) is None:
        dtype = _weak_dtype(a)
    return _np.full_like(a, fill_value, dtype=dtype, order=order, subok=subok, shape=shape)


def eye(N, M=None, k=0, dtype=None, order='C'):  # noqa: N803 (NumPy's names)
    """``numpy.eye`` defaulting to float32.

    >>> eye(2).dtype
    dtype('float32')
    """
    return _np.eye(N, M, k, dtype=_DEFAULT_FLOAT if dtype is None else dtype, order=order)


def identity(n, dtype=None):
    """``numpy.identity`` defaulting to float32.

    >>> identity(3).dtype
    dtype('float32')
    """
    return _np.identity(n, dtype=_DEFAULT_FLOAT if dtype is None else dtype)


def tri(N, M=None, k=0, dtype=None):  # noqa: N803
    """``numpy.tri`` defaulting to float32.

    >>> tri(2).dtype
    dtype('float32')
    """
    return _np.tri(N, M, k, dtype=_DEFAULT_FLOAT if dtype is None else dtype)


def arange(start, stop=None, step=None, dtype=None):
    """``numpy.arange`` with int32/float32 defaults.

    >>> arange(3).dtype, arange(0.0, 1.0, 0.5).dtype
    (dtype('int32'), dtype('float32'))
    """
    if dtype is None:
        dtype = _weak_dtype(*(v for v in (start, stop, step) if v is not None))
    if stop is None:
        return _np.arange(start, step=step, dtype=dtype) if step is not None else _np.arange(start, dtype=dtype)
    return _np.arange(start, stop, step, dtype=dtype)


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``numpy.linspace`` defaulting to float32.

    >>> linspace(0, 1, 3)
    array([0. , 0.5, 1. ], dtype=float32)
    """
    if dtype is None:
        dtype = _float_dtype(start, stop)
    out = _np.linspace(start, stop, num, endpoint=endpoint, retstep=retstep, dtype=dtype, axis=axis)
    if retstep:
        samples, step = out
        return samples, _np.asarray(step, dtype=samples.dtype)
    return out


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    """``numpy.logspace`` defaulting to float32.

    >>> logspace(0, 2, 3)
    array([  1.,  10., 100.], dtype=float32)
    """
    if dtype is None:
        dtype = _float_dtype(start, stop)
    return _np.logspace(start, stop, num, endpoint=endpoint, base=base, dtype=dtype, axis=axis)


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """``numpy.geomspace`` defaulting to float32.

    >>> geomspace(1, 100, 3)
    array([  1.,  10., 100.], dtype=float32)
    """
    if dtype is None:
        dtype = _float_dtype(start, stop)
    return _np.geomspace(start, stop, num, endpoint=endpoint, dtype=dtype, axis=axis)


# Everything else NumPy exports that computes values gets the 32-bit rule.
# Classes (dtypes, ndarray, errstate, ...) and plain constants stay as they are.
_OWN = frozenset(
    {
        'array',
        'asarray',
        'zeros',
        'ones',
        'empty',
        'full',
        'zeros_like',
        'ones_like',
        'empty_like',
        'full_like',
        'eye',
        'identity',
        'tri',
        'arange',
        'linspace',
        'logspace',
        'geomspace',
        'finfo',
        'iinfo',
    }
)
for _name, _value in list(globals().items()):
    if (
        _name.startswith('_')
        or _name in _OWN
        or isinstance(_value, (type, _types.ModuleType))
        or not callable(_value)
        or getattr(_value, '__module__', '') == __name__
    ):
        continue
    if isinstance(_value, _np.ufunc) or _name in _np.__dict__:
        globals()[_name] = _X32(_value)

__all__ = sorted(n for n in globals() if not n.startswith('_'))
del _name, _value
