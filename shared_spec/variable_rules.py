"""What a variable must look like: the checks of names, initializer outputs and stored state, and their messages.

Both backends reject the same things with the same words: a bad submodule
or variable name, an initializer that is not callable or returns something
other than an array of numbers of the requested shape, a stored variable
whose structure or shape no longer fits the layer. The backends walk their
own arrays and trees; the decisions on one value and the texts are here.

>>> requested_shape(((3, 4), 'float32'))
(3, 4)
>>> requested_shape((3,)) is None
True
"""

import numpy as np

__all__ = [
    'NON_NUMERIC_KINDS',
    'SUBMODULE',
    'bad_name_error',
    'check_state_value',
    'describe',
    'init_not_callable_error',
    'init_output_shape_error',
    'init_output_type_error',
    'is_non_numeric',
    'param_structure_error',
    'requested_shape',
    'short_repr',
]

#: NumPy array kinds no layer can compute with: Python objects, bytes and text.
NON_NUMERIC_KINDS = 'OSU'

#: The "collection" of a name reserved by a child scope (a submodule).
SUBMODULE = None


def short_repr(value, limit=60):
    """``repr(value)``, cut to ``limit`` characters.

    >>> short_repr('x' * 100, limit=10)
    "'xxxxx..."
    """
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + '...'


def describe(value):
    """How a message names a value: arrays by dtype and shape, anything else by a short repr and type.

    >>> describe(np.zeros((2, 3), np.float32)), describe(None), describe('a')
    ('an array of dtype float32 and shape (2, 3)', 'None', "'a' (str)")
    """
    dtype = getattr(value, 'dtype', None)
    if dtype is not None and hasattr(value, 'shape'):
        return f'an array of dtype {dtype} and shape {tuple(value.shape)}'
    return f'{short_repr(value)} ({type(value).__name__})' if value is not None else 'None'


def is_non_numeric(leaf):
    """Whether a leaf can never be a variable's value: None, text, bytes or an array of objects/text.

    >>> is_non_numeric(None), is_non_numeric(np.array(['a'])), is_non_numeric(np.zeros(2)), is_non_numeric(1.0)
    (True, True, False, False)
    """
    return (
        leaf is None
        or isinstance(leaf, (str, bytes))
        or getattr(getattr(leaf, 'dtype', None), 'kind', 'f') in NON_NUMERIC_KINDS
    )


def bad_name_error(name, col, where):
    """The error for a name that is not a str or is empty, or a submodule (``col`` None) name that contains '/'.

    Variable names may contain '/': the seed's own SpectralNorm and
    WeightNorm name their variables after the wrapped layer's parameter
    paths (``'layer_instance/kernel/u'``).

    >>> type(bad_name_error('', 'params', '/')).__name__, type(bad_name_error(3, None, '/')).__name__
    ('ValueError', 'TypeError')
    """
    what = 'submodule' if col is SUBMODULE else f"variable in collection '{col}'"
    if not isinstance(name, str):
        return TypeError(
            f"The name of a {what} in module '{where}' must be a str, got {name!r} ({type(name).__name__})."
        )
    problem = "is empty" if not name else "contains '/', which separates the parts of module paths and checkpoint keys"
    return ValueError(
        f"Invalid name {name!r} for a {what} in module '{where}': the name {problem}. "
        "Fix: use a non-empty name without '/'."
    )


def init_not_callable_error(name, where, init_fn):
    """The error for a parameter whose initializer cannot be called.

    >>> 'must be callable' in str(init_not_callable_error('w', '/', 0.5))
    True
    """
    return TypeError(
        f"The initializer of parameter '{name}' at module path '{where}' must be callable "
        f"as init_fn(key, *args), got {short_repr(init_fn)} ({type(init_fn).__name__}). "
        "Fix: pass a function such as nn.initializers.zeros or nn.initializers.lecun_normal()."
    )


def param_structure_error(name, where, value, n_expected):
    """The error for a stored parameter with another number of arrays than its initializer makes.

    >>> str(param_structure_error('w', '/', None, 1)).split(',')[0]
    "Parameter 'w' in collection 'params' at module path '/' is None"
    """
    return TypeError(
        f"Parameter '{name}' in collection 'params' at module path '{where}' is {short_repr(value)}, "
        f"but its initializer makes {n_expected} array(s). Fix: apply() the variables init() returned."
    )


def requested_shape(init_args):
    """The shape an ``init_fn(key, *init_args)`` call asks for, or None when it does not follow the protocol.

    The layers call initializers as ``init_fn(key, shape, dtype, ...)``; only
    such calls have their output shape checked (other ``param`` calls may
    pass any arguments).

    >>> requested_shape(((2,), np.float32)), requested_shape(('a', 'b'))
    ((2,), None)
    """
    if len(init_args) < 2:
        return None
    shape, dtype = init_args[0], init_args[1]
    is_shape = isinstance(shape, tuple) and all(isinstance(d, (int, np.integer)) for d in shape)
    return shape if is_shape and isinstance(dtype, (type, np.dtype, str)) else None


def init_output_type_error(name, where, bad, requested):
    """The error for an initializer that returned ``bad``, which is not an array of numbers.

    >>> str(init_output_type_error('w', '/', None, (2,))).endswith('expected an array of numbers of shape (2,).')
    True
    """
    wanted = f' of shape {tuple(requested)}' if requested is not None else ''
    return TypeError(
        f"The initializer of parameter '{name}' at module path '{where}' returned {describe(bad)}; "
        f'expected an array of numbers{wanted}.'
    )


def init_output_shape_error(name, where, got, requested):
    """The error for an initializer whose one array has shape ``got`` instead of ``requested``.

    >>> 'returned shape (3,) but was asked for (2,)' in str(init_output_shape_error('w', '/', (3,), (2,)))
    True
    """
    return ValueError(
        f"The initializer of parameter '{name}' at module path '{where}' returned shape "
        f'{tuple(got)} but was asked for {tuple(requested)}. Fix: an '
        'initializer init_fn(key, shape, dtype) must return an array of exactly that shape.'
    )


def check_state_value(col, name, where, value, shape):
    """A variable a layer reads (``value``, unboxed) must be an array of numbers of ``shape``.

    >>> check_state_value('batch_stats', 'mean', '/', np.zeros(3), (3,))
    >>> check_state_value('batch_stats', 'mean', '/', np.zeros(2), (3,))
    Traceback (most recent call last):
    ...
    ValueError: Variable 'mean' in collection 'batch_stats' at module path '/' has shape (2,) but this layer needs (3,). Fix: apply() the variables that init() made for a model of the same configuration, or init() again.
    """
    shape = tuple(shape)
    if is_non_numeric(value) or not hasattr(value, 'shape') and not isinstance(value, (int, float, complex)):
        raise TypeError(
            f"Variable '{name}' in collection '{col}' at module path '{where}' is {describe(value)}; "
            f'this layer needs an array of shape {shape}.'
        )
    got = tuple(np.shape(value))
    if got != shape:
        raise ValueError(
            f"Variable '{name}' in collection '{col}' at module path '{where}' has shape {got} but "
            f'this layer needs {shape}. Fix: apply() the variables that init() made for a model of '
            'the same configuration, or init() again.'
        )
