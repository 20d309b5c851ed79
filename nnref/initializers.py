"""Parameter initializers, the ``jax.nn.initializers`` that Linen re-exports.

An initializer is a function ``init(key, shape, dtype=float32) -> np.ndarray``;
the builders (``normal(stddev)``, ``variance_scaling(...)``, ...) return one.
They draw from :mod:`nnref.random` in the same order and with the same
arithmetic as JAX, so given the same key they produce the seed's numbers.
How close, per initializer (:data:`MATCH`; checked against the seed's
vectors in ``tests/initializers15``):

* bit for bit: ``zeros``, ``ones``, ``zeros_init``, ``ones_init``,
  ``constant``, ``uniform``, ``normal``, ``variance_scaling`` with
  "uniform" or "normal" and ``glorot/xavier/lecun/he/kaiming_uniform`` in
  every dtype; ``truncated_normal``, ``variance_scaling`` with
  "truncated_normal" and ``glorot/xavier/lecun/he/kaiming_normal`` in
  float32 and bfloat16 (erf, erfinv and log1p are evaluated as XLA does:
  :mod:`nnref.random.xla_math`).
* within the 'prng_normal' tolerance: the truncated-normal ones in float16
  (XLA keeps its float16 intermediates in float32 inside a fused kernel;
  results differ by up to 3 float16 ulp).
* within the 'matmul' tolerance: ``orthogonal`` and ``delta_orthogonal``,
  whose QR factorisation is NumPy's LAPACK, not XLA's (a few float32 ulp).

A float64 request gives float64 here; JAX with x64 off gives float32.

>>> import numpy as np
>>> from nnref import random
>>> init = lecun_normal()
>>> w = init(random.PRNGKey(0), (4, 3))
>>> w.shape, w.dtype
((4, 3), dtype('float32'))
>>> float(np.abs(w).max()) < 2 * (1 / 4) ** 0.5 / 0.87962566103423978
True
"""

import functools
import math
import weakref

import numpy as np

from nnref import random as _random
from nnref.random.dtypes import is_floating

__all__ = [
    "zeros",
    "ones",
    "zeros_init",
    "ones_init",
    "constant",
    "uniform",
    "normal",
    "truncated_normal",
    "variance_scaling",
    "glorot_uniform",
    "glorot_normal",
    "xavier_uniform",
    "xavier_normal",
    "lecun_uniform",
    "lecun_normal",
    "he_uniform",
    "he_normal",
    "kaiming_uniform",
    "kaiming_normal",
    "orthogonal",
    "delta_orthogonal",
]  # the names of jax.nn.initializers; declare_output_shapes and output_shapes_fn are nnref's own

# Standard deviation of a standard normal truncated to (-2, 2); dividing by
# it makes the truncated draws have the intended variance.
_TRUNC_STD = 0.87962566103423978
# The same for a complex normal whose modulus is truncated at 2.
_COMPLEX_TRUNC_STD = 0.95311164380491208


# Initializers whose results are the seed's only to a tolerance, by family
# of shared_spec.tolerances; everything else is bit for bit (see above).
MATCH = {
    "orthogonal": "matmul",
    "delta_orthogonal": "matmul",
}
_TRUNCATED_NORMAL_FAMILY = (
    "truncated_normal",
    "glorot_normal",
    "xavier_normal",
    "lecun_normal",
    "he_normal",
    "kaiming_normal",
)


def match(name, dtype=np.float32, distribution=None):
    """How ``name`` built here matches the seed: 'exact' or a tolerance family.

    ``distribution`` is ``variance_scaling``'s third argument.

    >>> match("normal"), match("he_normal", np.float16), match("orthogonal")
    ('exact', 'prng_normal', 'matmul')
    """
    if name in MATCH:
        return MATCH[name]
    truncated = name in _TRUNCATED_NORMAL_FAMILY or (name == "variance_scaling" and distribution == "truncated_normal")
    if truncated and np.dtype(dtype) == np.float16:
        return "prng_normal"
    return "exact"


def _dtype_or_default(dtype):
    return np.dtype(np.float32 if dtype is None else dtype)


# -- what an initializer returns, known without running it ---------------------------
#
# ``apply`` checks every existing parameter against the shape its initializer
# would give now (nnref.scope). The seed system traces the initializer
# abstractly for that; NumPy cannot trace, and running it would draw random
# numbers only to throw them away. So each initializer built here declares
# the shapes of its output as a function of its arguments (without the key).
# A registry rather than an attribute: ``functools.wraps`` copies attributes,
# and a user's wrapper that changes the shape must not inherit the declaration.

_OUTPUT_SHAPES = weakref.WeakKeyDictionary()  # initializer -> fn(*args, **kwargs) -> [leaf shape, ...]


def declare_output_shapes(init, shapes_fn):
    """Records that ``init(key, *args, **kwargs)`` returns leaves of shapes ``shapes_fn(*args, **kwargs)``.

    ``shapes_fn`` gives the shapes of the output's leaves, in
    ``nnref.tree_util.tree_leaves`` order, looking through metadata boxes.
    Returns ``init``.

    >>> import numpy as np
    >>> def eye_init(key, n):
    ...     return np.eye(n)
    >>> eye_init = declare_output_shapes(eye_init, lambda n: [(n, n)])
    >>> output_shapes_fn(eye_init)(3)
    [(3, 3)]
    """
    _OUTPUT_SHAPES[init] = shapes_fn
    return init


def output_shapes_fn(init):
    """The declared ``shapes_fn`` of ``init`` (see :func:`declare_output_shapes`), or ``None``.

    A ``functools.partial`` of a declared initializer that binds only
    keywords is declared too (its key stays the first argument).

    >>> output_shapes_fn(lecun_normal())((3, 4), np.float32)
    [(3, 4)]
    >>> output_shapes_fn(lambda key, shape: np.zeros(shape)) is None
    True
    """
    if isinstance(init, functools.partial) and not init.args:
        inner = output_shapes_fn(init.func)
        if inner is None:
            return None
        bound = init.keywords
        return lambda *args, **kwargs: inner(*args, **{**bound, **kwargs})
    try:
        return _OUTPUT_SHAPES.get(init)
    except TypeError:  # an object that cannot be weakly referenced: never declared
        return None


def _shape_argument(shape, dtype=None):
    """The shapes function of every initializer here: one array of exactly ``shape``."""
    if isinstance(shape, (int, np.integer)):
        return [(int(shape),)]
    return [tuple(int(d) for d in shape)]


def _returns_shape_argument(init):
    return declare_output_shapes(init, _shape_argument)


@_returns_shape_argument
def zeros(key, shape, dtype=np.float32):
    """An array of zeros; ``key`` is ignored.

    >>> zeros(None, (2, 3))
    array([[0., 0., 0.],
           [0., 0., 0.]], dtype=float32)
    """
    return np.zeros(shape, _dtype_or_default(dtype))


@_returns_shape_argument
def ones(key, shape, dtype=np.float32):
    """An array of ones; ``key`` is ignored.

    >>> ones(None, (3, 2), np.float32)
    array([[1., 1.],
           [1., 1.],
           [1., 1.]], dtype=float32)
    """
    return np.ones(shape, _dtype_or_default(dtype))


def zeros_init():
    """Builds the :func:`zeros` initializer.

    >>> zeros_init()(None, (2,))
    array([0., 0.], dtype=float32)
    """
    return zeros


def ones_init():
    """Builds the :func:`ones` initializer.

    >>> ones_init()(None, (2,))
    array([1., 1.], dtype=float32)
    """
    return ones


def constant(value, dtype=np.float32):
    """Builds an initializer filling arrays with ``value``.

    >>> constant(-7)(None, (2, 3))
    array([[-7., -7., -7.],
           [-7., -7., -7.]], dtype=float32)
    """

    @_returns_shape_argument
    def init(key, shape, dtype=dtype):
        return np.full(shape, value, dtype=_dtype_or_default(dtype))

    return init


def uniform(scale=1e-2, dtype=np.float32):
    """Builds an initializer drawing uniformly from ``[0, scale)``.

    >>> from nnref import random
    >>> uniform(10.0)(random.PRNGKey(42), (2, 3))
    array([[4.8870955, 6.7979717, 6.162715 ],
           [5.610161 , 4.506446 , 5.858659 ]], dtype=float32)
    """

    @_returns_shape_argument
    def init(key, shape, dtype=dtype):
        dtype = _dtype_or_default(dtype)
        return _random.uniform(key, shape, dtype) * np.array(scale, dtype)

    return init


def normal(stddev=1e-2, dtype=np.float32):
    """Builds an initializer drawing from a normal with mean 0 and ``stddev``.

    >>> from nnref import random
    >>> normal(5.0)(random.PRNGKey(42), (2, 3)).round(4)
    array([[-0.1415,  2.3357,  1.4785],
           [ 0.7677, -0.6202,  1.0846]], dtype=float32)
    """

    @_returns_shape_argument
    def init(key, shape, dtype=dtype):
        dtype = _dtype_or_default(dtype)
        return _random.normal(key, shape, dtype) * np.array(stddev, dtype)

    return init


def truncated_normal(stddev=1e-2, dtype=np.float32, lower=-2.0, upper=2.0):
    """Builds an initializer drawing a normal truncated to ``(lower, upper)``,
    then multiplied by ``stddev`` (no variance correction, as in JAX).

    >>> from nnref import random
    >>> w = truncated_normal(1.0)(random.PRNGKey(0), (1000,))
    >>> bool(np.all(np.abs(w) < 2.0))
    True
    """

    @_returns_shape_argument
    def init(key, shape, dtype=dtype):
        dtype = _dtype_or_default(dtype)
        draws = _random.truncated_normal(key, lower, upper, shape, dtype)
        return draws * np.array(stddev, dtype)

    return init


def _axis_size(shape, axis):
    if isinstance(axis, int):
        return shape[axis]
    return math.prod(shape[i] for i in axis)


def _compute_fans(shape, in_axis=-2, out_axis=-1, batch_axis=()):
    """(fan_in, fan_out) of a weight shape; axes not named are receptive field.

    >>> _compute_fans((3, 3, 16, 32))
    (144.0, 288.0)
    """
    if isinstance(in_axis, int) and in_axis == -2 and len(shape) <= 1:
        raise ValueError(
            f"Can't compute input and output sizes of a {len(shape)}-dimensional"
            " weights tensor with default in_axis. Must be at least 2D or "
            "specify in_axis explicitly."
        )
    in_size = _axis_size(shape, in_axis)
    out_size = _axis_size(shape, out_axis)
    batch_size = _axis_size(shape, batch_axis)
    # Float division, in this order, as JAX does: the fans come out as floats.
    receptive_field = math.prod(shape) / in_size / out_size / batch_size
    return in_size * receptive_field, out_size * receptive_field


def _complex_uniform(key, shape, dtype):
    # Uniform on the unit-variance disk: radius sqrt(2u), uniform angle.
    key_r, key_theta = _random.split(key)
    real = np.finfo(dtype).dtype
    r = np.sqrt(2 * _random.uniform(key_r, shape, real)).astype(dtype)
    theta = (2 * np.pi * _random.uniform(key_theta, shape, real)).astype(dtype)
    return (r * np.exp(1j * theta)).astype(dtype)


def _complex_truncated_normal(key, upper, shape, dtype):
    # Complex normal with its modulus truncated at `upper`, by inverse CDF.
    key_r, key_theta = _random.split(key)
    real = np.finfo(dtype).dtype
    t = (1 - np.exp(np.array(-(upper**2), dtype))) * _random.uniform(key_r, shape, real).astype(dtype)
    r = np.sqrt(-np.log(1 - t))
    theta = (2 * np.pi * _random.uniform(key_theta, shape, real)).astype(dtype)
    return (r * np.exp(1j * theta)).astype(dtype)


def variance_scaling(scale, mode, distribution, in_axis=-2, out_axis=-1, batch_axis=(), dtype=np.float32):
    """Builds an initializer whose variance is ``scale / n``, n set by ``mode``.

    ``mode`` is "fan_in", "fan_out", "fan_avg" or "fan_geo_avg";
    ``distribution`` is "truncated_normal" (cut at two standard deviations,
    then rescaled to the intended variance), "normal" or "uniform".

    >>> from nnref import random
    >>> w = variance_scaling(2.0, "fan_in", "uniform")(random.PRNGKey(0), (50, 10))
    >>> bool(np.abs(w).max() <= (3 * 2.0 / 50) ** 0.5)
    True
    """

    @_returns_shape_argument
    def init(key, shape, dtype=dtype):
        shape = tuple(int(d) for d in shape)
        dtype = _dtype_or_default(dtype)
        fan_in, fan_out = _compute_fans(shape, in_axis, out_axis, batch_axis)
        if mode == "fan_in":
            denominator = fan_in
        elif mode == "fan_out":
            denominator = fan_out
        elif mode == "fan_avg":
            denominator = (fan_in + fan_out) / 2
        elif mode == "fan_geo_avg":
            denominator = (fan_in * fan_out) ** 0.5
        else:
            raise ValueError(f"invalid mode for variance scaling initializer: {mode}")
        variance = np.array(scale / denominator, dtype=dtype)
        real_dtype = is_floating(dtype)
        if distribution == "truncated_normal":
            if real_dtype:
                stddev = np.sqrt(variance) / np.array(_TRUNC_STD, dtype)
                draws = _random.truncated_normal(key, -2, 2, shape, dtype)
                return (draws * stddev).astype(dtype)
            stddev = np.sqrt(variance) / np.array(_COMPLEX_TRUNC_STD, dtype)
            return _complex_truncated_normal(key, 2, shape, dtype) * stddev
        if distribution == "normal":
            draws = _random.normal(key, shape, dtype)
            return (draws * np.sqrt(variance)).astype(dtype)
        if distribution == "uniform":
            if real_dtype:
                draws = _random.uniform(key, shape, dtype, -1)
                return (draws * np.sqrt(3 * variance)).astype(dtype)
            return _complex_uniform(key, shape, dtype) * np.sqrt(variance)
        raise ValueError(f"invalid distribution for variance scaling initializer: {distribution}")

    return init


def glorot_uniform(in_axis=-2, out_axis=-1, batch_axis=(), dtype=np.float32):
    """Glorot (Xavier) uniform: ``variance_scaling(1.0, "fan_avg", "uniform")``.

    >>> from nnref import random
    >>> glorot_uniform()(random.PRNGKey(42), (2, 3))
    array([[-0.0247361 ,  0.3939159 ,  0.2547381 ],
           [ 0.13367954, -0.10813224,  0.18812267]], dtype=float32)
    """
    return variance_scaling(
        1.0, "fan_avg", "uniform", in_axis=in_axis, out_axis=out_axis, batch_axis=batch_axis, dtype=dtype
    )


def glorot_normal(in_axis=-2, out_axis=-1, batch_axis=(), dtype=np.float32):
    """Glorot (Xavier) normal: ``variance_scaling(1.0, "fan_avg", "truncated_normal")``.

    >>> from nnref import random
    >>> glorot_normal()(random.PRNGKey(42), (2, 3)).round(4)
    array([[-0.0194,  0.3195,  0.2027],
           [ 0.1053, -0.0851,  0.1488]], dtype=float32)
    """
    return variance_scaling(
        1.0, "fan_avg", "truncated_normal", in_axis=in_axis, out_axis=out_axis, batch_axis=batch_axis, dtype=dtype
    )


xavier_uniform = glorot_uniform
xavier_normal = glorot_normal


def lecun_uniform(in_axis=-2, out_axis=-1, batch_axis=(), dtype=np.float32):
    """LeCun uniform: ``variance_scaling(1.0, "fan_in", "uniform")``.

    >>> from nnref import random
    >>> lecun_uniform()(random.PRNGKey(42), (2, 3))
    array([[-0.0276558 ,  0.44041136,  0.28480583],
           [ 0.14945827, -0.12089552,  0.21032754]], dtype=float32)
    """
    return variance_scaling(
        1.0, "fan_in", "uniform", in_axis=in_axis, out_axis=out_axis, batch_axis=batch_axis, dtype=dtype
    )


def lecun_normal(in_axis=-2, out_axis=-1, batch_axis=(), dtype=np.float32):
    """LeCun normal: ``variance_scaling(1.0, "fan_in", "truncated_normal")``.

    >>> from nnref import random
    >>> lecun_normal()(random.PRNGKey(42), (2, 3)).round(5)
    array([[-0.02172,  0.35723,  0.22659],
           [ 0.11777, -0.09515,  0.16633]], dtype=float32)
    """
    return variance_scaling(
        1.0, "fan_in", "truncated_normal", in_axis=in_axis, out_axis=out_axis, batch_axis=batch_axis, dtype=dtype
    )


def he_uniform(in_axis=-2, out_axis=-1, batch_axis=(), dtype=np.float32):
    """He (Kaiming) uniform: ``variance_scaling(2.0, "fan_in", "uniform")``.

    >>> from nnref import random
    >>> he_uniform()(random.PRNGKey(0), (8, 2)).shape
    (8, 2)
    """
    return variance_scaling(
        2.0, "fan_in", "uniform", in_axis=in_axis, out_axis=out_axis, batch_axis=batch_axis, dtype=dtype
    )


def he_normal(in_axis=-2, out_axis=-1, batch_axis=(), dtype=np.float32):
    """He (Kaiming) normal: ``variance_scaling(2.0, "fan_in", "truncated_normal")``.

    >>> from nnref import random
    >>> he_normal()(random.PRNGKey(0), (8, 2)).dtype
    dtype('float32')
    """
    return variance_scaling(
        2.0, "fan_in", "truncated_normal", in_axis=in_axis, out_axis=out_axis, batch_axis=batch_axis, dtype=dtype
    )


kaiming_uniform = he_uniform
kaiming_normal = he_normal


def _orthogonal_matrix(key, n, m, dtype):
    """An n x m matrix with orthonormal rows (n <= m) or columns (n >= m).

    QR of a Gaussian matrix, with the column signs of Q fixed by diag(R) so
    that the result is Haar-distributed (Mezzadri 2007).
    """
    z = _random.normal(key, (max(n, m), min(n, m)), dtype)
    # LAPACK has no half precision; factor in float32 and round back.
    work = z if z.dtype in (np.float32, np.float64) or z.dtype.kind == "c" else z.astype(np.float32)
    q, r = np.linalg.qr(work)
    q = (q * np.sign(np.diagonal(r))[None, :]).astype(dtype)
    return q.T if n < m else q


def orthogonal(scale=1.0, column_axis=-1, dtype=np.float32):
    """Builds an initializer of (semi-)orthogonal matrices times ``scale``.

    The axis ``column_axis`` holds the columns; all other axes are flattened
    into rows. Non-square shapes get orthonormal rows or columns, whichever
    side is smaller.

    >>> from nnref import random
    >>> w = orthogonal()(random.PRNGKey(42), (2, 3))
    >>> np.allclose(w @ w.T, np.eye(2), atol=1e-6)
    True
    """

    @_returns_shape_argument
    def init(key, shape, dtype=dtype):
        shape = tuple(int(d) for d in shape)
        dtype = _dtype_or_default(dtype)
        if len(shape) < 2:
            raise ValueError("orthogonal initializer requires at least a 2D shape")
        if any(d == 0 for d in shape):
            return np.zeros(shape, dtype)
        n_cols = shape[column_axis]
        n_rows = math.prod(shape) // n_cols
        q = _orthogonal_matrix(key, n_rows, n_cols, dtype)
        q = q.reshape(tuple(np.delete(shape, column_axis)) + (n_cols,))
        q = np.moveaxis(q, -1, column_axis)
        return (np.array(scale, dtype) * q).astype(dtype)

    return init


def delta_orthogonal(scale=1.0, column_axis=-1, dtype=np.float32):
    """Builds a delta-orthogonal initializer for 3D, 4D or 5D conv kernels.

    All zeros except the spatial centre, which holds an orthogonal
    ``(in, out)`` matrix (Xiao et al. 2018, https://arxiv.org/abs/1806.05393).

    >>> from nnref import random
    >>> w = delta_orthogonal()(random.PRNGKey(0), (3, 2, 2))
    >>> bool(np.all(w[0] == 0) and np.all(w[2] == 0))
    True
    """

    @_returns_shape_argument
    def init(key, shape, dtype=dtype):
        shape = tuple(int(d) for d in shape)
        dtype = _dtype_or_default(dtype)
        if len(shape) not in (3, 4, 5):
            raise ValueError("Delta orthogonal initializer requires a 3D, 4D or 5D shape.")
        if shape[-1] < shape[-2]:
            raise ValueError("`fan_in` must be less or equal than `fan_out`. ")
        ortho = orthogonal(scale=scale, column_axis=column_axis, dtype=dtype)(key, shape[-2:])
        w = np.zeros(shape, dtype)
        centre = tuple((k - 1) // 2 for k in shape[:-2])
        w[centre] = ortho
        return w

    return init
