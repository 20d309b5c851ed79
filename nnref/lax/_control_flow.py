"""``lax`` control flow run eagerly: loops are Python loops, branches Python branches.

Values are pytrees of arrays (:mod:`nnref.tree_util`). The rules JAX checks
when it traces are checked here too, so a model JAX rejects fails on nnref
as well: a loop carry keeps its tree structure, shapes and dtypes from one
iteration to the next; ``cond``/``switch`` branches return values of one
type (every branch is run to check it, as JAX traces every branch, and the
selected one's result is returned); predicates are scalars. Dtypes are
compared as JAX with x64 off reads them, so a float32 carry that becomes
float64 in a float64 reference run is accepted, and Python numbers in a
carry match any dtype (JAX promotes such weakly typed carries).

``unroll``, ``batch_size`` and the like only change how XLA schedules the
work; they are accepted and do not change the results.

>>> import numpy as np
>>> fori_loop(0, 4, lambda i, total: total + i, 0)
array(6, dtype=int32)
>>> carry, ys = scan(lambda c, x: (c + x, 2 * c), np.float32(0), np.arange(3, dtype=np.float32))
>>> carry, ys
(array(3., dtype=float32), array([0., 0., 2.], dtype=float32))
"""

from __future__ import annotations

import builtins
import operator

import numpy as np

from nnref.lax import _dtype_rules as rules
from nnref.lax._dtype_rules import BOOL, INTEGER
from nnref.lax._dtype_rules import operand as _array
from nnref.tree_util import tree_flatten, tree_map, tree_unflatten

_NO_OPERAND = object()  # lax's sentinel for "the deprecated operand= was not passed"


def _as_arrays(tree):
    """Every leaf an array, as JAX returns them (Python numbers get 32-bit defaults)."""
    return tree_map(_array, tree)


def _scalar_predicate(op, value, kinds, what):
    a = rules.operand(value)
    if a.shape != () or rules.kind(a.dtype) not in kinds:
        raise TypeError(
            f'nnref.lax.{op}: {what} must be a scalar of kind {" or ".join(kinds)}, as in jax.lax; '
            f'got {a.dtype}{list(a.shape)}.'
        )
    return a


# ---------------------------------------------------------------------------
# loops
# ---------------------------------------------------------------------------


def while_loop(cond_fun, body_fun, init_val):
    """``val = body_fun(val)`` while ``cond_fun(val)``; returns the final ``val``.

    ``cond_fun`` returns a boolean scalar; ``body_fun`` keeps the type of
    the carry.

    >>> while_loop(lambda n: n < 10, lambda n: 2 * n, 1)
    array(16, dtype=int32)
    """
    val = init_val
    while True:
        keep_going = cond_fun(val)
        if not isinstance(keep_going, builtins.bool):
            keep_going = _scalar_predicate('while_loop', keep_going, (BOOL,), 'cond_fun\'s result')
        if not bool(keep_going):
            return _as_arrays(val)
        new_val = body_fun(val)
        rules.check_same_types('nnref.lax.while_loop', val, new_val, 'body_fun input', 'body_fun output')
        val = new_val


def fori_loop(lower, upper, body_fun, init_val, *, unroll=None):
    """``val = body_fun(i, val)`` for ``i`` in ``range(lower, upper)``; returns the final ``val``.

    ``i`` is a 0-d integer array of the bounds' dtype (int32 for Python ints).

    >>> fori_loop(1, 4, lambda i, acc: acc * i, 1)
    array(6, dtype=int32)
    """
    del unroll
    bounds = [rules.operand(b) for b in (lower, upper)]
    for b in bounds:
        if b.shape != () or rules.kind(b.dtype) not in INTEGER:
            raise TypeError(
                f'nnref.lax.fori_loop: lower and upper must be integer scalars, as in jax.lax; '
                f'got {b.dtype}{list(b.shape)}.'
            )
    index_dtype = np.result_type(*(b.dtype for b in bounds))
    val = init_val
    for i in range(int(bounds[0]), int(bounds[1])):
        new_val = body_fun(np.asarray(i, index_dtype), val)
        rules.check_same_types('nnref.lax.fori_loop', val, new_val, 'body_fun input', 'body_fun output')
        val = new_val
    return _as_arrays(val)


def _leading_length(op, xs, length):
    leaves = tree_flatten(xs)[0]
    sizes = {np.shape(x)[0] if np.ndim(x) else None for x in leaves}
    if None in sizes:
        raise ValueError(f'nnref.lax.{op}: every leaf of xs needs a leading axis to scan over.')
    if length is not None:
        sizes.add(operator.index(length))
    if len(sizes) > 1:
        raise ValueError(f'nnref.lax.{op}: the leading axes of xs (and length) disagree: {sorted(sizes)}.')
    if not sizes:
        raise ValueError(f'nnref.lax.{op}: length must be given when xs has no leaves.')
    return sizes.pop()


def _slice(xs, i):
    return tree_map(lambda x: np.asarray(x)[i], xs)


def _zeros_slice(xs):
    """Zeros shaped like one slice of ``xs``, to learn a body's output type when there are no slices."""
    return tree_map(lambda x: np.zeros(np.shape(x)[1:], _array(x).dtype), xs)


def _stack(ys_list, ys_type):
    """The outputs of the iterations stacked on a new leading axis (``ys_type`` when there are none)."""
    if not ys_list:
        leaves, tree = tree_flatten(ys_type)
        return tree_unflatten(tree, [np.zeros((0,) + np.shape(y), _array(y).dtype) for y in leaves])
    leaves, tree = tree_flatten(ys_list[0])
    columns = [tree_flatten(y)[0] for y in ys_list]
    return tree_unflatten(tree, [np.stack([_array(col[j]) for col in columns]) for j in range(len(leaves))])


def scan(f, init, xs=None, length=None, reverse=False, unroll=1, _split_transpose=False):
    """``carry, y = f(carry, x)`` over the leading axis of ``xs``; returns ``(carry, stacked ys)``.

    ``xs`` is a pytree of arrays (or None, with ``length``); ``reverse``
    runs from the last slice to the first, each ``y`` still stored at its
    slice's index.

    >>> import numpy as np
    >>> scan(lambda c, x: (c * x, c), np.float32(1), np.arange(1, 4, dtype=np.float32), reverse=True)
    (array(6., dtype=float32), array([6., 3., 1.], dtype=float32))
    """
    del unroll, _split_transpose
    n = _leading_length('scan', xs, length)
    order = range(n - 1, -1, -1) if reverse else range(n)
    carry, ys = init, [None] * n
    for i in order:
        new_carry, ys[i] = f(carry, None if xs is None else _slice(xs, i))
        rules.check_same_types('nnref.lax.scan', carry, new_carry, 'carry input', 'carry output')
        carry = new_carry
    if n == 0:
        # No iteration says what ys look like: run f once, on zeros, for their type only.
        _, y_type = f(init, None if xs is None else _zeros_slice(xs))
        return _as_arrays(carry), _stack([], y_type)
    return _as_arrays(carry), _stack(ys, None)


def map(f, xs, *, batch_size=None):  # noqa: A001 (lax's name)
    """``f`` applied to each slice of ``xs`` along its leading axis, the results stacked.

    >>> import numpy as np
    >>> map(lambda x: x.sum(), np.arange(6).reshape(3, 2))
    array([1, 5, 9])
    """
    del batch_size  # batching only regroups the same per-slice work
    n = _leading_length('map', xs, None)
    if n == 0:
        return _stack([], f(_zeros_slice(xs)))
    return _stack([f(_slice(xs, i)) for i in range(n)], None)


def associative_scan(fn, elems, reverse=False, axis=0):
    """Inclusive prefix "sums" of ``elems`` along ``axis`` for an associative ``fn``.

    ``out[i] = fn(...fn(fn(e[0], e[1]), e[2])..., e[i])``; ``reverse``
    scans from the end (``out[i]`` combines ``e[-1]`` down to ``e[i]``).
    ``fn`` must be vectorized: it is called on whole blocks of elements
    (Hillis-Steele: ``log2(n)`` calls). ``elems`` may be a pytree.

    >>> import numpy as np
    >>> associative_scan(np.add, np.arange(5))
    array([ 0,  1,  3,  6, 10])
    """
    leaves, tree = tree_flatten(elems)
    arrays = [np.moveaxis(_array(x), axis, 0) for x in leaves]
    if len({a.shape[0] for a in arrays}) != 1:
        raise ValueError(f'nnref.lax.associative_scan: the leaves of elems differ in length along axis {axis}.')
    if reverse:
        arrays = [np.flip(a, 0) for a in arrays]
    n = arrays[0].shape[0] if arrays else 0
    step = 1
    while step < n:
        # Each element combines with the partial result `step` places before it.
        combined = fn(
            tree_unflatten(tree, [a[:-step] for a in arrays]), tree_unflatten(tree, [a[step:] for a in arrays])
        )
        arrays = [
            np.concatenate([a[:step], np.asarray(c).astype(a.dtype, copy=False)])
            for a, c in zip(arrays, tree_flatten(combined)[0])
        ]
        step *= 2
    if reverse:
        arrays = [np.flip(a, 0) for a in arrays]
    return tree_unflatten(tree, [np.ascontiguousarray(np.moveaxis(a, 0, axis)) for a in arrays])


# ---------------------------------------------------------------------------
# branches
# ---------------------------------------------------------------------------


def _operands(op, operands, operand):
    if operand is not _NO_OPERAND:
        if operands:
            raise TypeError(f'nnref.lax.{op}: pass operands positionally or as operand=, not both.')
        return (operand,)
    return operands


def _run_branches(op, branches, index, operands):
    """Run every branch (JAX traces them all), check their types agree, return branch ``index``'s result."""
    outputs = [branch(*operands) for branch in branches]
    for k, out in enumerate(outputs[1:], start=1):
        rules.check_same_types(f'nnref.lax.{op}', outputs[0], out, 'output of branch 0', f'output of branch {k}')
    return _as_arrays(outputs[index])


def cond(pred, true_fun, false_fun, *operands, operand=_NO_OPERAND):
    """``true_fun(*operands)`` if ``pred`` else ``false_fun(*operands)``.

    ``pred`` is a boolean or numeric scalar (nonzero is true). Both branches
    run, to check that they return one type; the other's result is dropped.

    >>> import numpy as np
    >>> cond(np.int32(2), lambda x: x + 1, lambda x: x - 1, np.float32(5))
    array(6., dtype=float32)
    """
    operands = _operands('cond', operands, operand)
    if isinstance(pred, builtins.bool):
        taken = pred
    else:
        taken = bool(_scalar_predicate('cond', pred, (BOOL,) + INTEGER + (rules.FLOAT,), 'pred') != 0)
    return _run_branches('cond', [false_fun, true_fun], int(taken), operands)


def switch(index, branches, *operands, operand=_NO_OPERAND):
    """``branches[index](*operands)``, ``index`` clamped to the valid range.

    ``index`` is an integer scalar. Every branch runs, to check that they
    return one type; the selected one's result is returned.

    >>> switch(5, [lambda x: x, lambda x: 10 * x], 2)
    array(20, dtype=int32)
    """
    operands = _operands('switch', operands, operand)
    branches = list(branches)
    if not branches:
        raise ValueError('nnref.lax.switch: needs at least one branch.')
    if isinstance(index, builtins.bool) or (not rules.is_weak(index) and rules.operand(index).dtype == np.bool_):
        raise TypeError('nnref.lax.switch: index must be an integer scalar, as in jax.lax; got a bool.')
    i = int(_scalar_predicate('switch', index, INTEGER, 'index'))
    return _run_branches('switch', branches, builtins.min(builtins.max(i, 0), len(branches) - 1), operands)
