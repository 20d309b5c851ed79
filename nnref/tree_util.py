"""Tree utilities with ``jax.tree_util``'s names and leaf order, over plain containers.

Containers are dicts and ``FrozenDict`` (keys in sorted order), lists,
tuples and namedtuples; ``None`` is an empty container; everything else is
a leaf. Two hooks let other classes take part, as JAX's pytree registry does
for ``nnjax``: a class with ``_tree_children()`` (returning its children and
hashable static data) and a classmethod ``_tree_rebuild(static, children)``
is a container (e.g. the metadata boxes of ``nnref.meta``); a class with
``_tree_leaf = True`` is a leaf even if it subclasses ``tuple`` (e.g.
``nnref.meta.PartitionSpec``, a leaf like JAX's).

>>> tree_leaves({'b': [1, 2], 'a': (3, None)})
[3, 1, 2]
>>> tree_map(lambda x: 10 * x, {'b': [1, 2], 'a': (3, None)})
{'a': (30, None), 'b': [10, 20]}
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from shared_spec.frozen_dict import FrozenDict


class TreeDef(NamedTuple):
    """The shape of a tree without its leaves: hashable and comparable."""

    kind: str  # 'leaf' | 'none' | 'dict' | 'frozendict' | 'list' | 'tuple' | 'namedtuple' | 'custom'
    meta: Any  # sorted keys of a mapping, the namedtuple class, or (class, static data)
    children: tuple

    @property
    def num_leaves(self) -> int:
        if self.kind == "leaf":
            return 1
        return sum(child.num_leaves for child in self.children)


_LEAF = TreeDef("leaf", None, ())


def _children(tree) -> tuple[str, Any, list] | None:
    if tree is None:
        return "none", None, []
    if isinstance(tree, FrozenDict):
        keys = tuple(sorted(tree.keys()))
        return "frozendict", keys, [tree[k] for k in keys]
    if isinstance(tree, dict):
        keys = tuple(sorted(tree.keys()))
        return "dict", keys, [tree[k] for k in keys]
    cls = type(tree)
    if getattr(cls, "_tree_leaf", False):
        return None
    if hasattr(cls, "_tree_children"):
        children, static = tree._tree_children()
        return "custom", (cls, static), list(children)
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return "namedtuple", type(tree), list(tree)
    if isinstance(tree, tuple):
        return "tuple", None, list(tree)
    if isinstance(tree, list):
        return "list", None, list(tree)
    return None


def tree_flatten(tree, is_leaf: Callable[[Any], bool] | None = None) -> tuple[list, TreeDef]:
    if is_leaf is not None and is_leaf(tree):
        return [tree], _LEAF
    parts = _children(tree)
    if parts is None:
        return [tree], _LEAF
    kind, meta, children = parts
    leaves, defs = [], []
    for child in children:
        child_leaves, child_def = tree_flatten(child, is_leaf)
        leaves.extend(child_leaves)
        defs.append(child_def)
    return leaves, TreeDef(kind, meta, tuple(defs))


def tree_unflatten(treedef: TreeDef, leaves) -> Any:
    leaves = iter(leaves)

    def build(node: TreeDef):
        if node.kind == "leaf":
            return next(leaves)
        children = [build(child) for child in node.children]
        if node.kind == "none":
            return None
        if node.kind == "dict":
            return dict(zip(node.meta, children))
        if node.kind == "frozendict":
            return FrozenDict(dict(zip(node.meta, children)))
        if node.kind == "namedtuple":
            return node.meta(*children)
        if node.kind == "custom":
            cls, static = node.meta
            return cls._tree_rebuild(static, children)
        return tuple(children) if node.kind == "tuple" else children

    return build(treedef)


def tree_leaves(tree, is_leaf: Callable[[Any], bool] | None = None) -> list:
    return tree_flatten(tree, is_leaf)[0]


def tree_structure(tree, is_leaf: Callable[[Any], bool] | None = None) -> TreeDef:
    return tree_flatten(tree, is_leaf)[1]


def tree_map(f: Callable, tree, *rest, is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """``f`` applied leafwise; ``rest`` trees must have ``tree``'s structure.

    Rebuilt dicts have sorted keys, as in JAX.
    """
    leaves, treedef = tree_flatten(tree, is_leaf)
    others = []
    for other in rest:
        other_leaves, other_def = tree_flatten(other, is_leaf)
        if other_def != treedef:
            raise ValueError(f"tree_map: trees have different structures: {treedef} vs {other_def}")
        others.append(other_leaves)
    mapped = [f(*xs) for xs in zip(leaves, *others)]
    return tree_unflatten(treedef, mapped)
