"""``nnref.config``: the reference backend's global flags, readable and settable at run time.

The same flags as ``nnjax.config`` (the table is
``shared_spec.config_flags.SEED_FLAGS``), under the two spellings that name
one flag: ``nnref_<name>`` and the seed's ``flax_<name>`` (the NNX flags
keep their one name, ``nnx_<name>``). A flag starts from the environment
variable ``NNREF_<NAME>`` when that is set, else from its default, and
``update('nnref_<name>', value)`` changes it while the program runs. Each
backend has its own table: setting a flag in one leaves the other alone.

Flags with an effect in nnref, as in nnjax: ``return_frozendict``,
``preserve_adopted_names``; ``fix_rng_separator`` is
supported at its default ``False`` only (``True`` raises ``ValueError``).

Flags accepted with no effect: ``max_repr_depth`` (only the seed's NNX
repr reads it), ``use_orbax_checkpointing`` (nnref has no
checkpoints), ``filter_frames`` (tracebacks are never rewritten),
``profile`` (nnref has no profiler; ``nn.enable_named_call`` is what switches
named calls on nnjax), ``use_flaxlib``, ``array_ref``, ``pytree_module``,
``always_shard_variable``, ``hijax_variable``, ``nnx_graph_mode`` and
``nnx_graph_updates`` (NNX and its C++ helper library are not part of a
Linen-only library).

>>> config.nnref_return_frozendict
False
>>> with config.override('nnref_return_frozendict', True):
...     config.nnref_return_frozendict
True
>>> update('nnref_return_frozendict', False)
>>> with config.override('flax_use_orbax_checkpointing', True):
...     config.nnref_use_orbax_checkpointing
True
>>> config.flax_max_repr_depth is None
True
"""

from shared_spec import config_flags
from shared_spec.config_flags import SEED_PREFIX, UnknownFlagError, static_bool_env, static_int_env  # noqa: F401

__all__ = [
    'Config',
    'FlagHolder',
    'config',
    'update',
    'override',
    'temp_flip_flag',
    'define_bool_state',
    'bool_flag',
    'int_flag',
    'static_bool_env',
    'static_int_env',
]

#: Flag names start with this; their environment variables with its upper case.
PREFIX = 'nnref_'


class Config(config_flags.Config):
    """The table of flags: ``config.<flag>`` reads one, :meth:`update` sets one.

    >>> config.update('nnref_return_frozendict', True)
    >>> config.nnref_return_frozendict
    True
    >>> config.update('nnref_return_frozendict', False)
    >>> config.help('nnref_return_frozendict').startswith('Whether')
    True
    """

    def __init__(self):
        super().__init__(PREFIX)


#: The one flag table of the library.
config = Config()


class FlagHolder(config_flags.FlagHolder):
    """A handle on one flag; ``.value`` (or ``bool(holder)``) reads it now.

    >>> holder = FlagHolder('nnref_return_frozendict')
    >>> holder.name, holder.value
    ('nnref_return_frozendict', False)
    """

    def __init__(self, name, table=None):
        super().__init__(name, config if table is None else table)


def define_bool_state(name, default, help):  # noqa: A002 -- the seed's name
    """Define flag ``'nnref_' + name``; its start value may come from the environment.

    The environment variable ``'NNREF_' + name.upper()`` overrides
    ``default`` when set. Returns a :class:`FlagHolder`. Defining a flag again
    with the same default and help returns a holder on the existing flag;
    any other redefinition is a ``ValueError``.

    >>> import os
    >>> os.environ['NNREF_DOCTEST_DEMO'] = 'on'
    >>> flag = define_bool_state('doctest_demo', False, 'An example flag.')
    >>> del os.environ['NNREF_DOCTEST_DEMO']
    >>> flag.value, config.nnref_doctest_demo
    (True, True)
    """
    return FlagHolder(config.define(PREFIX + name, bool(default), help).name)


def bool_flag(name, *, default, help):  # noqa: A002 -- the seed's signature
    """Define boolean flag ``name`` (``'flax_x'`` or ``'nnref_x'``, the same flag).

    >>> holder = bool_flag('flax_doctest_bool', default=True, help='An example.')
    >>> holder.name, config.flax_doctest_bool
    ('nnref_doctest_bool', True)
    """
    return FlagHolder(config.define(name, bool(default), help).name)


def int_flag(name, *, default, help):  # noqa: A002 -- the seed's signature
    """Define integer flag ``name`` (an int or ``None``); env ``NNREF_<NAME>`` gives its start.

    >>> holder = int_flag('nnref_doctest_int', default=None, help='An example.')
    >>> update('flax_doctest_int', 4)
    >>> holder.value
    4
    """
    return FlagHolder(config.define(name, default, help, kind='int').name)


def update(name, value):
    """Set flag ``name`` to ``value``: ``update('nnref_return_frozendict', True)``."""
    config.update(name, value)


#: ``with override('nnref_return_frozendict', True): ...`` (either spelling).
override = config.override
#: The seed's ``temp_flip_flag('return_frozendict', True)``: ``override`` by the name without prefix.
temp_flip_flag = config.temp_flip_flag


def __getattr__(name):
    # nnref.config.<flag> reads the flag, like the seed's flax.config.<flag>.
    if name.startswith((PREFIX, SEED_PREFIX, 'nnx_')):
        return getattr(config, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


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
# (The nnx_ flags have no holder here: nnref.config.nnx_graph_mode reads the value.)
