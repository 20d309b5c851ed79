"""``tabulate``: a printed overview of a model -- every module call, its shapes, its variables.

How the table is made, in three steps:

1. **record** -- run ``module.init`` eagerly with an interceptor installed
   (:func:`nnref.interception.intercept_methods`); every method call of a
   bound module becomes a ``CallRecord`` (path, module type, described
   inputs and outputs), in the order the calls start, so parents come first;
2. **build** -- combine the records with the variables ``init`` returned
   into a ``SummaryTable`` of text cells (which rows to keep at a given
   ``depth``, whose variables a row counts, the totals). Steps 1 and 2 are
   shared with ``nnjax`` (:mod:`shared_spec.summary_table`), so the two
   backends fill the same cells;
3. **draw** -- nnref draws the table as plain text
   (:mod:`nnref.summary_render`); nnjax uses ``rich``.

FLOP counts come from a compiler's cost analysis, which nnref does not
have, so asking for them is an error here.

>>> import numpy as np
>>> import nnref as nn
>>> class TwoLayer(nn.Module):
...     @nn.compact
...     def __call__(self, x):
...         h = nn.relu(nn.Dense(3)(x))
...         return nn.Dense(1)(h)
>>> print(nn.tabulate(TwoLayer(), nn.random.PRNGKey(0), console_kwargs={'width': 80})(np.ones((2, 5), np.float32)))
... # doctest: +NORMALIZE_WHITESPACE
<BLANKLINE>
                              TwoLayer Summary
┏━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━┓
┃ path    ┃ module   ┃ inputs       ┃ outputs      ┃ params               ┃
┡━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━┩
│         │ TwoLayer │ float32[2,5] │ float32[2,1] │                      │
├─────────┼──────────┼──────────────┼──────────────┼──────────────────────┤
│ Dense_0 │ Dense    │ float32[2,5] │ float32[2,3] │ bias: float32[3]     │
│         │          │              │              │ kernel: float32[5,3] │
│         │          │              │              │                      │
│         │          │              │              │ 18 (72 B)            │
├─────────┼──────────┼──────────────┼──────────────┼──────────────────────┤
│ Dense_1 │ Dense    │ float32[2,3] │ float32[2,1] │ bias: float32[1]     │
│         │          │              │              │ kernel: float32[3,1] │
│         │          │              │              │                      │
│         │          │              │              │ 4 (16 B)             │
├─────────┼──────────┼──────────────┼──────────────┼──────────────────────┤
│         │          │              │        Total │ 22 (88 B)            │
└─────────┴──────────┴──────────────┴──────────────┴──────────────────────┘
<BLANKLINE>
                        Total Parameters: 22 (88 B)
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
from shared_spec.summary_table import CallRecord, SummaryTable, box_view, build_summary_table

__all__ = ['tabulate', 'summary_table']

_NO_FLOPS = (
    "nnref cannot compute FLOPs: they come from XLA's cost analysis of the compiled "
    "computation, and nnref runs eagerly in NumPy with no compiler. Fix: call "
    "nnjax.tabulate (or nnjax's Module.tabulate) with compute_flops/compute_vjp_flops, "
    "or leave them False here."
)


# How describe_value sees nnref's metadata boxes: a Partitioned shows its names too.
_box = box_view(meta.Partitioned, meta.AxisMetadata)


class _CallRecorder:
    """Step 1's interceptor: one ``CallRecord`` per method call of a bound module.

    ``intercept_methods`` calls it in place of every module method;
    ``next_fun`` runs the real method. ``setup`` (not a call a user makes)
    and unbound modules are skipped. The slot in ``records`` is reserved
    *before* running the method, so a parent's row comes before the rows of
    the children it calls, even though it finishes after them.
    """

    def __init__(self):
        self.records: list = []

    def __call__(self, next_fun: Callable, args: tuple, kwargs: dict, context) -> Any:
        module = context.module
        if context.method_name == 'setup' or module.scope is None:
            return next_fun(*args, **kwargs)
        slot = len(self.records)
        self.records.append(None)
        out = next_fun(*args, **kwargs)
        name = type(module).__name__
        self.records[slot] = CallRecord.of(module.scope.path, name, context.method_name, args, kwargs, out, _box)
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
    """Steps 1 and 2 of the module docstring: the table's cells, before drawing.

    >>> import numpy as np
    >>> import nnref as nn
    >>> table = summary_table(nn.Embed(10, 4), nn.random.PRNGKey(0), (np.array([1, 2]),))
    >>> table.columns, table.plain_rows()[0][2:4]
    (('path', 'module', 'inputs', 'outputs', 'params'), ('int64[2]', 'float32[2,4]'))
    """
    recorder = _CallRecorder()  # step 1: every call of init, in start order
    with intercept_methods(recorder):
        variables = module.init(rngs, *args, mutable=mutable, **dict(kwargs or {}))
    return build_summary_table(  # step 2
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
    """Return a function that, called with ``init``'s arguments, returns the table as a string.

    Nothing runs until that function is called; then it performs the three
    steps of the module docstring. ``kwargs`` given here (such as
    ``method=``) are passed to ``init`` too. ``depth`` limits how deep rows
    go (a row at the limit counts everything under it); ``show_repeated``
    also lists a module called again. Of the drawing options only
    ``console_kwargs['width']`` means something in plain text (default
    100); the rest belong to ``rich`` and are accepted so that nnjax calls
    run here unchanged. ``compute_flops`` / ``compute_vjp_flops`` raise.

    >>> import numpy as np
    >>> import nnref as nn
    >>> table_of = tabulate(nn.LayerNorm(), nn.random.PRNGKey(0))
    >>> 'Total Parameters: 12 (48 B)' in table_of(np.ones((2, 6), np.float32))
    True
    >>> tabulate(nn.LayerNorm(), nn.random.PRNGKey(0), compute_vjp_flops=True)
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
