"""Lifting: carrying scopes' variables and random streams across a JAX transform.

A lifted transform (``nn.vmap``, ``nn.scan``, ...) runs a function of scopes
under a JAX transform that only understands arrays. :class:`Lift` moves the
state in the seed system's stages:

1. *de-duplicate*: a scope inside another lifted scope is rebuilt from its
   ancestor, so no variable is lifted twice;
2. *group*: variables and random streams are split into groups by filters
   (the first matching filter wins; an unmatched collection or stream stays
   outside and is invisible inside);
3. the transform passes the groups (plain pytrees: dicts of arrays, root keys)
   through JAX and calls :meth:`Lift.scopes` inside to rebuild scopes;
4. :meth:`Lift.repack` takes the inner scopes' mutable variables back out as
   groups;
5. :meth:`Lift.publish` writes them into the original scopes.

A random stream crosses as its root key alone: the path suffix is static and
the ``make_rng`` counters stay shared with the outer scope, so key numbering
continues across the boundary exactly as in the seed system.

>>> import jax, jax.numpy as jnp
>>> import nnjax as nn
>>> from nnjax.lift import Lift
>>> scope = nn.Scope.root({}, {'params': jax.random.PRNGKey(0)}, mutable=True)
>>> lift = Lift([scope], in_filters=(True,), out_filters=(True,), rng_filters=(True,))
>>> [inner] = lift.scopes(lift.variable_groups, lift.rng_groups)
>>> inner.put_variable('params', 'w', jnp.ones(2))
>>> lift.publish(lift.repack([inner]))
>>> scope.get_variable('params', 'w')
Array([1., 1.], dtype=float32)
"""

from __future__ import annotations

from typing import Sequence

from nnjax.rng_streams import RngStream
from nnjax.scope import Frame, Scope, copy_structure
from shared_spec import errors
from shared_spec.collection_filters import first_match_groups, intersect_filters, union_filters


def _is_ancestor(a: Scope, b: Scope) -> bool:
    """Whether ``a`` is a proper ancestor of ``b`` in the same call."""
    return a.frame is b.frame and len(a.path) < len(b.path) and b.path[: len(a.path)] == a.path


def _subtree(variables: dict, col: str, path: tuple):
    node = variables.get(col)
    for part in path:
        if node is None:
            return None
        node = node.get(part)
    return node


def merge_into(node: dict, tree: dict) -> None:
    """Writes ``tree`` into ``node`` in place (dicts merged, leaves replaced).

    In place, so that scopes already holding a reference to a sub-dict keep
    seeing the published values.
    """
    for key, value in tree.items():
        current = node.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            merge_into(current, value)
        else:
            node[key] = copy_structure(value)


class Lift:
    """The state of some scopes, grouped for one crossing of a JAX transform.

    ``variable_groups[g][r]`` is the dict ``collection -> subtree`` of root
    scope ``r`` in variable group ``g``; ``rng_groups[g][r]`` the dict
    ``stream -> root key``. Both are pytrees a JAX transform can map, scan
    or differentiate.
    """

    def __init__(self, scopes: Sequence[Scope], in_filters: Sequence, out_filters: Sequence, rng_filters: Sequence):
        self.outer = list(scopes)
        self.out_filters = tuple(out_filters)
        # 1. roots: scopes none of whose ancestors is lifted too.
        self.roots: list[Scope] = []
        for scope in self.outer:
            if scope is None:
                raise TypeError("a lifted transform needs bound modules (inside init/apply or after bind)")
            if not any(_is_ancestor(other, scope) for other in self.outer) and not any(
                r.frame is scope.frame and r.path == scope.path for r in self.roots
            ):
                self.roots.append(scope)
        self._rebuild = []
        for scope in self.outer:
            root = next(
                i for i, r in enumerate(self.roots) if r.frame is scope.frame and scope.path[: len(r.path)] == r.path
            )
            self._rebuild.append((root, scope.path[len(self.roots[root].path) :]))
        # 2. groups.
        variable_groups = [[] for _ in in_filters]
        rng_groups = [[] for _ in rng_filters]
        self._suffixes: list[dict] = []
        for root in self.roots:
            cols = [col for col in root.frame.variables if _subtree(root.frame.variables, col, root.path) is not None]
            for g, names in enumerate(first_match_groups(cols, in_filters)):
                variable_groups[g].append(
                    {col: copy_structure(_subtree(root.frame.variables, col, root.path)) for col in names}
                )
            streams = list(root.rngs)
            for g, names in enumerate(first_match_groups(streams, rng_filters)):
                rng_groups[g].append({stream: root.rngs[stream].root_key for stream in names})
            self._suffixes.append({stream: root.rngs[stream].suffix for stream in streams})
        self.variable_groups = tuple(tuple(g) for g in variable_groups)
        self.rng_groups = tuple(tuple(g) for g in rng_groups)
        mutable_out = False
        for filter_like in self.out_filters:
            mutable_out = union_filters(mutable_out, filter_like)
        self._mutable_out = mutable_out

    # 3. rebuild scopes inside the transform --------------------------------------------

    def scopes(self, variable_groups, rng_groups, mutable_filter=True) -> list[Scope]:
        """Fresh scopes (in the order of the lifted scopes) over the given groups."""
        inner_roots = []
        for r, root in enumerate(self.roots):
            variables: dict = {}
            for group in variable_groups:
                for col, tree in group[r].items():
                    node = variables.setdefault(col, {})
                    for part in root.path[:-1]:
                        node = node.setdefault(part, {})
                    if root.path:
                        node[root.path[-1]] = copy_structure(tree)
                    else:
                        variables[col] = copy_structure(tree)
            rngs = {}
            for group in rng_groups:
                for stream, key in group[r].items():
                    rngs[stream] = RngStream(key, self._suffixes[r][stream])
            mutable = intersect_filters(intersect_filters(root.frame.mutable, self._mutable_out), mutable_filter)
            frame = Frame(variables, mutable, root.frame.flags)
            # the same counters: make_rng numbering continues across the boundary
            inner_roots.append(Scope(frame, root.path, rngs, root.rng_counters))
        out = []
        for root_index, rel_path in self._rebuild:
            scope = inner_roots[root_index]
            for name in rel_path:
                scope = scope.push(name, reuse=True)
            out.append(scope)
        return out

    # 4. take the results back out ------------------------------------------------------

    def repack(self, inner_scopes: Sequence[Scope]) -> tuple:
        """The inner scopes' mutable variables, grouped by the output filters."""
        groups = [[] for _ in self.out_filters]
        for r, root in enumerate(self.roots):
            frame = self._inner_frame(inner_scopes, r)
            frame.valid = False  # modules bound inside must not be used after the transform
            cols = [
                col
                for col in frame.variables
                if frame.is_mutable(col) and _subtree(frame.variables, col, root.path) is not None
            ]
            grouped = first_match_groups(cols, self.out_filters)
            unmapped = set(cols) - {c for names in grouped for c in names}
            if unmapped:
                raise errors.lifted_write_error(root.path, unmapped)
            for g, names in enumerate(grouped):
                groups[g].append({col: copy_structure(_subtree(frame.variables, col, root.path)) for col in names})
        return tuple(tuple(g) for g in groups)

    def _inner_frame(self, inner_scopes, r: int) -> Frame:
        for scope, (root_index, _) in zip(inner_scopes, self._rebuild):
            if root_index == r:
                return scope.frame
        raise AssertionError("every root has a lifted scope")

    # 5. commit ---------------------------------------------------------------------------

    def publish(self, out_groups) -> None:
        """Writes repacked variables into the original scopes (immutable collections skipped)."""
        for r, root in enumerate(self.roots):
            for group in out_groups:
                for col, tree in group[r].items():
                    if not root.is_mutable_collection(col):
                        continue  # e.g. scan hands back broadcast variables unchanged
                    merge_into(root._node_for_write(col), tree)
