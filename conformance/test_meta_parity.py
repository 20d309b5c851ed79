"""Metadata boxes and logical axis rules agree across backends.

Each example draws a plain-data description of a variable tree -- nested
dicts and lists whose leaves are arrays, ``Partitioned`` or
``LogicallyPartitioned`` boxes (names drawn with the value's rank or not,
boxes occasionally nested), ints and ``None`` -- and builds it once with
``nnref.meta``/``nnref.spmd`` and once with ``nnjax.meta``/``nnjax.spmd``.
Both must give the same result, or raise the same exception class, for
``unbox``, ``tree_map``, the leaf order, ``add_axis`` / ``remove_axis``
(with or without ``PARTITION_NAME`` in the params), ``get_partition_spec``
and ``logical_to_mesh`` of it; and ``remove_axis`` must undo ``add_axis``.
A second property draws logical names (repeats allowed) and rule lists
(single, multi-axis and ``None`` mesh axes) for ``logical_to_mesh_axes``.
Partition specs are compared as tuples of their entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple, Union

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

nnref_meta = pytest.importorskip("nnref.meta")
nnref_spmd = pytest.importorskip("nnref.spmd")
nnref_tree = pytest.importorskip("nnref.tree_util")
nnjax_meta = pytest.importorskip("nnjax.meta")
nnjax_spmd = pytest.importorskip("nnjax.spmd")

LOGICAL = ('batch', 'embed', 'hidden', 'layer')
MESH = ('data', 'model', 'x')
KEYS = ('a', 'b', 'c')


# ------------------------------------------------------------------ descriptions


@dataclass(frozen=True)
class Arr:
    shape: Tuple[int, ...]
    seed: int


@dataclass(frozen=True)
class Box:
    logical: bool  # LogicallyPartitioned (else Partitioned)
    names: Tuple[Optional[str], ...]
    rules: Optional[tuple]
    inner: Union['Box', Arr]


axis_names = st.one_of(st.none(), st.sampled_from(LOGICAL + MESH))
mesh_axes = st.one_of(
    st.none(), st.sampled_from(MESH), st.lists(st.sampled_from(MESH), min_size=2, max_size=2, unique=True).map(tuple)
)
rule_lists = st.lists(st.tuples(st.sampled_from(LOGICAL), mesh_axes), max_size=5).map(tuple)
arrays = st.builds(Arr, st.lists(st.integers(1, 3), max_size=3).map(tuple), st.integers(0, 99))


@st.composite
def boxes(draw, depth=0):
    inner = draw(boxes(depth + 1)) if depth < 1 and draw(st.integers(0, 5)) == 0 else draw(arrays)
    rank = len(inner.shape) if isinstance(inner, Arr) else len(inner.names)
    # Mostly one name per dimension; sometimes any length (metadata only).
    size = draw(st.one_of(st.just(rank), st.integers(0, 4)))
    names = tuple(draw(st.lists(axis_names, min_size=size, max_size=size)))
    logical = draw(st.booleans())
    rules = draw(st.one_of(st.none(), rule_lists)) if logical else None
    return Box(logical, names, rules, inner)


leaves = st.one_of(arrays, boxes(), st.integers(0, 9), st.none())
descriptions = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.dictionaries(st.sampled_from(KEYS), children, max_size=3), st.lists(children, max_size=3)
    ),
    max_leaves=6,
)


# ------------------------------------------------------------------ per backend


@dataclass(frozen=True)
class Backend:
    name: str
    meta: object
    spmd: object
    asarray: object
    tree_map: object
    tree_leaves: object
    spec_type: type


NNREF = Backend(
    'nnref', nnref_meta, nnref_spmd, np.asarray, nnref_tree.tree_map, nnref_tree.tree_leaves, nnref_meta.PartitionSpec
)
NNJAX = Backend(
    'nnjax',
    nnjax_meta,
    nnjax_spmd,
    jnp.asarray,
    jax.tree_util.tree_map,
    jax.tree_util.tree_leaves,
    jax.sharding.PartitionSpec,
)


def build(desc, b: Backend):
    if isinstance(desc, Arr):
        n = int(np.prod(desc.shape, dtype=np.int64))
        return b.asarray((np.arange(n, dtype=np.float32) + desc.seed).reshape(desc.shape))
    if isinstance(desc, Box):
        inner = build(desc.inner, b)
        if desc.logical:
            return b.spmd.LogicallyPartitioned(inner, desc.names, rules=desc.rules)
        return b.meta.Partitioned(inner, desc.names)
    if isinstance(desc, dict):
        return {k: build(v, b) for k, v in desc.items()}
    if isinstance(desc, list):
        return [build(v, b) for v in desc]
    return desc


def canon(x):
    """A backend-free picture of a tree: boxes, specs and arrays as plain tuples."""
    if isinstance(x, (NNREF.spec_type, NNJAX.spec_type)):
        return ('spec', tuple(x))
    if isinstance(x, (nnref_meta.AxisMetadata, nnjax_meta.AxisMetadata)):
        return ('box', type(x).__name__, x.names, getattr(x, 'rules', None), canon(x.value))
    if isinstance(x, dict):
        return {k: canon(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [canon(v) for v in x])
    if hasattr(x, 'shape'):
        a = np.asarray(x)
        return ('array', a.shape, str(a.dtype), a.tolist())
    return x


def outcome(fn, *args):
    try:
        return ('ok', canon(fn(*args)))
    except Exception as e:  # the class must agree, not the message
        return ('raised', type(e).__name__)


def agree(fn, desc, *args):
    """``fn(backend, tree, *args)`` on both backends; returns the common outcome."""
    ref = outcome(lambda: fn(NNREF, build(desc, NNREF), *args))
    jx = outcome(lambda: fn(NNJAX, build(desc, NNJAX), *args))
    assert ref == jx, f'{fn.__name__}: nnref {ref} != nnjax {jx}'
    return ref


# ------------------------------------------------------------------ properties


def padded(desc, index):
    """``desc`` with each outermost box's names padded with None up to ``index``."""
    if isinstance(desc, Box):
        extra = (None,) * max(0, index - len(desc.names))
        return Box(desc.logical, desc.names + extra, desc.rules, desc.inner)
    if isinstance(desc, dict):
        return {k: padded(v, index) for k, v in desc.items()}
    if isinstance(desc, list):
        return [padded(v, index) for v in desc]
    return desc


def op_unbox(b, tree):
    return b.meta.unbox(tree)


def op_tree_map(b, tree):
    return b.tree_map(lambda v: v * 2 + 1, tree)


def op_leaves(b, tree):
    return b.tree_leaves(tree)


def op_add_axis(b, tree, index, params):
    return b.meta.add_axis(tree, index, params)


def op_remove_axis(b, tree, index, params):
    return b.meta.remove_axis(tree, index, params)


def op_round_trip(b, tree, index, params):
    return b.meta.remove_axis(b.meta.add_axis(tree, index, params), index, params)


def op_partition_spec(b, tree):
    return b.meta.get_partition_spec(tree)


def op_logical_to_mesh(b, tree, rules):
    return b.spmd.logical_to_mesh(b.meta.get_partition_spec(tree), rules)


@given(
    descriptions,
    st.integers(-2, 4),
    st.one_of(st.just({}), st.fixed_dictionaries({'partition_name': axis_names})),
    rule_lists,
)
def test_box_trees_agree(desc, index, params, rules):
    for op in (op_unbox, op_tree_map, op_leaves, op_partition_spec):
        agree(op, desc)
    agree(op_logical_to_mesh, desc, rules)
    added = agree(op_add_axis, desc, index, params)
    agree(op_remove_axis, desc, index, params)
    if added[0] == 'ok' and index >= 0:
        # remove_axis undoes add_axis, up to the None padding that add_axis
        # puts before an index past the end (an independent check, not parity)
        expected = ('ok', canon(build(padded(desc, index), NNREF)))
        assert agree(op_round_trip, desc, index, params) == expected


@given(st.one_of(st.none(), st.lists(axis_names, max_size=5).map(tuple)), st.one_of(rule_lists, st.just(None)))
def test_logical_to_mesh_axes_agrees(names, rules):
    def resolve(b):
        if rules is None:  # the thread's current rules, set per backend
            with b.spmd.logical_axis_rules((('batch', 'data'), ('embed', 'model'))):
                return b.spmd.logical_to_mesh_axes(names)
        return b.spmd.logical_to_mesh_axes(names, rules)

    ref, jx = outcome(resolve, NNREF), outcome(resolve, NNJAX)
    assert ref == jx
    if ref[0] == 'ok' and names is not None:
        assert len(ref[1][1]) == len(names)
