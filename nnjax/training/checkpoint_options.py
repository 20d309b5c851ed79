"""The arguments ``save_checkpoint*`` and ``restore_checkpoint`` share: the Orbax checkpointer and ``gda_manager``.

The seed spells the Orbax checkpointer argument two ways
(``orbax_checkpointer`` and the API reference's ``orbax_checkpointers``);
both are accepted, not both at once. ``gda_manager`` (GlobalDeviceArray
checkpoints, deprecated in the seed for Orbax) is refused.
"""


def refuse_gda_manager(gda_manager):
    """Raise ``ValueError`` unless ``gda_manager`` is None (GlobalDeviceArray checkpoints are not supported)."""
    if gda_manager is not None:
        raise ValueError(
            'gda_manager is not supported by nnjax.training.checkpoints: '
            'GlobalDeviceArray checkpoints are deprecated in the seed system '
            'in favour of Orbax. Leave gda_manager=None; arrays sharded over '
            'several processes are written by Orbax, each process writing its '
            'own shards (pass orbax_checkpointer= to choose the checkpointer).'
        )


def orbax_checkpointer_arg(orbax_checkpointer, orbax_checkpointers):
    """The Orbax checkpointer given under either of the seed's two names."""
    if orbax_checkpointer is not None and orbax_checkpointers is not None:
        raise TypeError('Pass orbax_checkpointer or its older spelling orbax_checkpointers, not both.')
    checkpointer = orbax_checkpointer if orbax_checkpointer is not None else orbax_checkpointers
    if checkpointer is not None and not (
        callable(getattr(checkpointer, 'save', None)) and callable(getattr(checkpointer, 'restore', None))
    ):
        raise TypeError(
            'orbax_checkpointer must be an orbax.checkpoint checkpointer, e.g. '
            'orbax.checkpoint.PyTreeCheckpointer() or orbax.checkpoint.'
            'AsyncCheckpointer(orbax.checkpoint.PyTreeCheckpointHandler()); got '
            f'{type(checkpointer).__name__}.'
        )
    return checkpointer
