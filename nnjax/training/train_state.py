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
import jax.numpy as jnp
import numpy as np
import optax

from nnjax import struct
from nnjax.fp8 import OVERWRITE_WITH_GRADIENT
from shared_spec.frozen_dict import FrozenDict

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
          params: the parameters to train (e.g. ``variables['params']``),
            or a variables dict ``{'params': ..., '_overwrite_with_gradient':
            ...}``; then ``tx`` sees only ``'params'``.
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
                'tx=optax.adam(1e-3).'
            )
        # Variables that are overwritten by their gradient (fp8 scales and
        # amax histories) get no optimizer state.
        opt_state = tx.init(_optimized_part(params))
        return cls(step=0, apply_fn=apply_fn, params=params, tx=tx, opt_state=opt_state, **kwargs)

    def apply_gradients(self, *, grads, check_finite=False, **kwargs):
        """One optimizer step: a new state with updated params and ``step + 1``.

        Runs ``updates, opt_state = tx.update(grads, opt_state, params)``
        then ``params = optax.apply_updates(params, updates)``; ``kwargs``
        replace further fields (e.g. ``batch_stats=...``) in the same step.
        ``self`` is not changed.

        fp8 layers (``nn.fp8_ops``) keep scales and amax histories in the
        ``'_overwrite_with_gradient'`` collection, whose "gradient" is their
        next value. When ``grads`` has that key, ``params`` must be the whole
        variables dict ``{'params': ..., '_overwrite_with_gradient': ...}``
        (as passed to :meth:`create`): ``tx`` updates ``'params'`` only, and
        the other collection is replaced by its gradient.

        ``grads`` must have the pytree structure of ``params`` and, leaf by
        leaf, the same shape (nothing is broadcast) and the same kind of
        dtype: a complex gradient for a real parameter (its imaginary part
        would be dropped) or a float gradient for an integer one is refused
        with ``ValueError`` naming the first such leaf, e.g.
        ``'Dense_0/kernel'``. Floating-point widths may differ (float32
        gradients for bfloat16 parameters are cast, as optax does). These
        checks read only shapes and dtypes, so under ``jax.jit`` they run
        once, at trace time.

        Args:
          grads: gradients with the same pytree structure as ``params``.
          check_finite: also check that every gradient is finite (no NaN or
            inf), naming the first leaf that is not. Costs one reduction per
            leaf each step, hence opt-in. With concrete gradients (outside
            ``jit``) it raises ``ValueError``. Under ``jit`` the values are
            not known when the Python code runs, so the check runs on the host
            through ``jax.debug.callback``: the step then fails when it
            executes, and JAX reports the same message inside a
            ``jax.errors.JaxRuntimeError``.
          **kwargs: other fields to ``.replace()``.

        >>> import jax.numpy as jnp, optax
        >>> state = TrainState.create(apply_fn=None, params=jnp.array(1.0),
        ...                           tx=optax.sgd(0.25))
        >>> new = state.apply_gradients(grads=jnp.array(2.0))
        >>> new.step, float(new.params), float(state.params)
        (1, 0.5, 1.0)
        >>> state.apply_gradients(grads={'w': jnp.ones(2)})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: TrainState.apply_gradients: grads must have the same pytree structure as params...
        """
        params_leaves, params_tree = jax.tree_util.tree_flatten(self.params)
        grads_leaves, grads_tree = jax.tree_util.tree_flatten(grads)
        if grads_tree != params_tree:
            raise ValueError(
                'TrainState.apply_gradients: grads must have the same pytree '
                f'structure as params.\n  params: {params_tree}\n  grads:  '
                f'{grads_tree}\nTake the gradient with respect to '
                'state.params (e.g. jax.grad(loss)(state.params, ...)).'
            )
        _check_leaves(self.params, params_leaves, grads_leaves)
        if check_finite:
            _check_finite(self.params, grads_leaves)
        if _has_overwrite(grads):
            _check_overwrite_layout(self.params)
            opt_params = self.params['params']
            updates, new_opt_state = self.tx.update(grads['params'], self.opt_state, opt_params)
            # The gradient of these variables is their next value.
            new_params = {
                'params': optax.apply_updates(opt_params, updates),
                OVERWRITE_WITH_GRADIENT: grads[OVERWRITE_WITH_GRADIENT],
            }
            if isinstance(self.params, FrozenDict):
                new_params = FrozenDict(new_params)
        else:
            updates, new_opt_state = self.tx.update(grads, self.opt_state, self.params)
            new_params = optax.apply_updates(self.params, updates)
        return self.replace(step=self.step + 1, params=new_params, opt_state=new_opt_state, **kwargs)


# --- the overwrite-with-gradient collection -----------------------------------


def _has_overwrite(tree) -> bool:
    """Whether ``tree`` is a dict-like holding the overwrite collection."""
    return hasattr(tree, 'keys') and OVERWRITE_WITH_GRADIENT in tree.keys()


def _optimized_part(params):
    """The part of ``params`` the optimizer updates (all, or ``'params'``)."""
    if _has_overwrite(params):
        _check_overwrite_layout(params)
        return params['params']
    return params


def _check_overwrite_layout(params):
    extra = sorted(str(k) for k in params.keys() if k not in ('params', OVERWRITE_WITH_GRADIENT))
    if 'params' not in params.keys() or extra:
        raise ValueError(
            f"TrainState: with an '{OVERWRITE_WITH_GRADIENT}' collection, "
            "params must be {'params': ..., "
            f"'{OVERWRITE_WITH_GRADIENT}': ...}}; got the keys "
            f'{sorted(str(k) for k in params.keys())}. Keep other collections '
            '(e.g. batch_stats) in their own TrainState field.'
        )


# --- gradient checks ----------------------------------------------------------


def _leaf_path(params, index):
    """The ``'a/b/c'`` path of leaf ``index`` of ``params`` (only on errors)."""
    path, _ = jax.tree_util.tree_flatten_with_path(params)[0][index]
    parts = []
    for key in path:
        for attr in ('key', 'idx', 'name'):
            if hasattr(key, attr):
                parts.append(str(getattr(key, attr)))
                break
        else:
            parts.append(str(key))
    return '/'.join(parts) or '<root>'


def _shape(x):
    shape = getattr(x, 'shape', None)
    return tuple(shape) if shape is not None else np.shape(x)


def _dtype(x):
    dtype = getattr(x, 'dtype', None)
    return dtype if dtype is not None else np.result_type(type(x))


def _kind(dtype):
    if dtype == jax.dtypes.float0:
        return 'float0'
    if jnp.issubdtype(dtype, jnp.complexfloating):
        return 'complex'
    if jnp.issubdtype(dtype, jnp.floating):
        return 'floating'
    if jnp.issubdtype(dtype, jnp.integer) or dtype == np.bool_:
        return 'integer'
    return str(dtype)


def _check_leaves(params, params_leaves, grads_leaves):
    for i, (p, g) in enumerate(zip(params_leaves, grads_leaves)):
        p_shape, g_shape = _shape(p), _shape(g)
        if p_shape != g_shape:
            raise ValueError(
                f"TrainState.apply_gradients: the gradient of '"
                f"{_leaf_path(params, i)}' has shape {g_shape}, but the "
                f'parameter has shape {p_shape}; gradients are not broadcast. '
                'Take the gradient with respect to state.params.'
            )
        p_dtype, g_dtype = _dtype(p), _dtype(g)
        if p_dtype == g_dtype:
            continue
        p_kind, g_kind = _kind(p_dtype), _kind(g_dtype)
        if p_kind == g_kind or (g_kind == 'float0' and p_kind == 'integer'):
            continue
        hint = ' (its imaginary part would be dropped)' if g_kind == 'complex' else ''
        raise ValueError(
            f"TrainState.apply_gradients: the gradient of '"
            f"{_leaf_path(params, i)}' has dtype {g_dtype}{hint}, but the "
            f'parameter has dtype {p_dtype}. Gradients must have the '
            "parameter's kind of dtype; take the gradient with respect to "
            'state.params, or cast it (e.g. jnp.real(g)) on purpose.'
        )


def _check_finite(params, grads_leaves):
    if not grads_leaves:
        return
    finite = [jnp.all(jnp.isfinite(g)) for g in grads_leaves]
    concrete = not any(isinstance(f, jax.core.Tracer) for f in finite)
    paths = None if concrete else [_leaf_path(params, i) for i in range(len(grads_leaves))]

    def report(flags, names):
        bad = [i for i, ok in enumerate(flags) if not ok]
        if bad:
            name = names[bad[0]] if names is not None else _leaf_path(params, bad[0])
            raise ValueError(
                f"TrainState.apply_gradients(check_finite=True): the gradient "
                f"of '{name}' is not finite (NaN or inf); {len(bad)} of "
                f'{len(flags)} gradient leaves are. Look for a diverging '
                'loss, a log/sqrt/division of zero, or lower the learning rate.'
            )

    if concrete:
        report([bool(f) for f in finite], None)
    else:
        jax.debug.callback(lambda flags: report(list(np.asarray(flags)), paths), jnp.stack(finite))
