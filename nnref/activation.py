"""Activation functions of ``flax.linen.activation``, computed with NumPy.

Same names, signatures and defaults as ``jax.nn`` (which Linen re-exports),
and the same dtype behaviour as far as a model can tell:

* a float input gives an output of the same dtype (float32 -> float32,
  float64 -> float64);
* float16 / bfloat16 (and other sub-32-bit floats) are computed in float32
  and rounded once at the end, which is what XLA does for them on CPU;
* integer and bool inputs are promoted to float32, JAX's default float;
  ``relu`` and ``hard_tanh`` keep integer dtypes (bool becomes int32), as in
  JAX. (JAX refuses integer input to ``sigmoid``/``silu``/``glu``; here they
  are promoted like everything else.)
* Python scalars and lists are weakly typed: ``relu(2.0)`` is float32.

Every function returns an ``ndarray`` (0-d for scalar input), never a NumPy
scalar. Formulas are the numerically stable ones: softmax subtracts the
maximum, ``softplus(x) = logaddexp(x, 0)``, ``log_sigmoid(x) = -softplus(-x)``.

``PReLU`` is a Module, not a function, and lives with the layers.

>>> import numpy as np
>>> softmax(np.array([1.0, 1.0], np.float32))
array([0.5, 0.5], dtype=float32)
"""

import math
import operator

import numpy as np
import scipy.special

from nnref import numpy as _nnp
from nnref.module import Module, compact

__all__ = [
    'celu',
    'elu',
    'gelu',
    'glu',
    'hard_sigmoid',
    'hard_silu',
    'hard_swish',
    'hard_tanh',
    'leaky_relu',
    'log_sigmoid',
    'log_softmax',
    'logsumexp',
    'one_hot',
    'relu',
    'relu6',
    'selu',
    'sigmoid',
    'silu',
    'soft_sign',
    'softmax',
    'softplus',
    'standardize',
    'swish',
    'tanh',
    'PReLU',
]

#: Functions of ``jax.nn`` that the seed's ``flax.linen`` does not re-export.
#: They live here, for model code written against ``jax.nn``, but stay out of
#: ``__all__`` so that ``nnref``'s top level keeps exactly the seed's names.
JAX_NN_ONLY = (
    'identity',
    'log1mexp',
    'logmeanexp',
    'mish',
    'sparse_plus',
    'sparse_sigmoid',
    'squareplus',
)
#: Every ``jax.nn`` function this module implements (``jax.nn.dot_product_attention``
#: is :func:`nnref.jax_nn_attention.dot_product_attention`).
JAX_NN_FUNCTIONS = tuple(name for name in __all__ if name != 'PReLU') + JAX_NN_ONLY

_FLOAT32 = np.dtype(np.float32)


# ---------------------------------------------------------------------------
# dtype plumbing shared by every activation
# ---------------------------------------------------------------------------


def _as_array(x):
    """An ndarray view of ``x``; Python data gets JAX's 32-bit defaults."""
    return x if isinstance(x, np.ndarray) else _nnp.asarray(x)


def _float_in(x):
    """``(array to compute with, dtype of the result)`` for a float function."""
    x = _as_array(x)
    kind, size = x.dtype.kind, x.dtype.itemsize
    if kind in 'biu':
        return x.astype(_FLOAT32), _FLOAT32
    if kind == 'c' or (kind == 'f' and size >= 4):
        return x, x.dtype
    # float16, bfloat16, float8...: ml_dtypes types have kind 'V'. Computing
    # in float32 and rounding once is what XLA does with them on CPU.
    return x.astype(_FLOAT32), x.dtype


def _const(value, dtype):
    """A constant in the compute dtype, so it cannot widen float32 math."""
    return np.asarray(value, dtype=dtype)


def _param(value, dtype):
    """A user parameter (alpha, slope...): Python numbers are weak, arrays promote."""
    if isinstance(value, (int, float)):
        return np.asarray(value, dtype=dtype)
    return np.asarray(value)


def _out(y, dtype, *user_params):
    """Cast a result back to the caller's dtype, promoted with array parameters.

    ``user_params`` are the values as the caller passed them: Python numbers
    never widen the result, arrays do (float32 alpha with bfloat16 x gives
    float32), as under JAX's promotion.
    """
    for p in user_params:
        if isinstance(p, (np.ndarray, np.generic)):
            dtype = np.result_type(dtype, p.dtype)
    return np.asarray(y).astype(dtype, copy=False)


def _mask(where):
    return None if where is None else np.asarray(where, dtype=bool)


# ---------------------------------------------------------------------------
# piecewise-linear
# ---------------------------------------------------------------------------


def relu(x):
    """Rectified linear unit, ``max(x, 0)``; integer dtypes are kept.

    >>> relu(np.array([-1.0, 0.0, 2.0], np.float32))
    array([0., 0., 2.], dtype=float32)
    >>> relu(np.array([-3, 3], np.int32))
    array([0, 3], dtype=int32)
    """
    x = _as_array(x)
    if x.dtype == np.bool_:
        x = x.astype(np.int32)  # JAX: relu(bool) is int32
    # np.maximum propagates NaN, as XLA's max does.
    return np.asarray(np.maximum(x, np.zeros((), x.dtype)))


def relu6(x):
    """``min(max(x, 0), 6)``; integers become float32, as in JAX.

    >>> relu6(np.array([-1.0, 3.0, 8.0], np.float32))
    array([0., 3., 6.], dtype=float32)
    """
    xc, dtype = _float_in(x)
    y = np.minimum(np.maximum(xc, _const(0, xc.dtype)), _const(6, xc.dtype))
    return _out(y, dtype)


def hard_tanh(x):
    """-1 below -1, 1 above 1, ``x`` in between; integer dtypes are kept.

    >>> hard_tanh(np.array([-2.0, 0.5, 3.0], np.float32))
    array([-1. ,  0.5,  1. ], dtype=float32)
    """
    x = _as_array(x)
    if x.dtype == np.bool_:
        x = x.astype(np.int32)
    one = np.ones((), x.dtype)
    if x.dtype.kind == 'u':
        return np.asarray(np.minimum(x, one))  # nothing below -1 to clip
    return np.asarray(np.minimum(np.maximum(x, -one), one))


def leaky_relu(x, negative_slope=0.01):
    """``x`` where ``x >= 0``, ``negative_slope * x`` elsewhere.

    >>> leaky_relu(np.array([-100.0, 2.0], np.float32))
    array([-1.,  2.], dtype=float32)
    """
    xc, dtype = _float_in(x)
    slope = _param(negative_slope, xc.dtype)
    return _out(np.where(xc >= 0, xc, slope * xc), dtype, negative_slope)


def hard_sigmoid(x):
    """``relu6(x + 3) / 6``.

    >>> hard_sigmoid(np.array([-4.0, 0.0, 4.0], np.float32))
    array([0. , 0.5, 1. ], dtype=float32)
    """
    xc, dtype = _float_in(x)
    return _out(relu6(xc + _const(3, xc.dtype)) / _const(6, xc.dtype), dtype)


def hard_silu(x):
    """``x * hard_sigmoid(x)``.

    >>> hard_silu(np.array([-4.0, 0.0, 4.0], np.float32))
    array([-0.,  0.,  4.], dtype=float32)
    """
    xc, dtype = _float_in(x)
    return _out(xc * hard_sigmoid(xc), dtype)


hard_swish = hard_silu


# ---------------------------------------------------------------------------
# smooth elementwise
# ---------------------------------------------------------------------------


def sigmoid(x):
    """Logistic function ``1 / (1 + exp(-x))``, without overflow for large |x|.

    >>> sigmoid(np.array([0.0], np.float32))
    array([0.5], dtype=float32)
    """
    xc, dtype = _float_in(x)
    # scipy's expit branches on the sign of x, so exp never overflows.
    return _out(scipy.special.expit(xc), dtype)


def softplus(x):
    """``log(1 + exp(x))`` computed as ``logaddexp(x, 0)`` (no overflow).

    >>> softplus(np.array([0.0, 1000.0], np.float32))
    array([6.931472e-01, 1.000000e+03], dtype=float32)
    """
    xc, dtype = _float_in(x)
    return _out(np.logaddexp(xc, _const(0, xc.dtype)), dtype)


def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``, finite even where sigmoid underflows.

    >>> log_sigmoid(np.array([0.0, -1000.0], np.float32))
    array([-6.931472e-01, -1.000000e+03], dtype=float32)
    """
    xc, dtype = _float_in(x)
    return _out(-softplus(-xc), dtype)


def silu(x):
    """SiLU (a.k.a. swish), ``x * sigmoid(x)``.

    >>> silu(np.array([0.0], np.float32))
    array([0.], dtype=float32)
    """
    xc, dtype = _float_in(x)
    return _out(xc * sigmoid(xc), dtype)


swish = silu


def soft_sign(x):
    """``x / (|x| + 1)``.

    >>> soft_sign(np.array([-1.0, 3.0], np.float32))
    array([-0.5 ,  0.75], dtype=float32)
    """
    xc, dtype = _float_in(x)
    return _out(xc / (np.abs(xc) + _const(1, xc.dtype)), dtype)


def tanh(x):
    """Hyperbolic tangent (``jax.numpy.tanh``; integers become float32).

    >>> tanh(np.array([0.0], np.float32))
    array([0.], dtype=float32)
    """
    xc, dtype = _float_in(x)
    return _out(np.tanh(xc), dtype)


def elu(x, alpha=1.0):
    """``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise.

    >>> elu(np.array([-1000.0, 2.0], np.float32))
    array([-1.,  2.], dtype=float32)
    """
    xc, dtype = _float_in(x)
    a = _param(alpha, xc.dtype)
    positive = xc > 0
    # expm1 only sees non-positive values, so it cannot overflow.
    negative_part = a * np.expm1(np.where(positive, _const(0, xc.dtype), xc))
    return _out(np.where(positive, xc, negative_part), dtype, alpha)


def celu(x, alpha=1.0):
    """``x`` for ``x > 0``, ``alpha * (exp(x / alpha) - 1)`` otherwise.

    >>> celu(np.array([-1000.0, 2.0], np.float32), alpha=0.5)
    array([-0.5,  2. ], dtype=float32)
    """
    xc, dtype = _float_in(x)
    a = _param(alpha, xc.dtype)
    positive = xc > 0
    negative_part = a * np.expm1(np.where(positive, _const(0, xc.dtype), xc) / a)
    return _out(np.where(positive, xc, negative_part), dtype, alpha)


# Constants from Klambauer et al. (2017), as quoted in the Linen docs.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(x):
    """Scaled ELU: ``scale * elu(x, alpha)`` with the self-normalizing constants.

    >>> selu(np.array([0.0, 1.0], np.float32))
    array([0.      , 1.050701], dtype=float32)
    """
    xc, dtype = _float_in(x)
    scale = _const(_SELU_SCALE, xc.dtype)
    return _out(scale * elu(xc, _const(_SELU_ALPHA, xc.dtype)), dtype)


def gelu(x, approximate=True):
    """Gaussian error linear unit.

    ``approximate=True`` (the default, as in Linen) uses the tanh form
    ``x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))``; ``False`` the exact
    ``x * Phi(x)``, written with ``erfc`` so the far negative tail keeps its
    relative accuracy instead of cancelling to zero.

    >>> gelu(np.array([0.0, 1.0], np.float32), approximate=False)
    array([0.       , 0.8413447], dtype=float32)
    """
    xc, dtype = _float_in(x)
    half = _const(0.5, xc.dtype)
    with np.errstate(over='ignore'):  # x**3 may overflow to inf; tanh(inf) is fine
        if approximate:
            c = _const(math.sqrt(2.0 / math.pi), xc.dtype)
            inner = c * (xc + _const(0.044715, xc.dtype) * (xc * xc * xc))
            y = half * xc * (_const(1, xc.dtype) + np.tanh(inner))
        else:
            # Phi(x) = erfc(-x / sqrt(2)) / 2
            y = xc * half * scipy.special.erfc(-xc * _const(math.sqrt(0.5), xc.dtype))
    return _out(y, dtype)


def glu(x, axis=-1):
    """Gated linear unit: split ``x`` in two halves along ``axis``, ``a * sigmoid(b)``.

    >>> glu(np.array([2.0, 0.0], np.float32))
    array([1.], dtype=float32)
    """
    xc, dtype = _float_in(x)
    size = xc.shape[axis]
    if size % 2:
        raise ValueError(f'glu needs an even size along axis {axis}, got {size}.')
    a, b = np.split(xc, 2, axis=axis)
    return _out(a * sigmoid(b), dtype)


# ---------------------------------------------------------------------------
# normalizing over an axis
# ---------------------------------------------------------------------------


def _shift(xc, axis, where, initial, finite=False):
    """The per-slice maximum to subtract before exp.

    With ``finite=True`` a slice without a finite maximum (all -inf, or fully
    masked) is shifted by 0 instead, which logsumexp needs to return -inf/inf
    rather than NaN. softmax keeps the raw maximum, as JAX does, so a +inf
    input gives NaN and a fully masked slice is handled by the mask.
    """
    if where is None and initial is None:
        x_max = np.max(xc, axis=axis, keepdims=True)
    else:
        start = -np.inf if initial is None else initial
        x_max = np.max(xc, axis=axis, keepdims=True, where=True if where is None else where, initial=start)
    if finite:
        x_max = np.where(np.isfinite(x_max), x_max, np.zeros((), xc.dtype))
    return x_max


def softmax(x, axis=-1, where=None, initial=None):
    """``exp(x) / sum(exp(x))`` along ``axis`` (an int or a tuple of ints).

    ``where`` masks elements out of the sum; their output is 0. ``initial``
    is accepted for Linen compatibility: it only lower-bounds the shift,
    which cancels out of the result.

    >>> softmax(np.array([[0.0, 0.0, 5.0]], np.float32), where=np.array([[True, True, False]]))
    array([[0.5, 0.5, 0. ]], dtype=float32)
    """
    xc, dtype = _float_in(x)
    where = _mask(where)
    with np.errstate(invalid='ignore', divide='ignore', over='ignore'):
        unnormalized = np.exp(xc - _shift(xc, axis, where, initial))
        if where is not None:
            unnormalized = np.where(where, unnormalized, _const(0, xc.dtype))
        y = unnormalized / np.sum(unnormalized, axis=axis, keepdims=True)
        if where is not None:
            y = np.where(where, y, _const(0, xc.dtype))  # fully masked rows: 0, not NaN
    return _out(y, dtype)


def log_softmax(x, axis=-1, where=None, initial=None):
    """``x - logsumexp(x)`` along ``axis``; masked-out elements give ``-inf``.

    >>> log_softmax(np.array([0.0, 0.0], np.float32))
    array([-0.6931472, -0.6931472], dtype=float32)
    """
    xc, dtype = _float_in(x)
    where = _mask(where)
    with np.errstate(invalid='ignore', divide='ignore', over='ignore'):
        shifted = xc - _shift(xc, axis, where, initial)
        exps = np.exp(shifted)
        if where is not None:
            exps = np.where(where, exps, _const(0, xc.dtype))
        y = shifted - np.log(np.sum(exps, axis=axis, keepdims=True))
        if where is not None:
            y = np.where(where, y, _const(-np.inf, xc.dtype))
    return _out(y, dtype)


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False, where=None):
    """``log(sum(b * exp(a)))`` over ``axis`` without overflow.

    With ``return_sign=True`` returns ``(log|sum|, sign(sum))``; otherwise a
    negative sum gives NaN. Slices that are all ``-inf`` give ``-inf``.

    >>> logsumexp(np.array([0.0, 0.0], np.float32))
    array(0.6931472, dtype=float32)
    >>> logsumexp(np.array([0.0, 0.0]), b=np.array([1.0, -2.0]), return_sign=True)
    (array(0.), array(-1.))
    """
    ac, dtype = _float_in(a)
    where = _mask(where)
    scale = None
    if b is not None:
        scale = _param(b, ac.dtype)
        if scale.dtype.kind in 'biu':
            scale = scale.astype(ac.dtype)
        dtype = np.result_type(dtype, scale.dtype)
        ac = ac.astype(np.result_type(ac.dtype, scale.dtype), copy=False)
    with np.errstate(invalid='ignore', divide='ignore', over='ignore'):
        shift = _shift(ac, axis, where, -np.inf, finite=True)
        terms = np.exp(ac - shift)
        if scale is not None:
            terms = terms * scale
        total = np.sum(terms, axis=axis, keepdims=True, where=True if where is None else where)
        sign = np.sign(total)
        out = np.log(np.abs(total)) + shift
    if not keepdims:
        out = np.squeeze(out, axis=axis)
        sign = np.squeeze(sign, axis=axis)
    if return_sign:
        return _out(out, dtype), _out(sign, dtype)
    return _out(np.where(sign < 0, _const(np.nan, out.dtype), out), dtype)


def standardize(x, axis=-1, mean=None, variance=None, epsilon=1e-5, where=None, *, algorithm="fast"):
    """``(x - mean) / sqrt(variance + epsilon)`` with statistics along ``axis``.

    Missing statistics are computed from ``x`` (over the ``where`` elements
    only; every element is still standardized). ``algorithm`` picks the
    variance formula, as ``jax.nn.standardize`` does: ``'fast'`` (default)
    is ``mean(x**2) - mean(x)**2`` clipped at 0 (cheap, but it loses digits
    when the mean is large next to the spread); ``'stable'`` is the mean of
    squared deviations. ``normalize`` is the seed's older name for this
    function.

    >>> standardize(np.array([1.0, 3.0], np.float32), epsilon=0.0)
    array([-1.,  1.], dtype=float32)
    """
    xc, dtype = _float_in(x)
    where = _mask(where)
    reduce_where = True if where is None else where
    if mean is None:
        mean = np.mean(xc, axis=axis, keepdims=True, where=reduce_where)
    else:
        mean = np.asarray(mean, dtype=xc.dtype)
    if algorithm not in ("fast", "stable"):
        raise ValueError(f"Unknown algorithm '{algorithm}'. Expected 'fast' or 'stable'.")
    if variance is None and algorithm == "stable":
        variance = np.mean(np.square(xc - mean), axis=axis, keepdims=True, where=reduce_where)
    elif variance is None:
        variance = np.mean(np.square(xc), axis=axis, keepdims=True, where=reduce_where) - np.square(mean)
        variance = np.maximum(variance, _const(0, xc.dtype))
    else:
        variance = np.asarray(variance, dtype=xc.dtype)
    eps = _param(epsilon, xc.dtype)
    return _out((xc - mean) / np.sqrt(variance + eps), dtype)


# The seed keeps ``normalize`` as an alias of ``standardize`` (jax.nn dropped the old name).
normalize = standardize


# ---------------------------------------------------------------------------
# encodings
# ---------------------------------------------------------------------------


def one_hot(x, num_classes, *, dtype=None, axis=-1):
    """One-hot encode integer indices; out-of-range indices encode as all zeros.

    The new axis of length ``num_classes`` is inserted at ``axis`` of the
    output. ``dtype`` defaults to float32, JAX's default float.

    >>> one_hot(np.array([0, 2, 3]), 3)
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 0., 0.]], dtype=float32)
    """
    x = _as_array(x)
    num_classes = operator.index(num_classes)
    out_ndim = x.ndim + 1
    if not -out_ndim <= axis < out_ndim:
        raise ValueError(f'axis {axis} is out of bounds for a {out_ndim}-d one-hot output.')
    axis %= out_ndim
    class_shape = [1] * out_ndim
    class_shape[axis] = num_classes
    classes = np.arange(num_classes).reshape(class_shape)
    hot = np.expand_dims(x, axis) == classes
    return hot.astype(_FLOAT32 if dtype is None else dtype)


# ---------------------------------------------------------------------------
# jax.nn's own functions (JAX_NN_ONLY): not in the seed's flax.linen
# ---------------------------------------------------------------------------


def identity(x):
    """``x`` itself, as an array (integer and bool dtypes are kept).

    >>> identity(np.array([-1.0, 2.0], np.float32))
    array([-1.,  2.], dtype=float32)
    """
    return np.asarray(_as_array(x))


def mish(x):
    """``x * tanh(softplus(x))``.

    >>> mish(np.array([0.0, 1.0], np.float32))
    array([0.       , 0.8650984], dtype=float32)
    """
    xc, dtype = _float_in(x)
    return _out(xc * np.tanh(np.logaddexp(xc, _const(0, xc.dtype))), dtype)


def log1mexp(x):
    """``log(1 - exp(-x))`` for ``x > 0``, accurate at both ends.

    Near 0, ``1 - exp(-x)`` is ``-expm1(-x)``; for ``x`` above ``log 2`` the
    logarithm is ``log1p(-exp(-x))``. ``x = 0`` gives ``-inf``, ``x < 0`` NaN.

    >>> log1mexp(np.array([1e-8, 50.0]))
    array([-1.84206807e+01, -1.92874985e-22])
    """
    xc, dtype = _float_in(x)
    with np.errstate(divide='ignore', invalid='ignore'):
        small = np.log(-np.expm1(-xc))
        large = np.log1p(-np.exp(-xc))
    return _out(np.where(xc < _const(math.log(2.0), xc.dtype), small, large), dtype)


def logmeanexp(x, axis=None, where=None, keepdims=False):
    """``log(mean(exp(x)))`` over ``axis`` (the ``where`` elements only), without overflow.

    >>> logmeanexp(np.array([1000.0, 1000.0], np.float32))
    array(1000., dtype=float32)
    """
    xc, dtype = _float_in(x)
    lse = logsumexp(xc, axis=axis, where=where, keepdims=keepdims)
    selected = np.ones(xc.shape, bool) if where is None else np.broadcast_to(_mask(where), xc.shape)
    count = np.sum(selected, axis=axis, keepdims=keepdims).astype(lse.dtype)
    with np.errstate(divide='ignore', invalid='ignore'):  # no elements: log(0/0) is NaN, as in JAX
        return _out(lse - np.log(count), dtype)


def sparse_plus(x):
    """0 up to -1, ``(x + 1)**2 / 4`` on (-1, 1), ``x`` from 1: a softplus that is exactly 0 or linear.

    >>> sparse_plus(np.array([-2.0, 0.0, 2.0], np.float32))
    array([0.  , 0.25, 2.  ], dtype=float32)
    """
    xc, dtype = _float_in(x)
    one = _const(1, xc.dtype)
    quadratic = (xc + one) ** 2 / _const(4, xc.dtype)
    return _out(np.where(xc <= -one, _const(0, xc.dtype), np.where(xc >= one, xc, quadratic)), dtype)


def sparse_sigmoid(x):
    """``clip((x + 1) / 2, 0, 1)``: the derivative of :func:`sparse_plus`.

    >>> sparse_sigmoid(np.array([-2.0, 0.0, 0.5], np.float32))
    array([0.  , 0.5 , 0.75], dtype=float32)
    """
    xc, dtype = _float_in(x)
    half = _const(0.5, xc.dtype)
    return _out(half * np.clip(xc + _const(1, xc.dtype), _const(0, xc.dtype), _const(2, xc.dtype)), dtype)


def squareplus(x, b=4):
    """``(x + sqrt(x**2 + b)) / 2``: a smooth ReLU with only algebraic operations.

    >>> squareplus(np.array([0.0, 3.0], np.float32), b=16)
    array([2., 4.], dtype=float32)
    """
    xc, dtype = _float_in(x)
    bc = _param(b, xc.dtype)
    if bc.dtype.kind in 'biu':
        bc = bc.astype(xc.dtype)
    return _out((xc + np.sqrt(np.square(xc) + bc)) / _const(2, xc.dtype), dtype, b)


# ---------------------------------------------------------------------------
# PReLU: the one activation with a parameter, hence a Module
# ---------------------------------------------------------------------------


class PReLU(Module):
    """Leaky ReLU with a learned negative slope (a scalar parameter 'negative_slope').

    Attributes:
      param_dtype: dtype of the slope parameter (default float32).
      negative_slope_init: its initial value (default 0.01).

    >>> import nnref as nn
    >>> layer = nn.PReLU()
    >>> x = nn.numpy.array([-2.0, 3.0])
    >>> variables = layer.init(nn.random.PRNGKey(0), x)
    >>> variables['params']['negative_slope']
    array(0.01, dtype=float32)
    >>> layer.apply(variables, x)
    array([-0.02,  3.  ], dtype=float32)
    """

    param_dtype: object = np.float32
    negative_slope_init: float = 0.01

    @compact
    def __call__(self, inputs):
        inputs = np.asarray(inputs)
        slope = self.param(
            'negative_slope',
            lambda _key: np.asarray(self.negative_slope_init, self.param_dtype),
        )
        return np.where(inputs >= 0, inputs, np.asarray(slope, inputs.dtype) * inputs)
