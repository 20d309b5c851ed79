"""RNG streams of modules on both backends: derivation, counters, fallback, key kinds.

Every backend follows ``shared_spec.rng_rules``: a scope at path ``p`` that has
called ``make_rng`` ``n`` times gets ``fold_in(root, suffix_hash(p + (n,)))``.
Keys are compared as raw data (``nn.random.key_data``) so that typed and raw
keys of either backend compare alike.
"""

import hashlib

import numpy as np
import pytest

from shared_spec import errors
from shared_spec.rng_rules import suffix_hash


def make_draw(nn):
    class Draw(nn.Module):
        stream: str = "noise"

        @nn.compact
        def __call__(self):
            return nn.random.key_data(self.make_rng(self.stream))

    return Draw


def expected_key(nn, key, suffix):
    """The raw data of ``fold_in(key, suffix_hash(suffix))`` on this backend."""
    return nn.random.key_data(nn.random.fold_in(key, suffix_hash(suffix)))


def test_root_derivation_is_one_fold_in_of_the_suffix_hash(nn):
    Draw = make_draw(nn)
    key = nn.random.PRNGKey(3)
    got = Draw().apply({}, rngs={"noise": key})
    np.testing.assert_array_equal(got, expected_key(nn, key, (1,)))


def test_child_derivation_uses_the_path(nn):
    Draw = make_draw(nn)

    class Parent(nn.Module):
        @nn.compact
        def __call__(self):
            return Draw(name="child")()

    key = nn.random.PRNGKey(3)
    got = Parent().apply({}, rngs={"noise": key})
    np.testing.assert_array_equal(got, expected_key(nn, key, ("child", 1)))


def test_hash_encoding():
    # The shared rule itself; no backend involved, so it runs once.
    expected = int.from_bytes(hashlib.sha1(b"Dense_0" + bytes([1])).digest()[:4], "big")
    assert suffix_hash(("Dense_0", 1)) == expected
    expected = int.from_bytes(hashlib.sha1((300).to_bytes(2, "big")).digest()[:4], "big")
    assert suffix_hash((300,)) == expected


def test_counter_advances_within_a_module_and_continues_for_shared_modules(nn):
    Draw = make_draw(nn)

    class Twice(nn.Module):
        @nn.compact
        def __call__(self):
            return self.make_rng("noise"), self.make_rng("noise")

    a, b = Twice().apply({}, rngs={"noise": nn.random.PRNGKey(0)})
    assert not np.array_equal(nn.random.key_data(a), nn.random.key_data(b))

    class Shared(nn.Module):
        def setup(self):
            self.draw = Draw()

        def __call__(self):
            return self.draw(), self.draw()

    first, second = Shared().apply({}, rngs={"noise": nn.random.PRNGKey(0)})
    key = nn.random.PRNGKey(0)
    np.testing.assert_array_equal(first, expected_key(nn, key, ("draw", 1)))
    np.testing.assert_array_equal(second, expected_key(nn, key, ("draw", 2)))


def test_recreated_compact_child_continues_its_counter(nn):
    Draw = make_draw(nn)

    class Parent(nn.Module):
        @nn.compact
        def __call__(self):
            return Draw(name="d")()

    class Caller(nn.Module):
        def setup(self):
            self.parent_module = Parent()

        def __call__(self):
            return self.parent_module(), self.parent_module()

    first, second = Caller().apply({}, rngs={"noise": nn.random.PRNGKey(1)})
    assert not np.array_equal(first, second)


def test_missing_stream_falls_back_to_params_and_advances_it(nn):
    class Both(nn.Module):
        @nn.compact
        def __call__(self):
            return nn.random.key_data(self.make_rng("dropout")), nn.random.key_data(self.make_rng("params"))

    key = nn.random.PRNGKey(5)
    dropout_key, params_key = Both().apply({}, rngs={"params": key})
    np.testing.assert_array_equal(dropout_key, expected_key(nn, key, (1,)))
    np.testing.assert_array_equal(params_key, expected_key(nn, key, (2,)))


def test_has_rng(nn):
    class Probe(nn.Module):
        @nn.compact
        def __call__(self):
            return self.has_rng("params"), self.has_rng("dropout")

    assert Probe().apply({}, rngs={"params": nn.random.PRNGKey(0)}) == (True, False)
    assert Probe().apply({}) == (False, False)


def test_single_key_means_params_stream_in_init_and_apply(nn):
    Draw = make_draw(nn)
    x = np.ones((1, 3), np.float32)
    a = nn.Dense(2).init(nn.random.PRNGKey(4), x)
    b = nn.Dense(2).init({"params": nn.random.PRNGKey(4)}, x)
    nn.tree_util.tree_map(np.testing.assert_array_equal, a, b)
    k = nn.random.PRNGKey(9)
    np.testing.assert_array_equal(Draw("params").apply({}, rngs=k), Draw("params").apply({}, rngs={"params": k}))


def test_typed_and_raw_keys_give_the_same_parameters(nn):
    Draw = make_draw(nn)
    x = np.ones((1, 3), np.float32)
    raw = nn.Dense(2).init(nn.random.PRNGKey(4), x)
    typed = nn.Dense(2).init(nn.random.key(4), x)
    nn.tree_util.tree_map(np.testing.assert_array_equal, raw, typed)
    # make_rng from a typed root gives a key whose data is a plain array of
    # the backend (numpy.ndarray on nnref, jax.Array on nnjax).
    assert isinstance(Draw().apply({}, rngs={"noise": nn.random.key(0)}), nn.numpy.ndarray)


def test_make_rng_without_any_stream_is_an_error(nn):
    Draw = make_draw(nn)
    with pytest.raises(errors.InvalidRngError, match="noise"):
        Draw().apply({})


@pytest.mark.parametrize(
    "bad", [3, np.zeros(3, np.uint32), np.zeros(2, np.float32), "key"], ids=["int", "uint32x3", "float32x2", "str"]
)
def test_bad_keys_are_rejected(nn, bad):
    Draw = make_draw(nn)
    with pytest.raises(errors.InvalidRngError):
        Draw().apply({}, rngs={"noise": bad})
