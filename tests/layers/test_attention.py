"""Attention: functions, masks, the multi-head modules and autoregressive decoding, on both backends."""

import importlib
import warnings

import numpy as np
import pytest

from shared_spec.tolerances import assert_close, assert_trees_close


def attn(nn):
    return importlib.import_module(f"{nn.__name__}.layers.attention")


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _np(tree):
    if isinstance(tree, dict):
        return {k: _np(v) for k, v in tree.items()}
    if isinstance(tree, tuple):
        return tuple(_np(v) for v in tree)
    return np.asarray(tree)


def _softmax64(logits):
    z = np.exp(logits - logits.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)


# -- masks ---------------------------------------------------------------------------


def test_make_causal_mask(nn):
    mask = np.asarray(attn(nn).make_causal_mask(nn.numpy.ones((2, 4))))
    assert mask.shape == (2, 1, 4, 4) and mask.dtype == np.float32
    assert_close(mask[1, 0], np.tril(np.ones((4, 4), np.float32)), family="exact")
    mask = attn(nn).make_causal_mask(nn.numpy.ones((3,)), extra_batch_dims=2, dtype=nn.numpy.bool_)
    assert np.asarray(mask).shape == (1, 1, 1, 3, 3) and np.asarray(mask).dtype == np.bool_


def test_make_attention_mask_padding(nn):
    q = nn.numpy.asarray(np.array([[1, 1, 0], [1, 0, 0]], np.int32))
    k = nn.numpy.asarray(np.array([[1, 0], [1, 1]], np.int32))
    mask = np.asarray(attn(nn).make_attention_mask(q > 0, k > 0))
    assert mask.shape == (2, 1, 3, 2)
    want = np.array([[1, 1, 0], [1, 0, 0]])[:, None, :, None] * np.array([[1, 0], [1, 1]])[:, None, None, :]
    assert_close(mask, want.astype(np.float32), family="exact")
    mask = attn(nn).make_attention_mask(q, k, pairwise_fn=nn.numpy.greater_equal, extra_batch_dims=1)
    assert np.asarray(mask).shape == (1, 2, 1, 3, 2)


def test_combine_masks(nn):
    a = nn.numpy.asarray(np.array([[1, 1, 0]], np.float32))
    b = nn.numpy.asarray(np.array([[True, False, True]]))
    assert_close(np.asarray(attn(nn).combine_masks(a, None, b)), np.array([[1, 0, 0]], np.float32), family="exact")
    assert attn(nn).combine_masks(None, None) is None
    with pytest.raises(ValueError, match="same rank"):
        attn(nn).combine_masks(a, nn.numpy.ones((1, 1, 3)))


# -- functions -----------------------------------------------------------------------


def test_attention_weights_are_a_scaled_softmax(nn):
    q, k = _x((2, 3, 2, 4), 1), _x((2, 5, 2, 4), 2)
    bias = _x((1, 2, 3, 5), 3)
    w = np.asarray(
        attn(nn).dot_product_attention_weights(nn.numpy.asarray(q), nn.numpy.asarray(k), bias=nn.numpy.asarray(bias))
    )
    logits = np.einsum("bqhd,bkhd->bhqk", q.astype(np.float64), k.astype(np.float64)) / 2.0 + bias
    assert_close(w, _softmax64(logits).astype(np.float32), family="attention")


def test_masked_weights_are_zero_and_rows_sum_to_one(nn):
    q = _x((3, 2, 4), 1)  # no batch axes at all
    mask = np.array([[True, False, True, True], [False, False, True, False], [True, True, True, True]])
    w = np.asarray(
        attn(nn).dot_product_attention_weights(
            nn.numpy.asarray(q), nn.numpy.asarray(_x((4, 2, 4), 2)), mask=nn.numpy.asarray(mask)
        )
    )
    assert w.shape == (2, 3, 4)
    assert_close(np.where(mask, 0.0, w), np.zeros_like(w), family="exact")
    assert_close(w[:, 1, 2], np.ones(2, np.float32), family="exact")  # the only key it may see
    assert_close(w.sum(-1), np.ones((2, 3), np.float32), family="reduction")


def test_attention_output_is_weighted_values(nn):
    q, k, v = _x((2, 3, 2, 4), 1), _x((2, 5, 2, 4), 2), _x((2, 5, 2, 6), 3)
    mod = attn(nn)
    y = np.asarray(mod.dot_product_attention(*map(nn.numpy.asarray, (q, k, v))))
    w = np.asarray(mod.dot_product_attention_weights(nn.numpy.asarray(q), nn.numpy.asarray(k)))
    assert y.shape == (2, 3, 2, 6)
    assert_close(y, np.einsum("bhqk,bkhd->bqhd", w.astype(np.float64), v).astype(np.float32), family="attention")


@pytest.mark.parametrize("broadcast", [True, False])
def test_attention_dropout_draws_bernoulli_keep_mask(nn, broadcast):
    q, k = _x((2, 3, 2, 4), 1), _x((2, 5, 2, 4), 2)
    mod = attn(nn)
    plain = np.asarray(mod.dot_product_attention_weights(nn.numpy.asarray(q), nn.numpy.asarray(k)))
    rng = nn.random.PRNGKey(11)
    dropped = np.asarray(
        mod.dot_product_attention_weights(
            nn.numpy.asarray(q), nn.numpy.asarray(k), dropout_rng=rng, dropout_rate=0.25, broadcast_dropout=broadcast
        )
    )
    shape = (1, 1, 3, 5) if broadcast else (2, 2, 3, 5)
    keep = np.asarray(nn.random.bernoulli(rng, 0.75, shape))
    assert 0 < keep.sum() < keep.size
    assert_close(dropped, np.where(keep, plain / np.float32(0.75), 0).astype(np.float32), family="elementwise")
    # deterministic switches dropout off, whatever the rate and key.
    same = mod.dot_product_attention_weights(
        nn.numpy.asarray(q), nn.numpy.asarray(k), dropout_rng=rng, dropout_rate=0.25, deterministic=True
    )
    assert_close(np.asarray(same), plain, family="exact")


def test_attention_dropout_needs_a_key(nn):
    q = nn.numpy.ones((2, 3, 2, 4))
    with pytest.raises(ValueError, match="dropout_rng"):
        attn(nn).dot_product_attention(q, q, q, dropout_rate=0.5)


def test_attention_weights_sown_into_module(nn):
    mod = attn(nn)

    class Probe(nn.Module):
        @nn.compact
        def __call__(self, q):
            return mod.dot_product_attention(q, q, q, module=self)

    q = nn.numpy.asarray(_x((1, 3, 2, 4)))
    _, state = Probe().apply({}, q, mutable=["intermediates"])
    (weights,) = state["intermediates"]["attention_weights"]
    assert_close(np.asarray(weights), np.asarray(mod.dot_product_attention_weights(q, q)), family="exact")


def test_attention_shape_errors(nn):
    mod = attn(nn)
    with pytest.raises(ValueError, match="heads"):
        mod.dot_product_attention(nn.numpy.ones((1, 2, 2, 4)), nn.numpy.ones((1, 2, 3, 4)), nn.numpy.ones((1, 2, 3, 4)))
    with pytest.raises(ValueError, match="lengths"):
        mod.dot_product_attention(nn.numpy.ones((1, 2, 2, 4)), nn.numpy.ones((1, 3, 2, 4)), nn.numpy.ones((1, 4, 2, 4)))


# -- MultiHeadDotProductAttention -----------------------------------------------------


def test_mha_parameter_tree(nn):
    layer = attn(nn).MultiHeadDotProductAttention(num_heads=3, qkv_features=6, out_features=5)
    q, kv = nn.numpy.ones((2, 4, 7)), nn.numpy.ones((2, 3, 8))
    variables = layer.init(nn.random.PRNGKey(0), q, kv)
    shapes = {name: {p: np.shape(v) for p, v in sub.items()} for name, sub in variables["params"].items()}
    assert shapes == {
        "query": {"kernel": (7, 3, 2), "bias": (3, 2)},
        "key": {"kernel": (8, 3, 2), "bias": (3, 2)},
        "value": {"kernel": (8, 3, 2), "bias": (3, 2)},
        "out": {"kernel": (3, 2, 5), "bias": (5,)},
    }
    assert layer.apply(variables, q, kv).shape == (2, 4, 5)


def test_mha_is_projections_around_dot_product_attention(nn):
    mod = attn(nn)
    lg = importlib.import_module(f"{nn.__name__}.layers.linear_general")
    layer = mod.MultiHeadDotProductAttention(num_heads=2, bias_init=nn.initializers.normal(1.0))
    x = nn.numpy.asarray(_x((2, 3, 4)))
    variables = layer.init(nn.random.PRNGKey(4), x)
    p = variables["params"]
    proj = {n: lg.DenseGeneral(features=(2, 2)).apply({"params": p[n]}, x) for n in ("query", "key", "value")}
    heads = mod.dot_product_attention(proj["query"], proj["key"], proj["value"])
    want = lg.DenseGeneral(features=4, axis=(-2, -1)).apply({"params": p["out"]}, heads)
    assert_close(np.asarray(layer.apply(variables, x)), np.asarray(want), family="attention")


def test_mha_inputs_default_to_query(nn):
    layer = attn(nn).MultiHeadDotProductAttention(num_heads=2)
    q, k = nn.numpy.asarray(_x((2, 3, 4), 1)), nn.numpy.asarray(_x((2, 5, 4), 2))
    variables = layer.init(nn.random.PRNGKey(0), q)
    assert_close(np.asarray(layer.apply(variables, q)), np.asarray(layer.apply(variables, q, q, q)), family="exact")
    assert_close(np.asarray(layer.apply(variables, q, k)), np.asarray(layer.apply(variables, q, k, k)), family="exact")
    with pytest.warns(DeprecationWarning):
        legacy = layer.apply(variables, q, inputs_kv=k)
    assert_close(np.asarray(legacy), np.asarray(layer.apply(variables, q, k)), family="exact")
    with pytest.raises(ValueError, match="inputs_k"):
        layer.apply(variables, q, inputs_v=k)
    with pytest.raises(ValueError, match="inputs_kv"):
        layer.apply(variables, q, k, inputs_kv=k)


def test_mha_mask_hides_keys(nn):
    layer = attn(nn).MultiHeadDotProductAttention(num_heads=2)
    q, k = nn.numpy.asarray(_x((2, 3, 4), 1)), _x((2, 5, 4), 2)
    variables = layer.init(nn.random.PRNGKey(0), q, nn.numpy.asarray(k))
    mask = nn.numpy.asarray(np.array([True, True, False, True, False])[None, None, None, :])
    k_changed = k.copy()
    k_changed[:, [2, 4]] = 100.0  # keys that are masked out cannot change the result
    y = layer.apply(variables, q, nn.numpy.asarray(k), mask=mask)
    y_changed = layer.apply(variables, q, nn.numpy.asarray(k_changed), mask=mask)
    assert_close(np.asarray(y_changed), np.asarray(y), family="attention")


def test_mha_dropout_uses_dropout_stream(nn):
    layer = attn(nn).MultiHeadDotProductAttention(num_heads=2, dropout_rate=0.5)
    x = nn.numpy.asarray(_x((2, 3, 4)))
    variables = layer.init(nn.random.PRNGKey(0), x, deterministic=True)
    det = np.asarray(layer.apply(variables, x, deterministic=True))
    a = np.asarray(layer.apply(variables, x, deterministic=False, rngs={"dropout": nn.random.PRNGKey(1)}))
    b = np.asarray(layer.apply(variables, x, deterministic=False, rngs={"dropout": nn.random.PRNGKey(2)}))
    a2 = np.asarray(layer.apply(variables, x, deterministic=False, rngs={"dropout": nn.random.PRNGKey(1)}))
    assert not np.allclose(a, det) and not np.allclose(a, b)
    assert_close(a2, a, family="exact")
    # An explicit dropout_rng takes precedence over the 'dropout' stream.
    key = nn.random.PRNGKey(5)
    c = layer.apply(variables, x, deterministic=False, dropout_rng=key, rngs={"dropout": nn.random.PRNGKey(1)})
    d = layer.apply(variables, x, deterministic=False, dropout_rng=key, rngs={"dropout": nn.random.PRNGKey(2)})
    assert_close(np.asarray(c), np.asarray(d), family="exact")


def test_mha_deterministic_field_or_call(nn):
    x = nn.numpy.ones((2, 3, 4))
    unset = attn(nn).MultiHeadDotProductAttention(num_heads=2, dropout_rate=0.1)
    with pytest.raises(ValueError, match="deterministic"):
        unset.init(nn.random.PRNGKey(0), x)
    both = attn(nn).MultiHeadDotProductAttention(num_heads=2, dropout_rate=0.1, deterministic=True)
    with pytest.raises(ValueError, match="deterministic"):
        both.init(nn.random.PRNGKey(0), x, deterministic=True)
    # Without dropout, deterministic is not needed at all.
    attn(nn).MultiHeadDotProductAttention(num_heads=2).init(nn.random.PRNGKey(0), x)


def test_mha_sow_weights(nn):
    layer = attn(nn).MultiHeadDotProductAttention(num_heads=2)
    q, kv = nn.numpy.asarray(_x((2, 3, 4), 1)), nn.numpy.asarray(_x((2, 5, 4), 2))
    variables = layer.init(nn.random.PRNGKey(0), q, kv)
    y, state = layer.apply(variables, q, kv, sow_weights=True, mutable=["intermediates"])
    (weights,) = state["intermediates"]["attention_weights"]
    assert np.shape(weights) == (2, 2, 3, 5)
    assert_close(np.asarray(y), np.asarray(layer.apply(variables, q, kv)), family="exact")
    _, state = layer.apply(variables, q, kv, mutable=["intermediates"])
    assert "attention_weights" not in state.get("intermediates", {})


def test_mha_out_initializers(nn):
    layer = attn(nn).MultiHeadDotProductAttention(
        num_heads=2, out_kernel_init=nn.initializers.ones, out_bias_init=nn.initializers.ones
    )
    p = layer.init(nn.random.PRNGKey(0), nn.numpy.ones((2, 3, 4)))["params"]
    assert_close(np.asarray(p["out"]["kernel"]), np.ones((2, 2, 4), np.float32), family="exact")
    assert_close(np.asarray(p["out"]["bias"]), np.ones((4,), np.float32), family="exact")
    assert_close(np.asarray(p["query"]["bias"]), np.zeros((2, 2), np.float32), family="exact")


def test_mha_attention_fn_gets_only_its_keywords(nn):
    seen = {}
    dpa = attn(nn).dot_product_attention

    def my_attention(query, key, value, mask=None):
        seen["mask"] = mask
        return dpa(query, key, value, mask=mask)

    layer = attn(nn).MultiHeadDotProductAttention(num_heads=2, attention_fn=my_attention)
    x = nn.numpy.ones((2, 3, 4))
    layer.init(nn.random.PRNGKey(0), x, mask=attn(nn).make_causal_mask(nn.numpy.ones((2, 3))))
    assert np.asarray(seen["mask"]).shape == (2, 1, 3, 3)


def test_mha_head_divisibility(nn):
    with pytest.raises(ValueError, match="divisible"):
        attn(nn).MultiHeadDotProductAttention(num_heads=3, qkv_features=8).init(
            nn.random.PRNGKey(0), nn.numpy.ones((1, 2, 4))
        )


def test_mha_dtypes(nn):
    x = nn.numpy.asarray(_x((2, 3, 4)))
    layer = attn(nn).MultiHeadDotProductAttention(num_heads=2, dtype=nn.numpy.bfloat16)
    variables = layer.init(nn.random.PRNGKey(0), x)
    assert np.asarray(variables["params"]["query"]["kernel"]).dtype == np.float32
    assert np.asarray(layer.apply(variables, x)).dtype == np.dtype(nn.numpy.bfloat16)
    layer = attn(nn).MultiHeadDotProductAttention(num_heads=2, param_dtype=nn.numpy.bfloat16)
    variables = layer.init(nn.random.PRNGKey(0), x)
    assert np.asarray(variables["params"]["out"]["kernel"]).dtype == np.dtype(nn.numpy.bfloat16)
    assert np.asarray(layer.apply(variables, x)).dtype == np.float32


def test_mha_autonames_and_variants(nn):
    mod = attn(nn)

    class Block(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = mod.MultiHeadDotProductAttention(num_heads=2)(x)
            x = mod.MultiHeadAttention(num_heads=2)(x)
            return mod.MultiHeadAttention(num_heads=2)(x)

    variables = Block().init(nn.random.PRNGKey(0), nn.numpy.ones((2, 3, 4)))
    assert sorted(variables["params"]) == [
        "MultiHeadAttention_0",
        "MultiHeadAttention_1",
        "MultiHeadDotProductAttention_0",
    ]


def test_self_attention_is_mha_on_inputs_q(nn):
    mod = attn(nn)
    x = nn.numpy.asarray(_x((2, 3, 4)))
    mask = mod.make_causal_mask(nn.numpy.ones((2, 3)))
    mha = mod.MultiHeadDotProductAttention(num_heads=2)
    variables = mha.init(nn.random.PRNGKey(0), x)
    with pytest.warns(DeprecationWarning):
        self_vars = mod.SelfAttention(num_heads=2).init(nn.random.PRNGKey(0), x)
    assert_trees_close(_np(self_vars), _np(variables), family="exact")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        y = mod.SelfAttention(num_heads=2).apply(variables, x, mask)
    assert_close(np.asarray(y), np.asarray(mha.apply(variables, x, mask=mask)), family="exact")


def test_mha_normalize_qk(nn):
    pytest.importorskip(f"{nn.__name__}.layers.normalization")
    layer = attn(nn).MultiHeadDotProductAttention(num_heads=2, normalize_qk=True)
    variables = layer.init(nn.random.PRNGKey(0), nn.numpy.ones((2, 3, 4)))
    p = variables["params"]
    assert sorted(p) == ["key", "key_ln", "out", "query", "query_ln", "value"]
    assert {k: np.shape(v) for k, v in p["query_ln"].items()} == {"scale": (2,)}


# -- autoregressive decoding -----------------------------------------------------------


def test_decode_cache_created_at_init(nn):
    layer = attn(nn).MultiHeadDotProductAttention(num_heads=2, qkv_features=6, decode=True)
    variables = layer.init(nn.random.PRNGKey(0), nn.numpy.ones((2, 3, 4)))
    cache = _np(variables["cache"])
    assert {k: (v.shape, v.dtype) for k, v in cache.items()} == {
        "cached_key": ((2, 3, 2, 3), np.float32),
        "cached_value": ((2, 3, 2, 3), np.float32),
        "cache_index": ((), np.int32),
    }
    assert not cache["cached_key"].any() and int(cache["cache_index"]) == 0


def test_decode_step_by_step_equals_causal_attention(nn):
    mod = attn(nn)
    batch, length = 2, 3
    x = _x((batch, length, 4), 3)
    layer = mod.MultiHeadDotProductAttention(num_heads=2, decode=True)
    variables = layer.init(nn.random.PRNGKey(0), nn.numpy.asarray(x))
    full = mod.MultiHeadDotProductAttention(num_heads=2).apply(
        {"params": variables["params"]}, nn.numpy.asarray(x), mask=mod.make_causal_mask(nn.numpy.ones((batch, length)))
    )
    cache, steps = variables["cache"], []
    for i in range(length):
        y, state = layer.apply(
            {"params": variables["params"], "cache": cache}, nn.numpy.asarray(x[:, i : i + 1]), mutable=["cache"]
        )
        cache = state["cache"]
        steps.append(np.asarray(y))
        assert int(np.asarray(cache["cache_index"])) == i + 1
    assert_close(np.concatenate(steps, axis=1), np.asarray(full), family="attention")
    # The cache now holds every projected key.
    keys = (
        importlib.import_module(f"{nn.__name__}.layers.linear_general")
        .DenseGeneral(features=(2, 2))
        .apply({"params": variables["params"]["key"]}, nn.numpy.asarray(x))
    )
    assert_close(np.asarray(cache["cached_key"]), np.asarray(keys), family="matmul")


def test_decode_rejects_more_than_one_position(nn):
    layer = attn(nn).MultiHeadDotProductAttention(num_heads=2, decode=True)
    variables = layer.init(nn.random.PRNGKey(0), nn.numpy.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="cache shape"):
        layer.apply(variables, nn.numpy.ones((2, 2, 4)), mutable=["cache"])
