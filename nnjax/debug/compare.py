"""``compare``: which submodule of an nnjax model disagrees with the float64 reference.

Three runs of the same call, every submodule call recorded (see
:mod:`nnjax.debug.recording`):

1. nnjax, as the user runs it (its dtypes; under ``jax.jit`` if asked);
2. nnref on its own, in float64, from the same variables and inputs: the
   *global* error of each call, which shows how error grows down the model;
3. nnref *forced*: each call gets nnjax's own inputs and each submodule call
   hands back nnjax's own outputs, so a call's difference from nnjax is
   made by that call's own code alone: the *local* error, the one that
   decides blame. A call whose own code is right agrees to within rounding
   even deep inside a model whose upstream error has grown large (a
   bfloat16 model), and a wrong one stands out even when its effect
   downstream is small.

>>> import jax, jax.numpy as jnp
>>> import nnjax as nn
>>> model = nn.Sequential([nn.Dense(8), nn.LayerNorm(), nn.Dense(2)])
>>> x = jax.random.normal(jax.random.key(1), (4, 3))
>>> variables = model.init(jax.random.key(0), x)
>>> report = compare(model, variables, x)
>>> print(report.first_divergence)
None
>>> [row.path for row in report.rows]
['/', '/layers_0', '/layers_1', '/layers_2']
"""

from __future__ import annotations

from typing import Mapping

import jax
import numpy as np

import nnjax
from nnjax.debug import metrics
from nnjax.debug.recording import JaxRecorder, RefRecorder
from nnjax.debug.reference import Twin
from nnjax.debug.report import DivergenceReport, Row, StateRow

# The tolerance family of each library layer's own computation; a user's
# module gets the loosest float32 row, as nobody knows what it computes.
FAMILIES = {
    **dict.fromkeys(('Dense', 'DenseGeneral', 'Einsum', 'Embed'), 'matmul'),
    **dict.fromkeys(('Conv', 'ConvTranspose', 'ConvLocal'), 'conv'),
    **dict.fromkeys(
        ('LayerNorm', 'BatchNorm', 'GroupNorm', 'RMSNorm', 'InstanceNorm', 'SpectralNorm', 'WeightNorm'),
        'normalization',
    ),
    **dict.fromkeys(('MultiHeadDotProductAttention', 'MultiHeadAttention', 'SelfAttention'), 'attention'),
    **dict.fromkeys(('Dropout', 'Sequential'), 'elementwise'),
    **dict.fromkeys(('LSTMCell', 'OptimizedLSTMCell', 'GRUCell', 'MGUCell', 'SimpleCell', 'ConvLSTMCell'), 'matmul'),
}
DEFAULT_FAMILY = 'attention'


def compare(
    module,
    variables,
    *args,
    rngs=None,
    method=None,
    mutable=False,
    jit: bool = False,
    widen: bool = True,
    families: Mapping[str, str] | None = None,
    **kwargs,
) -> DivergenceReport:
    """Runs ``module.apply(variables, *args, ...)`` on nnjax and on nnref and pairs every submodule call.

    ``rngs``, ``method``, ``mutable`` and ``**kwargs`` are those of
    ``apply``. ``jit=True`` runs the nnjax side under ``jax.jit``.
    ``widen=False`` runs the reference in the model's own dtypes instead of
    float64. ``families`` maps a class name or a module path to a
    ``shared_spec.tolerances`` family, overriding :data:`FAMILIES`.

    Returns a :class:`~nnjax.debug.report.DivergenceReport`:
    ``report.first_divergence`` is the path of the first call (in execution
    order) whose own computation differs beyond tolerance, or ``None``;
    ``print(report)`` shows every call.
    """
    jax_calls, jax_out = _run_nnjax(module, variables, args, kwargs, rngs, method, mutable, jit)
    twin = Twin(module, variables, args, kwargs, rngs=rngs, method=method, mutable=mutable, widen=widen)
    free, forced = RefRecorder(), RefRecorder(force=jax_calls, to_ref=twin.rebuilder.array)
    free_out = twin.apply(interceptor=free)
    forced_out = twin.apply(interceptor=forced)

    families = dict(families or {})
    rows = _rows(jax_calls, free, forced, families)
    kinds = {}
    for call in free.calls.values():  # a lifted module's inner class names the computation
        if call.path not in kinds or call.kind in FAMILIES:
            kinds[call.path] = call.kind
    state = _state_rows(jax_out, free_out, forced_out, kinds, families) if mutable else ()
    return DivergenceReport(tuple(rows), tuple(state), 'float64' if widen else 'model dtypes')


def _run_nnjax(module, variables, args, kwargs, rngs, method, mutable, jit):
    recorder = JaxRecorder()

    def run(variables, args, kwargs, rngs):
        with nnjax.intercept_methods(recorder):
            return module.apply(variables, *args, rngs=rngs, method=method, mutable=mutable, **kwargs)

    out = (jax.jit(run) if jit else run)(variables, args, kwargs, rngs)
    return recorder.finish(), out


def _family(families: dict, call) -> str:
    return families.get(call.path) or families.get(call.kind) or FAMILIES.get(call.kind, DEFAULT_FAMILY)


def _dtype_name(arrays: list) -> str:
    for a in arrays:
        if np.asarray(a).dtype.kind in 'fcV':
            return str(np.asarray(a).dtype)
    return str(np.asarray(arrays[0]).dtype) if arrays else '-'


def _rows(jax_calls: dict, free: RefRecorder, forced: RefRecorder, families: dict) -> list[Row]:
    glue = {}  # parent key -> worst ratio of the inputs it computed for its submodule calls
    for key, call in forced.calls.items():
        target = jax_calls.get(key)
        if call.forced_inputs is None or call.parent is None or target is None:
            continue
        parent = forced.calls[call.parent]
        ratio = metrics.leaves_ratio(target.inputs, call.forced_inputs, _family(families, parent))
        glue[call.parent] = max(glue.get(call.parent, 0.0), ratio)

    rows = []
    for key, ref in sorted(free.calls.items(), key=lambda item: item[1].order):
        target = jax_calls.get(key)
        family = _family(families, ref)
        if target is None:
            rows.append(
                Row(
                    ref.path,
                    ref.method,
                    ref.kind,
                    ref.index,
                    '-',
                    family,
                    *([float('nan')] * 5),
                    note='not called on nnjax',
                )
            )
            continue
        in_abs, in_rel = metrics.leaves_abs_rel(target.inputs, ref.inputs)
        out_abs, out_rel = metrics.leaves_abs_rel(target.outputs, ref.outputs)
        local_call = forced.calls.get(key)
        note = forced.mismatches.get(key, '')
        if local_call is None:
            local, note = float('nan'), note or 'not called in the forced run'
        else:
            local = metrics.leaves_ratio(target.outputs, local_call.outputs, family)
        rows.append(
            Row(
                ref.path,
                ref.method,
                ref.kind,
                ref.index,
                _dtype_name(target.outputs),
                family,
                in_abs,
                in_rel,
                out_abs,
                out_rel,
                local,
                glue.get(key, 0.0),
                note,
            )
        )
    for key, target in jax_calls.items():
        if key not in free.calls:
            rows.append(
                Row(
                    target.path,
                    target.method,
                    target.kind,
                    target.index,
                    _dtype_name(target.outputs),
                    _family(families, target),
                    *([float('nan')] * 5),
                    note='not called on nnref',
                )
            )
    return rows


def _flat_state(tree, prefix='') -> dict:
    out = {}
    if hasattr(tree, 'items') and not hasattr(tree, 'shape'):
        for k, v in tree.items():
            out.update(_flat_state(v, f'{prefix}/{k}'))
    elif hasattr(tree, 'unbox'):
        out[prefix] = tree.unbox()
    else:
        out[prefix] = tree
    return out


def _state_rows(jax_out, free_out, forced_out, kinds: dict, families: dict) -> list[StateRow]:
    jax_state, free_state, forced_state = (_flat_state(out[1]) for out in (jax_out, free_out, forced_out))
    rows = []
    for name in sorted(set(jax_state) | set(free_state)):
        collection, path = name[1:].split('/', 1)
        path = '/' + path
        a, d, local = jax_state.get(name), free_state.get(name), forced_state.get(name)
        if a is None or d is None:
            rows.append(
                StateRow(
                    collection,
                    path,
                    '-',
                    float('nan'),
                    float('nan'),
                    float('nan'),
                    note='only on ' + ('nnref' if a is None else 'nnjax'),
                )
            )
            continue
        module_path = path.rsplit('/', 1)[0] or '/'
        kind = kinds.get(module_path, '')
        family = families.get(module_path) or families.get(kind) or FAMILIES.get(kind, DEFAULT_FAMILY)
        rows.append(
            StateRow(
                collection,
                path,
                str(np.asarray(a).dtype),
                metrics.max_abs(a, d),
                metrics.max_rel(a, d),
                metrics.tolerance_ratio(a, local, family),
            )
        )
    return rows
