"""Every submodule call's inputs and outputs, on nnjax and on nnref, keyed the same way.

A call is keyed by ``(path, method, class name, index)``: the module path
(``'/Block_1/LayerNorm_0'``), the method, the module's class, and how many
calls with that key came before. The class name tells a lifted module's
outer call (``ScanLSTMCell``, once, on the whole sequence) from its inner
calls (``LSTMCell``, once per step) at the same path; with it, calls with
one key never nest, so counting in start order and in completion order
agree on both backends.

nnjax records through ``jax.debug.callback(..., ordered=True)`` at the end
of each call, so values come out concrete and in program order whether the
call runs eagerly, under ``jax.jit``, or inside ``nn.scan``/``nn.vmap``
bodies (a vmapped body reports once per mapped element, in order, as nnref's
loop does). nnref is eager and records directly; in *forced* mode it also
replaces each call's array inputs by nnjax's and returns nnjax's outputs, so
each call's error is its own (see :mod:`nnjax.debug.compare`).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from typing import Any, Callable

import jax
import numpy as np

from nnref.interception import in_trace_only_pass
from shared_spec.errors import format_path as path_text

Key = tuple  # (path, method, class name, index)


@dataclasses.dataclass
class Call:
    """One recorded module method call."""

    path: str
    method: str
    kind: str  # the module's class name
    index: int
    order: int  # position among all calls, in the order they completed (nnjax) or started (nnref)
    inputs: list  # the array leaves of (args, kwargs), as NumPy arrays
    outputs: list
    input_count: int = 0  # array leaves nnref computed for the call before forcing
    forced_inputs: list | None = None  # nnref's own inputs, when nnjax's replaced them
    parent: tuple | None = None  # key of the call this one ran inside (nnref)
    output_names: tuple = ()  # where each output array sits in the result: "[0]", "['logits']", "" (the result)

    @property
    def key(self) -> Key:
        return (self.path, self.method, self.kind, self.index)


def is_numeric_array(x) -> bool:
    """Arrays whose values are compared: numeric JAX/NumPy arrays, not keys, not Python scalars."""
    if not isinstance(x, (jax.Array, np.ndarray, np.generic)):
        return False
    dtype = getattr(x, 'dtype', None)
    return (
        dtype is not None
        and not jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)
        and (np.dtype(dtype).kind in 'biufc' or np.dtype(dtype).name == 'bfloat16')
    )


def array_leaves(tree) -> list:
    return [x for x in jax.tree_util.tree_leaves(tree) if is_numeric_array(x)]


def replace_array_leaves(tree, new: list):
    """``tree`` with its numeric array leaves replaced, in order, by ``new``."""
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    it = iter(new)
    return jax.tree_util.tree_unflatten(treedef, [next(it) if is_numeric_array(x) else x for x in leaves])


def _recorded(method: str) -> bool:
    private = method.startswith('_') and not (method.startswith('__') and method.endswith('__'))
    return method != 'setup' and not private


class _Counter:
    def __init__(self):
        self.order = itertools.count()
        self.per_key: dict[tuple, int] = {}

    def index(self, path, method, kind) -> int:
        k = (path, method, kind)
        i = self.per_key[k] = self.per_key.get(k, -1) + 1
        return i


class JaxRecorder:
    """An nnjax method interceptor that records every call's array inputs and outputs."""

    def __init__(self):
        self.calls: dict[Key, Call] = {}
        self._counter = _Counter()

    def __call__(self, next_fun: Callable, args, kwargs, context) -> Any:
        out = next_fun(*args, **kwargs)
        module = context.module
        if module.scope is None or not _recorded(context.method_name):
            return out
        names = tuple(
            jax.tree_util.keystr(p) for p, x in jax.tree_util.tree_flatten_with_path(out)[0] if is_numeric_array(x)
        )
        meta = (path_text(module.scope.path), context.method_name, type(module).__name__, names)
        jax.debug.callback(
            functools.partial(self._record, meta), array_leaves((args, kwargs)), array_leaves(out), ordered=True
        )
        return out

    def _record(self, meta, inputs, outputs):
        path, method, kind, names = meta
        index = self._counter.index(path, method, kind)
        call = Call(
            path,
            method,
            kind,
            index,
            next(self._counter.order),
            [np.asarray(x) for x in inputs],
            [np.asarray(x) for x in outputs],
        )
        call.input_count = len(call.inputs)
        call.output_names = names
        self.calls[call.key] = call

    def finish(self) -> dict[Key, Call]:
        jax.effects_barrier()
        return self.calls


class RefRecorder:
    """An nnref method interceptor; with ``force``, each call runs on nnjax's inputs and returns nnjax's outputs.

    ``to_ref`` turns an nnjax-recorded array into what nnref computes with
    (NumPy, float64 when widening).
    """

    def __init__(self, force: dict[Key, Call] | None = None, to_ref: Callable = np.asarray):
        self.calls: dict[Key, Call] = {}
        self.mismatches: dict[Key, str] = {}  # calls whose structure differs from nnjax's
        self._counter = _Counter()
        self._force = force
        self._to_ref = to_ref
        self._stack: list[Key] = []
        self.failed_at: Key | None = None  # the innermost call an exception came out of

    def __call__(self, next_fun: Callable, args, kwargs, context) -> Any:
        module = context.module
        if module.scope is None or not _recorded(context.method_name) or in_trace_only_pass():
            return next_fun(*args, **kwargs)
        path, method, kind = path_text(module.scope.path), context.method_name, type(module).__name__
        index = self._counter.index(path, method, kind)
        order = next(self._counter.order)
        own_inputs = array_leaves((args, kwargs))
        call = Call(
            path,
            method,
            kind,
            index,
            order,
            own_inputs,
            [],
            input_count=len(own_inputs),
            parent=self._stack[-1] if self._stack else None,
        )
        self.calls[call.key] = call
        target = self._force.get(call.key) if self._force is not None else None
        if target is not None and len(target.inputs) == len(own_inputs):
            call.forced_inputs = own_inputs
            args, kwargs = replace_array_leaves((args, kwargs), [self._to_ref(x) for x in target.inputs])
            call.inputs = array_leaves((args, kwargs))
        elif target is not None:
            self.mismatches[call.key] = (
                f"nnjax passed {len(target.inputs)} arrays to this call, nnref {len(own_inputs)}"
            )
        self._stack.append(call.key)
        try:
            out = next_fun(*args, **kwargs)
        except BaseException:
            if self.failed_at is None:
                self.failed_at = call.key
            raise
        finally:
            self._stack.pop()
        call.outputs = array_leaves(out)
        if target is None:
            return out
        if len(target.outputs) != len(call.outputs):
            self.mismatches[call.key] = (
                f"nnjax's call returned {len(target.outputs)} arrays, nnref's {len(call.outputs)}"
            )
            return out
        return replace_array_leaves(out, [self._to_ref(x) for x in target.outputs])
