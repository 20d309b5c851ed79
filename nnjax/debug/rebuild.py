"""The same model on nnref: classes re-executed from their source, instances rebuilt field by field.

A user's model is ordinary nnjax code: classes whose methods call
``nn.Dense``, ``jnp.tanh`` and ``jax.lax.rsqrt`` through the names their
module imported. :class:`Rebuilder` makes the nnref twin of such a model
without the user writing anything for it:

1. **Classes.** A Module class of the nnjax library maps to its nnref
   namesake. A user's class is defined again by executing its own source
   text (``inspect.getsource``), compiled under its original file name and
   line numbers so tracebacks point at the user's file, in a namespace where
   every global the source uses is translated: ``nn``/``jnp``/``jax`` become
   nnref's stand-ins (:mod:`nnjax.debug.namespaces`), other user classes are
   rebuilt in turn, helper functions get their globals translated the same
   way. nnref's own Module machinery then processes the class, so the twin
   is a real nnref class. Classes made by a lifted transform outside a
   method (``ScanLSTM = nn.scan(nn.LSTMCell, ...)``) are made again by the
   same nnref transform, with the same options.
2. **Instances.** An instance is re-created from its dataclass fields, each
   value translated: submodules recursively, functions by public name
   (``nn.relu`` -> nnref's ``relu``), JAX initializer closures by their
   factory and options, arrays to NumPy, floating dtypes to float64 when
   widening.

>>> import nnjax as nn
>>> class Block(nn.Module):
...   features: int
...   @nn.compact
...   def __call__(self, x):
...     return nn.relu(nn.Dense(self.features)(x))
>>> twin = Rebuilder(widen=True).module(Block(3))
>>> type(twin).__module__.split('.')[0], twin.features, type(twin).__mro__[1].__module__
('nnjax', 3, 'nnref.module')

(The twin's ``__module__`` is the user's module, as the class statement
that made it ran there.)
"""

from __future__ import annotations
import __future__

import ast
import builtins
import dataclasses
import functools
import inspect
import linecache
import os
import sys
import textwrap
import types

import jax
import numpy as np

import nnref
from nnjax.debug import namespaces
from nnjax.meta import AxisMetadata as JaxAxisMetadata
from nnjax.module import Module as JaxModule

_LIBRARY_PREFIXES = ('jax', 'jaxlib', 'nnjax', 'numpy', 'optax', 'ml_dtypes')
_MODULE_FIELDS_SKIPPED = ('parent',)


class RebuildError(TypeError):
    """The model's code could not be run again on nnref (source missing, unsupported construct)."""


class _Globals(dict):
    """A function's globals, translated for nnref on first use of each name."""

    def __init__(self, original: dict, rebuilder: 'Rebuilder'):
        super().__init__(__builtins__=rebuilder.builtins, __name__=original.get('__name__', '__main__'))
        self._original = original
        self._rebuilder = rebuilder

    def __missing__(self, name):
        if name not in self._original:
            raise KeyError(name)
        value = self[name] = self._rebuilder.value(self._original[name])
        return value


def _package_dirs() -> tuple:
    dirs = []
    for name in _LIBRARY_PREFIXES:
        module = sys.modules.get(name)
        if module is not None and getattr(module, '__file__', None):
            dirs.append(os.path.dirname(module.__file__) + os.sep)
    return tuple(dirs)


def _is_library(fn) -> bool:
    """Defined in JAX, nnjax, NumPy, ... (by where its code lives, not by ``__module__``)."""
    code = getattr(fn, '__code__', None)
    if code is None:
        return True
    return (
        code.co_filename.startswith(_package_dirs())
        and '/nnjax/debug/' not in code.co_filename
        or code.co_filename.startswith('<frozen')
    )


class Rebuilder:
    """Translates a model's objects to nnref (one instance per model: results are memoized)."""

    def __init__(self, widen: bool = True):
        self.widen = widen
        self._memo: dict[int, tuple] = {}
        self._globals: dict[int, _Globals] = {}
        self.builtins = dict(builtins.__dict__, __import__=self._import)
        self._index = namespaces.reverse_index(widen)

    # -- entry points ----------------------------------------------------------

    def module(self, module: JaxModule):
        """The nnref twin of an (unbound) nnjax module instance."""
        return self.value(module)

    def value(self, obj):
        """The nnref counterpart of any value found in a model's fields or globals."""
        key = id(obj)
        if key in self._memo:
            return self._memo[key][1]
        mapped = self._translate(obj)
        self._memo[key] = (obj, mapped)  # keeps obj alive so the id stays unique
        return mapped

    # -- translation rules -----------------------------------------------------

    def _translate(self, obj):
        if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes)):
            return obj
        if isinstance(obj, types.ModuleType):
            stand_in = namespaces.counterpart(obj, self.widen)
            return obj if stand_in is None else stand_in
        indexed = self._index.get(id(obj))
        if indexed is not None:
            return indexed[1]
        if isinstance(obj, JaxModule):
            return self._instance(obj)
        if isinstance(obj, JaxAxisMetadata):
            return self._box(obj)
        if _is_key(obj):
            return nnref.random.wrap_key_data(np.asarray(jax.random.key_data(obj)))
        if inspect.isclass(obj):
            if issubclass(obj, JaxModule):
                return self._class(obj)
            if _is_dtype_like(obj):
                return self._dtype(obj)
            return obj
        if isinstance(obj, np.dtype):
            return self._dtype(obj)
        if _is_array(obj):
            return self.array(obj)
        if isinstance(obj, functools.partial):
            return functools.partial(
                self.value(obj.func), *map(self.value, obj.args), **{k: self.value(v) for k, v in obj.keywords.items()}
            )
        if isinstance(obj, (list, tuple)) and not hasattr(obj, '_fields'):
            return type(obj)(self.value(x) for x in obj)
        if isinstance(obj, tuple):  # a namedtuple
            return type(obj)(*(self.value(x) for x in obj))
        if isinstance(obj, dict):
            return type(obj)({k: self.value(v) for k, v in obj.items()})
        if isinstance(obj, (jax.custom_vjp, jax.custom_jvp)):
            return self.value(obj.fun)  # the reference runs forward only: the rule has no part in it
        if isinstance(obj, types.FunctionType):
            return self._function(obj)
        if isinstance(obj, types.MethodType):
            return types.MethodType(self.value(obj.__func__), self.value(obj.__self__))
        return obj

    def array(self, x):
        """A JAX/NumPy array as a NumPy array; floating ones in float64 when widening."""
        a = np.asarray(x)
        if self.widen and a.dtype.kind in 'fc' or self.widen and a.dtype.name == 'bfloat16':
            a = a.astype(namespaces.widen_dtype(a.dtype))
        return a

    def _box(self, box):
        """A metadata box (Partitioned, LogicallyPartitioned, ...) as nnref's box of the same name."""
        name = type(box).__name__
        twin_cls = getattr(nnref.spmd, name, None) or getattr(nnref.meta, name, None)
        if twin_cls is None or not dataclasses.is_dataclass(twin_cls):
            return self.value(box.unbox())
        fields = {
            f.name: self.value(getattr(box, f.name))
            for f in dataclasses.fields(twin_cls)
            if f.init and f.name != 'mesh' and hasattr(box, f.name)
        }
        return twin_cls(**fields)

    def _dtype(self, dtype):
        d = np.dtype(dtype)
        if self.widen:
            return np.dtype(namespaces.widen_dtype(d))
        return d

    def _instance(self, module: JaxModule):
        cls = self.value(type(module))
        kwargs = {}
        for field in dataclasses.fields(module):
            if not field.init or field.name in _MODULE_FIELDS_SKIPPED:
                continue
            value = getattr(module, field.name)
            if field.name == 'name' and value is None:
                continue
            if value is field.default and _has_default(cls, field.name):
                continue  # a library default (initializers, dot_general): the twin's own default
            kwargs[field.name] = self.value(value)
        return cls(**kwargs)

    def _class(self, cls):
        recipe = cls.__dict__.get('_lift_recipe')
        if recipe is not None:  # made by a lifted transform, e.g. nn.scan(nn.LSTMCell, ...)
            transform, target, methods, options = recipe
            return getattr(nnref, transform)(
                self.value(target), methods=methods, **{k: self.value(v) for k, v in options.items()}
            )
        if cls.__module__.split('.')[0] == 'nnjax' and cls.__module__ in _library_modules():
            twin = getattr(nnref, cls.__name__, None)
            if twin is None:
                raise RebuildError(
                    f"nnref has no counterpart of {cls.__module__}.{cls.__qualname__}: nnjax.debug "
                    f"rebuilds the library's layers by their public name (nnjax.X -> nnref.X)."
                )
            return twin
        return self._reexecute(cls)

    def _reexecute(self, cls):
        statement, filename = _class_statement(cls)
        tree = ast.Module(body=[statement], type_ignores=[])

        module_globals = _defining_globals(cls)
        namespace = self._globals_of(module_globals)
        # Names the class statement reads while it runs (bases, decorators,
        # annotations, defaults) are looked up by the class body itself, which
        # bypasses __missing__: fill them in now, from the module's globals or
        # the enclosing function's variables that the methods close over.
        closure = _closure_values(cls)
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                if node.id in closure:
                    namespace[node.id] = self.value(closure[node.id])
                elif node.id in module_globals:
                    namespace[node.id] = self.value(module_globals[node.id])
        for base_node, base in zip(statement.bases, cls.__bases__):
            if isinstance(base_node, ast.Name):
                namespace[base_node.id] = self.value(base)

        flags = 0
        if module_globals.get('annotations') is __future__.annotations:
            flags |= __future__.annotations.compiler_flag
        code = compile(tree, filename, 'exec', flags=flags, dont_inherit=True)
        scratch = _Globals(module_globals, self)
        scratch.update(namespace)
        exec(code, scratch)
        twin = scratch[cls.__name__]
        twin.__qualname__ = cls.__qualname__
        return twin

    def _globals_of(self, original: dict) -> _Globals:
        key = id(original)
        if key not in self._globals:
            self._globals[key] = _Globals(original, self)
        return self._globals[key]

    def _function(self, fn: types.FunctionType):
        if _is_library(fn):
            made = self._factory_closure(fn)
            if made is not None:
                return made
            return _unsupported(fn)
        closure = None
        if fn.__closure__:
            closure = tuple(types.CellType(self.value(_cell_value(c))) for c in fn.__closure__)
        twin = types.FunctionType(
            fn.__code__,
            self._globals_of(fn.__globals__),
            fn.__name__,
            tuple(self.value(d) for d in fn.__defaults__ or ()),
            closure,
        )
        twin.__kwdefaults__ = {k: self.value(v) for k, v in (fn.__kwdefaults__ or {}).items()} or None
        twin.__dict__.update({k: self.value(v) for k, v in fn.__dict__.items()})
        twin.__qualname__ = fn.__qualname__
        twin.__module__ = fn.__module__
        return twin

    def _factory_closure(self, fn):
        """A closure made by a library factory (``normal(0.02)``, ``with_partitioning(init, names)``)
        -> the nnref factory of the same name called with the same options, or ``None``.

        The code object names the factory (``variance_scaling.<locals>.init``,
        also under ``functools.wraps``) and its globals the defining module.
        """
        qualname = getattr(fn.__code__, 'co_qualname', fn.__qualname__)
        if '.<locals>.' not in qualname:
            return None
        home = fn.__globals__.get('__name__', '')
        if home == 'jax._src.nn.initializers':
            target = nnref.initializers
        elif home.startswith('nnjax.'):
            target = namespaces.counterpart(sys.modules[home], self.widen)
        else:
            return None
        factory = getattr(target, qualname.split('.<locals>')[0], None)
        if factory is None:
            return None
        options = inspect.getclosurevars(fn).nonlocals
        accepted = inspect.signature(factory).parameters
        return factory(**{k: self.value(v) for k, v in options.items() if k in accepted})

    # -- imports inside re-executed code ----------------------------------------

    def _import(self, name, globals=None, locals=None, fromlist=(), level=0):
        module = builtins.__import__(name, globals, locals, fromlist, level)
        if level:
            return module
        if fromlist:
            return self.value(module)
        # `import jax.numpy as jnp` binds the top package and then reads
        # attributes; our stand-in for `jax` carries the same attributes.
        return self.value(module)


def _library_modules() -> set:
    """The nnjax modules that define library classes (everything but user code run as nnjax.*)."""
    return {
        name
        for name, m in sys.modules.items()
        if name.split('.')[0] == 'nnjax' and getattr(m, '__file__', None) and '/nnjax/debug/' not in m.__file__
    }


def _class_statement(cls) -> tuple[ast.ClassDef, str]:
    """The ``class`` statement that made ``cls``, with its original line numbers, and its file name.

    Found through a method's code object (its file and first line, read with
    ``linecache``, which also serves doctest examples and notebooks), or
    else through ``inspect``.
    """
    for attr in vars(cls).values():
        fn = inspect.unwrap(attr) if callable(attr) else None
        code = getattr(fn, '__code__', None)
        if code is None:
            continue
        source = ''.join(
            linecache.getlines(
                code.co_filename,
                sys.modules.get(cls.__module__, None).__dict__ if cls.__module__ in sys.modules else None,
            )
        )
        if not source:
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        found = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef)
            and node.name == cls.__name__
            and node.lineno <= code.co_firstlineno <= node.end_lineno
        ]
        if found:
            return max(found, key=lambda node: node.lineno), code.co_filename
    try:
        lines, first_line = inspect.getsourcelines(cls)
        filename = inspect.getsourcefile(cls) or '<unknown>'
    except (OSError, TypeError) as e:
        raise RebuildError(
            f"nnjax.debug needs the source of {cls.__qualname__} to run it again on nnref, and Python "
            f"cannot find it ({e}). Define the class in a file or a notebook cell."
        ) from e
    tree = ast.parse(textwrap.dedent(''.join(lines)))
    ast.increment_lineno(tree, first_line - 1)
    statement = tree.body[0]
    if not isinstance(statement, ast.ClassDef) or statement.name != cls.__name__:
        raise RebuildError(f"the source found for {cls.__qualname__} is not its class statement")
    return statement, filename


def _has_default(cls, name: str) -> bool:
    fields = {f.name: f for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else {}
    return name in fields and fields[name].default is not dataclasses.MISSING


def _defining_globals(cls) -> dict:
    """The globals the class statement ran in: its methods' (a doctest's or notebook's too), else its module's."""
    for attr in vars(cls).values():
        fn = inspect.unwrap(attr) if callable(attr) else None
        if isinstance(fn, types.FunctionType):
            return fn.__globals__
    module = sys.modules.get(cls.__module__)
    return module.__dict__ if module is not None else {}


def _closure_values(cls) -> dict:
    """Variables of enclosing functions that the class's methods close over."""
    values = {}
    for attr in vars(cls).values():
        fn = inspect.unwrap(attr) if callable(attr) else None
        if isinstance(fn, types.FunctionType) and fn.__closure__:
            for name, cell in zip(fn.__code__.co_freevars, fn.__closure__):
                if name != '__class__':
                    try:
                        values[name] = cell.cell_contents
                    except ValueError:  # not yet assigned
                        pass
    return values


def _cell_value(cell):
    try:
        return cell.cell_contents
    except ValueError:
        return None


def _is_array(obj) -> bool:
    return isinstance(obj, (np.ndarray, np.generic, jax.Array))


def _is_key(obj) -> bool:
    return isinstance(obj, jax.Array) and jax.dtypes.issubdtype(obj.dtype, jax.dtypes.prng_key)


def _is_dtype_like(cls) -> bool:
    """``jnp.float32``-style scalar types and NumPy scalar types."""
    return issubclass(cls, np.generic) or hasattr(cls, 'dtype') and isinstance(cls.dtype, np.dtype)


def _unsupported(fn):
    where = f"{fn.__module__}.{fn.__qualname__}"

    @functools.wraps(fn)
    def missing(*args, **kwargs):
        raise RebuildError(
            f"the model calls {where}, which nnref has no stand-in for: nnjax.debug runs the model "
            f"again on nnref and maps JAX and nnjax functions by their public name."
        )

    return missing
