"""nnref.random and nnref.initializers against jax.random / jax.nn.initializers.

Keys are drawn from all pairs of uint32 words. Integer, boolean, key and
``uniform`` results must be identical; normal draws and Gumbel noise are
compared with the shared tolerance table (XLA's float32 log/log1p are not
NumPy's, see nnref/random/erfinv.py). Shapes come from a short list so that
JAX compiles each sampler only a few times.
"""

import math

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnref import initializers as ninit
from nnref import random as nrandom
from shared_spec.tolerances import assert_close

jax = pytest.importorskip("jax")
jnp = jax.numpy

SHAPES = [(), (1,), (7,), (3, 4), (2, 3, 2), (0, 3)]
NONEMPTY_SHAPES = [s for s in SHAPES if math.prod(s) > 0]
HALF = [np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16)]
FLOATS32 = [np.dtype(np.float32)] + HALF

key_words = st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)).map(lambda w: np.array(w, dtype=np.uint32))
shapes = st.sampled_from(SHAPES)
nonempty_shapes = st.sampled_from(NONEMPTY_SHAPES)


def exact(actual, desired, msg=""):
    desired = np.asarray(desired)
    assert actual.shape == desired.shape, (actual.shape, desired.shape)
    assert actual.dtype == desired.dtype, (actual.dtype, desired.dtype)
    assert_close(actual, desired, family="exact", err_msg=msg)


def jkey(words):
    return jnp.asarray(words)


# ---------------------------------------------------------------- keys


@settings()
@given(st.integers(-(2**63), 2**63 - 1))
def test_prng_key_from_seed(seed):
    exact(nrandom.PRNGKey(seed), jax.random.PRNGKey(seed))
    exact(nrandom.key_data(nrandom.key(seed)), jax.random.key_data(jax.random.key(seed)))


@settings()
@given(key_words, st.sampled_from([1, 2, 3, 5, (2, 3), (4, 1)]))
def test_split(words, num):
    exact(nrandom.split(words, num), jax.random.split(jkey(words), num))
    typed = nrandom.split(nrandom.wrap_key_data(words), num)
    jtyped = jax.random.split(jax.random.wrap_key_data(jkey(words)), num)
    assert isinstance(typed, nrandom.KeyArray) and typed.shape == jtyped.shape
    exact(nrandom.key_data(typed), jax.random.key_data(jtyped))


@settings()
@given(key_words, st.integers(0, 2**32 - 1))
def test_fold_in(words, data):
    exact(nrandom.fold_in(words, data), jax.random.fold_in(jkey(words), data))
    typed = nrandom.fold_in(nrandom.wrap_key_data(words), data)
    exact(nrandom.key_data(typed), jax.random.fold_in(jkey(words), data))


@settings()
@given(key_words, shapes, st.sampled_from([np.uint8, np.uint16, np.uint32]))
def test_bits(words, shape, dtype):
    exact(nrandom.bits(words, shape, dtype), jax.random.bits(jkey(words), shape, dtype))


@settings()
@given(key_words, shapes)
def test_bits_uint64(words, shape):
    with jax.enable_x64(True):
        desired = jax.random.bits(jkey(words), shape, jnp.uint64)
    exact(nrandom.bits(words, shape, np.uint64), desired)


# ---------------------------------------------------------------- floats

# XLA flushes subnormals to zero (FTZ/DAZ); NumPy keeps them, so bounds that
# are subnormal would differ for that reason alone.
bound32 = st.floats(-1e3, 1e3, width=32, allow_subnormal=False)
bounds = st.tuples(bound32, bound32)
bound64 = st.floats(-1e3, 1e3, allow_subnormal=False)


@settings()
@given(key_words, shapes, st.sampled_from(FLOATS32), bounds)
def test_uniform(words, shape, dtype, lohi):
    lo, hi = lohi
    exact(nrandom.uniform(words, shape, dtype), jax.random.uniform(jkey(words), shape, dtype))
    exact(nrandom.uniform(words, shape, dtype, lo, hi), jax.random.uniform(jkey(words), shape, dtype, lo, hi))


@pytest.mark.parametrize('dtype', ['float16', 'bfloat16'])
def test_half_precision_uniform_rounds_after_each_operation(dtype):
    # Half-precision scaling rounds the product before the add (a single
    # rounding of the fused value misses about a third of these draws).
    for seed, (lo, hi) in enumerate([(-187.0, 0.0), (-3.5, 250.0), (0.25, 0.75), (-1e3, 1e3)]):
        key = np.array([seed, seed + 1], np.uint32)
        exact(nrandom.uniform(key, (4096,), dtype, lo, hi), jax.random.uniform(jkey(key), (4096,), dtype, lo, hi))


@settings()
@given(key_words, shapes, st.tuples(bound64, bound64))
def test_uniform_float64(words, shape, lohi):
    lo, hi = lohi
    with jax.enable_x64(True):
        desired = jax.random.uniform(jkey(words), shape, jnp.float64, lo, hi)
    exact(nrandom.uniform(words, shape, np.float64, lo, hi), desired)


@settings()
@given(key_words, shapes, st.sampled_from(FLOATS32))
def test_normal(words, shape, dtype):
    desired = np.asarray(jax.random.normal(jkey(words), shape, dtype))
    actual = nrandom.normal(words, shape, dtype)
    assert actual.dtype == desired.dtype
    assert_close(actual, desired, family="prng_normal")


@settings()
@given(key_words, shapes, st.sampled_from([np.float64, np.complex64]))
def test_normal_wide_and_complex(words, shape, dtype):
    with jax.enable_x64(True):
        desired = np.asarray(jax.random.normal(jkey(words), shape, dtype))
    actual = nrandom.normal(words, shape, dtype)
    assert actual.dtype == desired.dtype
    assert_close(actual, desired, family="prng_normal")


@settings()
@given(
    key_words,
    shapes,
    st.sampled_from(FLOATS32 + [np.dtype(np.float64)]),
    st.floats(-2.5, 2, width=32),
    st.floats(0.0625, 3, width=32),
)
def test_truncated_normal(words, shape, dtype, lower, width):
    # Beyond |x| ~ 2.5 erfinv amplifies the one-ulp differences between XLA's
    # float32 erf and SciPy's (dx/du grows like exp(x**2)) past the table.
    upper = min(lower + width, 2.5)
    with jax.enable_x64(dtype == np.float64):
        desired = np.asarray(jax.random.truncated_normal(jkey(words), lower, upper, shape, dtype))
    actual = nrandom.truncated_normal(words, lower, upper, shape, dtype)
    assert actual.dtype == desired.dtype
    assert_close(actual, desired, family="prng_normal")


@settings()
@given(
    key_words,
    st.sampled_from([(), (5,), (2, 3)]),
    st.sampled_from(["low", "high", "highest"]),
    st.sampled_from([np.float32, np.float16]),
)
def test_gumbel(words, shape, mode, dtype):
    desired = np.asarray(jax.random.gumbel(jkey(words), shape, dtype, mode=mode))
    actual = nrandom.gumbel(words, shape, dtype, mode=mode)
    assert actual.dtype == desired.dtype
    assert_close(actual, desired, family="transcendental")


# ---------------------------------------------------------------- discrete


@settings()
@given(key_words, shapes, st.floats(0, 1, width=32), st.sampled_from(["low", "high"]))
def test_bernoulli_scalar_p(words, shape, p, mode):
    exact(nrandom.bernoulli(words, p, shape, mode), jax.random.bernoulli(jkey(words), p, shape, mode))


@settings()
@given(key_words, st.lists(st.floats(0, 1, width=32), min_size=1, max_size=6))
def test_bernoulli_array_p(words, ps):
    p = np.array(ps, np.float32)
    exact(nrandom.bernoulli(words, p), jax.random.bernoulli(jkey(words), p))


INT_DTYPES = [np.int8, np.int16, np.int32, np.uint8, np.uint16, np.uint32]


@st.composite
def int_ranges(draw):
    dtype = np.dtype(draw(st.sampled_from(INT_DTYPES)))
    info = np.iinfo(dtype)
    # JAX (32-bit mode) reads Python ints as int32, so stay inside it.
    lo_min, hi_max = max(info.min, -(2**31)), min(info.max, 2**31 - 1)
    if info.bits < 32:
        hi_max = info.max + 1  # maxval one past the top is allowed
    minval = draw(st.integers(lo_min, hi_max))
    maxval = draw(st.integers(lo_min, hi_max))
    return dtype, minval, maxval


@settings()
@given(key_words, shapes, int_ranges())
def test_randint(words, shape, dtype_range):
    dtype, minval, maxval = dtype_range
    exact(
        nrandom.randint(words, shape, minval, maxval, dtype),
        jax.random.randint(jkey(words), shape, minval, maxval, dtype),
    )


@settings()
@given(
    key_words,
    shapes,
    st.sampled_from([np.int64, np.uint64]),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-(2**63), 2**63 - 1),
)
def test_randint_64bit(words, shape, dtype, a, b):
    if dtype == np.uint64:
        a, b = a % 2**63, b % 2**63  # Python ints reach JAX as int64
    with jax.enable_x64(True):
        desired = jax.random.randint(jkey(words), shape, a, b, dtype)
    exact(nrandom.randint(words, shape, a, b, dtype), desired)


@settings()
@given(key_words, st.integers(0, 40))
def test_permutation_of_int(words, n):
    exact(nrandom.permutation(words, n), jax.random.permutation(jkey(words), n))


@settings()
@given(key_words, st.sampled_from([(6,), (3, 4), (2, 3, 4)]), st.integers(0, 2), st.booleans())
def test_permutation_of_array(words, shape, axis, independent):
    axis = axis % len(shape)
    x = np.arange(math.prod(shape), dtype=np.float32).reshape(shape)
    exact(nrandom.permutation(words, x, axis, independent), jax.random.permutation(jkey(words), x, axis, independent))


def test_permutation_two_sort_rounds():
    # Above ~1600 elements JAX sorts twice; check the second round too.
    words = np.array([12, 34], np.uint32)
    exact(nrandom.permutation(words, 5000), jax.random.permutation(jkey(words), 5000))


probabilities = st.lists(st.floats(0, 1, width=32), min_size=4, max_size=4).filter(lambda ps: sum(ps) > 0.01)


@settings()
@given(
    key_words,
    st.sampled_from([(), (3,), (2, 2)]),
    st.booleans(),
    st.none() | probabilities,
    st.sampled_from([None, 0, 1]),
)
def test_choice(words, shape, replace, p, axis):
    p = None if p is None else np.array(p, np.float32)
    if not replace and p is not None and np.count_nonzero(p) < math.prod(shape):
        p = None  # fewer non-zero weights than draws: ill-defined in JAX
    if axis is None:
        a = 4
        kwargs = {}
    else:
        a = np.arange(20, dtype=np.int32).reshape((4, 5) if axis == 0 else (5, 4))
        kwargs = {"axis": axis}
    exact(
        nrandom.choice(words, a, shape, replace, p, **kwargs),
        jax.random.choice(jkey(words), a, shape, replace, p, **kwargs),
    )


@st.composite
def categorical_args(draw):
    logits_shape = draw(st.sampled_from([(5,), (3, 4), (2, 1, 3)]))
    axis = draw(st.integers(-len(logits_shape), len(logits_shape) - 1))
    replace = draw(st.booleans())
    batch = tuple(int(d) for d in np.delete(logits_shape, axis))
    if replace:
        prefix = draw(st.sampled_from([(), (2,), (3, 1)]))
    else:  # at most as many draws as categories
        prefix = draw(st.sampled_from([(), (1,), (2,)]).filter(lambda p: math.prod(p) <= logits_shape[axis]))
    elems = st.floats(-10, 10, width=32)
    logits = np.array(
        draw(st.lists(elems, min_size=math.prod(logits_shape), max_size=math.prod(logits_shape))), np.float32
    ).reshape(logits_shape)
    shape = None if not prefix and draw(st.booleans()) else prefix + batch
    return logits, axis, shape, replace


@settings()
@given(key_words, categorical_args(), st.sampled_from(["low", "high"]))
def test_categorical(words, args, mode):
    logits, axis, shape, replace = args
    if not replace and shape is None:
        shape = tuple(np.delete(logits.shape, axis))
    exact(
        nrandom.categorical(words, logits, axis, shape, replace, mode),
        jax.random.categorical(jkey(words), logits, axis, shape, replace, mode),
    )


# ---------------------------------------------------------------- initializers

UNIFORM_FAMILY = ["glorot_uniform", "xavier_uniform", "lecun_uniform", "he_uniform", "kaiming_uniform"]
NORMAL_FAMILY = ["glorot_normal", "xavier_normal", "lecun_normal", "he_normal", "kaiming_normal"]
WEIGHT_SHAPES = [(3, 4), (1, 5), (3, 3, 2, 4), (2, 5, 3)]


def _both(name, *args, **kwargs):
    return (getattr(ninit, name)(*args, **kwargs), getattr(jax.nn.initializers, name)(*args, **kwargs))


@settings()
@given(key_words, st.sampled_from(WEIGHT_SHAPES), st.sampled_from(UNIFORM_FAMILY), st.sampled_from(FLOATS32))
def test_uniform_family_initializers(words, shape, name, dtype):
    ours, theirs = _both(name)
    exact(ours(words, shape, dtype), theirs(jkey(words), shape, dtype))


@settings()
@given(key_words, st.sampled_from(WEIGHT_SHAPES), st.sampled_from(NORMAL_FAMILY), st.sampled_from(FLOATS32))
def test_normal_family_initializers(words, shape, name, dtype):
    ours, theirs = _both(name)
    desired = np.asarray(theirs(jkey(words), shape, dtype))
    actual = ours(words, shape, dtype)
    assert actual.dtype == desired.dtype
    assert_close(actual, desired, family="prng_normal")


@settings()
@given(
    key_words,
    st.sampled_from(WEIGHT_SHAPES),
    st.floats(0.1, 4),
    st.sampled_from(["fan_in", "fan_out", "fan_avg", "fan_geo_avg"]),
    st.sampled_from(["truncated_normal", "normal", "uniform"]),
    st.sampled_from([dict(), dict(in_axis=0, out_axis=1), dict(in_axis=-2, out_axis=-1, batch_axis=0)]),
)
def test_variance_scaling(words, shape, scale, mode, distribution, axes):
    ours, theirs = _both("variance_scaling", scale, mode, distribution, **axes)
    desired = np.asarray(theirs(jkey(words), shape))
    actual = ours(words, shape)
    family = "exact" if distribution == "uniform" else "prng_normal"
    assert_close(actual, desired, family=family)


@settings()
@given(key_words, st.sampled_from(WEIGHT_SHAPES), st.floats(0.01, 10))
def test_simple_initializers(words, shape, value):
    for name, args in [
        ("normal", (value,)),
        ("truncated_normal", (value,)),
        ("uniform", (value,)),
        ("constant", (value,)),
    ]:
        ours, theirs = _both(name, *args)
        desired = np.asarray(theirs(jkey(words), shape, jnp.float32))
        family = "prng_normal" if "normal" in name else "exact"
        assert_close(ours(words, shape, np.float32), desired, family=family, err_msg=name)
    for name in ["zeros", "ones"]:
        exact(
            getattr(ninit, name)(words, shape, np.float32),
            getattr(jax.nn.initializers, name)(jkey(words), shape, jnp.float32),
        )


@settings()
@given(key_words, st.sampled_from(WEIGHT_SHAPES + [(6, 6), (2, 8)]), st.sampled_from([-1, 0]), st.floats(0.5, 2))
def test_orthogonal(words, shape, column_axis, scale):
    ours, theirs = _both("orthogonal", scale, column_axis)
    # QR runs in LAPACK on both sides, in different builds: matmul-level error.
    assert_close(ours(words, shape), np.asarray(theirs(jkey(words), shape)), family="matmul")


@settings()
@given(key_words, st.sampled_from([(3, 2, 4), (3, 3, 4, 4), (1, 3, 2, 2, 5)]))
def test_delta_orthogonal(words, shape):
    ours, theirs = _both("delta_orthogonal")
    assert_close(ours(words, shape), np.asarray(theirs(jkey(words), shape)), family="matmul")
