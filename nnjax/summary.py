"""``tabulate``: a module's calls, shapes and variables as a table, drawn with ``rich``.

``init`` runs under ``jax.eval_shape`` (no FLOPs spent, no memory
allocated) while an interceptor records every module method call; the
records and the variables become a
:class:`~shared_spec.summary_table.SummaryTable` (the same one nnref builds)
that ``rich`` draws. With ``compute_flops`` / ``compute_vjp_flops`` each
call is then lowered alone with XLA and its cost analysis read.

>>> import jax, jax.numpy as jnp
>>> import nnjax as nn
>>> from nnjax.summary import tabulate
>>> class Foo(nn.Module):
...   @nn.compact
...   def __call__(self, x):
...     h = nn.Dense(4)(x)
...     return nn.Dense(2)(h)
>>> tabulate_fn = tabulate(Foo(), jax.random.PRNGKey(0), console_kwargs={'force_terminal': False, 'width': 100})
>>> print(tabulate_fn(jnp.ones((16, 9))))  # doctest: +NORMALIZE_WHITESPACE
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

import io
from types import MappingProxyType
from typing import Any, Callable, Mapping, Optional

import jax
import numpy as np

from nnjax import interception, meta
from shared_spec.collection_filters import DenyList
from shared_spec.summary_table import CallRecord, SummaryTable, box_view, build_summary_table

__all__ = ['tabulate', 'summary_table', 'render_table']


# ``describe_value``'s view of nnjax's metadata boxes.
_box = box_view(meta.Partitioned, meta.AxisMetadata)


def _abstract(tree: Any) -> Any:
    """``tree`` with every array (or tracer) replaced by a ``jax.ShapeDtypeStruct``."""

    def leaf(x):
        if isinstance(x, (jax.Array, np.ndarray, np.generic, jax.ShapeDtypeStruct)):
            return jax.ShapeDtypeStruct(np.shape(x), x.dtype)
        return x

    return jax.tree_util.tree_map(leaf, tree)


class _CallRecorder:
    """An interceptor that records the calls of bound modules (not ``setup``), in start order."""

    def __init__(self, keep_calls: bool):
        self.records: list = []
        self.calls: list = []  # (unbound copy, method name, abstract args, abstract kwargs), when kept
        self.keep_calls = keep_calls

    def __call__(self, next_fun: Callable, args: tuple, kwargs: dict, context) -> Any:
        module = context.module
        if context.method_name == 'setup' or module.scope is None:
            return next_fun(*args, **kwargs)
        index = len(self.records)
        self.records.append(None)  # the index is taken when the call starts
        self.calls.append(None)
        out = next_fun(*args, **kwargs)
        self.records[index] = CallRecord.of(
            module.scope.path, type(module).__name__, context.method_name, args, kwargs, out, _box
        )
        if self.keep_calls:
            self.calls[index] = (
                module.clone(parent=None, _deep_clone=True),
                context.method_name,
                _abstract(args),
                _abstract(kwargs),
            )
        return out


def _cost_flops(fn: Callable, *args) -> int:
    """The FLOPs XLA's cost analysis gives for ``fn(*args)`` (0 when it gives none)."""
    cost = jax.jit(fn).lower(*args).cost_analysis()
    if isinstance(cost, (list, tuple)):  # older JAX: one dict per computation
        cost = cost[0] if cost else None
    if not cost:
        return 0
    return int(cost.get('flops', 0))


def _cotangent(y):
    if jax.numpy.issubdtype(y.dtype, jax.numpy.inexact):
        return y
    return np.zeros(y.shape, jax.dtypes.float0)


def _call_flops(module, method: str, args, kwargs, rngs: dict, forward: bool, backward: bool):
    """``(flops, vjp_flops)`` of ``module.method(*args, **kwargs)`` alone, its variables included."""
    leaves, treedef = jax.tree_util.tree_flatten((args, kwargs))
    dynamic = [i for i, x in enumerate(leaves) if isinstance(x, jax.ShapeDtypeStruct)]

    def rebuild(dynamic_values):
        filled = list(leaves)
        for i, value in zip(dynamic, dynamic_values):
            filled[i] = value
        return jax.tree_util.tree_unflatten(treedef, filled)

    def init(dynamic_values):
        a, kw = rebuild(dynamic_values)
        return module.init(rngs, *a, method=method, **kw)

    def call(variables, dynamic_values):
        a, kw = rebuild(dynamic_values)
        return module.apply(variables, *a, rngs=rngs, method=method, mutable=DenyList('intermediates'), **kw)

    def call_and_pull_back(variables, dynamic_values):
        out, pull_back = jax.vjp(call, variables, dynamic_values)
        return pull_back(jax.tree_util.tree_map(_cotangent, out))

    inputs = [leaves[i] for i in dynamic]
    variables = jax.eval_shape(init, inputs)
    flops = _cost_flops(call, variables, inputs) if forward else None
    vjp_flops = None
    if backward:
        try:
            vjp_flops = _cost_flops(call_and_pull_back, variables, inputs)
        except TypeError:  # not differentiable (e.g. integer outputs)
            vjp_flops = 0
    return flops, vjp_flops


def _rng_dict(rngs) -> dict:
    return dict(rngs) if isinstance(rngs, Mapping) else {'params': rngs}


def summary_table(
    module,
    rngs,
    args: tuple = (),
    kwargs: Optional[dict] = None,
    *,
    depth: Optional[int] = None,
    show_repeated: bool = False,
    mutable: Any = DenyList('intermediates'),
    compute_flops: bool = False,
    compute_vjp_flops: bool = False,
) -> SummaryTable:
    """The :class:`~shared_spec.summary_table.SummaryTable` of ``module.init(rngs, *args, **kwargs)``.

    >>> import jax, jax.numpy as jnp
    >>> import nnjax as nn
    >>> table = summary_table(nn.Dense(3), jax.random.PRNGKey(0), (jnp.ones((2, 4)),), compute_flops=True)
    >>> table.columns
    ('path', 'module', 'inputs', 'outputs', 'flops', 'params')
    >>> table.plain_rows()[0][:4], table.footer[-1]
    (('', 'Dense', 'float32[2,4]', 'float32[2,3]'), '15 (60 B)')
    >>> int(table.rows[0][4]) > 0
    True
    """
    kwargs = dict(kwargs or {})
    recorder = _CallRecorder(keep_calls=compute_flops or compute_vjp_flops)

    def init():
        with interception.intercept_methods(recorder):
            return module.init(rngs, *args, mutable=mutable, **kwargs)

    variables = jax.eval_shape(init)
    records = recorder.records
    if compute_flops or compute_vjp_flops:
        rng_dict = _rng_dict(rngs)
        measured = []
        for record, call in zip(records, recorder.calls):
            if record is not None:
                flops, vjp_flops = _call_flops(*call, rng_dict, compute_flops, compute_vjp_flops)
                record = CallRecord(
                    record.path, record.module_type, record.method, record.inputs, record.outputs, flops, vjp_flops
                )
            measured.append(record)
        records = measured
    return build_summary_table(
        type(module).__name__,
        records,
        variables,
        depth=depth,
        show_repeated=show_repeated,
        show_flops=compute_flops,
        show_vjp_flops=compute_vjp_flops,
        box=_box,
    )


def render_table(
    table: SummaryTable,
    console_kwargs: Optional[Mapping] = None,
    table_kwargs: Mapping = MappingProxyType({}),
    column_kwargs: Mapping = MappingProxyType({}),
) -> str:
    """``table`` drawn by ``rich`` (``'\\n' + text + '\\n'``); markup becomes terminal styles.

    ``console_kwargs`` go to ``rich.console.Console`` (defaults
    ``force_terminal=True, force_jupyter=False``), ``table_kwargs`` to
    ``rich.table.Table`` and ``column_kwargs`` to every ``add_column``.

    >>> from shared_spec.summary_table import SummaryTable
    >>> t = SummaryTable('T Summary', ('path', 'params'), (('', '[bold]1 (4 B)[/bold]'),),
    ...                  ('Total', '1 (4 B)'), '\\nTotal Parameters: 1 (4 B)', 0)
    >>> text = render_table(t, {'force_terminal': False})
    >>> 'Total Parameters: 1 (4 B)' in ' '.join(text.split())
    True
    """
    import rich.console
    import rich.table
    import rich.text

    options = {'force_terminal': True, 'force_jupyter': False}
    options.update(console_kwargs or {})
    rich_table = rich.table.Table(
        show_header=True, show_lines=True, show_footer=True, title=table.title, **table_kwargs
    )
    for name in table.columns:
        rich_table.add_column(name, **column_kwargs)
    for row in table.rows:
        rich_table.add_row(*row)
    for column, text in zip(rich_table.columns, table.footer):
        if text:
            column.footer = text
    rich_table.columns[table.total_column].footer = rich.text.Text.from_markup(
        table.footer[table.total_column], justify='right'
    )
    rich_table.caption_style = 'bold'
    rich_table.caption = table.caption

    out = io.StringIO()
    rich.console.Console(file=out, **options).print(rich_table)
    return '\n' + out.getvalue() + '\n'


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

    The returned function runs ``module.init(rngs, *args, **kwargs)`` under
    ``jax.eval_shape``; the ``kwargs`` given here (e.g. ``method=``) go to
    ``init`` as well. ``depth`` limits how many submodules deep rows go (a
    row at the limit counts the variables of the rows it hides);
    ``show_repeated`` shows every call of a module, not only its first.
    ``compute_flops`` / ``compute_vjp_flops`` add columns with the XLA
    FLOPs estimate of each call alone / of its forward and backward pass.
    ``console_kwargs``, ``table_kwargs`` and ``column_kwargs`` go to
    ``rich`` (see :func:`render_table`).

    >>> import jax, jax.numpy as jnp
    >>> import nnjax as nn
    >>> fn = tabulate(nn.Dense(2), jax.random.PRNGKey(0), console_kwargs={'force_terminal': False})
    >>> 'Total Parameters: 8 (32 B)' in fn(jnp.ones((1, 3)))
    True
    """

    def tabulate_fn(*fn_args, **fn_kwargs) -> str:
        table = summary_table(
            module,
            rngs,
            fn_args,
            {**kwargs, **fn_kwargs},
            depth=depth,
            show_repeated=show_repeated,
            mutable=mutable,
            compute_flops=compute_flops,
            compute_vjp_flops=compute_vjp_flops,
        )
        return render_table(table, console_kwargs, table_kwargs, column_kwargs)

    return tabulate_fn
