"""``nn.jvp``, ``nn.vjp`` and ``nn.custom_vjp`` in nnref, by central differences in float64.

nnref has no automatic differentiation. Derivatives are computed
numerically: the differentiated variables and inputs are promoted to
float64 and each is perturbed by ``±h`` (``h = eps ** (1/3) * max(1, |x|)``,
the step that balances truncation and rounding error of a central
difference); a JVP is one central difference along the tangent, a VJP one
per input element. Results are cast back to the inputs' dtypes.
Conformance compares the production backend's autodiff to these within
the ``'derivative'`` tolerance of ``shared_spec.tolerances``.

``custom_vjp`` runs ``fn`` forward; since finite differences see only the
function, a surrounding nnref ``vjp``/``jvp`` differentiates it as written,
not through the custom backward rule.

>>> import numpy as np
>>> import nnref as nn
>>> class LearnScale(nn.Module):
...   @nn.compact
...   def __call__(self, x, y):
...     p = self.param('scale', nn.initializers.zeros_init(), ())
...     return p * x * y
>>> class Foo(nn.Module):
...   @nn.compact
...   def __call__(self, x, y):
...     z, bwd = nn.vjp(lambda mdl, x, y: mdl(x, y), LearnScale(), x, y)
...     params_grad, x_grad, y_grad = bwd(np.ones(z.shape, np.float32))
...     return z, params_grad, x_grad, y_grad
>>> x, y = np.ones(2, np.float32), 2 * np.ones(2, np.float32)
>>> variables = Foo().init(nn.random.PRNGKey(0), x, y)
>>> z, params_grad, x_grad, y_grad = Foo().apply(variables, x, y)
>>> round(float(params_grad['params']['scale']), 4)  # sum(x * y)
4.0
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from nnref.lift import Lift
from nnref.transforms.module_forms import single_scope, transform_direct
from nnref.tree_util import tree_flatten, tree_unflatten
from shared_spec.transform_args import check_scalar_output

_STEP = np.finfo(np.float64).eps ** (1 / 3)


def _is_float(x) -> bool:
    return np.issubdtype(np.asarray(x).dtype, np.inexact)


def _as64(tree):
    leaves, treedef = tree_flatten(tree)
    return tree_unflatten(treedef, [np.asarray(x, np.float64) if _is_float(x) else x for x in leaves])


def _flat_output(y) -> np.ndarray:
    leaves, _ = tree_flatten(y)
    return np.concatenate([np.ravel(np.asarray(x, np.float64)) for x in leaves]) if leaves else np.zeros(0)


def numeric_vjp(f: Callable, inputs, cotangent):
    """The vector-Jacobian product of ``f`` at ``inputs`` with ``cotangent``, by central differences."""
    leaves, treedef = tree_flatten(inputs)
    leaves64 = [np.array(x, np.float64) if _is_float(x) else x for x in leaves]
    ct = _flat_output(cotangent)
    grads = []
    for index, leaf in enumerate(leaves64):
        if not _is_float(leaf):
            grads.append(np.zeros(np.shape(leaf), np.float32))
            continue
        grad = np.zeros(np.shape(leaf), np.float64)
        for position in np.ndindex(*np.shape(leaf)):
            h = _STEP * max(1.0, abs(float(leaf[position])))
            sides = []
            for sign in (1.0, -1.0):
                shifted = [np.array(x, copy=True) if i == index else x for i, x in enumerate(leaves64)]
                shifted[index][position] += sign * h
                sides.append(_flat_output(f(tree_unflatten(treedef, shifted))))
            grad[position] = ct @ ((sides[0] - sides[1]) / (2 * h))
        grads.append(grad.astype(np.asarray(leaves[index]).dtype))
    return tree_unflatten(treedef, grads)


def numeric_jvp(f: Callable, inputs, tangents):
    """``(f(inputs), its directional derivative along tangents)``, by one central difference."""
    leaves, treedef = tree_flatten(inputs)
    t_leaves, _ = tree_flatten(tangents)
    scale = max([1.0] + [float(np.max(np.abs(x))) for x in leaves if _is_float(x) and np.size(x)])
    norm = max([0.0] + [float(np.max(np.abs(t))) for t in t_leaves if np.size(t)])
    y = f(inputs)
    if norm == 0.0:
        return y, _zeros_like(y)
    h = _STEP * scale / norm
    sides = []
    for sign in (1.0, -1.0):
        moved = [
            np.asarray(x, np.float64) + sign * h * np.asarray(t, np.float64) if _is_float(x) else x
            for x, t in zip(leaves, t_leaves)
        ]
        sides.append(tree_flatten(f(tree_unflatten(treedef, moved)))[0])
    y_leaves, y_def = tree_flatten(y)
    out = [((a - b) / (2 * h)).astype(np.asarray(ref).dtype) for a, b, ref in zip(sides[0], sides[1], y_leaves)]
    return y, tree_unflatten(y_def, out)


def _zeros_like(tree):
    leaves, treedef = tree_flatten(tree)
    return tree_unflatten(treedef, [np.zeros_like(np.asarray(x)) for x in leaves])


def jvp_core(fn: Callable, variable_tangents=None, variables=True, rngs=True):
    def lifted(scopes, primals, tangents):
        scopes = single_scope(scopes)
        var_tangents = ({c: t for c, t in (variable_tangents or {}).items() if t},)
        target = tuple(sorted(var_tangents[0]))
        lift = Lift(scopes, (target, variables), (variables,), (rngs,))
        jvp_vars, others = lift.variable_groups
        counts = lift.snapshot_counters()

        def evaluate(inputs):
            lift.restore_counters(counts)
            var_primals, args = inputs
            inner = lift.scopes((var_primals, others), lift.rng_groups)
            y = fn(inner, *args)
            return y, lift.repack(inner)

        y, out_groups = evaluate((jvp_vars, tuple(primals)))
        after = lift.snapshot_counters()
        _, y_tangent = numeric_jvp(
            lambda inputs: evaluate(inputs)[0],
            (jvp_vars, tuple(primals)),
            (_fill_tangents(jvp_vars, var_tangents), tuple(tangents)),
        )
        lift.restore_counters(after)
        lift.publish(out_groups)
        return y, y_tangent

    return lifted


def _fill_tangents(jvp_vars, var_tangents):
    return tuple({c: var_tangents[0].get(c, _zeros_like(tree)) for c, tree in group.items()} for group in jvp_vars)


def jvp(fn: Callable, mdl, primals, tangents, variable_tangents, variables=True, rngs=True):
    """``(fn(mdl, *primals), its jvp)`` by central differences (see the module docstring)."""
    return transform_direct(
        jvp_core,
        (fn,),
        mdl,
        tuple(primals),
        tuple(tangents),
        variable_tangents=variable_tangents,
        variables=variables,
        rngs=rngs,
    )


def vjp_core(fn: Callable, has_aux=False, reduce_axes=(), vjp_variables="params", variables=True, rngs=True):
    if reduce_axes:
        raise ValueError("nn.vjp(reduce_axes=...) is not supported (JAX removed it from jax.vjp).")

    def lifted(scopes, *primals):
        lift = Lift(scopes, (vjp_variables, variables), (variables,), (rngs,))
        vjp_vars, others = lift.variable_groups
        counts = lift.snapshot_counters()
        single = len(lift.roots) == 1

        def evaluate(inputs):
            lift.restore_counters(counts)
            var_primals, args = inputs
            inner = lift.scopes((var_primals, others), lift.rng_groups)
            out = fn(inner, *args)
            y, aux = out if has_aux else (out, ())
            return y, aux, lift.repack(inner)

        y, aux, out_groups = evaluate((vjp_vars, primals))
        after = lift.snapshot_counters()
        lift.publish(out_groups)

        def vjp_fn(cotangent):
            var_grads, input_grads = numeric_vjp(lambda inputs: evaluate(inputs)[0], (vjp_vars, primals), cotangent)
            lift.restore_counters(after)
            return (var_grads[0] if single else var_grads, *input_grads)

        return (y, vjp_fn, aux) if has_aux else (y, vjp_fn)

    return lifted


def vjp(fn: Callable, mdl, *primals, has_aux=False, reduce_axes=(), vjp_variables="params", variables=True, rngs=True):
    """``(fn(mdl, *primals), vjp_fn)`` by central differences (see the module docstring)."""
    return transform_direct(
        vjp_core,
        (fn,),
        mdl,
        *primals,
        has_aux=has_aux,
        reduce_axes=reduce_axes,
        vjp_variables=vjp_variables,
        variables=variables,
        rngs=rngs,
    )


def custom_vjp_core(fn: Callable, forward_fn: Callable, backward_fn=None, grad_vars="params", nondiff_argnums=()):
    def lifted(scopes, *args):
        lift = Lift(scopes, (grad_vars, True), (grad_vars, True), (True,))
        inner = lift.scopes(lift.variable_groups, lift.rng_groups)
        y = fn(inner, *args)
        lift.publish(lift.repack(inner))
        return y

    return lifted


def custom_vjp(fn: Callable, forward_fn: Callable, backward_fn: Callable, grad_vars="params", nondiff_argnums=()):
    """``fn(mdl, *args)`` with a custom backward rule; nnref runs ``fn`` forward (see the module docstring)."""

    def call(mdl, *args):
        return transform_direct(
            lambda body, forward_body: custom_vjp_core(body, forward_body, backward_fn, grad_vars, nondiff_argnums),
            (fn, forward_fn),
            mdl,
            *args,
        )

    return call


def value_and_grad_core(fn: Callable, has_aux=False, reduce_axes=(), variables=True, rngs=True):
    if reduce_axes:
        raise ValueError(
            "nn.grad / nn.value_and_grad(reduce_axes=...) is not supported (JAX removed "
            "reduce_axes); reduce the gradients yourself."
        )

    def lifted(scopes, *primals):
        # Only the primals are differentiated: the variables are constants here.
        lift = Lift(scopes, (variables,), (variables,), (rngs,))
        counts = lift.snapshot_counters()

        def evaluate(args):
            lift.restore_counters(counts)
            inner = lift.scopes(lift.variable_groups, lift.rng_groups)
            out = fn(inner, *args)
            y, aux = out if has_aux else (out, ())
            return y, aux, lift.repack(inner)

        y, aux, out_groups = evaluate(primals)
        after = lift.snapshot_counters()
        check_scalar_output(np.shape(y), scopes[-1].path_text if scopes else "/")
        grads = numeric_vjp(lambda args: evaluate(args)[0], tuple(primals), np.ones((), np.float64))
        lift.restore_counters(after)
        lift.publish(out_groups)
        return (y, aux, tuple(grads)) if has_aux else (y, tuple(grads))

    return lifted


def value_and_grad(fn: Callable, mdl, *primals, has_aux=False, reduce_axes=(), variables=True, rngs=True):
    """``(fn(mdl, *primals), grads)``: the scalar value and its gradient for every primal, by central differences.

    No gradient is taken for the module's variables; ``grads`` has one
    entry per primal; with ``has_aux=True`` the result is
    ``((value, aux), grads)`` (the production backend's semantics).

    >>> import numpy as np
    >>> import nnref as nn
    >>> class Foo(nn.Module):
    ...   @nn.compact
    ...   def __call__(self, x):
    ...     return nn.value_and_grad(lambda mdl, x: (mdl(x) ** 2).sum(), nn.Dense(1, use_bias=False), x)
    >>> x = np.ones((1, 2), np.float32)
    >>> variables = Foo().init(nn.random.PRNGKey(0), x)
    >>> value, (x_grad,) = Foo().apply(variables, x)
    >>> w = variables['params']['Dense_0']['kernel']
    >>> bool(np.allclose(x_grad, 2 * (x @ w) @ w.T, atol=1e-4))  # d|xW|^2/dx = 2 (xW) W^T
    True
    """
    out = transform_direct(
        value_and_grad_core,
        (fn,),
        mdl,
        *primals,
        has_aux=has_aux,
        reduce_axes=reduce_axes,
        variables=variables,
        rngs=rngs,
        transform_name="value_and_grad",
    )
    if has_aux:
        y, aux, grads = out
        return (y, aux), grads
    return out


def grad(fn: Callable, mdl, *primals, has_aux=False, reduce_axes=(), variables=True, rngs=True):
    """The gradient of the scalar ``fn(mdl, *primals)`` for every primal (a tuple); ``(grads, aux)`` with ``has_aux``.

    >>> import numpy as np
    >>> import nnref as nn
    >>> class Foo(nn.Module):
    ...   @nn.compact
    ...   def __call__(self, x):
    ...     return nn.grad(lambda mdl, x: (x ** 3).sum(), nn.Dense(1), x)
    >>> x = np.array([1., 2.], np.float32)
    >>> (x_grad,) = Foo().apply({}, x)
    >>> np.round(x_grad, 3).tolist()  # 3 x^2
    [3.0, 12.0]
    """
    value, grads = value_and_grad(
        fn, mdl, *primals, has_aux=has_aux, reduce_axes=reduce_axes, variables=variables, rngs=rngs
    )
    return (grads, value[1]) if has_aux else grads
