"""Every layer reads its parameters through their metadata boxes.

A kernel built by ``nn.with_logical_partitioning(init, names)`` or
``nn.with_partitioning(init, names)`` is stored boxed in the variables; the
layer must unbox it wherever it reads it, at init and at apply. Oracle: the
same model with plain initializers (the box does not change the draw) gives
the same variables (unboxed) and the same output.
"""

import numpy as np
import pytest

from shared_spec.tolerances import assert_trees_close


def _unboxed(nn, tree):
    return nn.meta.unbox(tree)


def _boxes(nn, tree):
    """'/'-joined paths of the boxed leaves of a variables tree."""
    out = []

    def walk(node, path):
        if isinstance(node, nn.meta.AxisMetadata):
            out.append("/".join(path))
        elif hasattr(node, "items"):
            for k, v in node.items():
                walk(v, path + (str(k),))

    walk(tree, ())
    return sorted(out)


def lm_classes(nn, boxed: bool):
    ini = nn.initializers

    def L(init, names):  # logical axis names, or the plain initializer
        return nn.with_logical_partitioning(init, names) if boxed else init

    def M(init, names):  # mesh axis names
        return nn.with_partitioning(init, names) if boxed else init

    class Block(nn.Module):
        @nn.compact
        def __call__(self, x, mask):
            h = nn.LayerNorm(scale_init=L(ini.ones_init(), ("embed",)), bias_init=L(ini.zeros_init(), ("embed",)))(x)
            h = nn.MultiHeadDotProductAttention(
                2,
                kernel_init=L(ini.xavier_uniform(), ("embed", "heads", "kv")),
                bias_init=L(ini.normal(0.1), ("heads", "kv")),
                out_kernel_init=L(ini.xavier_uniform(), ("heads", "kv", "embed")),
                out_bias_init=L(ini.normal(0.1), ("embed",)),
            )(h, mask=mask)
            x = x + h
            h = nn.RMSNorm(scale_init=L(ini.normal(1.0), ("embed",)))(x)
            h = nn.Dense(
                16, kernel_init=L(ini.lecun_normal(), ("embed", "mlp")), bias_init=L(ini.normal(0.1), ("mlp",))
            )(h)
            h = nn.gelu(h)
            h = nn.DenseGeneral(
                8, kernel_init=M(ini.lecun_normal(), ("model", None)), bias_init=M(ini.normal(0.1), (None,))
            )(h)
            return x + h

    class LM(nn.Module):
        vocab: int = 11

        @nn.compact
        def __call__(self, tokens):
            embed = nn.Embed(self.vocab, 8, embedding_init=L(ini.normal(1.0), ("vocab", "embed")))
            x = embed(tokens)
            mask = nn.make_causal_mask(tokens)
            x = Block()(x, mask)
            x = nn.LayerNorm(scale_init=M(ini.normal(1.0), (None,)))(x)
            head = nn.Dense(self.vocab, use_bias=False, kernel_init=M(ini.lecun_normal(), (None, "model")))
            return embed.attend(x) + head(x)

    return LM


def test_transformer_lm_with_boxed_params(nn):
    tokens = nn.numpy.asarray(np.array([[1, 2, 3, 4], [5, 6, 7, 10]], np.int32))
    boxed_lm, plain_lm = lm_classes(nn, True)(), lm_classes(nn, False)()
    key = nn.random.PRNGKey(0)
    boxed_vars = boxed_lm.init(key, tokens)
    plain_vars = plain_lm.init(key, tokens)
    boxes = _boxes(nn, boxed_vars)
    assert "params/Embed_0/embedding" in boxes
    assert "params/Block_0/MultiHeadDotProductAttention_0/out/kernel" in boxes
    # Every param is boxed except the final LayerNorm's bias (left plain on purpose).
    all_params = sorted(f"params/{p}" for p in _param_paths(plain_vars["params"]))
    assert boxes == [p for p in all_params if p != "params/LayerNorm_0/bias"]
    assert_trees_close(_unboxed(nn, boxed_vars), plain_vars, family="exact")
    spec = nn.get_partition_spec(boxed_vars)["params"]
    assert tuple(spec["Block_0"]["Dense_0"]["kernel"]) == ("embed", "mlp")
    want = np.asarray(plain_lm.apply(plain_vars, tokens))
    assert_trees_close(np.asarray(boxed_lm.apply(boxed_vars, tokens)), want, family="exact")


def _layer_cases(nn, boxed):
    ini = nn.initializers

    def B(init, ndim):
        names = tuple(f"ax{i}" for i in range(ndim))
        return nn.with_logical_partitioning(init, names) if boxed else init

    def P(init, ndim):
        return nn.with_partitioning(init, (None,) * ndim) if boxed else init

    n01 = ini.normal(0.5)
    cells = dict(
        kernel_init=B(ini.lecun_normal(), 2), recurrent_kernel_init=B(ini.orthogonal(), 2), bias_init=B(n01, 1)
    )
    return {
        "Dense": (nn.Dense(3, kernel_init=B(ini.lecun_normal(), 2), bias_init=B(n01, 1)), "x2"),
        "DenseGeneral": (nn.DenseGeneral((2, 3), kernel_init=B(ini.lecun_normal(), 3), bias_init=B(n01, 2)), "x2"),
        "Einsum": (nn.Einsum((4, 3), "ab,bc->ac", kernel_init=B(ini.lecun_normal(), 2), bias_init=B(n01, 1)), "x2"),
        "Embed": (nn.Embed(5, 4, embedding_init=B(ini.normal(1.0), 2)), "tokens"),
        "Conv": (nn.Conv(3, (2,), kernel_init=P(ini.lecun_normal(), 3), bias_init=P(n01, 1)), "x3"),
        "ConvTranspose": (nn.ConvTranspose(3, (2,), kernel_init=P(ini.lecun_normal(), 3), bias_init=P(n01, 1)), "x3"),
        "ConvLocal": (
            nn.ConvLocal(3, (2,), padding="VALID", kernel_init=P(ini.lecun_normal(), 3), bias_init=P(n01, 2)),
            "x3",
        ),
        "LayerNorm": (nn.LayerNorm(scale_init=B(n01, 1), bias_init=B(n01, 1)), "x2"),
        "RMSNorm": (nn.RMSNorm(scale_init=B(n01, 1)), "x2"),
        "BatchNorm": (nn.BatchNorm(use_running_average=False, scale_init=B(n01, 1), bias_init=B(n01, 1)), "x2"),
        "GroupNorm": (nn.GroupNorm(num_groups=2, scale_init=B(n01, 1), bias_init=B(n01, 1)), "x2"),
        "InstanceNorm": (nn.InstanceNorm(scale_init=B(n01, 1), bias_init=B(n01, 1)), "x3"),
        "MultiHeadDotProductAttention": (
            nn.MultiHeadDotProductAttention(
                2,
                kernel_init=B(ini.lecun_normal(), 3),
                bias_init=B(n01, 2),
                out_kernel_init=B(ini.lecun_normal(), 3),
                out_bias_init=B(n01, 1),
            ),
            "x3",
        ),
        "LSTMCell": (nn.LSTMCell(3, **cells), "cell"),
        "OptimizedLSTMCell": (nn.OptimizedLSTMCell(3, **cells), "cell"),
        "GRUCell": (nn.GRUCell(3, **cells), "cell"),
        "SimpleCell": (nn.SimpleCell(3, **cells), "cell"),
        "MGUCell": (
            nn.MGUCell(
                3,
                kernel_init=B(ini.lecun_normal(), 2),
                recurrent_kernel_init=B(ini.orthogonal(), 2),
                forget_bias_init=B(n01, 1),
                activation_bias_init=B(n01, 1),
            ),
            "cell",
        ),
        "RNN": (nn.RNN(nn.GRUCell(3, **cells)), "x3"),
        # The wrappers map the wrapped layer's boxed weights inside their boxes
        # (beyond the seed, whose WeightNorm/SpectralNorm fail on boxes).
        "WeightNorm": (nn.WeightNorm(nn.Dense(3, kernel_init=B(ini.lecun_normal(), 2), bias_init=B(n01, 1))), "x2"),
        "SpectralNorm": (nn.SpectralNorm(nn.Dense(3, kernel_init=B(ini.lecun_normal(), 2), bias_init=B(n01, 1))), "x2"),
    }


LAYERS = list(_layer_cases(__import__("nnref"), False))


@pytest.mark.parametrize("name", LAYERS)
def test_every_layer_unboxes_every_param(nn, name):
    boxed, kind = _layer_cases(nn, True)[name]
    plain, _ = _layer_cases(nn, False)[name]
    rng = np.random.default_rng(0)
    x = {
        "x2": rng.standard_normal((2, 4)),
        "x3": rng.standard_normal((2, 5, 4)),
        "tokens": np.array([[1, 2], [3, 4]]),
        "cell": rng.standard_normal((2, 4)),
    }[kind]
    x = nn.numpy.asarray(x.astype(np.int32 if kind == "tokens" else np.float32))
    key = nn.random.PRNGKey(3)
    args = (boxed.initialize_carry(key, x.shape), x) if kind == "cell" else (x,)
    kw = {"mutable": ["batch_stats"]} if name in ("BatchNorm", "SpectralNorm") else {}
    init_kw = {"update_stats": True} if name == "SpectralNorm" else {}
    kw.update(init_kw)
    bv = boxed.init(key, *args, **init_kw)
    pv = _unboxed(nn, bv)  # the plain layer reads these values unboxed
    params = _boxes(nn, bv)
    own = [f"params/{p}" for p in _param_paths(pv["params"])]
    if name in ("WeightNorm", "SpectralNorm"):  # the wrapper's own 'scale' is not the wrapped layer's
        own = [p for p in own if not p.endswith("/scale")]
    assert params == sorted(own), "every param is boxed"
    want = plain.apply(pv, *args, **kw)
    assert_trees_close(_np(boxed.apply(bv, *args, **kw)), _np(want), family="exact")


def _param_paths(tree, prefix=()):
    for k, v in tree.items():
        if hasattr(v, "items"):
            yield from _param_paths(v, prefix + (k,))
        else:
            yield "/".join(prefix + (k,))


def _np(tree):
    if isinstance(tree, tuple):
        return tuple(_np(t) for t in tree)
    if hasattr(tree, "items"):
        return {k: _np(v) for k, v in tree.items()}
    return np.asarray(tree)
