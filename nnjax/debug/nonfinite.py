"""``find_nonfinite``: the first submodule call that turns finite inputs into NaN or Inf.

nnjax only (no reference run): every call's inputs and outputs are recorded
(eagerly, under ``jax.jit`` or inside lifted transforms alike) and scanned
in the order the calls finished, so a submodule is found before the module
that called it.

>>> import jax, jax.numpy as jnp
>>> import nnjax as nn
>>> class Log(nn.Module):
...   def __call__(self, x):
...     return jnp.log(x)  # NaN for negative x
>>> class Model(nn.Module):
...   @nn.compact
...   def __call__(self, x):
...     h = nn.Dense(4, name='proj')(x)
...     return nn.Dense(2, name='head')(Log(name='log')(h))
>>> x = jnp.ones((1, 3))
>>> variables = Model().init(jax.random.key(0), x)
>>> found = find_nonfinite(Model(), variables, x)
>>> found.path, found.leaves[0].nan > 0
('/log', True)

When the NaN is made by a module's own code between its submodule calls,
that module is named, and ``handed_to`` says which submodule call received
the NaN first.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

import nnjax
from nnjax.debug.recording import JaxRecorder


@dataclasses.dataclass(frozen=True)
class NonFiniteLeaf:
    """One output array of the offending call."""

    name: str  # where it sits in the call's result: "[0]", "['logits']", or "" for the result itself
    shape: tuple
    nan: int
    inf: int


@dataclasses.dataclass(frozen=True)
class NonFiniteReport:
    """The first call whose output holds NaN/Inf while its inputs are finite (``path`` is ``None`` if none)."""

    path: str | None
    method: str | None = None
    kind: str | None = None
    index: int = 0
    leaves: tuple = ()
    calls_checked: int = 0
    inputs_nonfinite: bool = False  # the call's own inputs were not finite to begin with
    handed_to: str | None = None  # the first submodule call inside it that was given NaN/Inf

    @property
    def found(self) -> bool:
        return self.path is not None

    def __str__(self) -> str:
        if self.path is None:
            return f'No submodule call produced NaN or Inf ({self.calls_checked} calls checked).'
        where = self.path + ('' if self.method == '__call__' else f'.{self.method}')
        where += f' #{self.index}' if self.index else ''
        if self.inputs_nonfinite:
            return f'The inputs of {where} ({self.kind}) already hold NaN or Inf: the model was given them.'
        lines = [f'{where} ({self.kind}) returns NaN/Inf from finite inputs:']
        lines += [f'  output{leaf.name} {leaf.shape}: {leaf.nan} NaN, {leaf.inf} Inf' for leaf in self.leaves]
        if self.handed_to:
            lines.append(f'  made by its own code: {self.handed_to} already received NaN/Inf inputs')
        return '\n'.join(lines)


def _finite(a) -> bool:
    a = np.asarray(a)
    return a.dtype.kind not in 'fcV' or bool(np.isfinite(a.astype(np.float64)).all())


def find_nonfinite(
    module, variables, *args, rngs=None, method=None, mutable=False, jit: bool = False, **kwargs
) -> NonFiniteReport:
    """Runs ``module.apply(variables, *args, ...)`` and names the first call that creates NaN or Inf.

    Arguments are those of ``apply``; ``jit=True`` runs it under ``jax.jit``.
    """
    recorder = JaxRecorder()

    def run(variables, args, kwargs, rngs):
        with nnjax.intercept_methods(recorder):
            return module.apply(variables, *args, rngs=rngs, method=method, mutable=mutable, **kwargs)

    (jax.jit(run) if jit else run)(variables, args, kwargs, rngs)
    calls = sorted(recorder.finish().values(), key=lambda c: c.order)
    for call in calls:
        if all(_finite(a) for a in call.outputs):
            continue
        if not all(_finite(a) for a in call.inputs):
            if call.path == '/':
                return NonFiniteReport(call.path, call.method, call.kind, call.index, (), len(calls), True)
            continue  # poisoned upstream; the creator was reported earlier or is the root
        leaves = []
        for name, a in zip(call.output_names, call.outputs):
            a = np.asarray(a).astype(np.float64) if np.asarray(a).dtype.kind in 'fcV' else np.asarray(a)
            if a.dtype.kind in 'fc':
                nan, inf = int(np.isnan(a).sum()), int(np.isinf(a).sum())
                if nan or inf:
                    leaves.append(NonFiniteLeaf(name, a.shape, nan, inf))
        prefix = call.path.rstrip('/') + '/'
        handed_to = next(
            (
                c.path
                for c in calls[: call.order]
                if c.order < call.order and c.path.startswith(prefix) and not all(_finite(a) for a in c.inputs)
            ),
            None,
        )
        return NonFiniteReport(
            call.path, call.method, call.kind, call.index, tuple(leaves), len(calls), handed_to=handed_to
        )
    return NonFiniteReport(None, calls_checked=len(calls))
