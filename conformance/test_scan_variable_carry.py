"""``nn.scan`` with a carried collection (``variable_carry``) in every form: the same final value on both backends.

A 'counter' collection holds ``n``, updated at every step from the carry
(``n <- 0.5 * n + mean(c)``: the order of the steps shows, so ``reverse``
matters). Each example draws:

* the form: a transformed class as the root (``nn.scan(Cell, ...)()``) or
  as a child, a function of a module argument (``nn.scan(fn, ...)(Cell(),
  ...)``), ``@nn.scan`` as a decorator on a ``@nn.compact`` method, or a
  function scanning the calling module itself (``nn.scan(fn, ...)(self,
  ...)``);
* where ``n`` comes from: created by the caller before the loop (forms that
  run the step in the caller's scope) or given to ``apply`` in the variables
  (a carried variable may not be created inside the loop);
* the other collections: 'params' broadcast or scanned (``variable_axes``),
  with ``split_rngs={'params': ...}``; a 'stats' collection scanned or
  broadcast, or absent; a 'noise' stream split or not;
* ``length`` (given or derived), ``reverse``, ``unroll``, and ``mutable=``
  (a carried collection left immutable is a TypeError on both, as in the
  seed system).

``init`` and then ``apply`` (with nnref's init variables, plus the counter's
starting value where init did not create it) are compared on both backends:
outputs and every returned collection, the carried 'counter' included.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from conformance.compare import attempt
from conformance.lifted import _as_arrays, backend_args, compare, data, rngs

nnref = pytest.importorskip("nnref")
nnjax = pytest.importorskip("nnjax")

BATCH, FEAT_IN, FEATURES = 2, 3, 4
#: Each example runs two scans per backend: a fifth of the profile's examples.
EXAMPLES = max(1, settings.default.max_examples // 5)


@dataclass(frozen=True)
class CarryCase:
    form: str  # 'root' | 'class' | 'function' | 'decorator' | 'self'
    created_before: bool  # 'self' only: the caller creates n before the loop at init
    params_scanned: bool
    split_params: bool
    stats: str  # 'none' | 'axes' | 'broadcast'
    noise: str  # 'none' | 'split' | 'shared'
    n: int
    give_length: bool
    reverse: bool
    unroll: int
    mutable: object
    seed: int


def options(case: CarryCase) -> dict:
    broadcast = [] if case.params_scanned else ['params']
    axes = {'params': 0} if case.params_scanned else {}
    if case.stats == 'axes':
        axes['stats'] = 0
    elif case.stats == 'broadcast':
        broadcast.append('stats')
    split = {'params': case.split_params}
    if case.noise != 'none':
        split['noise'] = case.noise == 'split'
    out = dict(
        variable_carry='counter',
        variable_broadcast=broadcast or False,
        variable_axes=axes,
        split_rngs=split,
        reverse=case.reverse,
        unroll=case.unroll,
    )
    if case.give_length:
        out['length'] = case.n
    return out


def step(nn, case: CarryCase, mdl, c, x):
    """One step in ``mdl``'s scope: the carried counter is read (and written when mutable) if it exists."""
    np_ = nn.numpy
    if mdl.has_variable('counter', 'n'):
        count = mdl.variable('counter', 'n', lambda: np_.zeros((), np_.float32))
        if mdl.is_mutable_collection('counter'):
            count.value = 0.5 * count.value + np_.mean(c)
        c = c + count.value
    if case.stats != 'none':
        seen = mdl.variable('stats', 'seen', lambda: np_.zeros((FEAT_IN,), np_.float32))
        if mdl.is_mutable_collection('stats') and case.stats == 'axes':
            seen.value = seen.value + np_.mean(x, axis=0)
    h = np_.tanh(nn.Dense(FEATURES)(x) + c)
    if case.noise != 'none':
        h = h + 0.25 * nn.random.normal(mdl.make_rng('noise'), h.shape)
    return h, 2.0 * h


def build(nn, case: CarryCase):
    opts = options(case)

    class Cell(nn.Module):
        @nn.compact
        def __call__(self, c, x):
            return step(nn, case, self, c, x)

    if case.form == 'root':
        return nn.scan(Cell, **opts)()
    if case.form == 'decorator':

        class Decorated(nn.Module):
            @partial(nn.scan, **opts)
            @nn.compact
            def __call__(self, c, x):
                return step(nn, case, self, c, x)

        return Decorated()

    class Parent(nn.Module):
        @nn.compact
        def __call__(self, c, xs):
            if case.form == 'class':
                return nn.scan(Cell, **opts)()(c, xs)
            if case.form == 'function':
                return nn.scan(lambda mdl, c, x: mdl(c, x), **opts)(Cell(), c, xs)
            if case.created_before:  # form 'self': the step runs in this module's scope
                self.variable('counter', 'n', lambda: nn.numpy.zeros((), nn.numpy.float32))

            def body(mdl, c, x):
                return step(nn, case, mdl, c, x)

            return nn.scan(body, **opts)(self, c, xs)

    return Parent()


#: Where each form keeps the cell's variables.
PREFIX = {'root': (), 'class': ('ScanCell_0',), 'function': ('Cell_0',), 'decorator': (), 'self': ()}

#: ``mutable=`` forms, built per backend (a DenyList is a backend object).
MUTABLE = {
    'False': lambda nn: False,
    "['stats']": lambda nn: ['stats'],
    "['counter']": lambda nn: ['counter'],
    "['counter', 'stats']": lambda nn: ['counter', 'stats'],
    'True': lambda nn: True,
    "DenyList('params')": lambda nn: nn.DenyList('params'),
}

#: Forms under which the carried 'counter' is not mutable.
IMMUTABLE_COUNTER = ('False', "['stats']")


@st.composite
def carry_cases(draw):
    form = draw(st.sampled_from(sorted(PREFIX)))
    params_scanned = draw(st.booleans())
    return CarryCase(
        form=form,
        created_before=form == 'self' and draw(st.booleans()),
        params_scanned=params_scanned,
        split_params=params_scanned and draw(st.booleans()),
        stats=draw(st.sampled_from(('none', 'axes', 'broadcast'))),
        noise=draw(st.sampled_from(('none', 'split', 'shared'))),
        n=draw(st.sampled_from((1, 3))),
        give_length=draw(st.booleans()),
        reverse=draw(st.booleans()),
        unroll=draw(st.sampled_from((1, 2))),
        mutable=draw(st.sampled_from(sorted(MUTABLE))),
        seed=draw(st.integers(0, 2**31 - 1)),
    )


def _nest(prefix: tuple, leaf: dict) -> dict:
    for name in reversed(prefix):
        leaf = {name: leaf}
    return leaf


def _run(nn, case: CarryCase, call):
    module = build(nn, case)
    return attempt(lambda: call(nn, module))


@settings(max_examples=EXAMPLES)
@given(carry_cases())
def test_scan_carried_collection_agrees(case):
    c0, xs = data(case.seed, (BATCH, FEATURES)), data(case.seed + 1, (case.n, BATCH, FEAT_IN))

    def init(nn, module):
        streams = rngs(nn, {'params': case.seed, 'noise': case.seed + 1})
        return module.init_with_output(streams, *backend_args(nn, (c0, xs)))

    ref, jax = _run(nnref, case, init), _run(nnjax, case, init)
    compare(ref, jax, 'init_with_output', with_variables=True)
    variables = ref.value[1]
    if 'counter' in variables:  # created before the loop ('self' form), then carried through it
        assert case.form == 'self' and case.created_before, sorted(variables)
    else:  # not created at init: given to apply, as a carried value that exists before the loop
        variables = {**variables, 'counter': _nest(PREFIX[case.form], {'n': data(case.seed + 2, ())})}

    def apply(nn, module):
        return module.apply(
            backend_args(nn, _as_arrays(variables)),
            *backend_args(nn, (c0, xs)),
            rngs=rngs(nn, {'noise': case.seed + 11}),
            mutable=MUTABLE[case.mutable](nn),
        )

    ref, jax = _run(nnref, case, apply), _run(nnjax, case, apply)
    # a carried collection must be mutable (the seed system's lax.scan sees its carry change structure)
    expect = TypeError if case.mutable in IMMUTABLE_COUNTER else None
    compare(ref, jax, f'apply(mutable={case.mutable})', expect=expect, with_variables=case.mutable != 'False')
    if expect is None:  # the carried value is returned, at the cell's path
        returned = ref.value[1]['counter']
        for name in PREFIX[case.form]:
            returned = returned[name]
        assert set(returned) == {'n'}, returned
    event(f'form={case.form} stats={case.stats} noise={case.noise} mutable={case.mutable}')
