"""Hypothesis strategies for the differential conformance tests.

Everything drawn here is plain data (ints, tuples, frozen dataclasses), never
a backend object: the same draw is turned into models and arrays once per
backend by :mod:`conformance.model_builder` and :mod:`conformance.compare`.

* :func:`shapes`, :func:`float_dtypes`, :func:`seeds`, :func:`key_words`:
  small array shapes, dtypes both backends compute in, and PRNG keys (any
  pair of uint32 words, or an integer seed for ``PRNGKey``).
* :func:`architectures`: a random module tree (:class:`Node`) mixing
  ``@compact`` and ``setup`` styles, explicit and automatic names, shared
  submodules, ``variable``/``sow``/``perturb``/``make_rng`` use on several
  streams and an extra method for ``apply(method=...)``.
* :func:`scenarios`: an architecture plus how to run it (input, keys, which
  RNG streams init and apply get, mutability, capture filter, method).

The ``ci`` profile keeps trees small (``max_depth``/``max_children``
defaults); the ``deep`` profile draws 2,000 of them per property.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional, Tuple, Union

import numpy as np
from hypothesis import strategies as st

# ----------------------------------------------------------------- arrays, keys

#: Random streams a node may draw from; 'params' doubles as the fallback.
STREAMS = ('params', 'noise', 'dropout')
#: Names a child may be given explicitly. Disjoint from the auto-names
#: (``Dense_0``, ``Block_1``, ...) and from the variable names below, so a
#: valid architecture never clashes by accident.
EXPLICIT_NAMES = ('enc', 'dec', 'mid', 'head', 'tail', 'proj')
#: Node class names. Two distinct classes may share a name: auto-names count
#: per class *name*, which the trees then exercise.
CLASS_NAMES = ('Block', 'Cell')
ACTIVATIONS = ('relu', 'tanh', 'identity')
#: Leaf dtypes every comparison runs in. nnjax keeps JAX's x64 switch off, so
#: float64 inputs would silently become float32 there; cross-backend
#: comparisons therefore use float32 only.
CROSS_BACKEND_DTYPES = ('float32',)
#: Dtypes nnref computes in on its own (its float64 path is checked against
#: its float32 path, never against nnjax).
REFERENCE_DTYPES = ('float32', 'float64')


def shapes(min_dims=1, max_dims=3, min_side=1, max_side=4):
    """Small array shapes (kept small: every new shape costs JAX a compile)."""
    return st.lists(st.integers(min_side, max_side), min_size=min_dims, max_size=max_dims).map(tuple)


def float_dtypes(cross_backend=True):
    """Names of float dtypes: float32 only when both backends compute."""
    return st.sampled_from(CROSS_BACKEND_DTYPES if cross_backend else REFERENCE_DTYPES)


def key_words():
    """A raw PRNG key: any pair of uint32 words, as a tuple of ints."""
    return st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))


def seeds():
    """An integer seed for ``nn.random.PRNGKey`` (any int64)."""
    return st.integers(-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class Key:
    """A PRNG key described as data: ``seed`` (PRNGKey) or raw ``words``."""

    seed: Optional[int] = None
    words: Optional[Tuple[int, int]] = None

    def make(self, nn):
        if self.words is not None:
            return nn.numpy.asarray(np.array(self.words, dtype=np.uint32))
        return nn.random.PRNGKey(self.seed)


def keys():
    return st.one_of(seeds().map(lambda s: Key(seed=s)), key_words().map(lambda w: Key(words=w)))


# ----------------------------------------------------------------- architectures


@dataclass(frozen=True)
class DenseSpec:
    """An ``nn.Dense`` child."""

    features: int
    use_bias: bool = True
    name: Optional[str] = None  # explicit name (compact) or None (auto)


@dataclass(frozen=True)
class Node:
    """A user-defined module class, described as data.

    ``style`` 'compact': children are created inline in ``@nn.compact
    __call__`` (auto-named unless ``name`` is set); 'setup': children are
    assigned in ``setup`` to attributes, one per attribute or grouped in a
    list (``layers_0``) or dict (``heads_a``) according to ``container``.

    ``__call__`` runs the children in order, ``x = act(child(x))``; the child
    at index ``shared`` (if any) is called a second time on ``0.5 * x_in``
    and both results are added, sharing its variables.
    """

    style: str  # 'compact' | 'setup'
    class_name: str
    children: Tuple[Union[DenseSpec, 'Node'], ...]
    activations: Tuple[str, ...]  # one per child
    name: Optional[str] = None  # explicit name when a compact child
    container: str = 'attrs'  # setup: 'attrs' | 'list' | 'dict'
    shared: Optional[int] = None
    stats: Optional[str] = None  # None | 'if_mutable' | 'always' | 'not_init'
    sow: Optional[str] = None  # None | 'append' | 'sum'
    rng_stream: Optional[str] = None  # make_rng stream, or None
    perturb: bool = False
    helper: bool = False  # route through an @nn.nowrap helper
    scale: float = 1.0  # a dataclass field of the node
    extra_param: bool = False  # a direct self.param('w', ...)

    # -- queries used by strategies and tests ------------------------------
    def walk(self):
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.walk()

    def streams(self):
        return {n.rng_stream for n in self.walk() if n.rng_stream}

    def depth(self):
        return 1 + max((c.depth() for c in self.children if isinstance(c, Node)), default=0)

    def size(self):
        return sum(1 + sum(isinstance(c, DenseSpec) for c in n.children) for n in self.walk())


def _node(children_strategy, style, draw):
    children = draw(children_strategy)
    n = len(children)
    activations = tuple(draw(st.lists(st.sampled_from(ACTIVATIONS), min_size=n, max_size=n)))
    if style == 'compact':
        # Explicit names for some children, unique within the node.
        names = (
            draw(st.lists(st.sampled_from(EXPLICIT_NAMES), min_size=n, max_size=n, unique=True))
            if n <= len(EXPLICIT_NAMES)
            else [None] * n
        )
        explicit = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        children = tuple(replace(c, name=names[i] if explicit[i] else None) for i, c in enumerate(children))
        container = 'attrs'
    else:
        children = tuple(replace(c, name=None) for c in children)
        container = draw(st.sampled_from(('attrs', 'list', 'dict')))
    return Node(
        style=style,
        class_name=draw(st.sampled_from(CLASS_NAMES)),
        children=children,
        activations=activations,
        container=container,
        shared=draw(st.one_of(st.none(), st.integers(0, n - 1))),
        stats=draw(st.sampled_from((None, None, 'if_mutable', 'not_init'))),
        sow=draw(st.sampled_from((None, None, 'append', 'sum'))),
        rng_stream=draw(st.sampled_from((None, None) + STREAMS)),
        perturb=draw(st.booleans()),
        helper=draw(st.booleans()),
        scale=draw(st.sampled_from((1.0, 0.5, 2.0))),
        extra_param=draw(st.booleans()),
    )


def dense_specs(max_features=4):
    return st.builds(DenseSpec, features=st.integers(1, max_features), use_bias=st.booleans())


@st.composite
def _nodes(draw, depth, max_children, max_features):
    if depth <= 1:
        kids = st.lists(dense_specs(max_features), min_size=1, max_size=max_children).map(tuple)
    else:
        # One child is a node of depth - 1, so the tree has exactly the
        # drawn depth; the others are Dense layers or shallower nodes.
        deep = _nodes(depth - 1, max_children, max_features)
        other = st.one_of(dense_specs(max_features), deep)
        kids = st.tuples(deep, st.lists(other, max_size=max_children - 1), st.integers(0, max_children - 1)).map(
            lambda t: tuple(t[1][: t[2]]) + (t[0],) + tuple(t[1][t[2] :])
        )
    return _node(kids, draw(st.sampled_from(('compact', 'setup'))), draw)


@st.composite
def architectures(draw, max_depth=3, max_children=3, max_features=4):
    """A random module tree: a :class:`Node` of nesting depth <= ``max_depth``."""
    depth = draw(st.integers(1, max_depth))
    return draw(_nodes(depth, max_children, max_features))


# ----------------------------------------------------------------- scenarios

#: How a scenario calls the root's extra method through ``apply(method=...)``.
METHOD_FORMS = ('function', 'name', 'outside')


@dataclass(frozen=True)
class Scenario:
    """One architecture plus everything needed to run it on a backend."""

    arch: Node
    in_shape: Tuple[int, ...]  # input shape; last axis = features
    x_seed: int  # numpy seed of the input values
    init_key: Key
    init_streams: Tuple[str, ...]  # streams init gets ('params' first)
    init_as_dict: bool  # init(rngs={...}) vs init(key)
    apply_key: Key
    apply_streams: Tuple[str, ...]  # streams apply gets (may be empty)
    method_form: str = 'function'
    capture_filter: str = 'dense'  # name of a capture_intermediates filter
    init_method: bool = False  # also init through the extra method

    def make_input(self, nn, dtype='float32'):
        rs = np.random.RandomState(self.x_seed)
        data = rs.uniform(-1.0, 1.0, size=self.in_shape).astype(dtype)
        return nn.numpy.asarray(data)

    def init_rngs(self, nn):
        root = self.init_key.make(nn)
        if not self.init_as_dict:
            return root
        return {s: nn.random.fold_in(root, i) for i, s in enumerate(self.init_streams)}

    def apply_rngs(self, nn):
        root = self.apply_key.make(nn)
        return {s: nn.random.fold_in(root, 7 + i) for i, s in enumerate(self.apply_streams)}


CAPTURE_FILTERS = ('dense', 'not_dense', 'encode', 'shallow')


@st.composite
def scenarios(draw, max_depth=3, max_children=3, max_features=4, all_apply_streams=False, arch=None):
    """A :class:`Scenario`: mostly every needed stream is given, sometimes not.

    With ``all_apply_streams`` every stream a node draws from is passed to
    ``apply`` (the success path); otherwise some are left out, to check the
    'params' fallback and the ``InvalidRngError`` both must raise.
    """
    if arch is None:
        arch = draw(architectures(max_depth, max_children, max_features))
    batch = draw(st.sampled_from(((), (1,), (2,), (3,), (2, 2))))
    features = draw(st.integers(1, max_features))
    needed = sorted(arch.streams() - {'params'})
    init_as_dict = draw(st.booleans())
    init_streams = ('params',)
    if init_as_dict:
        init_streams += tuple(s for s in needed if draw(st.booleans()))
    if all_apply_streams:
        apply_streams = tuple(needed) + (('params',) if 'params' in arch.streams() else ())
    else:
        apply_streams = tuple(s for s in STREAMS if draw(st.booleans()))
        if draw(st.integers(0, 3)) and not set(needed) <= set(apply_streams):
            apply_streams = tuple(sorted(set(apply_streams) | set(needed)))
        if 'params' in arch.streams() and draw(st.integers(0, 3)):
            apply_streams = tuple(sorted(set(apply_streams) | {'params'}))
    return Scenario(
        arch=arch,
        in_shape=batch + (features,),
        x_seed=draw(st.integers(0, 2**31 - 1)),
        init_key=draw(keys()),
        init_streams=init_streams,
        init_as_dict=init_as_dict,
        apply_key=draw(keys()),
        apply_streams=apply_streams,
        method_form=draw(st.sampled_from(METHOD_FORMS)),
        capture_filter=draw(st.sampled_from(CAPTURE_FILTERS)),
        init_method=draw(st.booleans()),
    )


# ----------------------------------------------------------------- tree edits


def replace_node(arch: Node, index: int, fn) -> Node:
    """``arch`` with its ``index``-th node (in :meth:`Node.walk` order) replaced by ``fn(node)``."""
    counter = [0]

    def go(node):
        i = counter[0]
        counter[0] += 1
        kids = tuple(go(c) if isinstance(c, Node) else c for c in node.children)
        node = replace(node, children=kids)
        return fn(node) if i == index else node

    return go(arch)


def node_count(arch: Node) -> int:
    return sum(1 for _ in arch.walk())


def with_duplicate_names(node: Node, name='dup') -> Node:
    """``node`` as a compact node whose first two children share ``name``."""
    kids = node.children
    if len(kids) < 2:
        kids = kids + (DenseSpec(2),)
    kids = (replace(kids[0], name=name), replace(kids[1], name=name)) + tuple(kids[2:])
    acts = node.activations + ('identity',) * (len(kids) - len(node.activations))
    return replace(node, style='compact', container='attrs', children=kids, activations=acts)


@st.composite
def edited_architectures(draw, edit, max_depth=2, max_children=3, max_features=3):
    """A random architecture with ``edit`` applied to one of its nodes (drawn)."""
    arch = draw(architectures(max_depth, max_children, max_features))
    index = draw(st.integers(0, node_count(arch) - 1))
    return replace_node(arch, index, edit)
