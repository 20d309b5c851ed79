"""Multi-head attention gives the same variables, outputs and cache on nnref and nnjax.

Hypothesis draws the number of heads and the per-head depth (so
``qkv_features``), the output features, query and key lengths, self- or cross-attention (with or without separate values), the
mask (none, random boolean, causal, or a random mask combined with the causal
one through ``combine_masks``), dropout (off, or a rate with broadcast or
per-element masks and a drawn 'dropout' key), ``use_bias``, ``normalize_qk``,
the computation dtype (default or bfloat16), and autoregressive decoding
(init with the full sequence, then a few one-position steps). Keys and input
data are drawn too. Sizes come from a few values only (batch 2, input
features 4): every new shape costs JAX a compile per operation, and a small
set of shapes lets the examples share them.

Both backends must init the same tree with the same values ('prng_normal')
and, applied to the same (nnref's) variables, give the same outputs and
mutated caches ('attention' at the output's dtype; the cache index exactly).
A float64 nnref run (params and inputs cast to float64) bounds nnjax's
float32 output within the float32 'attention' row (except with
``normalize_qk``, whose LayerNorm over tiny head depths is ill-conditioned).
"""

import importlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance import strategies as cst
from conformance.compare import skeleton, to_backend, to_numpy
from shared_spec.tolerances import assert_close, assert_trees_close

nnref = pytest.importorskip("nnref")
nnjax = pytest.importorskip("nnjax")


def attention(nn):
    return importlib.import_module(f"{nn.__name__}.layers.attention")


@st.composite
def attention_cases(draw):
    decode = draw(st.booleans())
    q_len = draw(st.sampled_from([1, 3]))
    # Decoding is self-attention over the cached sequence; otherwise keys may come from elsewhere.
    inputs = "self" if decode else draw(st.sampled_from(["self", "k", "kv"]))
    kv_len = q_len if inputs == "self" else draw(st.sampled_from([1, 3]))
    mask = draw(st.sampled_from(["none", "random", "causal", "combined"] if inputs == "self" else ["none", "random"]))
    dropout = draw(st.sampled_from([0.0, 0.0, 0.3]))
    return dict(
        batch=2,
        q_len=q_len,
        kv_len=kv_len,
        features=4,
        inputs=inputs,
        mask=mask,
        decode=decode,
        fields=dict(
            num_heads=draw(st.integers(1, 2)),
            qkv_features=None,  # set below from heads x depth
            out_features=draw(st.sampled_from([None, 3])),
            dropout_rate=dropout,
            broadcast_dropout=draw(st.booleans()),
            deterministic=False if dropout else None,
            use_bias=draw(st.booleans()),
            normalize_qk=draw(st.booleans()),
        ),
        head_dim=draw(st.integers(1, 2)),
        dtype=draw(st.sampled_from([None, None, "bfloat16"])),
        key=draw(cst.keys()),
        dropout_key=draw(cst.keys()),
        data_seed=draw(st.integers(0, 2**32 - 1)),
    )


def _data(case):
    rng = np.random.default_rng(case["data_seed"])
    shape_q = (case["batch"], case["q_len"], case["features"])
    shape_kv = (case["batch"], case["kv_len"], case["features"])
    args = [rng.standard_normal(shape_q).astype(np.float32)]
    if case["inputs"] in ("k", "kv"):
        args.append(rng.standard_normal(shape_kv).astype(np.float32))
    if case["inputs"] == "kv":
        args.append(rng.standard_normal(shape_kv).astype(np.float32))
    mask = None
    if case["mask"] in ("random", "combined"):
        mask = rng.random((case["batch"], 1, case["q_len"], case["kv_len"])) < 0.7
    return args, mask


def _model(nn, case, decode=False):
    fields = dict(case["fields"], qkv_features=case["fields"]["num_heads"] * case["head_dim"])
    dtype = None if case["dtype"] is None else getattr(nn.numpy, case["dtype"])
    return attention(nn).MultiHeadDotProductAttention(
        **fields, dtype=dtype, decode=decode, bias_init=nn.initializers.normal(1.0)
    )


def _mask(nn, case, mask):
    """The case's mask as a backend array, built with the backend's own mask helpers."""
    mod = attention(nn)
    if case["mask"] in ("causal", "combined"):
        causal = mod.make_causal_mask(nn.numpy.ones((case["batch"], case["q_len"])))
        return causal if mask is None else mod.combine_masks(nn.numpy.asarray(mask), causal)
    return None if mask is None else nn.numpy.asarray(mask)


def _rngs(nn, case):
    return {"dropout": case["dropout_key"].make(nn)}


def _forward(nn, case, variables, args, mask):
    model = _model(nn, case)
    return model.apply(
        to_backend(nn, variables), *to_backend(nn, args), mask=_mask(nn, case, mask), rngs=_rngs(nn, case)
    )


@settings()
@given(attention_cases())
def test_attention_agrees_across_backends(case):
    args, mask = _data(case)
    init_keys = {"params": case["key"], "dropout": case["dropout_key"]}
    variables = {}
    for nn in (nnref, nnjax):
        keys = {stream: k.make(nn) for stream, k in init_keys.items()}
        model = _model(nn, case, decode=case["decode"])
        variables[nn.__name__] = to_numpy(model.init(keys, *to_backend(nn, args), mask=_mask(nn, case, mask)))
    ref_vars, jax_vars = variables["nnref"], variables["nnjax"]
    assert skeleton(jax_vars) == skeleton(ref_vars)
    assert_trees_close(jax_vars["params"], ref_vars["params"], family="prng_normal")
    if case["decode"]:
        assert_trees_close(jax_vars["cache"], ref_vars["cache"], family="exact")

    params = {"params": ref_vars["params"]}
    ref_y = np.asarray(_forward(nnref, case, params, args, mask))
    jax_y = np.asarray(_forward(nnjax, case, params, args, mask))
    assert jax_y.dtype == ref_y.dtype and jax_y.shape == ref_y.shape
    assert_close(jax_y, ref_y, family="attention")

    if case["dtype"] is None and not case["fields"]["normalize_qk"]:
        # The float64 reference bounds nnjax's float32 error. Not with normalize_qk: LayerNorm over
        # a head depth of 1 or 2 divides by a spread that float32 (E[x^2] - E[x]^2, as the seed
        # computes it) may get badly wrong; the two float32 runs above still agree.
        params64 = {"params": to_numpy_cast(ref_vars["params"], np.float64)}
        ref64 = np.asarray(_forward(nnref, case, params64, [a.astype(np.float64) for a in args], mask))
        assert ref64.dtype == np.float64
        assert_close(jax_y, ref64, family="attention", dtype="float32")

    if case["decode"]:
        _check_decode_steps(case, ref_vars, args[0], mask)


def _check_decode_steps(case, variables, x, mask):
    """A few one-position decoding steps: same outputs and caches on both backends."""
    caches = {"nnref": variables["cache"], "nnjax": variables["cache"]}
    for step in range(min(case["q_len"], 3)):
        outs = {}
        for nn in (nnref, nnjax):
            step_mask = None
            if mask is not None:  # this position's row of the random mask, over the whole cache
                step_mask = nn.numpy.asarray(mask[:, :, step : step + 1, :])
            y, state = _model(nn, case, decode=True).apply(
                to_backend(nn, {"params": variables["params"], "cache": caches[nn.__name__]}),
                nn.numpy.asarray(x[:, step : step + 1]),
                mask=step_mask,
                rngs=_rngs(nn, case),
                mutable=["cache"],
            )
            outs[nn.__name__] = np.asarray(y)
            caches[nn.__name__] = to_numpy(state["cache"])
        assert_close(outs["nnjax"], outs["nnref"], family="attention", err_msg=f"decode step {step}")
        assert_trees_close(caches["nnjax"], caches["nnref"], family="attention", err_msg=f"cache after step {step}")
        assert int(caches["nnref"]["cache_index"]) == step + 1


def to_numpy_cast(tree, dtype):
    if isinstance(tree, dict):
        return {k: to_numpy_cast(v, dtype) for k, v in tree.items()}
    return np.asarray(tree).astype(dtype)
