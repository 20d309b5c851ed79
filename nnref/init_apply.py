"""``init`` and ``apply``: a method of a module, run as a pure function of the variables.

A module object holds no numbers; its parameters and state live in a plain
dict of collections (``{'params': {...}, 'batch_stats': {...}}``) that the
caller owns. ``apply(fn, module)(variables, *args, rngs=...)`` lends them to
one call, in six steps:

1. check the arguments (the rules of :mod:`shared_spec.init_apply_args`)
   and copy the variables' dict structure, so the call can add and replace
   entries without touching the caller's dict;
2. make a root :class:`~nnref.scope.Scope` over that copy, with the key
   streams (``rngs``) and the ``mutable`` filter: which collections the
   call may write;
3. clone ``module`` with that scope as its parent: the clone is *bound*
   (submodules attach to it, ``setup`` may run, ``self.param`` works),
   while the caller's module stays an unbound description;
4. call ``fn(bound_module, *args)``;
5. invalidate the scope, so that a bound module kept past the call can no
   longer read or write the variables;
6. return the output and, if ``mutable`` allows any, copies of the mutable
   collections as they are at the end of the call.

``init`` is ``apply`` on an empty dict, with every collection but
'intermediates' mutable and the flag ``initializing`` set, so
``self.param`` runs the initializers; it returns the variables.

The functional forms take any function of the module; here one that
reads a sub-result. Step 6 is visible with ``mutable=``: the call hands
back what it wrote, and the caller's dict is unchanged.

>>> import nnref as nn
>>> class Scale(nn.Module):
...   @nn.compact
...   def __call__(self, x):
...     calls = self.variable('counts', 'calls', lambda: 0)
...     calls.value += 1
...     return x * self.param('w', nn.initializers.ones, ())
>>> variables = nn.init(lambda m, x: m(x), Scale())(nn.random.PRNGKey(0), 2.0)
>>> variables['counts']
{'calls': 1}
>>> y, state = nn.apply(lambda m, x: m(x), Scale(), mutable=['counts'])(variables, 2.0)
>>> float(y), state, variables['counts']
(2.0, {'counts': {'calls': 2}}, {'calls': 1})
"""

from __future__ import annotations

import copy as _copy
from collections.abc import Mapping
from typing import Callable

import numpy as np

from nnref.config import config
from nnref.module_context import context as _context
from nnref.rng_streams import is_prng_key
from nnref.scope import Scope, copy_tree
from nnref.tree_util import tree_flatten, tree_map, tree_unflatten
from shared_spec import errors
from shared_spec import init_apply_args as rules  # argument checks both backends share
from shared_spec.collection_filters import DenyList, in_filter, union_filters
from shared_spec.frozen_dict import freeze
from shared_spec.variable_rules import NON_NUMERIC_KINDS

# Named in the messages about a bad key: where this backend's users make keys.
_KEY_API = "nn.random"


def _is_dict_like(node) -> bool:
    # FrozenDicts and other mappings that are not registered as Mapping still count as nodes.
    return isinstance(node, Mapping) or (hasattr(node, "items") and hasattr(node, "keys"))


def _copy_checked(tree, is_params: bool):
    """Step 1's copy of one collection: new dicts all the way down, the same arrays at the leaves.

    The arrays can be shared because no step writes into an array: a write
    to a variable replaces the leaf in the copied dict. Lists are copied too
    (a model may append to a list it finds in its state). Each leaf is
    checked on the way, so a bad one costs no extra walk when there is none.
    """
    if isinstance(tree, np.ndarray):  # the common leaf first
        if tree.dtype.kind in NON_NUMERIC_KINDS:
            raise rules.BadLeaf
        return tree
    if isinstance(tree, dict) or _is_dict_like(tree):
        return {key: _copy_checked(value, is_params) for key, value in tree.items()}
    if is_params and (tree is None or isinstance(tree, (str, bytes))):
        raise rules.BadLeaf
    return _copy.copy(tree) if isinstance(tree, list) else tree


def root_scope(variables, rngs, mutable, flags=None) -> Scope:
    """Steps 1 and 2: the checked, copied variables under a new root scope."""
    in_filter(mutable, "params")  # a malformed filter fails here, before any model code runs
    variables = rules.validated_variables(variables, _copy_checked, rules.bad_leaf, _is_dict_like)
    return Scope.root(variables, rules.validated_rngs(rngs, is_prng_key, _KEY_API), mutable, flags)


def fresh_arrays(tree):
    """``tree`` with every NumPy array replaced by a copy; containers keep their order.

    JAX arrays are immutable, so in the seed system ``x += y`` inside a model
    rebinds ``x`` and the caller's array never changes. NumPy's ``+=`` writes
    into the array, so ``init``/``apply`` hand the model copies of the array
    arguments: the model may still write into them (``x += y`` keeps working
    and leaves ``x`` a new value), but the caller never sees it. Containers
    that hold no array are returned as they are.

    >>> x = np.ones(2, np.float32)
    >>> args = fresh_arrays((x, {'b': x, 'a': 3}))
    >>> args[0] is x, list(args[1]), args[1]['b'] is x
    (False, ['b', 'a'], False)
    """
    if isinstance(tree, np.ndarray):
        return tree.copy()
    kind = type(tree)
    if kind is dict:
        new = {k: fresh_arrays(v) for k, v in tree.items()}
        return tree if all(new[k] is tree[k] for k in tree) else new
    if kind in (list, tuple) or (isinstance(tree, tuple) and hasattr(tree, "_fields")):
        new = [fresh_arrays(v) for v in tree]
        if all(a is b for a, b in zip(new, tree)):
            return tree
        return kind(*new) if kind not in (list, tuple) else kind(new)
    leaves, treedef = tree_flatten(tree)
    if len(leaves) == 1 and leaves[0] is tree:
        return tree  # a leaf: scalars, strings, keys and other immutable values
    # FrozenDicts and registered pytree nodes: rebuilt through the tree API.
    return tree_unflatten(treedef, [fresh_arrays(leaf) for leaf in leaves])


def _run(fn, module, variables, rngs, mutable, capture_intermediates, flags, args, kwargs):
    """Steps 1 to 6 of the module docstring; returns ``(output, mutated collections)``."""
    args, kwargs = fresh_arrays(args), fresh_arrays(kwargs)  # the caller's arrays stay untouched
    capture = rules.capture_filter(capture_intermediates)
    if capture is not None:
        # A captured output is stored with sow() in 'intermediates', which must be writable for that.
        mutable = union_filters(mutable, "intermediates")
    scope = root_scope(variables, rngs, mutable, flags)
    bound = module.clone(parent=scope, _deep_clone=True)  # step 3: the caller's module stays unbound
    enclosing_capture = _context.capture
    _context.capture = capture  # an apply nested in a module's method captures by its own filter
    try:
        y = fn(bound, *args, **kwargs)
    finally:
        _context.capture = enclosing_capture
        scope.invalidate()  # step 5, even when fn raised
    # Step 6: copies, so that the caller may change what it gets without reaching this call's dicts.
    mutated = {col: copy_tree(tree) for col, tree in scope.frame.variables.items() if in_filter(mutable, col)}
    if config.nnref_return_frozendict:  # the seed's flag: hand back FrozenDicts, as older releases did
        mutated = freeze(mutated)
    return y, mutated


def apply(fn: Callable, module, mutable=False, capture_intermediates=False) -> Callable:
    """A pure function ``(variables, *args, rngs=None, **kwargs) -> output`` running ``fn(bound_module, *args)``.

    With ``mutable`` other than False (or with captures) the output comes
    with the collections the call was allowed to change: ``(output, state)``.
    """

    def apply_fn(variables, *args, rngs=None, **kwargs):
        y, mutated = _run(fn, module, variables, rngs, mutable, capture_intermediates, {}, args, kwargs)
        return y if mutable is False and not capture_intermediates else (y, mutated)

    return apply_fn


def init_with_output(fn: Callable, module, mutable=DenyList("intermediates"), capture_intermediates=False) -> Callable:
    """``apply`` on no variables, in initializing mode: ``(rngs, *args, **kwargs) -> (output, variables)``."""

    def init_fn(rngs, *args, **kwargs):
        rngs = rules.init_rngs(rngs, is_prng_key, _KEY_API)
        return _run(fn, module, {}, rngs, mutable, capture_intermediates, {"initializing": True}, args, kwargs)

    return init_fn


def init(fn: Callable, module, mutable=DenyList("intermediates"), capture_intermediates=False) -> Callable:
    """``init_with_output`` without the output: ``(rngs, *args, **kwargs) -> variables``."""
    with_output = init_with_output(fn, module, mutable, capture_intermediates)

    def init_fn(rngs, *args, **kwargs):
        return with_output(rngs, *args, **kwargs)[1]

    return init_fn


# -- lazy init ---------------------------------------------------------------------------


def _is_abstract(x) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, (np.ndarray, np.generic))


def _materialize(tree, fill: str):
    """``tree`` with each abstract leaf replaced by a concrete array of its shape and dtype.

    ``fill="zeros"`` gives zeros; ``fill="pattern"`` gives 1..7 repeating, so
    that a variable computed from these inputs (even one that only sums or
    multiplies them) comes out different in the two runs of :func:`lazy_init`.
    """

    def leaf(x):
        if not _is_abstract(x):
            return x
        dtype = np.dtype(x.dtype)
        if fill == "zeros":
            return np.zeros(x.shape, dtype)
        pattern = np.arange(1, int(np.prod(x.shape, dtype=np.int64)) + 1) % 7 + 1
        return pattern.reshape(x.shape).astype(dtype)

    return tree_map(leaf, tree)


def _same_tree(a, b) -> bool:
    leaves_a, tree_a = tree_flatten(a)
    leaves_b, tree_b = tree_flatten(b)
    if tree_a != tree_b:
        return False
    return all(np.array_equal(np.asarray(x), np.asarray(y), equal_nan=True) for x, y in zip(leaves_a, leaves_b))


def lazy_init(fn, module, mutable, rngs, args, kwargs) -> dict:
    """``init`` where ``ShapeDtypeStruct`` arguments stand for arrays, with the variables checked not to need them.

    The production backend traces the init function and follows the data
    flow from the abstract arguments. A reference that runs eagerly finds
    the same answer by experiment: initialize twice, with two different
    fillings of the abstract arguments (same keys both times). Variables
    that come out equal did not depend on the fillings; any difference
    raises ``LazyInitError``.
    """
    run = init(fn, module, mutable)
    first = run(rngs, *_materialize(args, "zeros"), **_materialize(kwargs, "zeros"))
    second = run(rngs, *_materialize(args, "pattern"), **_materialize(kwargs, "pattern"))
    if not _same_tree(first, second):
        abstract = [x for x in list(args) + list(kwargs.values()) if _is_abstract(x)]
        raise errors.LazyInitError(abstract[0] if len(abstract) == 1 else abstract)
    return first
