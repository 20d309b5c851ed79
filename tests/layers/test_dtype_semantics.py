"""dtype semantics shared by the parameterised layers, on both backends.

For every layer with ``dtype``/``param_dtype`` fields:

* ``param_dtype`` is the dtype of every parameter ``init`` creates;
* ``dtype`` is the dtype of the output (the computation dtype);
* with ``dtype=None`` the output dtype is the promotion of the input and the
  parameters on JAX's lattice (int + float32 -> float32, bfloat16 + float32
  -> float32, float16 + bfloat16 -> float32), not NumPy's;
* float64 works on nnref (nnjax runs with x64 off, so it is skipped there);
* bfloat16 parameters and inputs compute, and agree with a float32
  evaluation of the same (bfloat16-valued) numbers within the bfloat16 row.

Layers written by other work streams (DenseGeneral, Conv, LayerNorm) are
imported lazily; a layer whose module does not exist yet is skipped.
Embed maps integer ids, so its ``dtype=None`` rule is "the table's dtype"
(ids are not promoted); its ``attend`` promotes query and table.
"""

import importlib
from dataclasses import dataclass
from typing import Callable

import ml_dtypes
import numpy as np
import pytest

from shared_spec.tolerances import assert_close

BF16 = np.dtype(ml_dtypes.bfloat16)
F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
I32 = np.dtype(np.int32)


@dataclass(frozen=True)
class LayerCase:
    modules: tuple  # candidate module paths under {backend}.layers
    cls: str
    make: Callable  # (cls, **dtype_fields) -> layer
    input_shape: tuple
    family: str


LAYERS = {
    "Dense": LayerCase(("linear",), "Dense", lambda c, **kw: c(features=3, **kw), (2, 4), "matmul"),
    "DenseGeneral": LayerCase(
        ("linear_general",), "DenseGeneral", lambda c, **kw: c(features=(2, 3), axis=-1, **kw), (2, 4), "matmul"
    ),
    "Conv": LayerCase(
        ("conv", "convolution"), "Conv", lambda c, **kw: c(features=2, kernel_size=(3,), **kw), (1, 5, 3), "conv"
    ),
    "LayerNorm": LayerCase(("normalization",), "LayerNorm", lambda c, **kw: c(**kw), (2, 4), "normalization"),
}


def layer_class(nn, modules, cls):
    """The class from the first candidate module that exists; skip if none does yet."""
    for module in modules:
        path = f"{nn.__name__}.layers.{module}"
        try:
            found = importlib.import_module(path)
        except ModuleNotFoundError as e:
            if e.name == path:
                continue
            raise
        if hasattr(found, cls):
            return getattr(found, cls)
    pytest.skip(f"{cls} is not written yet on {nn.__name__}")


def _layer(nn, name, **fields):
    case = LAYERS[name]
    return case.make(layer_class(nn, case.modules, case.cls), **fields)


def _input(nn, shape, dtype):
    values = np.random.default_rng(0).standard_normal(shape)
    if np.dtype(dtype).kind == "i":
        values = np.round(3 * values)
    return nn.numpy.asarray(values.astype(dtype))


def _leaves(tree):
    if isinstance(tree, dict):
        return [leaf for v in tree.values() for leaf in _leaves(v)]
    return [tree]


def _dtype_of(x):
    return np.asarray(x).dtype


def _float_dtypes(nn):
    """Non-default dtypes to try (each new dtype costs JAX compiles, so few)."""
    return [F16, BF16] + ([F64] if nn.__name__ == "nnref" else [])


def _embed(nn):
    return layer_class(nn, ("embedding",), "Embed")


def _ids(nn):
    return nn.numpy.asarray(np.array([[0, 3], [2, 1]], np.int32))


# --- param_dtype ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_param_dtype_sets_every_parameter_dtype(nn, name):
    for param_dtype in [BF16] + ([F64] if nn.__name__ == "nnref" else []):
        layer = _layer(nn, name, param_dtype=param_dtype)
        variables = layer.init(nn.random.PRNGKey(0), _input(nn, LAYERS[name].input_shape, F32))
        leaves = _leaves(variables["params"])
        assert leaves, f"{name} created no parameters"
        assert {_dtype_of(v) for v in leaves} == {param_dtype}, f"{name}(param_dtype={param_dtype})"


def test_embed_param_dtype_sets_the_table_dtype(nn):
    for param_dtype in _float_dtypes(nn):
        variables = _embed(nn)(num_embeddings=4, features=3, param_dtype=param_dtype).init(
            nn.random.PRNGKey(0), _ids(nn)
        )
        assert _dtype_of(variables["params"]["embedding"]) == param_dtype


# --- dtype ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_dtype_sets_the_output_dtype(nn, name):
    pairs = [(F16, F32), (BF16, F32), (F32, BF16)] + ([(F64, F32)] if nn.__name__ == "nnref" else [])
    for dtype, input_dtype in pairs:
        layer = _layer(nn, name, dtype=dtype)
        x = _input(nn, LAYERS[name].input_shape, input_dtype)
        y, variables = layer.init_with_output(nn.random.PRNGKey(0), x)
        assert {_dtype_of(v) for v in _leaves(variables["params"])} == {F32}, "param_dtype stays float32"
        assert _dtype_of(y) == dtype, f"{name}(dtype={dtype}) on {input_dtype} input"


def test_embed_dtype_sets_the_output_dtype(nn):
    for dtype in _float_dtypes(nn) + [F32]:
        layer = _embed(nn)(num_embeddings=4, features=3, dtype=dtype)
        y, variables = layer.init_with_output(nn.random.PRNGKey(0), _ids(nn))
        assert _dtype_of(variables["params"]["embedding"]) == F32
        assert _dtype_of(y) == dtype
        scores = layer.apply(variables, nn.numpy.ones((2, 3), F32), method=layer.attend)
        assert _dtype_of(scores) == dtype


# --- dtype=None: promotion on JAX's lattice ------------------------------------------

PROMOTIONS = [
    # (input dtype, param dtype, expected output dtype)
    (I32, F32, F32),
    (BF16, F32, F32),
    (F32, BF16, F32),
    (BF16, BF16, BF16),
    (F16, BF16, F32),
]


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize(
    "input_dtype,param_dtype,expected", PROMOTIONS, ids=[f"{a.name}+{b.name}" for a, b, _ in PROMOTIONS]
)
def test_no_dtype_promotes_input_and_params(nn, name, input_dtype, param_dtype, expected):
    layer = _layer(nn, name, param_dtype=param_dtype)
    y, _ = layer.init_with_output(nn.random.PRNGKey(0), _input(nn, LAYERS[name].input_shape, input_dtype))
    assert _dtype_of(y) == expected


def test_no_dtype_float64_promotion_on_nnref():
    import nnref as nn

    for name in sorted(LAYERS):
        for input_dtype, param_dtype in ((F64, F32), (F32, F64), (I32, F64), (BF16, F64)):
            layer = _layer(nn, name, param_dtype=param_dtype)
            y, _ = layer.init_with_output(nn.random.PRNGKey(0), _input(nn, LAYERS[name].input_shape, input_dtype))
            assert _dtype_of(y) == F64, f"{name}: {input_dtype} + {param_dtype}"


@pytest.mark.parametrize("param_dtype", [F32, BF16, F16])
def test_embed_no_dtype_keeps_the_table_dtype_and_attend_promotes(nn, param_dtype):
    layer = _embed(nn)(num_embeddings=4, features=3, param_dtype=param_dtype)
    y, variables = layer.init_with_output(nn.random.PRNGKey(0), _ids(nn))
    assert _dtype_of(y) == param_dtype
    for query_dtype in (F32, BF16, F16):
        scores = layer.apply(variables, nn.numpy.ones((2, 3), query_dtype), method=layer.attend)
        expected = {
            (F32, F32): F32,
            (F32, BF16): F32,
            (F32, F16): F32,
            (BF16, BF16): BF16,
            (BF16, F16): F32,
            (F16, F16): F16,
        }
        key = (query_dtype, param_dtype) if (query_dtype, param_dtype) in expected else (param_dtype, query_dtype)
        assert _dtype_of(scores) == expected[key], f"attend: {query_dtype} query, {param_dtype} table"


# --- low and high precision compute correctly ------------------------------------------


def _as(nn, tree, dtype):
    if isinstance(tree, dict):
        return {k: _as(nn, v, dtype) for k, v in tree.items()}
    return nn.numpy.asarray(np.asarray(tree).astype(dtype))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_bfloat16_params_and_inputs_compute_like_float32(nn, name):
    """A bfloat16 run agrees with float32 arithmetic on the same bfloat16 numbers."""
    layer = _layer(nn, name, param_dtype=BF16)
    x = _input(nn, LAYERS[name].input_shape, BF16)
    y, variables = layer.init_with_output(nn.random.PRNGKey(1), x)
    assert _dtype_of(y) == BF16
    reference = _layer(nn, name).apply(_as(nn, variables, F32), _as(nn, x, F32))
    assert _dtype_of(reference) == F32
    assert_close(np.asarray(y), reference, family=LAYERS[name].family, dtype="bfloat16")


def test_embed_bfloat16_table_lookup_and_attend(nn):
    layer = _embed(nn)(num_embeddings=4, features=3, param_dtype=BF16)
    y, variables = layer.init_with_output(nn.random.PRNGKey(1), _ids(nn))
    table = np.asarray(variables["params"]["embedding"])
    assert_close(y, table[np.asarray(_ids(nn))], family="exact")
    query = _input(nn, (2, 3), BF16)
    scores = layer.apply(variables, query, method=layer.attend)
    expected = np.asarray(query).astype(np.float32) @ table.astype(np.float32).T
    assert_close(np.asarray(scores), expected, family="matmul", dtype="bfloat16")


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_float64_on_nnref_matches_float32_within_float32_tolerance(name):
    import nnref as nn

    layer64 = _layer(nn, name, param_dtype=F64)
    x32 = _input(nn, LAYERS[name].input_shape, F32)
    variables32 = _layer(nn, name).init(nn.random.PRNGKey(2), x32)
    y32 = _layer(nn, name).apply(variables32, x32)
    y64 = layer64.apply(_as(nn, variables32, F64), x32.astype(F64))
    assert _dtype_of(y64) == F64
    assert_close(y32, y64, family=LAYERS[name].family, dtype="float32")
