"""``tabulate``: a module's calls, shapes and variables as a plain-text table.

``init`` runs eagerly while an interceptor records every module method
call; the records and the variables become the same
:class:`~shared_spec.summary_table.SummaryTable` that nnjax builds, drawn
here as plain text (:mod:`nnref.summary_render`). nnref has no compiler to
ask for FLOPs, so ``compute_flops`` / ``compute_vjp_flops`` are refused.

>>> import nnref as nn
>>> from nnref.summary import tabulate
>>> class Foo(nn.Module):
...   @nn.compact
...   def __call__(self, x):
...     h = nn.Dense(4)(x)
...     return nn.Dense(2)(h)
>>> print(tabulate(Foo(), nn.random.PRNGKey(0))(nn.numpy.ones((16, 9))))  # doctest: +NORMALIZE_WHITESPACE
<BLANKLINE>
                                Foo Summary
┏━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━┓
┃ path    ┃ module ┃ inputs        ┃ outputs       ┃ params               ┃
┡━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━┩
│         │ Foo    │ float32[16,9] │ float32[16,2] │                      │
├─────────┼────────┼───────────────┼───────────────┼──────────────────────┤
│ Dense_0 │ Dense  │ float32[16,9] │ float32[16,4] │ bias: float32[4]     │
│         │        │               │               │ kernel: float32[9,4] │
│         │        │               │               │                      │
│         │        │               │               │ 40 (160 B)           │
├─────────┼────────┼───────────────┼───────────────┼──────────────────────┤
│ Dense_1 │ Dense  │ float32[16,4] │ float32[16,2] │ bias: float32[2]     │
│         │        │               │               │ kernel: float32[4,2] │
│         │        │               │               │                      │
│         │        │               │               │ 10 (40 B)            │
├─────────┼────────┼───────────────┼───────────────┼──────────────────────┤
│         │        │               │         Total │ 50 (200 B)           │
└─────────┴────────┴───────────────┴───────────────┴──────────────────────┘
<BLANKLINE>
                       Total Parameters: 50 (200 B)
<BLANKLINE>
<BLANKLINE>
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Callable, Mapping, Optional

from nnref import meta
from nnref.interception import intercept_methods
from nnref.summary_render import render_table
from shared_spec.collection_filters import DenyList
from shared_spec.summary_table import CallRecord, SummaryTable, build_summary_table

__all__ = ['tabulate', 'summary_table']

_NO_FLOPS = (
    "nnref cannot compute FLOPs: they come from XLA's cost analysis of the compiled "
    "computation, and nnref runs eagerly in NumPy with no compiler. Fix: call "
    "nnjax.tabulate (or nnjax's Module.tabulate) with compute_flops/compute_vjp_flops, "
    "or leave them False here."
)


def _box(x: Any):
    """``describe_value``'s view of nnref's metadata boxes."""
    if isinstance(x, meta.Partitioned):
        return x.value, x.names
    if isinstance(x, meta.AxisMetadata):
        return x.unbox(), None
    return None


class _CallRecorder:
    """An interceptor that records the calls of bound modules (not ``setup``), in start order."""

    def __init__(self):
        self.records: list = []

    def __call__(self, next_fun: Callable, args: tuple, kwargs: dict, context) -> Any:
        module = context.module
        if context.method_name == 'setup' or module.scope is None:
            return next_fun(*args, **kwargs)
        index = len(self.records)
        self.records.append(None)  # the index is taken when the call starts
        out = next_fun(*args, **kwargs)
        self.records[index] = CallRecord.of(
            module.scope.path, type(module).__name__, context.method_name, args, kwargs, out, _box
        )
        return out


def summary_table(
    module,
    rngs,
    args: tuple = (),
    kwargs: Optional[dict] = None,
    *,
    depth: Optional[int] = None,
    show_repeated: bool = False,
    mutable: Any = DenyList('intermediates'),
) -> SummaryTable:
    """The :class:`~shared_spec.summary_table.SummaryTable` of ``module.init(rngs, *args, **kwargs)``.

    >>> import nnref as nn
    >>> table = summary_table(nn.Dense(3), nn.random.PRNGKey(0), (nn.numpy.ones((2, 4)),))
    >>> table.plain_rows()[0][:4], table.footer[-1]
    (('', 'Dense', 'float32[2,4]', 'float32[2,3]'), '15 (60 B)')
    """
    recorder = _CallRecorder()
    with intercept_methods(recorder):
        variables = module.init(rngs, *args, mutable=mutable, **dict(kwargs or {}))
    return build_summary_table(
        type(module).__name__, recorder.records, variables, depth=depth, show_repeated=show_repeated, box=_box
    )


def tabulate(
    module,
    rngs,
    depth: Optional[int] = None,
    show_repeated: bool = False,
    mutable: Any = DenyList('intermediates'),
    console_kwargs: Optional[Mapping] = None,
    table_kwargs: Mapping = MappingProxyType({}),
    column_kwargs: Mapping = MappingProxyType({}),
    compute_flops: bool = False,
    compute_vjp_flops: bool = False,
    **kwargs,
) -> Callable[..., str]:
    """A function ``(*args, **kwargs) -> str`` that summarizes ``module`` as a table.

    The returned function runs ``module.init(rngs, *args, **kwargs)``
    eagerly; the ``kwargs`` given here (e.g. ``method=``) go to ``init`` as
    well. ``depth`` and ``show_repeated`` are as in ``nnjax.tabulate``.
    Only ``console_kwargs['width']`` is read (default 100): the other
    console, table and column options style ``rich`` output and are
    accepted for the same signature only. ``compute_flops`` and
    ``compute_vjp_flops`` raise ``ValueError``: use nnjax for FLOPs.

    >>> import nnref as nn
    >>> fn = tabulate(nn.Dense(2), nn.random.PRNGKey(0))
    >>> 'Total Parameters: 8 (32 B)' in fn(nn.numpy.ones((1, 3)))
    True
    >>> tabulate(nn.Dense(2), nn.random.PRNGKey(0), compute_flops=True)
    Traceback (most recent call last):
    ...
    ValueError: nnref cannot compute FLOPs: ...
    """
    if compute_flops or compute_vjp_flops:
        raise ValueError(_NO_FLOPS)
    width = int((console_kwargs or {}).get('width') or 100)

    def tabulate_fn(*fn_args, **fn_kwargs) -> str:
        table = summary_table(
            module, rngs, fn_args, {**kwargs, **fn_kwargs}, depth=depth, show_repeated=show_repeated, mutable=mutable
        )
        return render_table(table, width=width)

    return tabulate_fn
