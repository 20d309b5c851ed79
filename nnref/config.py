"""``nnref.config``: named switches that change library behaviour for the whole program.

A *flag* is a global setting with a name, a default and a help text. Each
flag answers to two names, ``nnref_<name>`` and the seed's
``flax_<name>`` (NNX flags have the one name ``nnx_<name>``), and its value
is decided in this order:

1. at import, the environment variable ``NNREF_<NAME>`` if it is set
   (``1``/``true``/``yes``/``on`` and their opposites);
2. otherwise the flag's default;
3. later, ``update(name, value)`` or, for one ``with`` block only,
   ``override(name, value)``.

The list of flags and the machinery are shared with ``nnjax.config``
(:mod:`shared_spec.config_flags`), but the two tables are separate objects:
a flag set in nnref leaves nnjax's copy alone.

What the flags do here: ``return_frozendict`` (``init``/``apply`` return
a ``FrozenDict``) and ``preserve_adopted_names`` act as in nnjax;
``fix_rng_separator`` exists at its default ``False`` only (``True``
raises). The rest are accepted and read back but change nothing, because
what they switch is absent from nnref: checkpoints
(``use_orbax_checkpointing``), traceback filtering (``filter_frames``),
profiling (``profile``), NNX and its helpers (``max_repr_depth``,
``use_flaxlib``, ``array_ref``, ``pytree_module``,
``always_shard_variable``, ``hijax_variable``, ``nnx_graph_mode``,
``nnx_graph_updates``).

>>> import nnref
>>> nnref.config.flax_return_frozendict                  # step 2: the default
False
>>> import numpy as np
>>> with nnref.config.override('nnref_return_frozendict', True):   # step 3, for a block
...     type(nnref.Dense(2).init(nnref.random.PRNGKey(0), np.ones((1, 2)))).__name__
'FrozenDict'
>>> nnref.config.nnref_return_frozendict
False
"""

from shared_spec import config_flags
from shared_spec.config_flags import SEED_PREFIX, UnknownFlagError, static_bool_env, static_int_env  # noqa: F401

__all__ = list(config_flags.MODULE_API)

#: This table's spelling of flag names; upper-cased, the start of their environment variables.
PREFIX = 'nnref_'


class Config(config_flags.Config):
    """nnref's table of flags. Read a flag as an attribute; change it with :meth:`update`.

    >>> from nnref.config import config
    >>> config.update('flax_preserve_adopted_names', True)     # the seed's spelling...
    >>> config.nnref_preserve_adopted_names                    # ...names the same flag
    True
    >>> config.update('nnref_preserve_adopted_names', False)
    """

    def __init__(self):
        super().__init__(PREFIX)


#: The table every part of nnref reads.
config = Config()


class FlagHolder(config_flags.FlagHolder):
    """A reference to one flag; its ``.value`` is read at the moment you ask.

    >>> from nnref.config import FlagHolder, config
    >>> holder = FlagHolder('flax_preserve_adopted_names')
    >>> with config.override('nnref_preserve_adopted_names', True):
    ...     inside = holder.value
    >>> inside, holder.value
    (True, False)
    """

    def __init__(self, name, table=None):
        super().__init__(name, config if table is None else table)


def define_bool_state(name, default, help):  # noqa: A002 -- the seed's name
    """Add a boolean flag ``nnref_<name>`` to the table (name given without prefix).

    As for the built-in flags, ``NNREF_<NAME>`` in the environment beats
    ``default``. Defining the same flag twice, identically, is harmless;
    with another default or help it is a ``ValueError``.

    >>> from nnref.config import config, define_bool_state
    >>> define_bool_state('trace_shapes', False, 'Print shapes.').name
    'nnref_trace_shapes'
    >>> config.flax_trace_shapes
    False
    """
    return FlagHolder(config_flags.define_prefixed_bool(config, name, default, help))


def bool_flag(name, *, default, help):  # noqa: A002 -- the seed's signature
    """Add a boolean flag, named with either prefix (``'flax_x'`` and ``'nnref_x'`` are one flag).

    >>> from nnref.config import bool_flag, config
    >>> bool_flag('flax_check_finite', default=False, help='Check for NaN.').value
    False
    """
    return FlagHolder(config_flags.define_named(config, name, default, help, 'bool'))


def int_flag(name, *, default, help):  # noqa: A002 -- the seed's signature
    """Add an integer flag (an ``int`` or ``None``), named with either prefix.

    >>> from nnref.config import config, int_flag
    >>> depth = int_flag('nnref_print_depth', default=2, help='Levels to print.')
    >>> config.update('flax_print_depth', None)
    >>> depth.value is None
    True
    """
    return FlagHolder(config_flags.define_named(config, name, default, help, 'int'))


def update(name, value):
    """Set flag ``name`` (either spelling) to ``value`` for the rest of the program.

    >>> from nnref import config
    >>> config.update('nnref_return_frozendict', False)
    """
    config.update(name, value)


#: ``with override(name, value):`` sets a flag inside the block and restores it after.
override = config.override
#: The seed's spelling of :data:`override`, by the flag name without prefix (``'return_frozendict'``).
temp_flip_flag = config.temp_flip_flag

# Reading nnref.config.<flag> as a module attribute asks the table.
__getattr__ = config_flags.module_flag_reader(config, __name__)

_holders = config_flags.define_seed_flags(config)
# Each seed flag also gets a FlagHolder attribute under its bare name
# (nnref.config.return_frozendict.value); nnx_ flags are read by value only.
for _bare_name, _holder in _holders.items():
    if not _bare_name.startswith('nnx_'):
        globals()[_bare_name] = _holder
del _bare_name, _holder
