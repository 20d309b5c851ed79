"""``nnjax.training.train_state``: parameters, optimizer and step in one pytree.

A training loop carries three things from step to step: the parameters, the
state of the Optax optimizer that updates them, and a step counter.
:class:`TrainState` bundles them, together with two static companions that
are not data (the model's ``apply`` function and the optimizer itself), so a
whole ``train_step(state, batch) -> state`` can be ``jax.jit``-compiled and
the state saved with ``nnjax.training.checkpoints``.

Extra per-run data (BatchNorm statistics, a dropout key, an EMA of the
weights, ...) goes into a subclass with more fields::

    class TrainState(train_state.TrainState):
        batch_stats: Any

>>> import jax, jax.numpy as jnp, optax
>>> state = TrainState.create(apply_fn=None, params={'w': jnp.ones(2)},
...                           tx=optax.sgd(0.5))
>>> state = state.apply_gradients(grads={'w': jnp.array([1.0, -2.0])})
>>> state.step, state.params['w']
(1, Array([0.5, 2. ], dtype=float32))
"""

from typing import Any, Callable

import jax
import optax

from nnjax import struct

__all__ = ['TrainState']


class TrainState(struct.PyTreeNode):
    """The state of a training run with a single Optax optimizer.

    Fields, in positional order:

    * ``step``: how many times :meth:`apply_gradients` has run (starts at 0).
    * ``apply_fn`` (static): usually ``model.apply``, kept here so a train
      step needs only ``state`` and the batch.
    * ``params``: the parameters ``tx`` updates and ``apply_fn`` uses.
    * ``tx`` (static): an ``optax.GradientTransformation``.
    * ``opt_state``: the optimizer state, as ``tx.init(params)`` made it.

    ``apply_fn`` and ``tx`` are static fields: not leaves of the pytree, not
    saved in checkpoints, and part of ``jit``'s cache key (they must be
    hashable, which functions and Optax transformations are).

    Subclass it to carry more fields; :meth:`create` and
    :meth:`apply_gradients` pass them through as keyword arguments.

    >>> import jax, jax.numpy as jnp, optax
    >>> from typing import Any
    >>> class BNTrainState(TrainState):
    ...     batch_stats: Any
    >>> state = BNTrainState.create(apply_fn=None, params={'w': jnp.zeros(2)},
    ...                             tx=optax.sgd(1.0),
    ...                             batch_stats={'mean': jnp.zeros(2)})
    >>> step = jax.jit(lambda s, g: s.apply_gradients(
    ...     grads=g, batch_stats={'mean': s.batch_stats['mean'] + 1}))
    >>> state = step(state, {'w': jnp.ones(2)})
    >>> int(state.step), state.params['w'], state.batch_stats['mean']
    (1, Array([-1., -1.], dtype=float32), Array([1., 1.], dtype=float32))
    """

    step: Any
    apply_fn: Callable = struct.field(pytree_node=False)
    params: Any = struct.field(pytree_node=True)
    tx: Any = struct.field(pytree_node=False)
    opt_state: Any = struct.field(pytree_node=True)

    @classmethod
    def create(cls, *, apply_fn, params, tx, **kwargs):
        """A new state at ``step=0`` with ``opt_state = tx.init(params)``.

        Args:
          apply_fn: the function that runs the model, usually ``model.apply``.
          params: the parameters to train (e.g. ``variables['params']``).
          tx: an ``optax.GradientTransformation``.
          **kwargs: values for the extra fields of a subclass.

        >>> import jax.numpy as jnp, optax
        >>> state = TrainState.create(apply_fn=None, params={'w': jnp.zeros(3)},
        ...                           tx=optax.adam(1e-3))
        >>> state.step, type(state.opt_state[0]).__name__
        (0, 'ScaleByAdamState')
        """
        if not (hasattr(tx, 'init') and hasattr(tx, 'update')):
            raise TypeError(
                f'TrainState.create: tx must be an optax.GradientTransformation '
                f'(with .init and .update), got {type(tx).__name__}. Pass e.g. '
                'tx=optax.adam(1e-3).')
        opt_state = tx.init(params)
        return cls(step=0, apply_fn=apply_fn, params=params, tx=tx,
                   opt_state=opt_state, **kwargs)

    def apply_gradients(self, *, grads, **kwargs):
        """One optimizer step: a new state with updated params and ``step + 1``.

        Runs ``updates, opt_state = tx.update(grads, opt_state, params)``
        then ``params = optax.apply_updates(params, updates)``; ``kwargs``
        replace further fields (e.g. ``batch_stats=...``) in the same step.
        ``self`` is not changed.

        Args:
          grads: gradients with the same pytree structure as ``params``.
          **kwargs: other fields to ``.replace()``.

        >>> import jax.numpy as jnp, optax
        >>> state = TrainState.create(apply_fn=None, params=jnp.array(1.0),
        ...                           tx=optax.sgd(0.25))
        >>> new = state.apply_gradients(grads=jnp.array(2.0))
        >>> new.step, float(new.params), float(state.params)
        (1, 0.5, 1.0)
        """
        grads_tree = jax.tree_util.tree_structure(grads)
        params_tree = jax.tree_util.tree_structure(self.params)
        if grads_tree != params_tree:
            raise ValueError(
                'TrainState.apply_gradients: grads must have the same pytree '
                f'structure as params.\n  params: {params_tree}\n  grads:  '
                f'{grads_tree}\nTake the gradient with respect to '
                'state.params (e.g. jax.grad(loss)(state.params, ...)).')
        updates, new_opt_state = self.tx.update(grads, self.opt_state,
                                                self.params)
        new_params = optax.apply_updates(self.params, updates)
        return self.replace(step=self.step + 1, params=new_params,
                            opt_state=new_opt_state, **kwargs)
