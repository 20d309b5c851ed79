"""Layer options of issue 15 on both backends: Conv 'REFLECT' (and every padding form),
``canonicalize_padding``, ``pool`` with a custom reduction, ``normalize``/``standardize``,
``flip_sequences`` and a seq2seq LSTM whose decoder starts from the encoder's carry.

Oracles are NumPy formulas (``numpy.pad(mode='reflect')``, window sums by
slicing, the LSTM equations stepped by hand through the cell) and, for tree
names and shapes, the seed system's (read off a scratch run of the same model).
"""

import importlib

import numpy as np
import pytest

from shared_spec.layer_args import canonicalize_padding
from shared_spec.tolerances import assert_close


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def lax(nn):
    return importlib.import_module("jax.lax" if nn.__name__ == "nnjax" else "nnref.lax")


def _conv_oracle(xp, kernel, out_spatial):
    """VALID stride-1 cross-correlation of an already padded (1, H, W, C) input."""
    kh, kw = kernel.shape[:2]
    out = np.zeros((1,) + out_spatial + (kernel.shape[-1],), np.float64)
    for i in range(out_spatial[0]):
        for j in range(out_spatial[1]):
            out[0, i, j] = np.einsum("abc,abcd->d", xp[0, i : i + kh, j : j + kw], kernel)
    return out.astype(np.float32)


@pytest.mark.parametrize("mode,np_mode", [("REFLECT", "reflect"), ("CIRCULAR", "wrap")])
def test_conv_reflect_and_circular_match_numpy_pad(nn, mode, np_mode):
    x = _x((1, 5, 6, 2))
    layer = nn.Conv(3, (3, 2), padding=mode, use_bias=False)
    variables = layer.init(nn.random.PRNGKey(0), nn.numpy.asarray(x))
    kernel = np.asarray(variables["params"]["kernel"])
    y = np.asarray(layer.apply(variables, nn.numpy.asarray(x)))
    # Half the kernel on each side, the extra tap high: (1, 1) rows, (0, 1) columns.
    xp = np.pad(x, [(0, 0), (1, 1), (0, 1), (0, 0)], mode=np_mode)
    assert_close(y, _conv_oracle(xp, kernel, (5, 6)), family="conv")


@pytest.mark.parametrize(
    "padding,pads",
    [
        ("VALID", [(0, 0), (0, 0)]),
        (1, [(1, 1), (1, 1)]),
        ([(0, 1), 2], [(0, 1), (2, 2)]),
        ([1, (2, 0)], [(1, 1), (2, 0)]),
        ("SAME", [(1, 1), (0, 1)]),
    ],
)
def test_conv_padding_forms_match_zero_padding(nn, padding, pads):
    x = _x((1, 4, 5, 2), 1)
    layer = nn.Conv(2, (3, 2), padding=padding, use_bias=False)
    variables = layer.init(nn.random.PRNGKey(1), nn.numpy.asarray(x))
    y = np.asarray(layer.apply(variables, nn.numpy.asarray(x)))
    xp = np.pad(x, [(0, 0)] + pads + [(0, 0)])
    out = (xp.shape[1] - 2, xp.shape[2] - 1)
    assert_close(y, _conv_oracle(xp, np.asarray(variables["params"]["kernel"]), out), family="conv")


def test_conv_reflect_is_refused_where_the_seed_refuses(nn):
    x = nn.numpy.ones((1, 4, 2))
    with pytest.raises(ValueError, match="REFLECT"):
        nn.ConvTranspose(2, (2,), padding="REFLECT").init(nn.random.PRNGKey(0), x)
    with pytest.raises(ValueError, match="Invalid padding format"):
        nn.Conv(2, (2,), padding=[(1, 2, 3)]).init(nn.random.PRNGKey(0), x)


def test_canonicalize_padding_is_shared_by_both_conv_modules(nn):
    conv = importlib.import_module(f"{nn.__name__}.layers.conv")
    assert conv.canonicalize_padding is canonicalize_padding
    assert canonicalize_padding("REFLECT", 2) == "REFLECT"
    assert canonicalize_padding(2, 3) == [(2, 2)] * 3
    assert canonicalize_padding([(1, 0), 3], 2) == [(1, 0), (3, 3)]
    with pytest.raises(ValueError, match="Invalid padding format"):
        canonicalize_padding([1, 2, 3], 2)


def _window_oracle(x, window, strides, fn):
    """fn folded over each (window) block of the middle axes of (N, H, W, C), VALID."""
    (wh, ww), (sh, sw) = window, strides
    oh, ow = (x.shape[1] - wh) // sh + 1, (x.shape[2] - ww) // sw + 1
    out = np.empty((x.shape[0], oh, ow, x.shape[3]), x.dtype)
    for i in range(oh):
        for j in range(ow):
            out[:, i, j] = fn(x[:, i * sh : i * sh + wh, j * sw : j * sw + ww], axis=(1, 2))
    return out


@pytest.mark.parametrize("reduce", ["add", "max", "lambda_add", "mul", "min"])
def test_pool_with_a_custom_reduce_fn(nn, reduce):
    x = _x((2, 5, 4, 3), 2)
    fn, init, oracle = {
        "add": (lax(nn).add, 0.0, np.sum),
        "max": (lax(nn).max, -np.inf, np.max),
        "lambda_add": (lambda a, b: a + b, 0.0, np.sum),
        "mul": (lax(nn).mul, 1.0, np.prod),
        "min": (lax(nn).min, np.inf, np.min),
    }[reduce]
    y = np.asarray(nn.pool(nn.numpy.asarray(x), init, fn, (2, 2), (1, 2), "VALID"))
    assert_close(y, _window_oracle(x, (2, 2), (1, 2), oracle), family="reduction")


def test_pool_sum_with_padding_equals_sum_of_zero_padded_windows(nn):
    x = _x((1, 4, 3, 2), 3)
    y = np.asarray(nn.pool(nn.numpy.asarray(x), 0.0, lax(nn).add, (3, 2), None, ((1, 1), (0, 1))))
    xp = np.pad(x, [(0, 0), (1, 1), (0, 1), (0, 0)])
    assert_close(y, _window_oracle(xp, (3, 2), (1, 1), np.sum), family="reduction")


def test_normalize_is_standardize(nn):
    assert nn.normalize is nn.standardize
    x = _x((3, 4), 4) * 3 + 2
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    for algorithm in ("fast", "stable"):
        y = np.asarray(nn.normalize(nn.numpy.asarray(x), algorithm=algorithm))
        assert_close(y, ((x - mean) / np.sqrt(var + 1e-5)).astype(np.float32), family="normalization")
    y = np.asarray(nn.standardize(nn.numpy.asarray(x), axis=0, epsilon=1e-3))
    want = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3)
    assert_close(y, want.astype(np.float32), family="normalization")


def test_flip_sequences(nn):
    rnn = importlib.import_module(f"{nn.__name__}.layers.rnn")
    x = np.array([[1, 0, 0], [2, 3, 0], [4, 5, 6]], np.int32)
    got = np.asarray(rnn.flip_sequences(nn.numpy.asarray(x), nn.numpy.asarray(np.array([1, 2, 3])), 1, False))
    np.testing.assert_array_equal(got, [[1, 0, 0], [3, 2, 0], [6, 5, 4]])
    tm = np.asarray(rnn.flip_sequences(nn.numpy.asarray(x.T), nn.numpy.asarray(np.array([1, 2, 3])), 1, True))
    np.testing.assert_array_equal(tm, got.T)
    np.testing.assert_array_equal(np.asarray(rnn.flip_sequences(nn.numpy.asarray(x), None, 1, False)), x[:, ::-1])


# Parameter tree of the seed system's Seq2Seq below (names and shapes only).
SEED_SEQ2SEQ_TREE = {
    "Dense_0/bias": (3,),
    "Dense_0/kernel": (6, 3),
    **{f"LSTMCell_{i}/h{g}/bias": (6,) for i in (0, 1) for g in "fgio"},
    **{f"LSTMCell_{i}/h{g}/kernel": (6, 6) for i in (0, 1) for g in "fgio"},
    **{f"LSTMCell_0/i{g}/kernel": (5, 6) for g in "fgio"},
    **{f"LSTMCell_1/i{g}/kernel": (7, 6) for g in "fgio"},
}


def _flat(tree, prefix=""):
    out = {}
    for k, v in tree.items():
        if hasattr(v, "items"):
            out.update(_flat(v, f"{prefix}{k}/"))
        else:
            out[prefix + k] = v
    return out


def test_seq2seq_lstm_decoder_starts_from_the_encoder_carry(nn):
    class Seq2Seq(nn.Module):
        @nn.compact
        def __call__(self, src, tgt):
            carry, _ = nn.RNN(nn.LSTMCell(6), return_carry=True, name="encoder")(src)
            dec = nn.RNN(nn.LSTMCell(6), name="decoder")(tgt, initial_carry=carry)
            return nn.Dense(3)(dec)

    src, tgt = _x((2, 4, 5), 5), _x((2, 3, 7), 6)
    model = Seq2Seq()
    variables = model.init(nn.random.PRNGKey(0), nn.numpy.asarray(src), nn.numpy.asarray(tgt))
    params = _flat(variables["params"])
    assert {k: tuple(np.shape(v)) for k, v in params.items()} == SEED_SEQ2SEQ_TREE
    y = np.asarray(model.apply(variables, nn.numpy.asarray(src), nn.numpy.asarray(tgt)))

    # Oracle: the LSTM equations stepped by hand in NumPy with the same parameters.
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731

    def run(cell, xs, c, h):
        hs = []
        for t in range(xs.shape[1]):
            g = {
                k: xs[:, t] @ p[f"{cell}/i{k}/kernel"] + h @ p[f"{cell}/h{k}/kernel"] + p[f"{cell}/h{k}/bias"]
                for k in "fgio"
            }
            c = sig(g["f"]) * c + sig(g["i"]) * np.tanh(g["g"])
            h = sig(g["o"]) * np.tanh(c)
            hs.append(h)
        return c, h, np.stack(hs, 1)

    zeros = np.zeros((2, 6))
    c, h, _ = run("LSTMCell_0", src.astype(np.float64), zeros, zeros)
    _, _, dec = run("LSTMCell_1", tgt.astype(np.float64), c, h)
    want = dec @ p["Dense_0/kernel"] + p["Dense_0/bias"]
    assert_close(y, want.astype(np.float32), family="matmul")

    # The plain cell-loop form: same tree under the seed's auto-names.
    class LoopDecoder(nn.Module):
        @nn.compact
        def __call__(self, src, tgt):
            carry, _ = nn.RNN(nn.LSTMCell(6), return_carry=True)(src)
            cell = nn.LSTMCell(6)
            outs = []
            for t in range(tgt.shape[1]):
                carry, out = cell(carry, tgt[:, t])
                outs.append(out)
            return nn.numpy.stack(outs, 1)

    loop = LoopDecoder()
    lv = loop.init(nn.random.PRNGKey(0), nn.numpy.asarray(src), nn.numpy.asarray(tgt))
    assert sorted(lv["params"]) == ["LSTMCell_0", "LSTMCell_1"]
    p = {k: np.asarray(v, np.float64) for k, v in _flat(lv["params"]).items()}
    c, h, _ = run("LSTMCell_0", src.astype(np.float64), zeros, zeros)
    _, _, dec = run("LSTMCell_1", tgt.astype(np.float64), c, h)
    got = np.asarray(loop.apply(lv, nn.numpy.asarray(src), nn.numpy.asarray(tgt)))
    assert_close(got, dec.astype(np.float32), family="matmul")
