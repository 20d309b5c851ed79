"""Lifting: how a transform runs a function of scopes on copies of their state and writes results back.

nnref has no JAX transform to cross, yet it moves the state exactly as the
production backend must, so that both agree on *what a transform sees*. The
algorithm, in the six stages marked ``# Stage k`` in the code below:

1. **de-duplicate** the scopes: one nested inside another lifted scope is
   rebuilt from its ancestor later, so no variable is carried twice;
2. **filter**: each collection goes to the first variable filter that
   selects it, each RNG stream to the first RNG filter (``shared_spec.
   collection_filters.first_match_groups``); a name no filter takes stays
   outside and is invisible inside;
3. **transform**: the caller (``vmap``, ``scan``, ...) maps, slices or
   loops over those groups -- plain dicts of arrays and root keys;
4. **rebuild** scopes over the (transformed) groups with :meth:`Lift.scopes`
   and run the user's function on them;
5. **repack** what the function wrote, grouped by the output filters
   (:meth:`Lift.repack`);
6. **commit** it into the original scopes (:meth:`Lift.publish`).

Keys continue across the boundary: a stream crosses as its root key, its
path suffix is kept aside, and the inner scopes share the outer
``make_rng`` counters.

>>> import numpy as np
>>> from nnref.scope import Scope
>>> from nnref import random
>>> outer = Scope.root({}, {'params': random.PRNGKey(0)}, mutable=True)
>>> lift = Lift([outer], in_filters=(True,), out_filters=(True,), rng_filters=(True,))
>>> [inner] = lift.scopes(lift.variable_groups, lift.rng_groups)
>>> inner.put_variable('params', 'w', np.ones(2))
>>> outer.has_variable('params', 'w')      # not yet: the inner scope writes a copy
False
>>> lift.publish(lift.repack([inner]))
>>> outer.get_variable('params', 'w')
array([1., 1.])
"""

from __future__ import annotations

from typing import Sequence

from nnref.rng_streams import RngStream
from nnref.scope import Frame, Scope, copy_tree
from shared_spec import errors
from shared_spec.collection_filters import first_match_groups, in_filter, intersect_filters, union_filters


def subtree(variables: dict, col: str, path: tuple):
    """``variables[col][path[0]][path[1]]...``, or None where a level is missing."""
    node = variables.get(col)
    for part in path:
        if node is None:
            return None
        node = node.get(part)
    return node


def merge_into(node: dict, tree: dict) -> None:
    """Writes ``tree`` into ``node``: nested dicts are merged key by key, anything else replaced.

    Merged rather than assigned so that variables the transform did not
    carry (other collections, or names outside its groups) survive.
    """
    for key, value in tree.items():
        if isinstance(value, dict) and isinstance(node.get(key), dict):
            merge_into(node[key], value)
        else:
            node[key] = copy_tree(value)


def _contains(outer: Scope, inner: Scope) -> bool:
    """Whether ``outer`` is ``inner`` or one of its ancestors, in the same call."""
    return outer.frame is inner.frame and inner.path[: len(outer.path)] == outer.path


class Lift:
    """The state of some scopes, split into groups, for one run of a lifted transform.

    After construction ``variable_groups[g][r]`` is ``{collection: subtree}``
    for lifted root ``r`` in group ``g`` of the input filters, and
    ``rng_groups[g][r]`` is ``{stream: root key}``.
    """

    def __init__(self, scopes: Sequence[Scope], in_filters: Sequence, out_filters: Sequence, rng_filters: Sequence):
        self.outer = list(scopes)
        self.out_filters = tuple(out_filters)

        # Stage 1: de-duplicate. A root is a scope that no *other* lifted scope
        # contains (and the first of equal ones); every lifted scope is then
        # "root r, then these child names" and is rebuilt that way in stage 4.
        self.roots: list[Scope] = []
        for scope in self.outer:
            has_lifted_ancestor = any(_contains(o, scope) and len(o.path) < len(scope.path) for o in self.outer)
            seen = any(r.frame is scope.frame and r.path == scope.path for r in self.roots)
            if not has_lifted_ancestor and not seen:
                self.roots.append(scope)
        self.rebuild = []  # per lifted scope: (index of its root, names below the root)
        for scope in self.outer:
            r = next(i for i, root in enumerate(self.roots) if _contains(root, scope))
            self.rebuild.append((r, scope.path[len(self.roots[r].path) :]))

        # Stage 2: filter. Copies, so the transform can never write the caller's dicts.
        variable_groups = [[] for _ in in_filters]
        rng_groups = [[] for _ in rng_filters]
        self.suffixes = []  # per root: stream -> path suffix (static; only root keys cross)
        for root in self.roots:
            everything = root.frame.variables
            present = [c for c in everything if subtree(everything, c, root.path) is not None]
            for g, cols in enumerate(first_match_groups(present, in_filters)):
                variable_groups[g].append({c: copy_tree(subtree(everything, c, root.path)) for c in cols})
            for g, streams in enumerate(first_match_groups(list(root.rngs), rng_filters)):
                rng_groups[g].append({s: root.rngs[s].root_key for s in streams})
            self.suffixes.append({s: stream.suffix for s, stream in root.rngs.items()})
        self.variable_groups = tuple(tuple(g) for g in variable_groups)
        self.rng_groups = tuple(tuple(g) for g in rng_groups)

        # Inside, a collection is writable only if some output filter carries it back out.
        self.mutable_out = False
        for filter_like in self.out_filters:
            self.mutable_out = union_filters(self.mutable_out, filter_like)

    # Stage 3 happens in the caller: it slices, maps or loops over the groups.

    def scopes(self, variable_groups, rng_groups, mutable_filter=True) -> list[Scope]:
        """Stage 4, rebuild: fresh scopes over the given groups, one per lifted scope, in their order."""
        inner_roots = []
        for r, root in enumerate(self.roots):
            # Put each group's subtree back at the root's path in a new variable dict.
            variables: dict = {}
            for group in variable_groups:
                for col, tree in group[r].items():
                    if root.path:
                        parent = variables.setdefault(col, {})
                        for part in root.path[:-1]:
                            parent = parent.setdefault(part, {})
                        parent[root.path[-1]] = copy_tree(tree)
                    else:
                        variables[col] = copy_tree(tree)
            rngs = {s: RngStream(key, self.suffixes[r][s]) for group in rng_groups for s, key in group[r].items()}
            # Writable inside = writable outside AND carried back out AND allowed by the transform.
            mutable = intersect_filters(intersect_filters(root.frame.mutable, self.mutable_out), mutable_filter)
            frame = Frame(variables, mutable, root.frame.flags)
            # root.rng_counters, not fresh counters: keys drawn inside continue the outer numbering.
            inner_roots.append(Scope(frame, root.path, rngs, root.rng_counters))
        out = []
        for r, names in self.rebuild:
            scope = inner_roots[r]
            for name in names:
                scope = scope.push(name, reuse=True)  # reuse: the name may already be reserved
            out.append(scope)
        return out

    def repack(self, inner_scopes: Sequence[Scope]) -> tuple:
        """Stage 5, repack: the inner scopes' writable collections, grouped by the output filters."""
        groups = [[] for _ in self.out_filters]
        for r, root in enumerate(self.roots):
            frame = next(scope.frame for scope, (ri, _) in zip(inner_scopes, self.rebuild) if ri == r)
            frame.valid = False  # a module bound inside must not be used after the transform
            written = [
                c
                for c in frame.variables
                if in_filter(frame.mutable, c) and subtree(frame.variables, c, root.path) is not None
            ]
            grouped = first_match_groups(written, self.out_filters)
            lost = set(written) - {c for cols in grouped for c in cols}
            if lost:  # written inside but no output filter takes it: the write would vanish silently
                raise errors.lifted_write_error(root.path, lost)
            for g, cols in enumerate(grouped):
                groups[g].append({c: copy_tree(subtree(frame.variables, c, root.path)) for c in cols})
        return tuple(tuple(g) for g in groups)

    def publish(self, out_groups) -> None:
        """Stage 6, commit: repacked variables merged into the original scopes (immutable ones skipped)."""
        for r, root in enumerate(self.roots):
            for group in out_groups:
                for col, tree in group[r].items():
                    if root.is_mutable_collection(col):
                        merge_into(root._node(col, create=True), tree)

    # -- make_rng counters ---------------------------------------------------------------
    # JAX traces a vmapped or scanned function once, so every index/step draws
    # with the counter values of that single trace. nnref runs the body many
    # times instead; these save the counters before and put them back between runs.

    def snapshot_counters(self) -> list:
        """The ``make_rng`` counters at and below every lifted root (see ``RngCounters.snapshot``)."""
        return [root.rng_counters.snapshot() for root in self.roots]

    def restore_counters(self, snapshot: list) -> None:
        """Sets the counters back to a :meth:`snapshot_counters` result."""
        for root, saved in zip(self.roots, snapshot):
            root.rng_counters.restore(saved)
