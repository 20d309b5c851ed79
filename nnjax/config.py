"""``nnjax.config``: the library's global flags, readable and settable at run time.

Every flag of the seed's ``flax.config`` is here, under two spellings that
name one flag: ``nnjax_<name>`` and the seed's ``flax_<name>``, so seed code
such as ``flax.config.update('flax_use_orbax_checkpointing', True)`` runs
unchanged (the NNX flags keep their one name, ``nnx_<name>``). A flag starts
from the environment variable ``NNJAX_<NAME>`` when that is set (``1/0``,
``true/false``, ``yes/no``, ``on/off``, ``y/n``, ``t/f``, any case; an
integer for ``max_repr_depth``), else from its default, and
``update('nnjax_<name>', value)`` changes it while the program runs.

Unlike the seed's ``flax.config``, this wraps nothing in ``jax.config``:
nnjax flags live only here, and JAX's own options are set with
``jax.config.update`` as usual. ``update`` does not write the environment
variable back. The table itself is ``shared_spec.config_flags.SEED_FLAGS``;
``nnref.config`` defines the same flags.

Flags with an effect in nnjax:

* ``return_frozendict`` (default ``False``): whether ``init`` and ``apply``
  hand back the variables as a ``FrozenDict`` instead of a plain ``dict``.
* ``use_orbax_checkpointing`` (default ``False``, unlike the seed's
  ``True``): whether ``nnjax.training.checkpoints.save_checkpoint*`` write
  Orbax checkpoint directories instead of single msgpack files. Restoring
  reads either format whatever the flag says.
* ``preserve_adopted_names`` (default ``False``): whether a module created
  outside a parent and assigned to one of its fields keeps the name it was
  given.
* ``fix_rng_separator`` (default ``False``): only ``False`` is supported
  (no separator between the parts of an rng stream name, the seed's
  default); setting ``True`` raises ``ValueError``.

Flags accepted with no effect, because what they switch is not part of a
Linen-only library on plain JAX: ``max_repr_depth`` (only the seed's NNX
repr reads it), ``filter_frames`` (nnjax never rewrites
tracebacks), ``profile`` (named calls are switched by
``nn.enable_named_call``/``nn.override_named_call`` instead),
``use_flaxlib``, ``array_ref``, ``pytree_module``,
``always_shard_variable``, ``hijax_variable`` (NNX and its C++ helper
library), ``nnx_graph_mode`` and ``nnx_graph_updates`` (NNX).

>>> config.nnjax_return_frozendict
False
>>> with config.override('nnjax_return_frozendict', True):
...     config.nnjax_return_frozendict
True
>>> update('nnjax_return_frozendict', False)
>>> with config.override('flax_use_orbax_checkpointing', True):
...     config.nnjax_use_orbax_checkpointing
True
>>> config.flax_max_repr_depth is None
True
"""

from shared_spec import config_flags
from shared_spec.config_flags import SEED_PREFIX, UnknownFlagError, static_bool_env, static_int_env  # noqa: F401

__all__ = list(config_flags.MODULE_API)

#: Flag names start with this; their environment variables with its upper case.
PREFIX = 'nnjax_'


class Config(config_flags.Config):
    """The table of flags: ``config.<flag>`` reads one, :meth:`update` sets one.

    >>> config.update('nnjax_return_frozendict', True)
    >>> config.nnjax_return_frozendict
    True
    >>> config.update('nnjax_return_frozendict', False)
    >>> config.help('nnjax_return_frozendict').startswith('Whether')
    True
    """

    def __init__(self):
        super().__init__(PREFIX)


#: The one flag table of the library.
config = Config()


class FlagHolder(config_flags.FlagHolder):
    """A handle on one flag; ``.value`` (or ``bool(holder)``) reads it now.

    >>> holder = FlagHolder('nnjax_return_frozendict')
    >>> holder.name, holder.value
    ('nnjax_return_frozendict', False)
    """

    def __init__(self, name, table=None):
        super().__init__(name, config if table is None else table)


def define_bool_state(name, default, help):  # noqa: A002 -- the seed's name
    """Define flag ``'nnjax_' + name``; its start value may come from the environment.

    The environment variable ``'NNJAX_' + name.upper()`` overrides
    ``default`` when set. Returns a :class:`FlagHolder`. Defining a flag again
    with the same default and help returns a holder on the existing flag;
    any other redefinition is a ``ValueError``.

    >>> import os
    >>> os.environ['NNJAX_DOCTEST_DEMO'] = 'on'
    >>> flag = define_bool_state('doctest_demo', False, 'An example flag.')
    >>> del os.environ['NNJAX_DOCTEST_DEMO']
    >>> flag.value, config.nnjax_doctest_demo
    (True, True)
    """
    return FlagHolder(config_flags.define_prefixed_bool(config, name, default, help))


def bool_flag(name, *, default, help):  # noqa: A002 -- the seed's signature
    """Define boolean flag ``name`` (``'flax_x'`` or ``'nnjax_x'``, the same flag).

    >>> holder = bool_flag('flax_doctest_bool', default=True, help='An example.')
    >>> holder.name, config.flax_doctest_bool
    ('nnjax_doctest_bool', True)
    """
    return FlagHolder(config_flags.define_named(config, name, default, help, 'bool'))


def int_flag(name, *, default, help):  # noqa: A002 -- the seed's signature
    """Define integer flag ``name`` (an int or ``None``); env ``NNJAX_<NAME>`` gives its start.

    >>> holder = int_flag('nnjax_doctest_int', default=None, help='An example.')
    >>> update('flax_doctest_int', 4)
    >>> holder.value
    4
    """
    return FlagHolder(config_flags.define_named(config, name, default, help, 'int'))


def update(name, value):
    """Set flag ``name`` to ``value``: ``update('nnjax_return_frozendict', True)``."""
    config.update(name, value)


#: ``with override('nnjax_return_frozendict', True): ...`` (either spelling).
override = config.override
#: The seed's ``temp_flip_flag('return_frozendict', True)``: ``override`` by the name without prefix.
temp_flip_flag = config.temp_flip_flag


# nnjax.config.<flag> reads the flag, like the seed's flax.config.<flag>.
__getattr__ = config_flags.module_flag_reader(config, __name__)

_holders = config_flags.define_seed_flags(config)
# One holder per flag, by the flag's name without prefix (``return_frozendict.value``).
filter_frames = _holders['filter_frames']
profile = _holders['profile']
use_orbax_checkpointing = _holders['use_orbax_checkpointing']
preserve_adopted_names = _holders['preserve_adopted_names']
return_frozendict = _holders['return_frozendict']
fix_rng_separator = _holders['fix_rng_separator']
max_repr_depth = _holders['max_repr_depth']
use_flaxlib = _holders['use_flaxlib']
array_ref = _holders['array_ref']
pytree_module = _holders['pytree_module']
always_shard_variable = _holders['always_shard_variable']
hijax_variable = _holders['hijax_variable']
# (The nnx_ flags have no holder here: nnjax.config.nnx_graph_mode reads the value.)
