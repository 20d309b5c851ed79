"""``check_grads``: nnjax's gradient against float64 central differences of the reference.

For each parameter leaf and a few random unit directions ``v`` (the same
shape as the leaf), the directional derivative ``<grad, v>`` from
``jax.grad`` on nnjax is compared with

    (L(p + h v) - L(p - h v)) / 2h

evaluated on nnref in float64 from the same variables, with ``h = eps64 **
(1/3) * max(1, rms(p))`` (the step that balances truncation and rounding
error). An independent forward pass in float64 makes the finite
differences accurate to ~1e-10, so the comparison measures nnjax's
gradient, within the ``derivative`` row of ``shared_spec.tolerances``:
``|<grad, v> - fd| <= atol * |grad| + rtol * |fd|``, where ``|grad|`` is
the norm of the whole gradient (so the verdict does not depend on the
loss's scale). A NaN or Inf gradient always fails.

>>> import jax, jax.numpy as jnp
>>> import nnjax as nn
>>> model = nn.Sequential([nn.Dense(4), nn.tanh, nn.Dense(1)])
>>> x = jax.random.normal(jax.random.key(1), (5, 3))
>>> variables = model.init(jax.random.key(0), x)
>>> report = check_grads(model, variables, x, loss=lambda y: jnp.mean(y ** 2))
>>> report.ok, report.failing, len(report.rows)
(True, (), 4)
"""

from __future__ import annotations

import dataclasses
import io

import jax
import numpy as np

from nnjax.debug.reference import Twin
from shared_spec.tolerances import tolerance

_EPS64 = np.finfo(np.float64).eps


@dataclasses.dataclass(frozen=True)
class GradRow:
    """One parameter leaf: the worst of its directions."""

    path: str  # '/Dense_0/kernel'
    shape: tuple
    dtype: str
    max_abs: float  # |<grad, v> - finite difference|
    max_rel: float  # the same over max(|<grad, v>|, |finite difference|)
    ratio: float  # in units of the 'derivative' tolerance; above 1 fails

    @property
    def ok(self) -> bool:
        return self.ratio <= 1.0


@dataclasses.dataclass(frozen=True)
class GradCheckReport:
    rows: tuple
    directions: int

    @property
    def failing(self) -> tuple:
        """Paths of the leaves whose gradient is off."""
        return tuple(row.path for row in self.rows if not row.ok)

    @property
    def ok(self) -> bool:
        return not self.failing

    def __rich__(self):
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        table = Table(
            title=f'gradient check: jax.grad vs float64 central differences ({self.directions} directions per leaf)',
            title_justify='left',
        )
        for header in ('', 'parameter', 'shape', 'dtype', 'abs err', 'rel err', 'err/tol'):
            table.add_column(header, no_wrap=True)
        for row in self.rows:
            table.add_row(
                '' if row.ok else '!',
                row.path,
                str(row.shape),
                row.dtype,
                f'{row.max_abs:.1e}',
                f'{row.max_rel:.1e}',
                f'{row.ratio:.2f}',
                style=None if row.ok else 'red',
            )
        verdict = (
            'All gradients agree.'
            if self.ok
            else f'Gradients off for {len(self.failing)} leaves: {", ".join(self.failing)}.'
        )
        return Group(table, Text(verdict))

    def __str__(self) -> str:
        from rich.console import Console

        buffer = io.StringIO()
        Console(file=buffer, width=120, color_system=None).print(self)
        return '\n'.join(line.rstrip() for line in buffer.getvalue().splitlines())


def check_grads(
    module, variables, *args, loss, rngs=None, method=None, mutable=False, directions: int = 3, seed: int = 0, **kwargs
) -> GradCheckReport:
    """Compares ``jax.grad`` of ``loss(module.apply(variables, *args, ...))`` w.r.t. ``params`` with the reference.

    ``loss`` maps the model's output (the first element when ``mutable``
    collections are returned) to a scalar; it is run on both backends (its
    own code, with names bound to nnref on the reference side).
    ``directions`` random unit directions per leaf, drawn from ``seed``.
    """

    def jax_loss(params):
        out = module.apply({**variables, 'params': params}, *args, rngs=rngs, method=method, mutable=mutable, **kwargs)
        return loss(out[0] if mutable else out)

    grads = jax.jit(jax.grad(jax_loss))(variables['params'])
    twin = Twin(module, variables, args, kwargs, rngs=rngs, method=method, mutable=mutable)
    ref_loss_fn = twin.rebuilder.value(loss)

    def ref_loss(params) -> float:
        out = twin.apply({**twin.variables, 'params': params})
        return float(np.asarray(ref_loss_fn(out[0] if mutable else out), np.float64))

    ref_params = twin.variables['params']
    rng = np.random.default_rng(seed)
    # The whole gradient's size sets the absolute tolerance, in the loss's units: the verdict does not
    # depend on how the loss is scaled, and a leaf whose true gradient is zero does not fail.
    finite = [np.nan_to_num(np.asarray(g, np.float64), nan=0.0, posinf=0.0, neginf=0.0) for _, g in _leaves(grads)]
    scale = float(np.sqrt(sum(np.sum(g**2) for g in finite)))
    rows = []
    for path, grad in _leaves(grads):
        value = _get(ref_params, path)
        g = np.asarray(grad, np.float64)
        if value.dtype.kind not in 'fc':
            continue
        rtol, atol = tolerance(np.asarray(grad).dtype, 'derivative')
        h = _EPS64 ** (1 / 3) * max(1.0, float(np.sqrt(np.mean(value**2))))
        worst_abs = worst_rel = worst_ratio = 0.0
        for _ in range(directions):
            v = rng.standard_normal(value.shape)
            v /= np.linalg.norm(v) or 1.0
            plus = ref_loss(_set(ref_params, path, value + h * v))
            minus = ref_loss(_set(ref_params, path, value - h * v))
            numeric = (plus - minus) / (2 * h)
            analytic = float(np.sum(g * v))
            err = abs(analytic - numeric)
            err = err if np.isfinite(err) else np.inf  # a NaN or Inf gradient never agrees
            worst_abs = max(worst_abs, err)
            worst_rel = max(worst_rel, err / max(abs(analytic), abs(numeric), np.finfo(np.float64).tiny))
            bound = atol * scale + rtol * abs(numeric)
            worst_ratio = max(worst_ratio, err / bound if bound else (0.0 if err == 0 else np.inf))
        rows.append(
            GradRow(
                '/' + '/'.join(path), tuple(value.shape), str(np.asarray(grad).dtype), worst_abs, worst_rel, worst_ratio
            )
        )
    return GradCheckReport(tuple(rows), directions)


def _unboxed(x):
    return x.unbox() if hasattr(x, 'unbox') and not hasattr(x, 'shape') else x


def _leaves(tree, prefix=()):
    tree = _unboxed(tree)
    if hasattr(tree, 'items') and not hasattr(tree, 'shape'):
        for k in sorted(tree):
            yield from _leaves(tree[k], prefix + (k,))
    else:
        yield prefix, tree


def _get(tree, path):
    for k in path:
        tree = _unboxed(tree)[k]
    return np.asarray(_unboxed(tree))


def _set(tree, path, value):
    """A copy of ``tree`` with the leaf at ``path`` replaced (boxes kept)."""
    if not path:
        return tree.replace_boxed(value) if hasattr(tree, 'replace_boxed') else value
    inner = _unboxed(tree)
    new = dict(inner)
    new[path[0]] = _set(inner[path[0]], path[1:], value)
    return tree.replace_boxed(new) if hasattr(tree, 'replace_boxed') and not hasattr(tree, 'items') else new
