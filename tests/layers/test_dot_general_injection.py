"""``dot_general`` / ``dot_general_cls`` on Dense, DenseGeneral and Einsum, and the attention
einsum hooks (``einsum_dot_general``, ``qk_attn_weights_einsum``/``attn_weights_value_einsum``,
their ``*_cls`` factories, ``force_fp32_for_softmax``), on both backends.

Tree names and shapes below were read off the seed system (a scratch run of its
``Dense(3, dot_general_cls=ScaledDot)`` etc.); numbers come from NumPy formulas.
"""

import importlib

import numpy as np
import pytest

from shared_spec.tolerances import assert_close


def lax(nn):
    """The backend's ``lax`` module (``jax.lax`` for nnjax)."""
    return importlib.import_module("jax.lax" if nn.__name__ == "nnjax" else "nnref.lax")


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _shapes(tree):
    if isinstance(tree, dict) or hasattr(tree, "items"):
        return {k: _shapes(v) for k, v in tree.items()}
    return tuple(np.shape(tree))


def scaled_dot_cls(nn):
    """A Module standing in for a quantized dot: it owns a 'scale' param (init 2.0)."""

    class ScaledDot(nn.Module):
        @nn.compact
        def __call__(self, lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None):
            scale = self.param("scale", nn.initializers.constant(2.0), ())
            return lax(nn).dot_general(lhs, rhs, dimension_numbers, precision) * scale

    return ScaledDot


def recording_dot(nn, calls):
    def dot(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None):
        calls.append(tuple(tuple(tuple(d) for d in pair) for pair in dimension_numbers))
        return lax(nn).dot_general(lhs, rhs, dimension_numbers, precision) * 3.0

    return dot


@pytest.mark.parametrize("layer", ["Dense", "DenseGeneral", "Einsum"])
def test_dot_general_cls_is_an_auto_named_submodule(nn, layer):
    ScaledDot = scaled_dot_cls(nn)
    x = _x((2, 4))
    make = {
        "Dense": lambda **kw: nn.Dense(3, **kw),
        "DenseGeneral": lambda **kw: nn.DenseGeneral((2, 3), **kw),
        "Einsum": lambda **kw: nn.Einsum((4, 3), "ab,bc->ac", **kw),
    }[layer]
    m = make(dot_general_cls=ScaledDot)
    variables = m.init(nn.random.PRNGKey(0), nn.numpy.asarray(x))
    shapes = _shapes(variables["params"])
    assert shapes["ScaledDot_0"] == {"scale": ()}
    plain = make()
    y = np.asarray(m.apply(variables, nn.numpy.asarray(x)))
    kernel = np.asarray(variables["params"]["kernel"]).reshape(4, -1)
    assert_close(y.reshape(2, -1), 2.0 * (x @ kernel), family="matmul")
    assert "ScaledDot_0" not in plain.init(nn.random.PRNGKey(0), nn.numpy.asarray(x))["params"]


@pytest.mark.parametrize("layer", ["Dense", "DenseGeneral", "Einsum"])
def test_dot_general_function_replaces_the_contraction(nn, layer):
    calls = []
    x = _x((2, 4))
    make = {
        "Dense": lambda **kw: nn.Dense(3, use_bias=False, **kw),
        "DenseGeneral": lambda **kw: nn.DenseGeneral(3, use_bias=False, **kw),
        "Einsum": lambda **kw: nn.Einsum((4, 3), "ab,bc->ac", use_bias=False, **kw),
    }[layer]
    m = make(dot_general=recording_dot(nn, calls))
    variables = m.init(nn.random.PRNGKey(1), nn.numpy.asarray(x))
    assert set(variables["params"]) == {"kernel"}
    calls.clear()
    y = np.asarray(m.apply(variables, nn.numpy.asarray(x)))
    assert len(calls) == 1
    assert_close(y, 3.0 * (x @ np.asarray(variables["params"]["kernel"])), family="matmul")


def test_dot_general_cls_takes_precedence(nn):
    calls = []
    m = nn.Dense(3, dot_general=recording_dot(nn, calls), dot_general_cls=scaled_dot_cls(nn))
    variables = m.init(nn.random.PRNGKey(0), nn.numpy.ones((1, 2)))
    assert calls == [] and "ScaledDot_0" in variables["params"]


def test_mha_dot_general_cls_in_every_projection(nn):
    ScaledDot = scaled_dot_cls(nn)
    m = nn.MultiHeadDotProductAttention(2, qkv_dot_general_cls=ScaledDot, out_dot_general_cls=ScaledDot)
    variables = m.init(nn.random.PRNGKey(0), nn.numpy.ones((1, 3, 4)))
    for proj in ("query", "key", "value", "out"):
        assert _shapes(variables["params"][proj])["ScaledDot_0"] == {"scale": ()}


def _attention_oracle(q, k, v, scale_qk=1.0, scale_v=1.0):
    logits = scale_qk * np.einsum("bqhd,bkhd->bhqk", q / np.sqrt(q.shape[-1]), k)
    w = np.exp(logits - logits.max(-1, keepdims=True))
    w = w / w.sum(-1, keepdims=True)
    return (scale_v * np.einsum("bhqk,bkhd->bqhd", w, v)).astype(np.float32)


def test_einsum_dot_general_in_attention(nn):
    q, k, v = _x((1, 3, 2, 4), 1), _x((1, 5, 2, 4), 2), _x((1, 5, 2, 4), 3)
    calls = []
    out = nn.dot_product_attention(*map(nn.numpy.asarray, (q, k, v)), einsum_dot_general=recording_dot(nn, calls))
    assert len(calls) == 2
    assert_close(np.asarray(out), _attention_oracle(q, k, v, 3.0, 3.0), family="attention")


def test_custom_einsums_in_attention(nn):
    q, k, v = _x((1, 3, 2, 4), 4), _x((1, 5, 2, 4), 5), _x((1, 5, 2, 4), 6)
    seen = []

    def einsum(scale):
        def f(subscripts, a, b):
            seen.append(subscripts)
            return nn.numpy.einsum(subscripts, a, b) * scale

        return f

    out = nn.dot_product_attention(
        *map(nn.numpy.asarray, (q, k, v)), qk_attn_weights_einsum=einsum(0.5), attn_weights_value_einsum=einsum(2.0)
    )
    assert seen == ["...qhd,...khd->...hqk", "...hqk,...khd->...qhd"]
    assert_close(np.asarray(out), _attention_oracle(q, k, v, 0.5, 2.0), family="attention")
    w = nn.dot_product_attention_weights(nn.numpy.asarray(q), nn.numpy.asarray(k), einsum=einsum(0.5))
    assert w.shape == (1, 2, 3, 5)


def test_attention_einsum_misuse(nn):
    q = nn.numpy.ones((1, 2, 1, 4))
    f = nn.numpy.einsum
    with pytest.raises(ValueError, match="must be specified together"):
        nn.dot_product_attention(q, q, q, qk_attn_weights_einsum=f)
    with pytest.raises(ValueError, match="mutually exclusive"):
        nn.dot_product_attention(
            q, q, q, einsum_dot_general=lax(nn).dot_general, qk_attn_weights_einsum=f, attn_weights_value_einsum=f
        )
    with pytest.raises(ValueError, match="mutually exclusive"):
        nn.dot_product_attention_weights(q, q, einsum_dot_general=lax(nn).dot_general, einsum=f)


def test_mha_einsum_cls_are_auto_named_submodules(nn):
    class Ein(nn.Module):
        @nn.compact
        def __call__(self, subscripts, a, b):
            c = self.param("c", nn.initializers.ones_init(), ())
            return nn.numpy.einsum(subscripts, a, b) * c

    m = nn.MultiHeadDotProductAttention(2, qk_attn_weights_einsum_cls=Ein, attn_weights_value_einsum_cls=Ein)
    x = nn.numpy.asarray(_x((1, 3, 4)))
    variables = m.init(nn.random.PRNGKey(0), x)
    assert sorted(variables["params"]) == ["Ein_0", "Ein_1", "key", "out", "query", "value"]
    plain = nn.MultiHeadDotProductAttention(2)
    stripped = {"params": {k: v for k, v in variables["params"].items() if not k.startswith("Ein")}}
    assert_close(np.asarray(m.apply(variables, x)), np.asarray(plain.apply(stripped, x)), family="attention")


def test_force_fp32_for_softmax(nn):
    q = nn.numpy.asarray(_x((1, 3, 2, 4), 7)).astype(nn.numpy.bfloat16)
    w = nn.dot_product_attention_weights(q, q, force_fp32_for_softmax=True)
    assert w.dtype == np.float32
    assert nn.dot_product_attention_weights(q, q).dtype == nn.numpy.bfloat16
    m = nn.MultiHeadDotProductAttention(2, dtype=nn.numpy.bfloat16, force_fp32_for_softmax=True)
    x = nn.numpy.asarray(_x((1, 3, 4)))
    y = m.apply(m.init(nn.random.PRNGKey(0), x), x)
    assert y.dtype == nn.numpy.bfloat16
