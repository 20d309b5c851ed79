"""Conv, ConvLocal and ConvTranspose agree across backends, and nnjax's float32 stays within float32 of float64.

Each example draws a layer configuration: 1-D, 2-D or (rarely) 3-D kernels of
sizes 1-4, strides, every padding form (``'SAME'``, ``'VALID'``,
``'CIRCULAR'``, ``'CAUSAL'`` for 1-D, one int, per-axis ints and
``(low, high)`` pairs), input dilation (with explicit padding, the only form
the seed system accepts with it), kernel dilation, feature groups, bias on or
off, a 0/1 mask of the kernel's shape, ``transpose_kernel``, and inputs with
no, one or two batch axes. Then:

1. ``init`` on both backends gives the same variable tree, bit for bit;
2. ``apply`` with the same variables gives the same output (``'conv'`` row);
3. nnref in float64 (variables and input cast up) bounds both float32 runs:
   each is within the float32 ``'conv'`` tolerance of the float64 output.

The layers' default initializers are compared once per class (each new
parameter shape costs nnjax a compile of its threefry kernel); the drawn
examples initialize with a shape-independent draw so that the examples stay
cheap while still exercising every key derivation and parameter shape.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.compare import to_backend, to_numpy
from shared_spec.tolerances import assert_close, assert_trees_close

nnref = pytest.importorskip("nnref")
nnjax = pytest.importorskip("nnjax")
jax = pytest.importorskip("jax")

#: Every drawn parameter is a slice of one flat uniform draw of this size.
FLAT_DRAW = 8192


def conv_layers(nn):
    return importlib.import_module(f"{nn.__name__}.layers.conv")


def flat_uniform_init(nn):
    """An initializer whose random draw has the same shape whatever the parameter's shape.

    Values are uniform in ``[-1, 1)``: the first ``prod(shape)`` of one flat
    draw, so that only a slice and a reshape are new for a new shape.
    """

    def init(key, shape, dtype=np.float32):
        size = math.prod(shape)
        assert size <= FLAT_DRAW, f"parameter of shape {shape} is larger than the flat draw"
        return nn.random.uniform(key, (FLAT_DRAW,), dtype, minval=-1.0, maxval=1.0)[:size].reshape(shape)

    return init


@dataclass(frozen=True)
class ConvCase:
    layer: str  # 'Conv' | 'ConvLocal' | 'ConvTranspose'
    fields: tuple  # (name, value) pairs of the layer's fields
    input_shape: tuple
    masked: bool
    key: int
    seed: int  # inputs and mask

    def build(self, nn, mask: Optional[np.ndarray] = None, default_init: bool = False):
        fields = dict(self.fields)
        if not default_init:
            fields.update(kernel_init=flat_uniform_init(nn), bias_init=flat_uniform_init(nn))
        if mask is not None:
            fields["mask"] = mask
        return getattr(conv_layers(nn), self.layer)(**fields)

    def inputs(self) -> np.ndarray:
        return np.random.default_rng(self.seed).uniform(-1, 1, self.input_shape).astype(np.float32)


def _span(k, d):
    return (k - 1) * d + 1


@st.composite
def conv_cases(draw, layer: str) -> ConvCase:
    rank = draw(st.sampled_from((1, 1, 1, 2, 2, 2, 3)))
    max_k = 2 if rank == 3 else (4 if layer == "ConvTranspose" else 3)
    kernel = tuple(draw(st.integers(1, max_k)) for _ in range(rank))
    kernel_dilation = tuple(draw(st.integers(1, 2)) for _ in range(rank))
    strides = tuple(draw(st.integers(1, 3 if layer == "ConvTranspose" else 2)) for _ in range(rank))
    fields: dict[str, Any] = dict(
        kernel_size=kernel[0] if rank == 1 and draw(st.booleans()) else kernel,
        strides=strides[0] if len(set(strides)) == 1 and draw(st.booleans()) else strides,
        kernel_dilation=kernel_dilation,
        use_bias=draw(st.booleans()),
    )
    groups = draw(st.sampled_from((1, 1, 2, 3))) if layer == "Conv" else 1
    in_features = groups * draw(st.integers(1, 2))
    fields["features"] = groups * draw(st.integers(1, 2))

    explicit = st.one_of(
        st.integers(0, 2),
        st.lists(
            st.one_of(st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2))), min_size=rank, max_size=rank
        ).map(tuple),
    )
    if layer == "ConvTranspose":
        fields["padding"] = draw(st.one_of(st.sampled_from(("SAME", "VALID", "CIRCULAR")), explicit))
        fields["transpose_kernel"] = draw(st.booleans())
        if draw(st.booleans()):
            fields["kernel_dilation"] = None  # the seed's default
    else:
        names = ("SAME", "VALID", "CIRCULAR") + (("CAUSAL",) if rank == 1 else ())
        if draw(st.integers(0, 3)) == 0:
            fields["input_dilation"] = tuple(draw(st.integers(1, 2)) for _ in range(rank))
            fields["padding"] = draw(explicit)
        else:
            fields["padding"] = draw(st.one_of(st.sampled_from(names), explicit))
        fields["feature_group_count"] = groups
    # Large enough that every padding leaves at least one window.
    spatial = tuple(_span(k, d) + draw(st.integers(0, 3)) for k, d in zip(kernel, kernel_dilation))
    batch = draw(st.sampled_from(((), (2,), (1, 2))))
    return ConvCase(
        layer,
        tuple(sorted(fields.items())),
        batch + spatial + (in_features,),
        masked=draw(st.booleans()),
        key=draw(st.integers(0, 2**32 - 1)),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


def _kernel_shape(case: ConvCase) -> tuple:
    """The kernel's shape, read off an nnref init without a mask."""
    variables = case.build(nnref).init(nnref.random.PRNGKey(0), case.inputs())
    return variables["params"]["kernel"].shape


def _cast(tree, dtype):
    return {k: _cast(v, dtype) if isinstance(v, dict) else np.asarray(v, dtype) for k, v in tree.items()}


def check_case(case: ConvCase):
    x = case.inputs()
    mask = None
    if case.masked:
        rng = np.random.default_rng(case.seed + 1)
        mask = (rng.uniform(size=_kernel_shape(case)) < 0.7).astype(np.float32)

    # 1. the same variables from the same key
    ref_layer, jax_layer = case.build(nnref, mask), case.build(nnjax, mask)
    ref_vars = to_numpy(ref_layer.init(nnref.random.PRNGKey(case.key), x))
    with jax.default_matmul_precision("highest"):  # no TF32 on GPUs (and one compile cache for init and apply)
        jax_vars = to_numpy(jax_layer.init(nnjax.random.PRNGKey(case.key), x))
        # 2. the same output from the same variables
        y_jax = np.asarray(jax_layer.apply(to_backend(nnjax, ref_vars), x))
    assert_trees_close(jax_vars, ref_vars, family="exact", err_msg="variables")
    y_ref = np.asarray(ref_layer.apply(ref_vars, x))
    assert y_jax.dtype == y_ref.dtype == np.float32
    assert_close(y_jax, y_ref, family="conv", err_msg="nnjax vs nnref output")

    # 3. float64 bounds the float32 error of both
    y64 = np.asarray(ref_layer.apply(_cast(ref_vars, np.float64), x.astype(np.float64)))
    assert y64.dtype == np.float64
    assert_close(y_jax, y64, family="conv", dtype="float32", err_msg="nnjax float32 vs nnref float64")
    assert_close(y_ref, y64, family="conv", dtype="float32", err_msg="nnref float32 vs nnref float64")


@settings()
@given(conv_cases("Conv"))
def test_conv_agrees_across_backends(case):
    check_case(case)


@settings()
@given(conv_cases("ConvLocal"))
def test_conv_local_agrees_across_backends(case):
    check_case(case)


@settings()
@given(conv_cases("ConvTranspose"))
def test_conv_transpose_agrees_across_backends(case):
    check_case(case)


# Kernel shapes as in the KAT cases where possible: nnjax compiles each initializer once per shape.
@pytest.mark.parametrize(
    "layer, fields, shape",
    [
        ("Conv", dict(features=4, kernel_size=(3, 3), strides=2, padding="CIRCULAR"), (2, 5, 5, 2)),
        ("ConvLocal", dict(features=3, kernel_size=(2,), strides=2, padding="CIRCULAR"), (2, 6, 2)),
        ("ConvTranspose", dict(features=2, kernel_size=(2, 2), strides=(2, 2), transpose_kernel=True), (1, 4, 3, 3)),
    ],
)
def test_default_initializers_agree(layer, fields, shape):
    case = ConvCase(layer, tuple(sorted(fields.items())), shape, masked=False, key=7, seed=0)
    x = case.inputs()
    ref = to_numpy(case.build(nnref, default_init=True).init_with_output(nnref.random.PRNGKey(7), x))
    with jax.default_matmul_precision("highest"):
        out = to_numpy(case.build(nnjax, default_init=True).init_with_output(nnjax.random.PRNGKey(7), x))
    assert_trees_close(out[1], ref[1], family="prng_normal", err_msg="default-initialized variables")
    assert_close(out[0], ref[0], family="conv", err_msg="output")
