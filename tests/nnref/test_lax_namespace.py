"""nnref.lax's namespace and signatures against jax.lax, and model code written against either."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from nnref import lax
from shared_spec.tolerances import assert_close
from tests.nnref.lax_cases import (
    jax,
    jlax,
)

# ---------------------------------------------------------------------------
# the namespace
# ---------------------------------------------------------------------------


@pytest.mark.parametrize('name', ['psum', 'gather', 'scatter_add', 'ragged_dot', 'zeta'])
def test_missing_op_error_names_the_op(name):
    assert hasattr(jlax, name)  # real jax.lax names nnref leaves out
    assert not hasattr(lax, name)
    with pytest.raises(AttributeError, match=rf'nnref\.lax has no `{name}`.*subset of jax\.lax.*nnref\.numpy'):
        getattr(lax, name)


def test_from_import_of_a_missing_op_fails_clearly():
    with pytest.raises(ImportError, match='psum'):
        exec('from nnref.lax import psum', {})


def test_dunder_lookups_are_plain_attribute_errors():
    with pytest.raises(AttributeError, match="has no attribute '__wrapped__'"):
        lax.__wrapped__  # noqa: B018 (inspect and doctest probe such names)


def test_every_public_name_exists_in_jax_lax():
    assert [n for n in lax.__all__ if not hasattr(jlax, n)] == []


def _comparable(default):
    if isinstance(default, (bool, int, float, str, type(None), tuple)):
        return default
    if hasattr(default, 'name') and hasattr(default, 'value'):  # enum members
        return (type(default).__name__, default.name)
    return '<object>'  # a private sentinel: only its presence matters


@pytest.mark.parametrize('name', [n for n in lax.__all__ if inspect.isfunction(getattr(lax, n))])
def test_signature_matches_jax(name):
    ours = inspect.signature(getattr(lax, name)).parameters
    theirs = inspect.signature(getattr(jlax, name)).parameters

    def describe(params):
        return [(p.name, p.kind, _comparable(p.default)) for p in params.values()]

    assert describe(ours) == describe(theirs)


def test_enums_match_jax():
    assert [m.name for m in lax.Precision] == [m.name for m in jlax.Precision]
    assert [m.name for m in lax.DotAlgorithmPreset] == [m.name for m in jlax.DotAlgorithmPreset]
    assert [(m.name, m.value) for m in lax.RoundingMethod] == [(m.name, int(m.value)) for m in jlax.RoundingMethod]
    for text in ('default', 'high', 'highest', 'bfloat16', 'tensorfloat32', 'float32'):
        assert lax.Precision(text).name == jlax.Precision(text).name
    assert str(lax.Precision.HIGHEST) == str(jlax.Precision.HIGHEST)


@pytest.mark.parametrize('precision', ['fast', 3, ('highest',), ('highest', 'high', None)])
def test_bad_precision_is_rejected_like_jax(precision):
    a = np.ones((2, 2), np.float32)
    with pytest.raises(ValueError):
        jlax.dot(a, a, precision=precision)
    with pytest.raises(ValueError, match='precision'):
        lax.dot(a, a, precision=precision)


def test_nnref_exposes_lax():
    import nnref

    assert nnref.lax is lax


# ---------------------------------------------------------------------------
# model code: one Module written against (nn, lax), on both backends
# ---------------------------------------------------------------------------


def _build(nn, L):
    class Block(nn.Module):
        """Dense, a hand-written layer norm, a scanned recurrence and an attention-like product."""

        @nn.compact
        def __call__(self, x):
            h = nn.Dense(6)(x)
            n = float(h.shape[1])
            mean = L.div(L.reduce_sum(h, (1,)), n)
            centered = L.sub(h, L.broadcast_in_dim(mean, h.shape, (0,)))
            var = L.div(L.reduce_sum(L.square(centered), (1,)), n)
            y = L.mul(centered, L.broadcast_in_dim(L.rsqrt(L.add(var, 1e-5)), h.shape, (0,)))

            def step(carry, row):
                carry = L.tanh(L.add(L.mul(carry, 0.5), row))
                return carry, L.logistic(carry)

            carry, ys = L.scan(step, L.full((h.shape[1],), 0.0, h.dtype), y)
            scores = L.dot_general(ys, y, (((1,), (1,)), ((), ())), precision=L.Precision.HIGHEST)
            top, _ = L.top_k(scores, 2)
            return L.concatenate([top, L.expand_dims(carry[:2], (0,))], 0)

    return Block()


def test_model_code_gives_the_same_numbers_on_both_backends():
    import nnjax
    import nnref

    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    variables = _build(nnjax, jlax).init(nnjax.random.PRNGKey(0), x)
    desired = np.asarray(_build(nnjax, jlax).apply(variables, x))
    params = jax.tree_util.tree_map(np.asarray, variables)
    actual = _build(nnref, lax).apply(params, x)
    assert actual.dtype == np.float32
    assert_close(actual, desired, family='attention')
    # The float64 reference run: every leaf float64, the same numbers to float32's tolerance.
    wide = _build(nnref, lax).apply(
        jax.tree_util.tree_map(lambda p: p.astype(np.float64), params), x.astype(np.float64)
    )
    assert wide.dtype == np.float64
    assert_close(wide, desired, family='attention', dtype=np.float32)
