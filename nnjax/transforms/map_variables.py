"""``nn.map_variables``: a module that sees its variables through a function.

``trans_in_fn`` maps the selected collections before the module reads them
(e.g. masking or tying weights); ``trans_out_fn`` maps what the module
wrote back before it is stored (only with ``init=True`` or
``mutable=True``; otherwise the mapped collections are read-only inside).

>>> import jax, jax.numpy as jnp
>>> import nnjax as nn
>>> class CausalDense(nn.Module):
...   features: int
...   def apply_mask(self, variables):
...     if self.is_initializing():
...       return variables
...     return jax.tree_util.tree_map(jnp.triu, variables)
...   def setup(self):
...     Masked = nn.map_variables(nn.Dense, 'params', self.apply_mask, init=self.is_initializing())
...     self.dense = Masked(features=self.features, use_bias=False)
...   def __call__(self, x):
...     return self.dense(x)
>>> module = CausalDense(features=3)
>>> variables = module.init(jax.random.PRNGKey(0), jnp.ones((1, 3)))
>>> y = module.apply(variables, jnp.array([[0., 0., 1.]]))  # the last input reaches only the last output
>>> bool(y[0, 0] == 0 and y[0, 1] == 0)
True
"""

from __future__ import annotations

from typing import Callable

from nnjax.lift import Lift
from nnjax.transforms.module_forms import lift_transform
from shared_spec.collection_filters import subtract_filters


def _identity(x):
    return x


def map_variables_core(
    fn: Callable,
    mapped_collections=True,
    trans_in_fn: Callable = _identity,
    trans_out_fn: Callable = _identity,
    init: bool = False,
    mutable: bool = False,
    rngs=True,
    variables=True,
):
    """Scope-level map_variables: ``lifted(scopes, *args)`` runs ``fn`` over mapped views of the variables."""
    writes_target = bool(mutable or init)
    in_filters = (mapped_collections, variables)
    out_filters = in_filters if writes_target else (False, subtract_filters(variables, mapped_collections))

    def lifted(scopes, *args, **kwargs):
        lift = Lift(scopes, in_filters, out_filters, (rngs,))
        target, others = lift.variable_groups
        if init:
            inner = lift.scopes((target, others), lift.rng_groups)
            if any(s.frame.mutable is not False for s in inner):
                fn(inner, *args, **kwargs)  # create the variables first, then view them
                target, _ = lift.repack(inner)
                target = tuple(trans_out_fn(t) for t in target)
        target = tuple(trans_in_fn(t) for t in target)
        mutable_filter = True if writes_target else subtract_filters(True, mapped_collections)
        inner = lift.scopes((target, others), lift.rng_groups, mutable_filter=mutable_filter)
        y = fn(inner, *args, **kwargs)
        out_target, out_others = lift.repack(inner)
        if writes_target:
            out_target = tuple(trans_out_fn(t) for t in out_target)
        lift.publish((out_target, out_others))
        return y

    return lifted


def map_variables(
    target,
    mapped_collections=True,
    trans_in_fn: Callable = _identity,
    trans_out_fn: Callable = _identity,
    init: bool = False,
    mutable: bool = False,
    rngs=True,
    variables=True,
    methods=None,
):
    """Maps the collections ``mapped_collections`` of a Module class (or function of a module).

    ``trans_in_fn``/``trans_out_fn`` receive and return a dict
    ``collection -> variables``; ``init``: create the variables (unmapped)
    before viewing them; ``mutable``: let the module write the mapped
    collections (through ``trans_out_fn``); ``rngs``/``variables``: the
    streams and other collections visible inside (default all).

    See the module docstring for a masked (causal) Dense layer.
    """
    return lift_transform(
        "map_variables",
        map_variables_core,
        target,
        methods=methods,
        mapped_collections=mapped_collections,
        trans_in_fn=trans_in_fn,
        trans_out_fn=trans_out_fn,
        init=init,
        mutable=mutable,
        rngs=rngs,
        variables=variables,
    )
