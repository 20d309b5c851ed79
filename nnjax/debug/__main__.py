"""Compare an nnjax model with the float64 nnref reference, submodule by submodule.

FILE.py defines FACTORY, a function of no arguments (or of `shape`, when
--shape is given) that returns `(module, variables, args)` or `(module,
variables, args, kwargs)`: `args` is a tuple of positional inputs (a single
array is taken as the only one); `kwargs` holds `apply` keywords (`rngs`,
`method`, `mutable`, the model's own keyword arguments) and, optionally,
`loss`: a function of the model's output to a scalar, used by --grads
(without it, the mean of the squares of every output array, summed).

Example, for a file model.py holding `def make(shape=(4, 16)): ...`:

    python -m nnjax.debug model.py:make --shape 8,16 --nonfinite --grads

prints the table of every submodule call (nnjax against nnref, the first
divergence marked), then the NaN/Inf search and the gradient check. Exit
status: 0 when all is well; 1 when a call diverges, a call makes NaN/Inf
or a gradient is off; 2 on a usage error (bad FILE:FACTORY, a factory that
returns something else); 3 when the model's own code, or running it again
on nnref, raised an exception (its traceback is printed).
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import itertools
import os
import sys
import traceback
from collections.abc import Mapping

import jax
import jax.numpy as jnp

import nnjax
from nnjax import debug

EXPECTED = (
    'FACTORY must return (module, variables, args) or (module, variables, args, kwargs), '
    'with args a tuple of inputs (or one array) and kwargs a dict of apply keywords'
)


class UsageError(Exception):
    """A mistake in the command line or in what the factory returns: a one-line message, exit status 2."""


class ModelError(Exception):
    """The model's own code (or its run on nnref) raised: the traceback is printed, exit status 3."""


def parse_target(text: str) -> tuple[str, str]:
    """``'path/to/model.py:make'`` -> ``('path/to/model.py', 'make')``.

    >>> parse_target('models/block.py:make_block')
    ('models/block.py', 'make_block')
    >>> parse_target('model.py')
    Traceback (most recent call last):
    ...
    nnjax.debug.__main__.UsageError: expected FILE.py:FACTORY (e.g. model.py:make), got 'model.py'
    """
    path, sep, name = text.rpartition(':')
    if not sep or not path or not name.isidentifier():
        raise UsageError(f'expected FILE.py:FACTORY (e.g. model.py:make), got {text!r}')
    return path, name


def parse_shape(text: str) -> tuple[int, ...]:
    """``'8,32'`` -> ``(8, 32)``.

    >>> parse_shape('8,32'), parse_shape('5')
    ((8, 32), (5,))
    """
    try:
        shape = tuple(int(part) for part in text.split(','))
    except ValueError:
        raise UsageError(f'--shape takes comma-separated integers (e.g. --shape 8,32), got {text!r}') from None
    if any(n < 0 for n in shape):
        raise UsageError(f'--shape takes non-negative sizes, got {text!r}')
    return shape


_loaded = itertools.count()


def load_factory(path: str, name: str):
    """Imports ``path`` as a module of its own and returns its function ``name``.

    The module is registered in ``sys.modules``, so that ``inspect`` and
    ``linecache`` find the source of its classes (nnjax.debug runs that
    source again on nnref), and its directory goes first on ``sys.path``,
    as for ``python FILE.py``, so that it imports its neighbours.
    """
    if not os.path.isfile(path):
        raise UsageError(f'no such file: {path} (expected FILE.py:FACTORY)')
    stem = os.path.splitext(os.path.basename(path))[0]
    module_name = f'_nnjax_debug_target_{stem}'
    while module_name in sys.modules:  # a second load, or a name taken: never shadow a module
        module_name = f'_nnjax_debug_target_{stem}_{next(_loaded)}'
    spec = importlib.util.spec_from_file_location(module_name, os.path.abspath(path))
    if spec is None or spec.loader is None:
        raise UsageError(f'cannot load {path} as Python source (expected FILE.py:FACTORY)')
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        raise ModelError(f'importing {path} failed') from e
    factory = getattr(module, name, None)
    if not callable(factory):
        defined = sorted(
            k
            for k, v in vars(module).items()
            if inspect.isfunction(v) and v.__module__ == module_name and not k.startswith('_')
        )
        raise UsageError(f'{path} defines no function {name!r} (its functions: {", ".join(defined) or "none"})')
    return factory


def call_factory(factory, name: str, shape: tuple | None):
    """``(module, variables, args, kwargs)`` from the factory, checked."""
    keywords = {}
    if shape is not None:
        parameters = inspect.signature(factory).parameters.values()
        if not any(p.name == 'shape' or p.kind is p.VAR_KEYWORD for p in parameters):
            raise UsageError(f'--shape was given but {name}() takes no `shape` parameter')
        keywords['shape'] = shape
    try:
        made = factory(**keywords)
    except Exception as e:
        raise ModelError(f'{name}() raised') from e
    if not isinstance(made, tuple) or len(made) not in (3, 4):
        got = f'a tuple of {len(made)}' if isinstance(made, tuple) else type(made).__name__
        raise UsageError(f'{EXPECTED}; {name}() returned {got}')
    module, variables, args, kwargs = made if len(made) == 4 else (*made, {})
    if not isinstance(module, nnjax.Module):
        raise UsageError(f'{EXPECTED}; the module is a {type(module).__name__}, not an nnjax Module')
    if not isinstance(variables, Mapping):
        raise UsageError(f'{EXPECTED}; the variables are a {type(variables).__name__}, not a dict')
    if not isinstance(kwargs, Mapping):
        raise UsageError(f'{EXPECTED}; kwargs is a {type(kwargs).__name__}, not a dict')
    args = args if isinstance(args, tuple) else (args,)
    return module, variables, args, dict(kwargs)


def mean_square(output):
    """The default loss of --grads: the mean of the squares of each output array, summed.

    Run on both backends (on nnref with its own ``jnp``).

    >>> import jax.numpy as jnp
    >>> float(mean_square((jnp.ones(3), 2 * jnp.ones((2, 2)))))
    5.0
    """
    return sum(jnp.mean(jnp.square(leaf)) for leaf in jax.tree_util.tree_leaves(output))


def _console():
    from rich.console import Console

    console = Console()
    if not console.is_terminal and 'COLUMNS' not in os.environ:
        console.width = 150  # a pipe or a file: wide enough that module paths are not cut
    return console


def run(options) -> int:
    """Loads the model, runs the checks asked for, prints their reports; the exit status."""
    path, name = parse_target(options.target)
    shape = parse_shape(options.shape) if options.shape is not None else None
    factory = load_factory(path, name)
    module, variables, args, kwargs = call_factory(factory, name, shape)
    loss = kwargs.pop('loss', None)
    if loss is not None and not callable(loss):
        raise UsageError(f"kwargs['loss'] must be a function of the output to a scalar, got {type(loss).__name__}")

    console = _console()
    status = 0
    try:
        report = debug.compare(module, variables, *args, jit=options.jit, widen=options.widen, **kwargs)
        console.print(report)
        status |= report.diverged
        if options.nonfinite:
            found = debug.find_nonfinite(module, variables, *args, jit=options.jit, **kwargs)
            console.print(str(found), highlight=False, markup=False)
            status |= found.found
        if options.grads:
            grads = debug.check_grads(
                module, variables, *args, loss=loss or mean_square, directions=options.directions, **kwargs
            )
            console.print(grads)
            status |= not grads.ok
    except Exception as e:
        raise ModelError(f'running {name}() failed') from e
    return int(status)


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog='python -m nnjax.debug', description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parse.add_argument('target', metavar='FILE.py:FACTORY', help='the file and its factory function')
    parse.add_argument('--shape', metavar='N,N,...', help='pass shape=(N, ...) to the factory')
    parse.add_argument('--jit', action='store_true', help='run the nnjax side under jax.jit')
    parse.add_argument(
        '--no-widen',
        dest='widen',
        action='store_false',
        help="run the reference in the model's dtypes instead of float64",
    )
    parse.add_argument(
        '--nonfinite', action='store_true', help='also name the first submodule call that makes NaN or Inf'
    )
    parse.add_argument(
        '--grads',
        action='store_true',
        help="also check jax.grad of the loss against the reference's central differences",
    )
    parse.add_argument(
        '--directions',
        type=int,
        default=3,
        metavar='N',
        help='random directions per parameter leaf for --grads (default: 3)',
    )
    return parse


def main(argv=None) -> int:
    """The command line; returns the exit status.

    >>> main(['model.py'])  # the message goes to stderr
    2
    """
    options = parser().parse_args(argv)
    if options.directions < 1:
        return _usage('--directions takes a positive number')
    try:
        return run(options)
    except UsageError as e:
        return _usage(str(e))
    except ModelError as e:
        traceback.print_exception(e.__cause__ or e)
        print(f'nnjax.debug: {e}', file=sys.stderr)
        return 3


def _usage(message: str) -> int:
    print(f'python -m nnjax.debug: error: {message}', file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main())
