"""``nnjax.training``: what a training loop needs around a model.

* :mod:`~nnjax.training.train_state`: ``TrainState``, parameters, Optax
  optimizer state and step in one jit-able, checkpointable pytree.
* :mod:`~nnjax.training.checkpoints`: crash-safe checkpoints, as msgpack
  files in the seed system's format or as Orbax directories (sharded,
  multi-process, asynchronous).
* :mod:`~nnjax.training.orbax_utils`: Orbax save/restore arguments from a
  target tree.
* :mod:`~nnjax.training.lr_schedule`: the seed's epoch-based learning-rate
  schedules.
* :mod:`~nnjax.training.early_stopping`: ``EarlyStopping``.
* :mod:`~nnjax.training.common_utils`: sharding, metrics and one-hot helpers
  for ``pmap`` loops.

>>> import optax
>>> from nnjax import serialization
>>> from nnjax.training import train_state
>>> state = train_state.TrainState.create(apply_fn=None, params={'w': 1.0},
...                                       tx=optax.sgd(0.1))
>>> sorted(serialization.to_state_dict(state))
['opt_state', 'params', 'step']
"""

from nnjax.training import checkpoints, common_utils, early_stopping, lr_schedule, orbax_utils, train_state  # noqa: F401
