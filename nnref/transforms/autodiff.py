"""``nn.jvp``, ``nn.vjp``, ``nn.grad``/``nn.value_and_grad`` and ``nn.custom_vjp`` in nnref, by central differences.

nnref has no automatic differentiation, so every derivative here is the
textbook numerical one. For a function ``f`` and an input ``x``:

1. promote the float inputs (and differentiated variables) to float64;
2. take a step ``h = eps ** (1/3) * max(1, |x|)`` -- the size at which
   the truncation error of a central difference (which shrinks with ``h``)
   and the rounding error (which grows as ``h`` shrinks) are about equal;
3. ``f'(x) ~ (f(x + h) - f(x - h)) / (2 h)``;
4. cast the result back to the dtype of what was differentiated.

A JVP needs one such difference, along the tangent direction; a VJP needs
two evaluations per input element (one column of the Jacobian each, then
the dot product with the cotangent). Conformance compares the production
backend's autodiff to these within the ``'derivative'`` tolerance of
``shared_spec.tolerances``.

What happens to the module's variables:

* ``jvp`` and ``vjp`` differentiate with respect to some variables too
  (``variable_tangents`` names them for ``jvp``, ``vjp_variables`` for
  ``vjp``); ``grad``/``value_and_grad`` treat every variable as a constant;
* every re-evaluation of the function starts from the same ``make_rng``
  counters as the first, so it draws the same keys (a derivative of a
  function whose noise changed between evaluations would be meaningless),
  and afterwards the counters stand where one evaluation leaves them;
* the variable writes of the first (unperturbed) evaluation are the ones
  kept.

``custom_vjp`` only runs ``fn`` forward: finite differences see the
function itself, so an nnref ``vjp`` around it differentiates ``fn`` as
written, never the custom backward rule.

>>> import numpy as np
>>> import nnref as nn
>>> class WeightedSquare(nn.Module):
...   @nn.compact
...   def __call__(self, v):
...     w = self.param('w', nn.initializers.ones_init(), ())
...     return w * v ** 2
>>> class Sensitivity(nn.Module):
...   @nn.compact
...   def __call__(self, v):
...     out, pullback = nn.vjp(lambda m, v: m(v), WeightedSquare(), v)
...     d_variables, d_v = pullback(np.ones_like(out))
...     return d_variables, d_v
>>> v = np.array([1.0, 3.0], np.float32)
>>> d_variables, d_v = Sensitivity().apply(Sensitivity().init(nn.random.PRNGKey(0), v), v)
>>> round(float(d_variables['params']['w']), 3), np.round(d_v, 3).tolist()  # sum(v ** 2) and 2 w v
(10.0, [2.0, 6.0])
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from nnref.lift import Lift
from nnref.transforms.module_forms import single_scope, transform_direct
from nnref.tree_util import tree_flatten, tree_unflatten
from shared_spec.transform_args import check_scalar_output

_STEP = np.finfo(np.float64).eps ** (1 / 3)  # step 2's eps ** (1/3)


def _is_float(x) -> bool:
    return np.issubdtype(np.asarray(x).dtype, np.inexact)


def _flat_output(y) -> np.ndarray:
    """All leaves of ``y`` as one float64 vector (the Jacobian's rows)."""
    leaves, _ = tree_flatten(y)
    return np.concatenate([np.ravel(np.asarray(x, np.float64)) for x in leaves]) if leaves else np.zeros(0)


def _zeros_like(tree):
    leaves, treedef = tree_flatten(tree)
    return tree_unflatten(treedef, [np.zeros_like(np.asarray(x)) for x in leaves])


def numeric_vjp(f: Callable, inputs, cotangent):
    """``cotangent . J``, the vector-Jacobian product of ``f`` at ``inputs``, one element at a time.

    For each float input element: evaluate ``f`` with the element moved up
    by ``h`` and down by ``h``; their difference over ``2 h`` is that
    element's column of the Jacobian, and its dot product with the
    cotangent is the element's gradient. Integer inputs get zero gradients.
    """
    leaves, treedef = tree_flatten(inputs)
    leaves64 = [np.array(x, np.float64) if _is_float(x) else x for x in leaves]
    ct = _flat_output(cotangent)

    def f_with(index, position, delta):
        moved = [np.array(x, copy=True) if i == index else x for i, x in enumerate(leaves64)]
        moved[index][position] += delta
        return _flat_output(f(tree_unflatten(treedef, moved)))

    grads = []
    for index, leaf in enumerate(leaves64):
        if not _is_float(leaf):
            grads.append(np.zeros(np.shape(leaf), np.float32))
            continue
        grad = np.zeros(np.shape(leaf), np.float64)
        for position in np.ndindex(*np.shape(leaf)):
            h = _STEP * max(1.0, abs(float(leaf[position])))
            up = f_with(index, position, h)
            down = f_with(index, position, -h)
            jacobian_column = (up - down) / (2 * h)
            grad[position] = ct @ jacobian_column
        grads.append(grad.astype(np.asarray(leaves[index]).dtype))
    return tree_unflatten(treedef, grads)


def numeric_jvp(f: Callable, inputs, tangents):
    """``(f(inputs), J . tangents)`` with one central difference along the tangent direction.

    The step is scaled twice: by the largest input magnitude (as in step 2)
    and by the inverse of the largest tangent entry, so the point moves by
    about ``h`` whatever the tangent's length. A zero tangent gives zeros.
    """
    leaves, treedef = tree_flatten(inputs)
    t_leaves, _ = tree_flatten(tangents)
    scale = max([1.0] + [float(np.max(np.abs(x))) for x in leaves if _is_float(x) and np.size(x)])
    norm = max([0.0] + [float(np.max(np.abs(t))) for t in t_leaves if np.size(t)])
    y = f(inputs)
    if norm == 0.0:
        return y, _zeros_like(y)
    h = _STEP * scale / norm

    def f_along(delta):
        moved = []
        for x, t in zip(leaves, t_leaves):
            moved.append(np.asarray(x, np.float64) + delta * np.asarray(t, np.float64) if _is_float(x) else x)
        return tree_flatten(f(tree_unflatten(treedef, moved)))[0]

    up, down = f_along(h), f_along(-h)
    y_leaves, y_def = tree_flatten(y)
    slopes = [((u - d) / (2 * h)).astype(np.asarray(ref).dtype) for u, d, ref in zip(up, down, y_leaves)]
    return y, tree_unflatten(y_def, slopes)


def jvp_core(fn: Callable, variable_tangents=None, variables=True, rngs=True):
    """Scope-level ``jvp``: ``run(scopes, primals, tangents) -> (y, y_tangent)``."""

    def run(scopes, primals, tangents):
        scopes = single_scope(scopes)
        # A collection given a falsy tangent is not differentiated at all.
        given = {col: t for col, t in (variable_tangents or {}).items() if t}
        lift = Lift(scopes, (tuple(sorted(given)), variables), (variables,), (rngs,))
        differentiated, constant = lift.variable_groups
        counters_before = lift.snapshot_counters()

        def evaluate(point):
            lift.restore_counters(counters_before)  # the same keys at every point
            var_values, args = point
            point_scopes = lift.scopes((var_values, constant), lift.rng_groups)
            y = fn(point_scopes, *args)
            return y, lift.repack(point_scopes)

        start = (differentiated, tuple(primals))
        y, writes = evaluate(start)
        counters_after = lift.snapshot_counters()
        # Collections without a tangent of their own move with zero tangent.
        var_tangents = tuple(
            {col: given.get(col, _zeros_like(tree)) for col, tree in per_root.items()} for per_root in differentiated
        )
        _, y_tangent = numeric_jvp(lambda point: evaluate(point)[0], start, (var_tangents, tuple(tangents)))
        lift.restore_counters(counters_after)
        lift.publish(writes)
        return y, y_tangent

    return run


def jvp(fn: Callable, mdl, primals, tangents, variable_tangents, variables=True, rngs=True):
    """Return ``fn(mdl, *primals)`` and its derivative along ``tangents`` (and ``variable_tangents``).

    ``variable_tangents`` maps a collection name to a tangent tree shaped
    like that collection of ``mdl``; the collections it names are
    differentiated, the others (``variables`` filters what is visible) are
    constants. Only the output's tangent is returned.
    """
    primals, tangents = tuple(primals), tuple(tangents)
    filters = dict(variables=variables, rngs=rngs)
    return transform_direct(jvp_core, (fn,), mdl, primals, tangents, variable_tangents=variable_tangents, **filters)


def vjp_core(fn: Callable, has_aux=False, reduce_axes=(), vjp_variables="params", variables=True, rngs=True):
    """Scope-level ``vjp``: ``run(scopes, *primals) -> (y, pullback)`` (plus ``aux`` with ``has_aux``)."""
    if reduce_axes:
        raise ValueError("nn.vjp(reduce_axes=...) is not supported (JAX removed it from jax.vjp).")

    def run(scopes, *primals):
        lift = Lift(scopes, (vjp_variables, variables), (variables,), (rngs,))
        differentiated, constant = lift.variable_groups
        counters_before = lift.snapshot_counters()

        def evaluate(point):
            lift.restore_counters(counters_before)
            var_values, args = point
            point_scopes = lift.scopes((var_values, constant), lift.rng_groups)
            out = fn(point_scopes, *args)
            y, aux = out if has_aux else (out, ())
            return y, aux, lift.repack(point_scopes)

        y, aux, writes = evaluate((differentiated, primals))
        counters_after = lift.snapshot_counters()
        lift.publish(writes)

        def pullback(cotangent):
            var_grads, input_grads = numeric_vjp(lambda p: evaluate(p)[0], (differentiated, primals), cotangent)
            lift.restore_counters(counters_after)
            # One lifted module: its gradient dict itself, not a 1-tuple of it.
            per_module = var_grads[0] if len(lift.roots) == 1 else var_grads
            return (per_module, *input_grads)

        if has_aux:
            return y, pullback, aux
        return y, pullback

    return run


def vjp(fn: Callable, mdl, *primals, has_aux=False, reduce_axes=(), vjp_variables="params", variables=True, rngs=True):
    """Return ``fn(mdl, *primals)`` and a pullback: ``pullback(ct)`` gives ``(variable_grads, *input_grads)``.

    ``vjp_variables`` picks the differentiated collections. With
    ``has_aux``, ``fn`` returns ``(y, aux)`` and the result is
    ``(y, pullback, aux)``.
    """
    options = dict(has_aux=has_aux, reduce_axes=reduce_axes, vjp_variables=vjp_variables, variables=variables)
    options["rngs"] = rngs
    return transform_direct(vjp_core, (fn,), mdl, *primals, **options)


def custom_vjp_core(fn: Callable, forward_fn: Callable, backward_fn=None, grad_vars="params", nondiff_argnums=()):
    """Scope-level ``custom_vjp``: run ``fn`` forward on lifted scopes; the rule itself is never used here."""

    def run(scopes, *args):
        lift = Lift(scopes, (grad_vars, True), (grad_vars, True), (True,))
        inner_scopes = lift.scopes(lift.variable_groups, lift.rng_groups)
        result = fn(inner_scopes, *args)
        lift.publish(lift.repack(inner_scopes))
        return result

    return run


def custom_vjp(fn: Callable, forward_fn: Callable, backward_fn: Callable, grad_vars="params", nondiff_argnums=()):
    """A function ``call(mdl, *args)`` computing ``fn(mdl, *args)``; in nnref the custom rule is not consulted.

    ``forward_fn`` and ``backward_fn`` are checked and kept so the calls
    match the production backend's (which differentiates through them).
    """

    def core(body, forward_body):
        return custom_vjp_core(body, forward_body, backward_fn, grad_vars, nondiff_argnums)

    def call(mdl, *args):
        return transform_direct(core, (fn, forward_fn), mdl, *args)

    return call


def value_and_grad_core(fn: Callable, has_aux=False, reduce_axes=(), variables=True, rngs=True):
    """Scope-level ``value_and_grad``: ``run(scopes, *primals) -> (y, grads)`` or ``(y, aux, grads)``."""
    if reduce_axes:
        raise ValueError(
            "nn.grad / nn.value_and_grad(reduce_axes=...) is not supported (JAX removed reduce_axes); reduce the "
            "gradients yourself."
        )

    def run(scopes, *primals):
        # One group: every visible collection is a constant, only the primals move.
        lift = Lift(scopes, (variables,), (variables,), (rngs,))
        counters_before = lift.snapshot_counters()

        def evaluate(args):
            lift.restore_counters(counters_before)
            point_scopes = lift.scopes(lift.variable_groups, lift.rng_groups)
            out = fn(point_scopes, *args)
            y, aux = out if has_aux else (out, ())
            return y, aux, lift.repack(point_scopes)

        y, aux, writes = evaluate(primals)
        counters_after = lift.snapshot_counters()
        check_scalar_output(np.shape(y), scopes[-1].path_text if scopes else "/")
        # The gradient of a scalar is its VJP with cotangent 1.
        grads = tuple(numeric_vjp(lambda args: evaluate(args)[0], tuple(primals), np.ones((), np.float64)))
        lift.restore_counters(counters_after)
        lift.publish(writes)
        if has_aux:
            return y, aux, grads
        return y, grads

    return run


def value_and_grad(fn: Callable, mdl, *primals, has_aux=False, reduce_axes=(), variables=True, rngs=True):
    """Return the scalar ``fn(mdl, *primals)`` and a tuple with its gradient for each primal.

    The module's variables are constants here (use ``vjp`` to differentiate
    them). With ``has_aux``, ``fn`` returns ``(value, aux)`` and the result
    is ``((value, aux), grads)``.

    >>> import numpy as np
    >>> import nnref as nn
    >>> class NormSquared(nn.Module):
    ...   @nn.compact
    ...   def __call__(self, v):
    ...     return nn.value_and_grad(lambda m, v: (v ** 2).sum(), nn.Dense(1), v)
    >>> value, (d_v,) = NormSquared().apply({}, np.array([3.0, 4.0], np.float32))
    >>> round(float(value), 3), np.round(d_v, 3).tolist()  # |v|^2 and 2 v
    (25.0, [6.0, 8.0])
    """
    options = dict(has_aux=has_aux, reduce_axes=reduce_axes, variables=variables, rngs=rngs)
    out = transform_direct(value_and_grad_core, (fn,), mdl, *primals, transform_name="value_and_grad", **options)
    if not has_aux:
        return out
    y, aux, grads = out
    return (y, aux), grads


def grad(fn: Callable, mdl, *primals, has_aux=False, reduce_axes=(), variables=True, rngs=True):
    """Only the gradients of ``value_and_grad`` (a tuple, one per primal); ``(grads, aux)`` with ``has_aux``.

    >>> import numpy as np
    >>> import nnref as nn
    >>> class Cubes(nn.Module):
    ...   @nn.compact
    ...   def __call__(self, v):
    ...     return nn.grad(lambda m, v: (v ** 3).sum(), nn.Dense(1), v)
    >>> (d_v,) = Cubes().apply({}, np.array([1.0, -2.0], np.float32))
    >>> np.round(d_v, 3).tolist()  # 3 v^2
    [3.0, 12.0]
    """
    (value, grads) = value_and_grad(
        fn, mdl, *primals, has_aux=has_aux, reduce_axes=reduce_axes, variables=variables, rngs=rngs
    )
    if has_aux:
        return grads, value[1]
    return grads
