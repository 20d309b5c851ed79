"""Differential properties of the normalization layers: nnref and nnjax agree, and float64 nnref bounds nnjax.

Hypothesis draws a layer (LayerNorm, RMSNorm, GroupNorm, InstanceNorm,
BatchNorm) with its shape, reduction and feature axes, groups (``num_groups``
or ``group_size``), epsilon, momentum, ``use_running_average``,
``use_fast_variance``, ``use_bias``/``use_scale``, an optional mask and the
input dtype (float32 or bfloat16); and, separately, a SpectralNorm or
WeightNorm around a Dense. For each draw:

1. ``init`` gives the same variable tree and values on both backends;
2. with the same (randomized) variables, ``apply`` gives the same outputs and
   the same mutated ``batch_stats``, within the 'normalization' row of the
   tolerance table;
3. nnref run in float64 (inputs and variables cast up) is the reference that
   nnjax's float32 result must match within the float32 tolerance.

The table assumes statistics not ruined by cancellation: draws whose groups
have a mean far larger than their spread (where ``E[x^2] - E[x]^2`` and any
other float32 formula lose digits by design) are filtered out.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from conformance.compare import to_numpy
from shared_spec.tolerances import assert_close, assert_trees_close

nnref = pytest.importorskip("nnref")
nnjax = pytest.importorskip("nnjax")

FAMILY = "normalization"
#: Largest (mean^2 + var) / (var + epsilon) of a statistics group that the
#: float32 row of the table covers (see the module docstring).
MAX_CANCELLATION = 30.0


def layers(nn):
    return importlib.import_module(f"{nn.__name__}.layers.normalization")


# -- draws --------------------------------------------------------------------------


@dataclass(frozen=True)
class NormCase:
    kind: str
    shape: tuple
    fields: tuple  # (name, value) pairs for the constructor
    use_running_average: Any  # BatchNorm only: passed at call time
    masked: bool
    dtype: str
    seed: int

    def make(self, nn):
        return getattr(layers(nn), self.kind)(**dict(self.fields))

    def call_kwargs(self, nn, mask):
        kwargs = {}
        if self.kind == "BatchNorm":
            kwargs["use_running_average"] = self.use_running_average
        if mask is not None:
            kwargs["mask"] = nn.numpy.asarray(mask)
        return kwargs


def _axes(draw, candidates, as_int_ok=True):
    """A non-empty set of axes from ``candidates``, as an int (maybe negative) or a tuple."""
    chosen = draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=len(candidates), unique=True))
    return chosen[0] if as_int_ok and len(chosen) == 1 and draw(st.booleans()) else tuple(sorted(chosen))


@st.composite
def norm_cases(draw):
    kind = draw(st.sampled_from(["LayerNorm", "RMSNorm", "GroupNorm", "InstanceNorm", "BatchNorm"]))
    rank = draw(st.integers(2, 4))
    shape = [draw(st.integers(1, 4)) for _ in range(rank)]
    fields = {
        "epsilon": draw(st.sampled_from([1e-6, 1e-5, 1e-3, 0.1])),
        "use_fast_variance": draw(st.booleans()),
        "use_scale": draw(st.booleans()),
    }
    if kind != "RMSNorm":
        fields["use_bias"] = draw(st.booleans())
    negative = list(range(-rank, 0))
    use_running_average = None
    if kind in ("LayerNorm", "RMSNorm"):
        fields["reduction_axes"] = _axes(draw, negative)
        fields["feature_axes"] = _axes(draw, negative)
    elif kind == "InstanceNorm":
        fields["feature_axes"] = _axes(draw, list(range(1, rank)))
    elif kind == "GroupNorm":
        groups, group_size = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        shape[-1] = groups * group_size
        if draw(st.booleans()):
            fields["num_groups"] = groups
        else:
            fields["num_groups"], fields["group_size"] = None, group_size
        if draw(st.booleans()):
            fields["reduction_axes"] = tuple(sorted(set(_axes(draw, list(range(rank - 1)), False)) | {rank - 1}))
    else:  # BatchNorm: at least one axis left to reduce
        axis = _axes(draw, list(range(rank)))
        assume(len(np.atleast_1d(axis)) < rank)
        fields["axis"] = axis
        fields["momentum"] = draw(st.sampled_from([0.0, 0.5, 0.9, 0.99, 1.0]))
        use_running_average = draw(st.booleans())
    return NormCase(
        kind=kind,
        shape=tuple(shape),
        fields=tuple(sorted(fields.items())),
        use_running_average=use_running_average,
        masked=draw(st.booleans()),
        dtype=draw(st.sampled_from(["float32", "float32", "bfloat16"])),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


# -- data and the cancellation filter ------------------------------------------------


def _inputs(case):
    rng = np.random.default_rng(case.seed)
    x = rng.uniform(-0.5, 0.5) + rng.uniform(0.5, 2.0) * rng.standard_normal(case.shape)
    x = x.astype(np.float32).astype(nnref.numpy.bfloat16 if case.dtype == "bfloat16" else np.float32)
    mask = rng.random(case.shape) < 0.8 if case.masked else None
    return x, mask


def _statistics_axes(case, x, mask):
    """``(x, mask, axes)`` regrouped so that each statistic is a reduction of ``x`` over ``axes``."""
    f = dict(case.fields)
    rank = x.ndim

    def canon(a):
        return sorted({i % rank for i in np.atleast_1d(a)})

    if case.kind in ("LayerNorm", "RMSNorm"):
        return x, mask, canon(f["reduction_axes"])
    if case.kind == "InstanceNorm":
        return x, mask, [i for i in range(1, rank) if i not in canon(f["feature_axes"])]
    if case.kind == "BatchNorm":
        return x, mask, [i for i in range(rank) if i not in canon(f["axis"])]
    groups = f["num_groups"] or x.shape[-1] // f["group_size"]

    def split(a):
        return a.reshape(a.shape[:-1] + (groups, -1))

    axes = canon(f.get("reduction_axes", list(range(1, rank))))[:-1] + [rank]
    return split(x), None if mask is None else split(mask), axes


def _cancellation(case, x, mask):
    """The largest ``(mean^2 + var) / (var + epsilon)`` over the statistics groups (1 where none are computed)."""
    if case.kind == "RMSNorm" or (case.kind == "BatchNorm" and case.use_running_average):
        return 1.0
    x, mask, axes = _statistics_axes(case, np.asarray(x, np.float64), mask)
    axes = tuple(axes)
    where = np.ones(x.shape, bool) if mask is None else np.broadcast_to(mask, x.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        count = np.sum(where, axis=axes)
        mean = np.sum(x, axis=axes, where=where) / count
        var = np.sum((x - np.expand_dims(mean, axes)) ** 2, axis=axes, where=where) / count
        ratio = (mean**2 + var) / (var + dict(case.fields)["epsilon"])
    # A group of one entry has var exactly 0 on every backend (x - x): no cancellation.
    ratio = np.where(count >= 2, ratio, 1.0)
    return float(np.nanmax(ratio)) if np.isfinite(ratio).any() else 1.0


def _random_variables(variables, seed):
    """The init tree with every leaf replaced by unit-scale values (variances positive)."""
    rng = np.random.default_rng(seed + 1)

    def fill(name, leaf):
        shape = np.shape(leaf)
        if name in ("scale", "var"):
            return rng.uniform(0.5, 2.0, shape).astype(np.float32)
        return rng.standard_normal(shape).astype(np.float32)

    return {col: {name: fill(name, leaf) for name, leaf in tree.items()} for col, tree in variables.items()}


def _as(tree, dtype):
    if isinstance(tree, dict):
        return {k: _as(v, dtype) for k, v in tree.items()}
    return np.asarray(tree).astype(dtype)


def _apply(nn, case, variables, x, mask, dtype=None):
    xs = x if dtype is None else np.asarray(x).astype(dtype)
    vs = variables if dtype is None else _as(variables, dtype)
    kwargs = case.call_kwargs(nn, mask)
    trains = case.kind == "BatchNorm" and not case.use_running_average
    if trains:
        y, mutated = case.make(nn).apply(vs, nn.numpy.asarray(xs), mutable=["batch_stats"], **kwargs)
    else:
        y, mutated = case.make(nn).apply(vs, nn.numpy.asarray(xs), **kwargs), {}
    return to_numpy(y), to_numpy(mutated)


@settings()
@given(norm_cases())
def test_normalization_layers_agree_across_backends(case):
    x, mask = _inputs(case)
    assume(_cancellation(case, x, mask) < MAX_CANCELLATION)
    init_kwargs = case.call_kwargs(nnref, mask)
    v_ref = to_numpy(case.make(nnref).init(nnref.random.PRNGKey(0), x, **init_kwargs))
    v_jax = to_numpy(
        case.make(nnjax).init(nnjax.random.PRNGKey(0), nnjax.numpy.asarray(x), **case.call_kwargs(nnjax, mask))
    )
    # scale/bias are ones/zeros, running stats zeros/ones and unmoved by init: exact.
    assert_trees_close(v_jax, v_ref, family="exact", err_msg=f"{case}: init variables")

    variables = _random_variables(v_ref, case.seed)
    y_ref, m_ref = _apply(nnref, case, variables, x, mask)
    y_jax, m_jax = _apply(nnjax, case, variables, x, mask)
    assert y_jax.dtype == y_ref.dtype, f"{case}: output dtype"
    assert_close(y_jax, y_ref, family=FAMILY, err_msg=f"{case}: output")
    assert_trees_close(m_jax, m_ref, family=FAMILY, err_msg=f"{case}: mutated batch_stats")

    y64, m64 = _apply(nnref, case, variables, x, mask, dtype=np.float64)
    assert_close(y_jax, y64, family=FAMILY, dtype=y_jax.dtype, err_msg=f"{case}: nnjax vs float64 nnref")
    for name in m64.get("batch_stats", {}):
        assert_close(
            m_jax["batch_stats"][name],
            m64["batch_stats"][name],
            family=FAMILY,
            dtype="float32",
            err_msg=f"{case}: batch_stats/{name} vs float64 nnref",
        )


# -- the weight wrappers ----------------------------------------------------------------


@dataclass(frozen=True)
class WrapCase:
    kind: str
    batch: int
    in_features: int
    features: int
    fields: tuple
    update_stats: bool
    seed: int

    def make(self, nn):
        return getattr(layers(nn), self.kind)(nn.Dense(self.features), **dict(self.fields))

    def call_kwargs(self):
        return {"update_stats": self.update_stats} if self.kind == "SpectralNorm" else {}


@st.composite
def wrap_cases(draw):
    kind = draw(st.sampled_from(["SpectralNorm", "WeightNorm"]))
    if kind == "SpectralNorm":
        fields = {"n_steps": draw(st.integers(0, 3))}
    else:
        fields = {
            "feature_axes": draw(st.sampled_from([-1, 0, None])),
            "variable_filter": draw(st.sampled_from([{"kernel"}, None, {"bias"}, {"layer_instance"}])),
            "use_scale": draw(st.booleans()),
        }
    return WrapCase(
        kind=kind,
        batch=draw(st.integers(1, 3)),
        in_features=draw(st.integers(1, 4)),
        features=draw(st.integers(1, 4)),
        fields=tuple(sorted(fields.items(), key=lambda kv: kv[0])),
        update_stats=draw(st.booleans()),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


@settings()
@given(wrap_cases())
def test_weight_wrappers_agree_across_backends(case):
    rng = np.random.default_rng(case.seed)
    x = rng.standard_normal((case.batch, case.in_features)).astype(np.float32)
    key_words = np.array([0, case.seed], np.uint32)
    v_ref = to_numpy(case.make(nnref).init(nnref.numpy.asarray(key_words), x, **case.call_kwargs()))
    v_jax = to_numpy(
        case.make(nnjax).init(nnjax.numpy.asarray(key_words), nnjax.numpy.asarray(x), **case.call_kwargs())
    )
    # Normal draws, then divided by norms / singular-value estimates.
    assert_trees_close(v_jax, v_ref, family=FAMILY, err_msg=f"{case}: init variables")

    mutable = ["batch_stats"] if case.kind == "SpectralNorm" else False

    def run(nn, dtype=None):
        vs = v_ref if dtype is None else _as(v_ref, dtype)
        xs = x if dtype is None else x.astype(dtype)
        out = case.make(nn).apply(vs, nn.numpy.asarray(xs), mutable=mutable, **case.call_kwargs())
        return to_numpy(out) if mutable else (to_numpy(out), {})

    (y_ref, m_ref), (y_jax, m_jax) = run(nnref), run(nnjax)
    assert_close(y_jax, y_ref, family=FAMILY, err_msg=f"{case}: output")
    assert_trees_close(m_jax, m_ref, family=FAMILY, err_msg=f"{case}: mutated")
    y64, m64 = run(nnref, np.float64)
    assert_close(y_jax, y64, family=FAMILY, dtype="float32", err_msg=f"{case}: nnjax vs float64 nnref")
    for name, value in m64.get("batch_stats", {}).items():
        assert_close(
            m_jax["batch_stats"][name],
            value,
            family=FAMILY,
            dtype="float32",
            err_msg=f"{case}: {name} vs float64 nnref",
        )
