"""Properties of nnref.random that need no JAX: key handling, shapes, dtypes,
ranges, raw/typed equivalence, error cases, and the building blocks
(threefry, erfinv, fma) against published or exact references."""

import math
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st

from nnref import random
from nnref.random.erfinv import erfinv
from nnref.random.fma import fma
from nnref.random.threefry import threefry2x32
from shared_spec.tolerances import assert_close

key_words = st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)).map(lambda w: np.array(w, dtype=np.uint32))


# ---------------------------------------------------------------- threefry


@pytest.mark.parametrize(
    "key, counter, expected",
    [
        # Known-answer vectors published with Random123 (threefry2x32, 20 rounds).
        ((0, 0), (0, 0), (0x6B200159, 0x99BA4EFE)),
        ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
        ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
    ],
)
def test_threefry_random123_vectors(key, counter, expected):
    out = threefry2x32(np.uint32(key[0]), np.uint32(key[1]), np.uint32(counter[0]), np.uint32(counter[1]))
    assert tuple(int(v) for v in out) == expected


def test_threefry_broadcasts_and_keeps_uint32():
    a, b = threefry2x32(np.uint32(1), np.uint32(2), np.zeros((2, 3), np.uint32), np.arange(3, dtype=np.uint32))
    assert a.shape == b.shape == (2, 3) and a.dtype == b.dtype == np.uint32
    # Equal counters give equal outputs, different counters different ones.
    assert np.array_equal(a[0], a[1]) and len(set(a[0].tolist())) == 3


# ---------------------------------------------------------------- keys


@pytest.mark.parametrize(
    "seed, words",
    [
        (0, [0, 0]),
        (42, [0, 42]),
        (2**32 - 1, [0, 2**32 - 1]),
        # JAX's default mode keeps the seed in 32 bits: high word 0, low word wraps.
        (-1, [0, 2**32 - 1]),
        (2**32 + 5, [0, 5]),
        (-(2**63), [0, 0]),
        (np.int64(7), [0, 7]),
        (np.uint32(9), [0, 9]),
    ],
)
def test_prng_key_words(seed, words):
    k = random.PRNGKey(seed)
    assert k.dtype == np.uint32 and k.shape == (2,)
    assert k.tolist() == words
    assert random.key_data(random.key(seed)).tolist() == words


@pytest.mark.parametrize(
    "bad, error",
    [
        (1.5, TypeError),
        (np.array([1, 2]), TypeError),
        (True, TypeError),
        (2**63, OverflowError),
        (-(2**63) - 1, OverflowError),
        (random.key(0), TypeError),
    ],
)
def test_bad_seeds(bad, error):
    with pytest.raises(error):
        random.PRNGKey(bad)
    with pytest.raises(error):
        random.key(bad)


def test_key_array_behaves_like_an_array_of_keys():
    data = random.split(random.PRNGKey(0), (2, 3))
    keys = random.wrap_key_data(data)
    assert keys.shape == (2, 3) and keys.ndim == 2 and keys.size == 6
    assert len(keys) == 2 and keys.dtype == "key<fry>"
    assert np.array_equal(random.key_data(keys[1, 2]), data[1, 2])
    assert keys[0].shape == (3,) and keys[..., 0].shape == (2,)
    assert [k.shape for k in keys] == [(3,), (3,)]
    assert np.array_equal(keys == keys, np.ones((2, 3), bool))
    assert not np.any(keys[0] != keys[0])
    assert np.array_equal(keys[0] == keys[1], np.zeros(3, bool))
    assert "key<fry>" in repr(keys)
    with pytest.raises(TypeError):
        len(keys[0, 0])
    with pytest.raises(TypeError):
        np.asarray(keys)


def test_wrap_key_data_copies_and_round_trips():
    data = np.array([0, 5], np.uint32)
    k = random.wrap_key_data(data)
    data[1] = 6
    assert random.key_data(k).tolist() == [0, 5]
    assert k == random.key(5)


@pytest.mark.parametrize(
    "bad",
    [
        np.array([0, 1], np.int32),
        np.array([0, 1, 2], np.uint32),
        np.zeros((2, 3), np.uint32),
        np.array([0.0, 1.0]),
    ],
)
def test_bad_key_data(bad):
    with pytest.raises(TypeError):
        random.wrap_key_data(bad)
    with pytest.raises(TypeError):
        random.uniform(bad)


@pytest.mark.parametrize("bad", [[0, 1], (0, 1), 7, "key"])
def test_non_array_keys_rejected(bad):
    with pytest.raises(TypeError):
        random.split(bad)


@pytest.mark.parametrize(
    "fn",
    [
        lambda k: random.uniform(k),
        lambda k: random.normal(k),
        lambda k: random.bits(k),
        lambda k: random.randint(k, (), 0, 3),
        lambda k: random.permutation(k, 3),
        lambda k: random.bernoulli(k),
    ],
)
def test_samplers_want_one_key(fn):
    with pytest.raises(ValueError):
        fn(random.split(random.PRNGKey(0), 2))
    with pytest.raises(ValueError):
        fn(random.split(random.key(0), 2))


@settings()
@given(key_words, st.integers(1, 6))
def test_split_shape_and_kind(words, n):
    raw = random.split(words, n)
    assert raw.shape == (n, 2) and raw.dtype == np.uint32
    typed = random.split(random.wrap_key_data(words), n)
    assert isinstance(typed, random.KeyArray) and typed.shape == (n,)
    assert np.array_equal(random.key_data(typed), raw)
    assert len({tuple(r) for r in raw.tolist()}) == n


@settings()
@given(key_words)
def test_split_tuple_is_reshaped_flat_split(words):
    # Counters run over the flattened output shape.
    assert np.array_equal(random.split(words, (2, 3)).reshape(6, 2), random.split(words, 6))


@settings()
@given(key_words, key_words, st.integers(0, 2**32 - 1))
def test_batched_split_and_fold_in_match_one_by_one(w1, w2, data):
    batch = np.stack([w1, w2])
    split = random.split(batch, 3)
    assert split.shape == (2, 3, 2)
    folded = random.fold_in(batch, data)
    for i, w in enumerate((w1, w2)):
        assert np.array_equal(split[i], random.split(w, 3))
        assert np.array_equal(folded[i], random.fold_in(w, data))


@settings()
@given(key_words, st.integers(0, 2**32 - 1))
def test_fold_in_is_split_rule_with_one_counter(words, data):
    # fold_in(k, d) hashes the counter (0, d); split's i-th key hashes (0, i).
    if data < 8:
        assert np.array_equal(random.fold_in(words, data), random.split(words, 8)[data])
    typed = random.fold_in(random.wrap_key_data(words), data)
    assert np.array_equal(random.key_data(typed), random.fold_in(words, data))


@pytest.mark.parametrize(
    "bad, error", [(-1, OverflowError), (2**32, OverflowError), (1.0, TypeError), (np.arange(2), TypeError)]
)
def test_fold_in_bad_data(bad, error):
    with pytest.raises(error):
        random.fold_in(random.PRNGKey(0), bad)


@settings()
@given(key_words, st.sampled_from([(), (5,), (2, 3)]))
def test_bits_widths_are_views_of_the_same_words(words, shape):
    b32 = random.bits(words, shape)
    b64 = random.bits(words, shape, np.uint64)
    assert b32.dtype == np.uint32 and b64.dtype == np.uint64 and b32.shape == shape
    # 32-bit words are the XOR of the two halves of the 64-bit ones; 8- and
    # 16-bit words are their low bits.
    halves = (b64 >> np.uint64(32)) ^ (b64 & np.uint64(0xFFFFFFFF))
    assert np.array_equal(halves.astype(np.uint32), b32)
    assert np.array_equal(random.bits(words, shape, np.uint8), b32.astype(np.uint8))
    assert np.array_equal(random.bits(words, shape, np.uint16), b32.astype(np.uint16))


def test_bits_rejects_signed():
    with pytest.raises(ValueError):
        random.bits(random.PRNGKey(0), (2,), np.int32)


# ---------------------------------------------------------------- raw vs typed

SAMPLERS = {
    "uniform": lambda k: random.uniform(k, (4,)),
    "normal": lambda k: random.normal(k, (4,)),
    "truncated_normal": lambda k: random.truncated_normal(k, -1, 1, (4,)),
    "bernoulli": lambda k: random.bernoulli(k, 0.5, (4,)),
    "randint": lambda k: random.randint(k, (4,), 0, 100),
    "gumbel": lambda k: random.gumbel(k, (4,)),
    "categorical": lambda k: random.categorical(k, np.zeros(5, np.float32), shape=(4,)),
    "permutation": lambda k: random.permutation(k, 6),
    "choice": lambda k: random.choice(k, 10, (4,), replace=False),
    "bits": lambda k: random.bits(k, (4,)),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_raw_and_typed_keys_draw_the_same(name):
    fn = SAMPLERS[name]
    assert np.array_equal(fn(random.PRNGKey(11)), fn(random.key(11)))
    # And the sampler does depend on the key.
    draws = {fn(random.PRNGKey(s)).tobytes() for s in range(4)}
    assert len(draws) > 1


# ---------------------------------------------------------------- floats

FLOAT_DTYPES = [np.float32, np.float64, np.float16, ml_dtypes.bfloat16]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_uniform_range_and_dtype(dtype):
    x = random.uniform(random.PRNGKey(1), (5000,), dtype, -3.0, 2.0)
    assert x.dtype == np.dtype(dtype) and x.shape == (5000,)
    xf = x.astype(np.float64)
    assert xf.min() >= -3.0 and xf.max() < 2.0
    assert abs(xf.mean() + 0.5) < 0.1


def test_uniform_broadcasts_bounds_and_checks_shape():
    lo = np.array([0.0, 10.0, 20.0], np.float32)
    x = random.uniform(random.PRNGKey(2), (4, 3), minval=lo, maxval=lo + 1)
    assert np.all((x >= lo) & (x < lo + 1))
    with pytest.raises(ValueError):
        random.uniform(random.PRNGKey(2), (2,), minval=lo)
    with pytest.raises(ValueError):
        random.uniform(random.PRNGKey(2), (2,), np.int32)


def test_uniform_float64_uses_all_mantissa_bits():
    x = random.uniform(random.PRNGKey(3), (1000,), np.float64)
    # float32-resolution draws would all be multiples of 2**-23.
    assert np.any((x * 2**23) % 1 != 0)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_normal_moments(dtype):
    x = random.normal(random.PRNGKey(4), (100_000,), dtype).astype(np.float64)
    assert np.all(np.isfinite(x))
    assert abs(x.mean()) < 0.02 and abs(x.std() - 1) < 0.02


def test_normal_complex():
    z = random.normal(random.PRNGKey(4), (50_000,), np.complex64)
    assert z.dtype == np.complex64
    assert abs(np.mean(np.abs(z) ** 2) - 1) < 0.03


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_truncated_normal_stays_inside(dtype):
    x = random.truncated_normal(random.PRNGKey(5), -0.5, 1.5, (20_000,), dtype)
    assert x.dtype == np.dtype(dtype)
    xf = x.astype(np.float64)
    assert xf.min() > -0.5 and xf.max() < 1.5


def test_truncated_normal_shape_from_bounds():
    lower = np.array([-1.0, 0.0, 1.0], np.float32)
    x = random.truncated_normal(random.PRNGKey(6), lower, lower + 0.5)
    assert x.shape == (3,) and np.all((x > lower) & (x < lower + 0.5))
    with pytest.raises(ValueError):
        random.truncated_normal(random.PRNGKey(6), lower, lower + 1, (2,))


def test_truncated_normal_variance_matches_constant():
    # The variance-scaling initializers divide by this standard deviation.
    x = random.truncated_normal(random.PRNGKey(7), -2, 2, (200_000,), np.float64)
    assert abs(x.std() - 0.87962566103423978) < 0.005


@pytest.mark.parametrize("mode", ["low", "high", "highest"])
def test_gumbel_moments(mode):
    g = random.gumbel(random.PRNGKey(8), (100_000,), mode=mode).astype(np.float64)
    assert np.all(np.isfinite(g))
    assert abs(g.mean() - np.euler_gamma) < 0.02
    assert abs(g.var() - np.pi**2 / 6) < 0.05


def test_gumbel_rejects_bad_mode_and_dtype():
    with pytest.raises(ValueError):
        random.gumbel(random.PRNGKey(0), mode="medium")
    with pytest.raises(ValueError):
        random.gumbel(random.PRNGKey(0), dtype=np.int32)


# ---------------------------------------------------------------- discrete


def test_bernoulli_edges_and_frequency():
    k = random.PRNGKey(9)
    assert not random.bernoulli(k, 0.0, (1000,)).any()
    assert random.bernoulli(k, 1.0, (1000,)).all()
    assert abs(random.bernoulli(k, 0.3, (100_000,)).mean() - 0.3) < 0.01
    assert abs(random.bernoulli(k, 0.3, (100_000,), mode="high").mean() - 0.3) < 0.01
    p = np.array([0.0, 1.0], np.float32)
    assert random.bernoulli(k, p).tolist() == [False, True]
    with pytest.raises(TypeError):
        random.bernoulli(k, 1)
    with pytest.raises(ValueError):
        random.bernoulli(k, 0.5, mode="mid")


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64])
def test_randint_range_and_dtype(dtype):
    info = np.iinfo(dtype)
    lo, hi = (max(info.min, -7), min(info.max, 20))
    x = random.randint(random.PRNGKey(10), (5000,), lo, hi, dtype)
    assert x.dtype == np.dtype(dtype)
    assert set(x.tolist()) == set(range(lo, hi))


def test_randint_edges():
    k = random.PRNGKey(11)
    # maxval <= minval always yields minval.
    assert set(random.randint(k, (100,), 5, 5).tolist()) == {5}
    assert set(random.randint(k, (100,), 5, 2).tolist()) == {5}
    # A maxval one past the dtype's top reaches the top value.
    x = random.randint(k, (20_000,), 0, 256, np.uint8)
    assert x.max() == 255 and x.min() == 0
    # The full int32 range does not overflow.
    y = random.randint(k, (1000,), -(2**31), 2**31 - 1)
    assert y.dtype == np.int32 and y.min() < -(2**30) and y.max() > 2**30
    # Array bounds broadcast against the shape.
    z = random.randint(k, (4, 3), np.array([0, 10, 20]), np.array([5, 15, 25]))
    assert np.all((z >= [0, 10, 20]) & (z < [5, 15, 25]))
    with pytest.raises(TypeError):
        random.randint(k, (2,), 0, 3, np.float32)


def test_permutation_properties():
    k = random.PRNGKey(12)
    p = random.permutation(k, 50)
    assert p.dtype == np.int32 and sorted(p.tolist()) == list(range(50))
    assert p.tolist() != list(range(50))
    x = np.arange(24).reshape(4, 6)
    rows = random.permutation(k, x, axis=0)
    assert sorted(map(tuple, rows.tolist())) == sorted(map(tuple, x.tolist()))
    cols = random.permutation(k, x, axis=1)
    assert sorted(map(tuple, cols.T.tolist())) == sorted(map(tuple, x.T.tolist()))
    ind = random.permutation(k, x, axis=1, independent=True)
    assert all(sorted(r) == sorted(o) for r, o in zip(ind.tolist(), x.tolist()))
    # Independent shuffles differ from row to row (with overwhelming odds).
    order = np.argsort(ind, axis=1)
    assert len({tuple(o) for o in order.tolist()}) > 1
    assert random.permutation(k, 0).shape == (0,)
    with pytest.raises(TypeError):
        random.permutation(k, 2.5)


def test_permutation_large_uses_two_rounds_and_stays_a_permutation():
    p = random.permutation(random.PRNGKey(13), 5000)
    assert np.array_equal(np.sort(p), np.arange(5000))


def test_choice_properties():
    k = random.PRNGKey(14)
    x = random.choice(k, 10, (6,), replace=False)
    assert x.dtype == np.int32 and len(set(x.tolist())) == 6
    p = np.array([0.0, 0.5, 0.0, 0.5], np.float32)
    assert set(random.choice(k, 4, (500,), p=p).tolist()) == {1, 3}
    assert set(random.choice(k, 4, (2,), replace=False, p=p).tolist()) == {1, 3}
    a = np.arange(12).reshape(3, 4)
    assert random.choice(k, a, (2, 5), axis=1).shape == (
        3,
        2,
        5,
    )
    assert random.choice(k, a, (2,), replace=False).shape == (2, 4)
    assert random.choice(k, 3, (0,)).shape == (0,)
    with pytest.raises(ValueError):
        random.choice(k, 3, (4,), replace=False)
    with pytest.raises(ValueError):
        random.choice(k, 4, (2,), p=np.ones(3, np.float32))
    with pytest.raises(TypeError):
        random.choice(k, 4, 2)


def test_categorical_properties():
    k = random.PRNGKey(15)
    with np.errstate(divide="ignore"):
        logits = np.log(np.array([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]], np.float32))
    x = random.categorical(k, logits, axis=-1, shape=(200, 2))
    assert x.dtype == np.int32 and x.shape == (200, 2)
    assert set(x[:, 0].tolist()) == {1} and set(x[:, 1].tolist()) == {0, 2}
    y = random.categorical(k, logits.T, axis=0)
    assert y.shape == (2,)
    z = random.categorical(k, np.zeros((2, 5), np.float32), shape=(5, 2), replace=False)
    assert all(sorted(col) == list(range(5)) for col in z.T.tolist())
    freq = (
        np.bincount(random.categorical(k, np.log(np.array([0.2, 0.8], np.float32)), shape=(20_000,)), minlength=2)
        / 20_000
    )
    assert abs(freq[1] - 0.8) < 0.02
    with pytest.raises(ValueError):
        random.categorical(k, np.zeros(3, np.float32), shape=(4,), replace=False)


# ---------------------------------------------------------------- building blocks


def test_erfinv_inverts_erf():
    x = np.linspace(-0.999, 0.999, 2001)
    for dtype, family in [(np.float32, "prng_normal"), (np.float64, "prng_normal")]:
        y = erfinv(x.astype(dtype))
        assert y.dtype == dtype
        assert_close(scipy.special.erf(y.astype(np.float64)).astype(dtype), x.astype(dtype), family=family)
    assert erfinv(np.array([-1.0, 1.0], np.float32)).tolist() == [-np.inf, np.inf]
    assert erfinv(np.array(0.3, ml_dtypes.bfloat16)).dtype == ml_dtypes.bfloat16
    with pytest.raises(TypeError):
        erfinv(np.array([1, 2]))


def _exact_fma(a, b, c, dtype):
    """Correct rounding of the exact a*b+c, from rational arithmetic."""
    exact = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
    guess = dtype(float(exact))
    neighbours = [np.nextafter(guess, dtype(-np.inf)), guess, np.nextafter(guess, dtype(np.inf))]
    # Nearest, ties to even mantissa.
    return min(
        neighbours,
        key=lambda v: (abs(Fraction(float(v)) - exact), int(np.array(v).view(f"u{np.dtype(dtype).itemsize}")) & 1),
    )


@settings()
@given(
    st.sampled_from([np.float32, np.float64]), st.tuples(*[st.floats(-1e6, 1e6, allow_nan=False)] * 3), st.booleans()
)
def test_fma_rounds_once(dtype, abc, cancel):
    a, b, c = (dtype(v) for v in abc)
    if cancel:  # make the sum cancel the product's leading bits
        c = dtype(-(float(a) * float(b)))
    assert fma(a, b, c) == _exact_fma(a, b, c, dtype)


def test_fma_shapes():
    out = fma(np.ones((2, 1), np.float32), np.ones(3, np.float32), np.float32(1))
    assert out.shape == (2, 3) and out.dtype == np.float32
    assert math.isinf(fma(np.float32(3e38), np.float32(10), np.float32(0)))
