"""Global flags of a backend: the flag table and its machinery, shared by nnjax and nnref.

Each backend keeps its own :class:`Config` (``nnjax.config.config``,
``nnref.config.config``) under its own prefix, and defines in it every flag
of :data:`SEED_FLAGS`, the seed's ``flax.config`` flags. A flag answers to
``<prefix><name>`` and to the seed's ``flax_<name>``: the two spellings are
one flag. Its start value comes from the environment variable named after
the backend spelling in upper case (``NNJAX_RETURN_FROZENDICT``), else from
its default.

A flag either *acts* in a backend (it is read where its behaviour happens,
see ``SeedFlag.acts_in``), or is *accepted* there with no effect, because
the behaviour it switches belongs to a part of the seed this library does
not have (NNX, the C++ ``flaxlib``, traceback rewriting) -- the description
of each flag says which. A flag whose behaviour is missing but whose
non-default value would change results (``fix_rng_separator``) is accepted
at its default only: setting anything else raises ``ValueError``, rather
than silently computing the default's numbers.

>>> cfg = Config('demo_')
>>> holder = cfg.define('demo_verbose', False, 'Print more.')
>>> cfg.update('flax_verbose', True)      # the seed's spelling of the same flag
>>> cfg.demo_verbose, holder.value
(True, True)
>>> with cfg.override('demo_verbose', False):
...     cfg.flax_verbose
False
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from typing import Optional

__all__ = [
    'SeedFlag',
    'SEED_FLAGS',
    'SEED_PREFIX',
    'Config',
    'FlagHolder',
    'UnknownFlagError',
    'static_bool_env',
    'static_int_env',
    'define_seed_flags',
    'MODULE_API',
    'define_prefixed_bool',
    'define_named',
    'module_flag_reader',
]

TRUE_WORDS = ('y', 'yes', 't', 'true', 'on', '1')
FALSE_WORDS = ('n', 'no', 'f', 'false', 'off', '0')

#: The seed's prefix, accepted as another spelling of every flag.
SEED_PREFIX = 'flax_'


class UnknownFlagError(AttributeError, LookupError):
    """No flag of that name. An ``AttributeError`` (``config.<name>`` reads a
    flag) and a ``LookupError`` (what the seed raises for an unknown option)."""


def static_bool_env(varname: str, default: bool) -> bool:
    """The boolean in environment variable ``varname``, or ``default`` if unset.

    True values are ``y, yes, t, true, on, 1``, false values ``n, no, f,
    false, off, 0`` (any case, surrounding blanks ignored); anything else is
    a ``ValueError``.

    >>> import os
    >>> os.environ['SPEC_DOCTEST_FLAG'] = 'Yes'
    >>> static_bool_env('SPEC_DOCTEST_FLAG', False)
    True
    >>> del os.environ['SPEC_DOCTEST_FLAG']
    >>> static_bool_env('SPEC_DOCTEST_FLAG', False)
    False
    """
    value = os.environ.get(varname)
    if value is None:
        return bool(default)
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(
        f'Invalid boolean {value!r} in environment variable {varname!r}; use one of {TRUE_WORDS} or {FALSE_WORDS}.'
    )


def static_int_env(varname: str, default: Optional[int]) -> Optional[int]:
    """The integer in environment variable ``varname``, or ``default`` if unset.

    >>> import os
    >>> os.environ['SPEC_DOCTEST_DEPTH'] = ' 3 '
    >>> static_int_env('SPEC_DOCTEST_DEPTH', None)
    3
    >>> del os.environ['SPEC_DOCTEST_DEPTH']
    >>> static_int_env('SPEC_DOCTEST_DEPTH', None) is None
    True
    """
    value = os.environ.get(varname)
    if value is None:
        return default
    try:
        return int(value.strip())
    except ValueError:
        raise ValueError(f'Invalid integer {value!r} in environment variable {varname!r}.') from None


@dataclasses.dataclass(frozen=True)
class SeedFlag:
    """One flag of the seed's ``flax.config``.

    ``name`` is the seed's name without ``flax_`` (NNX flags keep their full
    ``nnx_`` name, which has no backend spelling); ``kind`` is ``'bool'`` or
    ``'int'`` (an int or ``None``); ``acts_in`` the backends that implement
    it; ``default_only`` that the behaviour of other values is missing
    everywhere, so only the default is accepted.
    """

    name: str
    default: Optional[object]
    kind: str
    help: str
    acts_in: tuple = ()
    default_only: bool = False


_NO_NNX = ' No effect here: this library is Linen only (NNX is not part of it).'

SEED_FLAGS = (
    SeedFlag(
        'filter_frames',
        True,
        'bool',
        'Whether the library hides its own stack frames from tracebacks. No effect '
        'here: tracebacks are never rewritten, every frame is shown.',
    ),
    SeedFlag(
        'profile',
        True,
        'bool',
        'Whether module methods run under a named scope for profiles. No effect '
        'here: named calls are switched by nn.enable_named_call / '
        'nn.disable_named_call / nn.override_named_call.',
    ),
    SeedFlag(
        'use_orbax_checkpointing',
        False,
        'bool',
        'Whether nnjax.training.checkpoints.save_checkpoint and '
        'save_checkpoint_multiprocess write Orbax checkpoint directories instead '
        'of single msgpack files (restoring reads either). The default here is '
        'False: msgpack files in the seed format. No effect on nnref (it has no '
        'checkpoints).',
        acts_in=('nnjax',),
    ),
    SeedFlag(
        'preserve_adopted_names',
        False,
        'bool',
        'Whether a module created outside and adopted by a parent keeps the name '
        'it was given instead of the attribute name it is assigned to.',
        acts_in=('nnjax', 'nnref'),
    ),
    SeedFlag(
        'return_frozendict',
        False,
        'bool',
        'Whether init and apply return the variables as a FrozenDict instead of '
        'a plain dict (the seed system returns plain dicts).',
        acts_in=('nnjax', 'nnref'),
    ),
    SeedFlag(
        'fix_rng_separator',
        False,
        'bool',
        'Whether a separator byte is hashed between the parts of an rng stream '
        'name before folding it into the key. Only the default (False, the '
        "seed's default, no separator) is supported: True is refused.",
        default_only=True,
    ),
    SeedFlag(
        'max_repr_depth',
        None,
        'int',
        "How many levels of nested objects NNX's repr shows; None is no limit. "
        "The seed's Linen repr does not read it, so neither backend does.",
    ),
    SeedFlag('use_flaxlib', False, 'bool', "Whether the seed's C++ flaxlib accelerates NNX graph traversal." + _NO_NNX),
    SeedFlag('array_ref', False, 'bool', 'Whether NNX variables hold array refs.' + _NO_NNX),
    SeedFlag('pytree_module', True, 'bool', 'Whether NNX modules are pytrees.' + _NO_NNX),
    SeedFlag(
        'always_shard_variable',
        True,
        'bool',
        'Whether an NNX Variable with sharding metadata is sharded when created.' + _NO_NNX,
    ),
    SeedFlag('hijax_variable', False, 'bool', 'Whether NNX variables use HiJAX.' + _NO_NNX),
    SeedFlag('nnx_graph_mode', True, 'bool', 'Whether NNX APIs default to graph mode.' + _NO_NNX),
    SeedFlag('nnx_graph_updates', True, 'bool', 'Whether NNX graph mode uses dynamic graph traversal.' + _NO_NNX),
)


class Config:
    """A table of flags: ``config.<flag>`` reads one, :meth:`update` sets one.

    Names start with ``prefix`` (or the seed's ``flax_``, another spelling of
    the same flag); a name with neither is a flag of its own (``nnx_...``).
    """

    def __init__(self, prefix: str):
        object.__setattr__(self, '_prefix', prefix)
        object.__setattr__(self, '_values', {})
        object.__setattr__(self, '_help', {})
        object.__setattr__(self, '_defaults', {})
        object.__setattr__(self, '_kinds', {})
        object.__setattr__(self, '_default_only', set())

    def canonical(self, name: str) -> str:
        """The table's own spelling of ``name`` (``flax_x`` -> ``<prefix>x``)."""
        if isinstance(name, str) and name.startswith(SEED_PREFIX):
            return self._prefix + name[len(SEED_PREFIX) :]
        return name

    def define(
        self, name: str, default, help_text: str, *, kind: str = 'bool', default_only: bool = False
    ) -> 'FlagHolder':
        """Define flag ``name`` (in this table's spelling); start from its environment variable.

        Defining it again with the same default, kind and help keeps its value;
        any other redefinition is a ``ValueError``.
        """
        name = self.canonical(name.lower())
        if kind not in ('bool', 'int'):
            raise ValueError(f"Config flag kind is 'bool' or 'int', got {kind!r}.")
        if name in self._values:
            if (self._defaults[name], self._help[name], self._kinds[name]) != (default, help_text, kind):
                raise ValueError(
                    f'Config flag {name!r} is already defined with default '
                    f'{self._defaults[name]!r} and help {self._help[name]!r}.'
                )
            return FlagHolder(name, self)
        read_env = static_bool_env if kind == 'bool' else static_int_env
        start = read_env(name.upper(), default)
        self._kinds[name], self._defaults[name], self._help[name] = kind, default, help_text
        if default_only:
            self._default_only.add(name)
        try:
            self._check_value(name, start)
        except (TypeError, ValueError):
            for table in (self._kinds, self._defaults, self._help):
                del table[name]
            self._default_only.discard(name)
            raise
        self._values[name] = start
        return FlagHolder(name, self)

    def _check_name(self, name: str) -> str:
        canonical = self.canonical(name)
        if canonical not in self._values:
            raise UnknownFlagError(
                f'Unknown config flag {name!r}; known flags: {sorted(self._values)} '
                f'(each {self._prefix}<name> also as {SEED_PREFIX}<name>).'
            )
        return canonical

    def _check_value(self, name: str, value) -> None:
        if self._kinds[name] == 'bool':
            if not isinstance(value, bool):
                raise TypeError(f'Config flag {name!r} takes a bool, got {value!r} of type {type(value).__name__}.')
        elif value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise TypeError(f'Config flag {name!r} takes an int or None, got {value!r} of type {type(value).__name__}.')
        if name in self._default_only and value != self._defaults[name]:
            raise ValueError(
                f'Config flag {name!r} = {value!r} is not supported: only its default '
                f'{self._defaults[name]!r} is implemented ({self._help[name]})'
            )

    def __getattr__(self, name):
        if name.startswith('_'):
            raise AttributeError(name)
        return self._values[self._check_name(name)]

    def __setattr__(self, name, value):
        raise AttributeError(f'Set flags with config.update({name!r}, value), not by assignment.')

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._values))

    def __repr__(self):
        flags = ', '.join(f'{k}={v!r}' for k, v in sorted(self._values.items()))
        return f'Config({flags})'

    def update(self, name, value, /) -> None:
        """Set flag ``name`` (either spelling, or a :class:`FlagHolder`) to ``value``."""
        if isinstance(name, FlagHolder):
            name = name.name
        canonical = self._check_name(name)
        self._check_value(canonical, value)
        self._values[canonical] = value

    def help(self, name: str) -> str:
        """The description given when flag ``name`` was defined."""
        return self._help[self._check_name(name)]

    @contextlib.contextmanager
    def override(self, name: str, value):
        """Set a flag for the duration of a ``with`` block, then restore it."""
        canonical = self._check_name(name)
        previous = self._values[canonical]
        self.update(canonical, value)
        try:
            yield
        finally:
            self._values[canonical] = previous

    def temp_flip_flag(self, var_name: str, var_value):
        """``override`` by the flag's name without prefix, as the seed's helper of that name."""
        return self.override(self._prefix + var_name, var_value)


class FlagHolder:
    """A handle on one flag; ``.value`` (or ``bool(holder)``) reads it now."""

    def __init__(self, name: str, config: Config):
        self._config = config
        self.name = config._check_name(name)
        self.__doc__ = f'Flag holder for {self.name!r}.\n\n{config.help(self.name)}'

    @property
    def value(self):
        return getattr(self._config, self.name)

    def __bool__(self):
        return bool(self.value)

    def __repr__(self):
        return f'FlagHolder({self.name!r}, value={self.value!r})'


def define_seed_flags(config: Config) -> dict:
    """Define every flag of :data:`SEED_FLAGS` in ``config``; their holders by bare name."""
    holders = {}
    for flag in SEED_FLAGS:
        name = flag.name if flag.name.startswith('nnx_') else config._prefix + flag.name
        holders[flag.name] = config.define(
            name, flag.default, flag.help, kind=flag.kind, default_only=flag.default_only
        )
    return holders


#: The public names of a backend's ``config`` module (``nnjax.config``, ``nnref.config``).
MODULE_API = (
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
)


def define_prefixed_bool(config: Config, name: str, default, help_text: str) -> str:
    """``define_bool_state``: define ``<prefix><name>`` as a bool flag; returns the flag's name.

    >>> cfg = Config('demo_')
    >>> define_prefixed_bool(cfg, 'fast', 1, 'Go fast.'), cfg.flax_fast
    ('demo_fast', True)
    """
    return config.define(config._prefix + name, bool(default), help_text).name


def define_named(config: Config, name: str, default, help_text: str, kind: str) -> str:
    """``bool_flag`` / ``int_flag``: define flag ``name`` (either spelling); returns the table's spelling.

    A bool flag's default is made a ``bool``; an int flag's is an int or ``None``.

    >>> cfg = Config('demo_')
    >>> define_named(cfg, 'flax_depth', None, 'How deep.', 'int'), cfg.demo_depth
    ('demo_depth', None)
    """
    return config.define(name, bool(default) if kind == 'bool' else default, help_text, kind=kind).name


def module_flag_reader(config: Config, module_name: str):
    """A module ``__getattr__`` so that ``<backend>.config.<flag>`` reads a flag, as ``flax.config.<flag>`` does.

    Names with the table's prefix, the seed's ``flax_`` or ``nnx_`` are flags;
    anything else is the usual missing-attribute error.

    >>> cfg = Config('demo_')
    >>> _ = cfg.define('demo_on', True, 'On.')
    >>> read = module_flag_reader(cfg, 'demo.config')
    >>> read('flax_on')
    True
    >>> read('other')
    Traceback (most recent call last):
    ...
    AttributeError: module 'demo.config' has no attribute 'other'
    """

    def __getattr__(name):
        if name.startswith((config._prefix, SEED_PREFIX, 'nnx_')):
            return getattr(config, name)
        raise AttributeError(f'module {module_name!r} has no attribute {name!r}')

    return __getattr__
