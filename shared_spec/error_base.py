"""The base of the error catalogue: ``NNError`` and the text helpers every catalogue message uses.

A catalogue class puts the seed system's wording (its ``SEED`` template,
filled from the constructor arguments) in front of our own explanation;
:class:`NNError` does that once for all of them. Module paths are written
``'/a/b'`` everywhere, by :func:`format_path`, the one formatting rule both
backends use for paths in messages and summaries.

>>> format_path(('encoder', 'Dense_0'))
'/encoder/Dense_0'
"""

import string

# --- formatting helpers ------------------------------------------------------


def format_path(path):
    """A module path as ``'/a/b'``; the root (``()``, ``''``, ``'/'``) as ``'/'``.

    >>> format_path(('encoder', 'Dense_0')), format_path(()), format_path('a/b')
    ('/encoder/Dense_0', '/', '/a/b')
    """
    if type(path) is tuple:  # the common case (a scope's path of names), on the hot path of every scope
        try:
            return '/' + '/'.join(path)
        except TypeError:  # a part that is not a str
            pass
    if path is None:
        return '<unknown path>'
    if isinstance(path, str):
        parts = [p for p in path.split('/') if p]
    else:
        parts = [str(p) for p in path]
    return '/' + '/'.join(parts)


def _name_of(obj, default='Module'):
    """A readable name for a class, instance, function or string."""
    if obj is None:
        return default
    if isinstance(obj, str):
        return obj
    if isinstance(obj, type):
        return obj.__name__
    name = getattr(obj, '__name__', None)
    return name if isinstance(name, str) else type(obj).__name__


def _short_repr(value, limit=120):
    # Values can be whole parameter trees; keep messages readable.
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + '...'


def _at(path):
    return f" at module path '{format_path(path)}'"


def _construct(cls, args, kwargs):
    return cls(*args, **kwargs)


def _seed_text(name, value):
    """An argument as the seed's callers pass it (paths as text, classes by name)."""
    if name == 'scope_path' or (name == 'module_name' and isinstance(value, tuple)):
        return format_path(value)
    if name in ('cls', 'module_cls'):
        return _name_of(value)
    if name in ('value_shape', 'init_shape'):
        return str(tuple(value))
    return str(value)


# --- base class --------------------------------------------------------------


class NNError(Exception):
    """Base class of every catalogue error.

    Subclasses set their attributes, then call ``_init(args, kwargs,
    message)``, which puts the seed's wording (``SEED`` formatted with those
    attributes) in front of ``message``. The original constructor arguments
    are kept so that the error pickles (e.g. across processes) and rebuilds
    with the same message.
    """

    SEED = ''  # the seed's message template; '' for classes the seed lacks

    def _init(self, args, kwargs, message):
        self._ctor_args = args
        self._ctor_kwargs = kwargs
        names = {f for _, f, _, _ in string.Formatter().parse(self.SEED) if f}
        self.seed_message = self.SEED.format(**{n: _seed_text(n, getattr(self, n)) for n in names})
        if self.seed_message:
            sep = ' ' if self.seed_message.endswith('.') else '. '
            message = f'{self.seed_message}{sep}{message}'
        super().__init__(message)

    @property
    def message(self):
        return self.args[0] if self.args else ''

    def __reduce__(self):
        return _construct, (type(self), self._ctor_args, self._ctor_kwargs)


#: The seed's name for the base class: handlers written against it keep working.
FlaxError = NNError
