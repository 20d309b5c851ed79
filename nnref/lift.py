"""Lifting: running a function of scopes on copies of their state, then writing results back.

nnref has no JAX transforms to cross, but it follows the same protocol as
the production backend so that the *semantics* agree: which collections
and random streams a transform sees (the first matching filter claims each;
unmatched ones are invisible inside), which it may write (what the caller
made mutable and the transform passes back out), how keys continue
(streams cross as root keys with their path suffix, and the ``make_rng``
counters stay shared with the outer scope), and how results are written
back. The transforms in :mod:`nnref.transforms` are plain Python loops and
calls around :class:`Lift`.

>>> import numpy as np
>>> from nnref.scope import Scope
>>> from nnref import random
>>> scope = Scope.create_root({}, {'params': random.PRNGKey(0)}, mutable=True)
>>> lift = Lift([scope], in_filters=(True,), out_filters=(True,), rng_filters=(True,))
>>> [inner] = lift.scopes(lift.variable_groups, lift.rng_groups)
>>> inner.put_variable('params', 'w', np.ones(2))
>>> lift.publish(lift.repack([inner]))
>>> scope.get_variable('params', 'w')
array([1., 1.])
"""

from __future__ import annotations

from typing import Sequence

from nnref.rng_streams import RngStream
from nnref.scope import RootState, Scope, copy_tree
from shared_spec.collection_filters import in_filter, intersect_filters, union_filters


def first_match_groups(names, filters) -> list[list[str]]:
    """Each name goes to the first filter that selects it, or to no group."""
    groups: list[list[str]] = [[] for _ in filters]
    for name in names:
        for group, filter_like in zip(groups, filters):
            if in_filter(filter_like, name):
                group.append(name)
                break
    return groups


def subtree(variables: dict, col: str, path: tuple):
    node = variables.get(col)
    for part in path:
        if node is None:
            return None
        node = node.get(part)
    return node


def merge_into(node: dict, tree: dict) -> None:
    """Writes ``tree`` into ``node`` (dicts merged, leaves replaced)."""
    for key, value in tree.items():
        if isinstance(value, dict) and isinstance(node.get(key), dict):
            merge_into(node[key], value)
        else:
            node[key] = copy_tree(value)


class Lift:
    """The grouped state of some scopes for one lifted call (see the module docstring).

    ``variable_groups[g][r]``: collection -> subtree of root scope ``r`` in
    group ``g``; ``rng_groups[g][r]``: stream -> root key.
    """

    def __init__(self, scopes: Sequence[Scope], in_filters: Sequence, out_filters: Sequence, rng_filters: Sequence):
        self.outer = list(scopes)
        self.out_filters = tuple(out_filters)
        self.roots: list[Scope] = []
        for scope in self.outer:
            inside_other = any(
                o.root is scope.root and len(o.path) < len(scope.path) and scope.path[: len(o.path)] == o.path
                for o in self.outer
            )
            duplicate = any(r.root is scope.root and r.path == scope.path for r in self.roots)
            if not inside_other and not duplicate:
                self.roots.append(scope)
        # how to rebuild each lifted scope: (index of its root, path below the root)
        self.rebuild = []
        for scope in self.outer:
            for r, root in enumerate(self.roots):
                if root.root is scope.root and scope.path[: len(root.path)] == root.path:
                    self.rebuild.append((r, scope.path[len(root.path) :]))
                    break
        variable_groups = [[] for _ in in_filters]
        rng_groups = [[] for _ in rng_filters]
        self.suffixes = []
        for root in self.roots:
            cols = [c for c in root.root.variables if subtree(root.root.variables, c, root.path) is not None]
            for g, names in enumerate(first_match_groups(cols, in_filters)):
                variable_groups[g].append({c: copy_tree(subtree(root.root.variables, c, root.path)) for c in names})
            for g, names in enumerate(first_match_groups(list(root.rngs), rng_filters)):
                rng_groups[g].append({s: root.rngs[s].root_key for s in names})
            self.suffixes.append({s: stream.suffix for s, stream in root.rngs.items()})
        self.variable_groups = tuple(tuple(g) for g in variable_groups)
        self.rng_groups = tuple(tuple(g) for g in rng_groups)
        self.mutable_out = False
        for filter_like in self.out_filters:
            self.mutable_out = union_filters(self.mutable_out, filter_like)

    def scopes(self, variable_groups, rng_groups, mutable_filter=True) -> list[Scope]:
        """Fresh scopes over the given groups, in the order of the lifted scopes."""
        inner_roots = []
        for r, root in enumerate(self.roots):
            variables: dict = {}
            for group in variable_groups:
                for col, tree in group[r].items():
                    if not root.path:
                        variables[col] = copy_tree(tree)
                        continue
                    node = variables.setdefault(col, {})
                    for part in root.path[:-1]:
                        node = node.setdefault(part, {})
                    node[root.path[-1]] = copy_tree(tree)
            rngs = {s: RngStream(key, self.suffixes[r][s]) for group in rng_groups for s, key in group[r].items()}
            mutable = intersect_filters(intersect_filters(root.root.mutable, self.mutable_out), mutable_filter)
            state = RootState(variables, mutable, root.root.flags)
            inner_roots.append(Scope(state, root.path, rngs, root._rng_node))  # shared counters
        out = []
        for r, rel_path in self.rebuild:
            scope = inner_roots[r]
            for name in rel_path:
                scope = scope.push(name, reuse=True)
            out.append(scope)
        return out

    def repack(self, inner_scopes: Sequence[Scope]) -> tuple:
        """The inner scopes' mutable variables, grouped by the output filters."""
        groups = [[] for _ in self.out_filters]
        for r, root in enumerate(self.roots):
            state = next(s.root for s, (ri, _) in zip(inner_scopes, self.rebuild) if ri == r)
            state.valid = False  # modules bound inside must not be used after the transform
            cols = [
                c
                for c in state.variables
                if in_filter(state.mutable, c) and subtree(state.variables, c, root.path) is not None
            ]
            grouped = first_match_groups(cols, self.out_filters)
            unmapped = set(cols) - {c for names in grouped for c in names}
            if unmapped:
                raise ValueError(
                    f"Module {root.path_text}: collections {sorted(unmapped)} were written inside a lifted "
                    "transform that does not pass them back out; add them to the transform's variable "
                    "filters (e.g. variable_axes / variable_broadcast / variables=)."
                )
            for g, names in enumerate(grouped):
                groups[g].append({c: copy_tree(subtree(state.variables, c, root.path)) for c in names})
        return tuple(tuple(g) for g in groups)

    def publish(self, out_groups) -> None:
        """Writes repacked variables into the original scopes (immutable collections skipped)."""
        for r, root in enumerate(self.roots):
            for group in out_groups:
                for col, tree in group[r].items():
                    if root.is_mutable_collection(col):
                        merge_into(root._node(col, create=True), tree)

    # -- make_rng counters: a transform that "traces once" runs every step from the same counts

    def counts(self) -> list:
        return [copy_counts(root._rng_node) for root in self.roots]

    def set_counts(self, snapshot: list) -> None:
        for root, saved in zip(self.roots, snapshot):
            restore_counts(root._rng_node, saved)


def copy_counts(node: dict) -> dict:
    return {
        "counts": dict(node["counts"]),
        "children": {name: copy_counts(child) for name, child in node["children"].items()},
    }


def restore_counts(node: dict, saved: dict) -> None:
    """Sets ``node``'s counters (in place: scopes hold references to these dicts) to ``saved``."""
    node["counts"].clear()
    node["counts"].update(saved["counts"])
    for name, child in saved["children"].items():
        restore_counts(node["children"].setdefault(name, {"counts": {}, "children": {}}), child)
    for name, child in node["children"].items():
        if name not in saved["children"]:
            restore_counts(child, {"counts": {}, "children": {}})
