"""``nnjax.config``: the library's global flags, readable and settable at run time.

Every flag is a boolean named ``nnjax_<name>``. It starts from the environment
variable ``NNJAX_<NAME>`` when that is set (``1/0``, ``true/false``,
``yes/no``, ``on/off``, ``y/n``, ``t/f``, any case), else from its default,
and ``update('nnjax_<name>', value)`` changes it while the program runs.

Unlike the seed's ``flax.config``, this wraps nothing in ``jax.config``: nnjax
flags live only here, and JAX's own options are set with
``jax.config.update`` as usual. ``update`` does not write the environment
variable back.

Every flag also answers to the seed's spelling, ``flax_<name>``, so seed code
such as ``flax.config.update('flax_use_orbax_checkpointing', True)`` runs
unchanged; the two names are one flag.

Flags:

* ``nnjax_return_frozendict`` (default ``False``, env
  ``NNJAX_RETURN_FROZENDICT``): whether ``init`` and ``apply`` hand back the
  variables as a ``FrozenDict`` instead of a plain ``dict`` (the seed system
  returns plain dicts by default).
* ``nnjax_use_orbax_checkpointing`` (default ``False``, env
  ``NNJAX_USE_ORBAX_CHECKPOINTING``): whether
  ``nnjax.training.checkpoints.save_checkpoint*`` write Orbax checkpoint
  directories instead of single msgpack files. Restoring reads either
  format whatever the flag says.

>>> config.nnjax_return_frozendict
False
>>> with config.override('nnjax_return_frozendict', True):
...     config.nnjax_return_frozendict
True
>>> update('nnjax_return_frozendict', False)
>>> with config.override('flax_use_orbax_checkpointing', True):
...     config.nnjax_use_orbax_checkpointing
True
"""

import contextlib
import os

__all__ = ['Config', 'FlagHolder', 'config', 'update', 'define_bool_state',
           'static_bool_env']

_TRUE_WORDS = ('y', 'yes', 't', 'true', 'on', '1')
_FALSE_WORDS = ('n', 'no', 'f', 'false', 'off', '0')

#: Flag names start with this; their environment variables with its upper case.
PREFIX = 'nnjax_'
#: The seed's prefix, accepted as another spelling of every flag.
SEED_PREFIX = 'flax_'


def _canonical(name):
    """The library's name of flag ``name``, which may be in the seed's spelling."""
    if isinstance(name, str) and name.startswith(SEED_PREFIX):
        return PREFIX + name[len(SEED_PREFIX):]
    return name


def static_bool_env(varname, default):
    """The boolean in environment variable ``varname``, or ``default`` if unset.

    True values are ``y, yes, t, true, on, 1``, false values ``n, no, f,
    false, off, 0`` (any case); anything else is a ``ValueError``. Read once,
    when called: use it for settings that cannot change at run time, and
    :func:`define_bool_state` for flags.

    >>> import os
    >>> os.environ['NNJAX_DOCTEST_FLAG'] = 'Yes'
    >>> static_bool_env('NNJAX_DOCTEST_FLAG', False)
    True
    >>> del os.environ['NNJAX_DOCTEST_FLAG']
    >>> static_bool_env('NNJAX_DOCTEST_FLAG', False)
    False
    """
    value = os.environ.get(varname)
    if value is None:
        return bool(default)
    word = value.strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise ValueError(
        f'Invalid boolean {value!r} in environment variable {varname!r}; use '
        f'one of {_TRUE_WORDS} or {_FALSE_WORDS}.')


class Config:
    """The table of flags: ``config.<flag>`` reads one, :meth:`update` sets one.

    >>> config.update('nnjax_return_frozendict', True)
    >>> config.nnjax_return_frozendict
    True
    >>> config.update('nnjax_return_frozendict', False)
    """

    def __init__(self):
        object.__setattr__(self, '_values', {})
        object.__setattr__(self, '_help', {})
        object.__setattr__(self, '_defaults', {})

    def _define(self, name, default, value, help_text):
        if name in self._values:
            # A reloaded module defines its flags again; that is harmless as
            # long as the definition is the same. The current value stays.
            if (self._defaults[name], self._help[name]) == (default, help_text):
                return
            raise ValueError(
                f'Config flag {name!r} is already defined with default '
                f'{self._defaults[name]!r} and help {self._help[name]!r}.')
        self._values[name] = value
        self._defaults[name] = default
        self._help[name] = help_text

    def _check_name(self, name):
        """The canonical name of flag ``name``; AttributeError if unknown."""
        canonical = _canonical(name)
        if canonical not in self._values:
            raise AttributeError(
                f'Unknown config flag {name!r}; known flags: '
                f'{sorted(self._values)} (each also as flax_<name>).')
        return canonical

    def __getattr__(self, name):
        if name.startswith('_'):
            raise AttributeError(name)
        return self._values[self._check_name(name)]

    def __setattr__(self, name, value):
        raise AttributeError(
            f'Set flags with config.update({name!r}, value), not by assignment.')

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._values))

    def __repr__(self):
        flags = ', '.join(f'{k}={v!r}' for k, v in sorted(self._values.items()))
        return f'Config({flags})'

    def update(self, name, value):
        """Set flag ``name`` (``'nnjax_...'`` or ``'flax_...'``) to the bool ``value``."""
        canonical = self._check_name(name)
        if not isinstance(value, bool):
            raise TypeError(
                f'Config flag {name!r} takes a bool, got {value!r} of type '
                f'{type(value).__name__}.')
        self._values[canonical] = value

    def help(self, name):
        """The description given when flag ``name`` was defined.

        >>> config.help('nnjax_return_frozendict').startswith('Whether')
        True
        """
        return self._help[self._check_name(name)]

    @contextlib.contextmanager
    def override(self, name, value):
        """Set a flag for the duration of a ``with`` block, then restore it."""
        canonical = self._check_name(name)
        previous = self._values[canonical]
        self.update(canonical, value)
        try:
            yield
        finally:
            self._values[canonical] = previous


#: The one flag table of the library.
config = Config()


class FlagHolder:
    """A handle on one flag; ``.value`` (or ``bool(holder)``) reads it now.

    >>> holder = FlagHolder('nnjax_return_frozendict')
    >>> holder.name, holder.value
    ('nnjax_return_frozendict', False)
    """

    def __init__(self, name):
        self.name = config._check_name(name)

    @property
    def value(self):
        return getattr(config, self.name)

    def __bool__(self):
        return self.value

    def __repr__(self):
        return f'FlagHolder({self.name!r}, value={self.value!r})'


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
    full_name = PREFIX + name
    start = static_bool_env(PREFIX.upper() + name.upper(), default)
    config._define(full_name, bool(default), start, help)
    return FlagHolder(full_name)


def update(name, value):
    """Set flag ``name`` to ``value``: ``update('nnjax_return_frozendict', True)``."""
    config.update(name, value)


def __getattr__(name):
    # nnjax.config.<flag> reads the flag, like the seed's flax.config.<flag>.
    if name.startswith((PREFIX, SEED_PREFIX)):
        return getattr(config, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


return_frozendict = define_bool_state(
    'return_frozendict', False,
    'Whether init and apply return the variables as a FrozenDict instead of '
    'a plain dict (the seed system returns plain dicts).')

use_orbax_checkpointing = define_bool_state(
    'use_orbax_checkpointing', False,
    'Whether nnjax.training.checkpoints.save_checkpoint and '
    'save_checkpoint_multiprocess write Orbax checkpoint directories instead '
    'of single msgpack files (restoring reads either).')
