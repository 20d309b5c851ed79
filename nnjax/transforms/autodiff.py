"""``nn.jvp``, ``nn.vjp`` and ``nn.custom_vjp``: derivatives through a module's variables.

Inside a module, these differentiate a function of a submodule with respect
to its inputs *and* its variables (a collection filter picks which).

>>> import jax, jax.numpy as jnp
>>> import nnjax as nn
>>> class LearnScale(nn.Module):
...   @nn.compact
...   def __call__(self, x, y):
...     p = self.param('scale', nn.initializers.zeros_init(), ())
...     return p * x * y
>>> class Foo(nn.Module):
...   @nn.compact
...   def __call__(self, x, y):
...     z, bwd = nn.vjp(lambda mdl, x, y: mdl(x, y), LearnScale(), x, y)
...     params_grad, x_grad, y_grad = bwd(jnp.ones(z.shape))
...     return z, params_grad, x_grad, y_grad
>>> x, y = jnp.ones(2), 2 * jnp.ones(2)
>>> variables = Foo().init(jax.random.PRNGKey(0), x, y)
>>> z, params_grad, x_grad, y_grad = Foo().apply(variables, x, y)
>>> params_grad['params']['scale']  # d(sum p*x*y)/dp = sum(x*y)
Array(4., dtype=float32)
"""

from __future__ import annotations

import functools
from typing import Callable

import jax

from nnjax.lift import Lift
from nnjax.transforms.module_forms import single_scope, transform_direct
from shared_spec.transform_args import check_scalar_output


def _per_scope(tree, n: int) -> tuple:
    """A collection dict for one scope, or one per scope, as a tuple of dicts."""
    if n == 1 and isinstance(tree, dict):
        return (tree,)
    return tuple(tree)


def jvp_core(fn: Callable, variable_tangents=None, variables=True, rngs=True):
    def lifted(scopes, primals, tangents):
        scopes = single_scope(scopes)
        var_tangents = tuple(
            {col: t for col, t in vt.items() if t} for vt in _per_scope(variable_tangents or {}, len(scopes))
        )
        target = tuple(sorted(var_tangents[0]))
        lift = Lift(scopes, (target, variables), (variables,), (rngs,))
        jvp_vars, others = lift.variable_groups

        def wrapper(var_primals, args):
            inner = lift.scopes((var_primals, others), lift.rng_groups)
            y = fn(inner, *args)
            return y, lift.repack(inner)

        (y, out_groups), (y_tangent, _) = jax.jvp(wrapper, (jvp_vars, tuple(primals)), (var_tangents, tuple(tangents)))
        lift.publish(out_groups)
        return y, y_tangent

    return lifted


def jvp(fn: Callable, mdl, primals, tangents, variable_tangents, variables=True, rngs=True):
    """``(fn(mdl, *primals), its jvp with tangents)``; ``variable_tangents`` are the variables' tangents.

    ``variable_tangents`` is a dict ``collection -> tangents`` shaped like
    ``mdl.variables`` (a collection left out has zero tangent); no tangents
    are returned for variables. ``variables``/``rngs``: the other
    collections and streams visible in ``fn``.
    """
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


def _unflatten_var_grads(single: bool, bwd, cotangent):
    var_grads, *input_grads = bwd(cotangent)
    return (var_grads[0] if single else var_grads, *input_grads)


def vjp_core(fn: Callable, has_aux=False, reduce_axes=(), vjp_variables="params", variables=True, rngs=True):
    if reduce_axes:
        raise ValueError(
            "nn.vjp(reduce_axes=...) is not supported: JAX removed reduce_axes from jax.vjp; "
            "reduce the cotangents yourself (e.g. lax.psum over the named axis)."
        )

    def lifted(scopes, *primals):
        lift = Lift(scopes, (vjp_variables, variables), (variables,), (rngs,))
        vjp_vars, others = lift.variable_groups

        def wrapper(vjp_vars, *args):
            inner = lift.scopes((vjp_vars, others), lift.rng_groups)
            if has_aux:
                y, aux = fn(inner, *args)
            else:
                y, aux = fn(inner, *args), ()
            return y, (aux, lift.repack(inner))

        y, bwd, (aux, out_groups) = jax.vjp(wrapper, vjp_vars, *primals, has_aux=True)
        lift.publish(out_groups)
        vjp_fn = jax.tree_util.Partial(functools.partial(_unflatten_var_grads, len(lift.roots) == 1), bwd)
        return (y, vjp_fn, aux) if has_aux else (y, vjp_fn)

    return lifted


def vjp(fn: Callable, mdl, *primals, has_aux=False, reduce_axes=(), vjp_variables="params", variables=True, rngs=True):
    """``(fn(mdl, *primals), vjp_fn)``: ``vjp_fn(cotangent)`` gives ``(variable grads, *input grads)``.

    Gradients are returned for the collections ``vjp_variables`` selects
    (default 'params'), as a dict ``collection -> grads``. With
    ``has_aux=True``, ``fn`` returns ``(output, aux)`` and ``vjp`` returns
    ``(output, vjp_fn, aux)``.
    """
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
        grad_variables, others = lift.variable_groups
        single = len(lift.roots) == 1

        def primal(grad_variables, *args):
            inner = lift.scopes((grad_variables, others), lift.rng_groups)
            y = fn(inner, *args)
            return y, lift.repack(inner)

        def forward(grad_variables, *args):
            inner = lift.scopes((grad_variables, others), lift.rng_groups)
            y, residuals = forward_fn(inner, *args)
            return (y, lift.repack(inner)), residuals

        def backward(*args):
            nondiff, (residuals, (y_cotangent, _)) = args[:-2], args[-2:]
            var_cotangents, *input_cotangents = backward_fn(*nondiff, residuals, y_cotangent)
            var_cotangents = (var_cotangents,) if single else tuple(var_cotangents)
            return (var_cotangents, *input_cotangents)

        wrapped = jax.custom_vjp(primal, nondiff_argnums=tuple(nondiff_argnums))
        wrapped.defvjp(forward, backward)
        y, out_groups = wrapped(grad_variables, *args)
        lift.publish(out_groups)
        return y

    return lifted


def custom_vjp(fn: Callable, forward_fn: Callable, backward_fn: Callable, grad_vars="params", nondiff_argnums=()):
    """``fn(mdl, *args)`` with a custom backward pass; returns a function of ``(mdl, *args)``.

    ``forward_fn(mdl, *args)`` returns ``(output, residuals)``;
    ``backward_fn(*nondiff_args, residuals, output_cotangent)`` returns
    ``(variable cotangents, *input cotangents)``, the variable cotangents a
    dict ``collection -> tree`` for the collections ``grad_vars`` selects.
    ``nondiff_argnums`` counts the module as argument 0.

    >>> import jax, jax.numpy as jnp
    >>> import nnjax as nn
    >>> class SignGrad(nn.Module):
    ...   @nn.compact
    ...   def __call__(self, x):
    ...     f = lambda mdl, x: mdl(x)
    ...     fwd = lambda mdl, x: nn.vjp(f, mdl, x)
    ...     def bwd(vjp_fn, y_t):
    ...       params_t, *inputs_t = vjp_fn(y_t)
    ...       return (jax.tree_util.tree_map(jnp.sign, params_t), *inputs_t)
    ...     return nn.custom_vjp(f, forward_fn=fwd, backward_fn=bwd)(nn.Dense(1), x).reshape(())
    >>> x = jnp.ones((2,))
    >>> variables = SignGrad().init(jax.random.PRNGKey(0), x)
    >>> grads = jax.grad(SignGrad().apply)(variables, x)
    >>> [bool(jnp.all(jnp.abs(g) == 1)) for g in jax.tree_util.tree_leaves(grads)]  # signs only
    [True, True]
    """

    def call(mdl, *args):
        return transform_direct(
            lambda body, forward_body: custom_vjp_core(body, forward_body, backward_fn, grad_vars, nondiff_argnums),
            (fn, forward_fn),
            mdl,
            *args,
        )

    return call


def value_and_grad_core(fn: Callable, has_aux=False, reduce_axes=(), variables=True, rngs=True):
    """Scope-level value_and_grad: ``lifted(scopes, *primals)`` -> ``(y, grads)`` or ``(y, aux, grads)``."""
    if reduce_axes:
        raise ValueError(
            "nn.grad / nn.value_and_grad(reduce_axes=...) is not supported: JAX removed "
            "reduce_axes; reduce the gradients yourself (e.g. lax.psum over the named axis)."
        )

    def lifted(scopes, *primals):
        # Only the primals are differentiated: the variables are closed over, as constants.
        lift = Lift(scopes, (variables,), (variables,), (rngs,))

        def wrapper(*args):
            inner = lift.scopes(lift.variable_groups, lift.rng_groups)
            if has_aux:
                y, aux = fn(inner, *args)
            else:
                y, aux = fn(inner, *args), ()
            return y, (aux, lift.repack(inner))

        y, bwd, (aux, out_groups) = jax.vjp(wrapper, *primals, has_aux=True)
        check_scalar_output(jax.numpy.shape(y), scopes[-1].path_text if scopes else "/")
        grads = bwd(jax.numpy.ones_like(y))
        lift.publish(out_groups)
        return (y, aux, grads) if has_aux else (y, grads)

    return lifted


def value_and_grad(fn: Callable, mdl, *primals, has_aux=False, reduce_axes=(), variables=True, rngs=True):
    """``(fn(mdl, *primals), grads)``: the value and its gradient with respect to every primal.

    Unlike ``nn.vjp``, no gradient is taken for the module's variables (they
    are constants here); ``fn`` must return a scalar. ``grads`` is a tuple
    with one entry per primal. With ``has_aux=True``, ``fn`` returns
    ``(value, aux)`` and the result is ``((value, aux), grads)``.
    ``variables``/``rngs``: the collections and streams visible in ``fn``
    (mutable ones written inside are kept, as outside the transform).

    >>> import jax, jax.numpy as jnp
    >>> import nnjax as nn
    >>> class Foo(nn.Module):
    ...   @nn.compact
    ...   def __call__(self, x, y):
    ...     dot = lambda mdl, x, y: jnp.sum(mdl(x) * y)
    ...     return nn.value_and_grad(dot, nn.Dense(2, use_bias=False), x, y)
    >>> x, y = jnp.ones((1, 3)), jnp.ones((1, 2))
    >>> variables = Foo().init(jax.random.PRNGKey(0), x, y)
    >>> value, (x_grad, y_grad) = Foo().apply(variables, x, y)
    >>> kernel = variables['params']['Dense_0']['kernel']
    >>> bool(jnp.allclose(x_grad, kernel.sum(1)))  # d(sum(x @ W * y)) / dx = W @ y
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
    """The gradient of the scalar ``fn(mdl, *primals)`` with respect to every primal (a tuple).

    Same arguments as :func:`value_and_grad`; with ``has_aux=True`` the
    result is ``(grads, aux)``.

    >>> import jax, jax.numpy as jnp
    >>> import nnjax as nn
    >>> class Foo(nn.Module):
    ...   @nn.compact
    ...   def __call__(self, x):
    ...     (x_grad,) = nn.grad(lambda mdl, x: jnp.sum(mdl(x) ** 2), nn.Dense(1, use_bias=False), x)
    ...     return x_grad
    >>> x = jnp.ones((1, 2))
    >>> variables = Foo().init(jax.random.PRNGKey(0), x)
    >>> Foo().apply(variables, x).shape
    (1, 2)
    """
    value, grads = value_and_grad(
        fn, mdl, *primals, has_aux=has_aux, reduce_axes=reduce_axes, variables=variables, rngs=rngs
    )
    return (grads, value[1]) if has_aux else grads
