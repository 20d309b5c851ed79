"""``nn.cond``, ``nn.switch`` and ``nn.while_loop`` agree on both backends.

nnjax runs ``lax.cond``/``lax.switch``/``lax.while_loop`` (which trace every
branch); nnref runs Python control flow that also runs every branch, in
order, sharing the ``make_rng`` counters as the traces do, and keeps the
selected one. Both must give the same variable trees (every branch creates
the same 'dense' layer), outputs, counters written in 'state', and random
draws.

* ``cond``/``switch``: the predicate or index (a Python value or an array;
  for ``switch`` also out of range, which is clamped), the module the branches
  receive (the caller itself, as in the seed's examples, or a child), a
  'noise' stream drawn in the branches, which collections and streams are
  passed (``variables=``/``rngs=``), and ``mutable=``;
* ``while_loop``: the iteration limit (0 to 3 steps), whether the condition
  reads the carry or a carried 'state' variable (``carry_variables``),
  whether each iteration gets its own keys (``split_rngs``), as in the
  seed's example (the body runs once directly at init to create the
  variables). The carried collection must be mutable in the apply call;
  when it is not, both backends raise ``TypeError`` (lax's carry check).

Misuses: branches that create different variables, or return different
shapes, are rejected by ``lax.cond``'s type check; nnref, running only
concrete branches, cannot detect them (checked on nnjax alone). Writing a
collection that is not passed in (``variables=``) raises the same error on
both.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from conformance.lifted import check_init_apply, data, shapes

nnref = pytest.importorskip("nnref")
nnjax = pytest.importorskip("nnjax")

from shared_spec import errors  # noqa: E402

BATCH, FEAT_IN, FEATURES = 2, 3, 4
MUTABLE = (False, ['state'], True)


@dataclass(frozen=True)
class BranchCase:
    kind: str  # 'cond' | 'switch'
    index: int  # cond: 1 (true) / 0 (false); switch: any int (clamped)
    as_array: bool  # the predicate/index as an array (else a Python value)
    target: str  # 'self' | 'child': the module the branches receive
    noise: str  # 'none' | 'first' | 'all': which branches draw from 'noise'
    variables: str  # 'all' | 'listed' (['params', 'state']) | 'params' (misuse when writing state)
    mismatch: str  # 'none' | 'variables' | 'shape' (misuses)
    mutable: object
    seed: int


N_BRANCHES = 3


def branch_body(nn, case: BranchCase, mdl, x, i: int, n: int):
    """Branch ``i``: every branch declares the same counters and the same 'dense' layer."""
    np_ = nn.numpy
    counts = [mdl.variable('state', f'count_{j}', lambda: np_.zeros((), np_.int32)) for j in range(n)]
    if mdl.is_mutable_collection('state'):
        counts[i].value = counts[i].value + 1
    y = nn.Dense(FEATURES, name='dense')(x)
    if case.mismatch == 'variables' and i == 0:
        y = y + nn.Dense(FEATURES, name='extra')(x)
    if case.mismatch == 'shape' and i == 0:
        y = np_.concatenate([y, y], axis=-1)
    if case.noise == 'all' or (case.noise == 'first' and i == 0):
        y = y + 0.5 * nn.random.normal(mdl.make_rng('noise'), y.shape)
    return (-1.0) ** i * (i + 1) * y


def build_branches(nn, case: BranchCase):
    n = 2 if case.kind == 'cond' else N_BRANCHES
    options = {'variables': {'all': True, 'listed': ['params', 'state'], 'params': 'params'}[case.variables]}

    class Child(nn.Module):
        @nn.compact
        def __call__(self, x, i):
            return branch_body(nn, case, self, x, i, n)

    def make_branch(i):
        if case.target == 'self':  # the seed's examples: the branches receive the calling module
            return lambda mdl, x: branch_body(nn, case, mdl, x, i, n)
        return lambda mdl, x: mdl(x, i)

    branches = [make_branch(i) for i in range(n)]

    class Model(nn.Module):
        @nn.compact
        def __call__(self, x, index):
            mdl = self if case.target == 'self' else Child()
            if case.kind == 'cond':
                return nn.cond(index, branches[0], branches[1], mdl, x, **options)
            return nn.switch(index, branches, mdl, x, **options)

    return Model()


def _index_arg(case: BranchCase):
    if case.kind == 'cond':
        value = bool(case.index)
        return np.asarray(value) if case.as_array else value
    return np.asarray(case.index, np.int32) if case.as_array else case.index


def _selected(case: BranchCase) -> int:
    if case.kind == 'cond':
        return 0 if case.index else 1
    return int(np.clip(case.index, 0, N_BRANCHES - 1))


@st.composite
def branch_cases(draw, **overrides):
    kind = draw(st.sampled_from(('cond', 'switch')))
    fields = dict(
        kind=kind,
        index=draw(st.sampled_from((0, 1) if kind == 'cond' else (-1, 0, 1, 2, 3))),
        as_array=draw(st.booleans()),
        target=draw(st.sampled_from(('self', 'child'))),
        noise=draw(st.sampled_from(('none', 'first', 'all'))),
        variables=draw(st.sampled_from(('all', 'listed'))),
        mismatch='none',
        mutable=draw(st.sampled_from(MUTABLE)),
        seed=draw(st.integers(0, 2**31 - 1)),
    )
    fields.update(overrides)
    return BranchCase(**fields)


def _run_branches(case: BranchCase, **expect):
    return check_init_apply(
        partial(build_branches, case=case),
        (data(case.seed, (BATCH, FEAT_IN)), _index_arg(case)),
        init_rngs={'params': case.seed, 'noise': case.seed + 1},
        apply_rngs={'noise': case.seed + 11},
        mutable=case.mutable,
        **expect,
    )


@settings(deadline=None)
@given(branch_cases())
def test_cond_and_switch_agree(case):
    result = _run_branches(case)
    prefix = ('Child_0',) if case.target == 'child' else ()
    n = 2 if case.kind == 'cond' else N_BRANCHES
    expected = {
        '/'.join(('params',) + prefix + ('dense', 'kernel')): (FEAT_IN, FEATURES),
        '/'.join(('params',) + prefix + ('dense', 'bias')): (FEATURES,),
    }
    expected.update({'/'.join(('state',) + prefix + (f'count_{i}',)): () for i in range(n)})
    assert shapes(result.variables) == expected
    if case.mutable is not False:
        # Only the selected branch's update is kept: one count at init, one at apply.
        state = result.apply_ref.value[1]['state']
        for name in prefix:
            state = state[name]
        counts = [int(state[f'count_{i}']) for i in range(n)]
        assert counts == [2 if i == _selected(case) else 0 for i in range(n)], counts
    event(f'{case.kind} index={case.index} target={case.target} noise={case.noise}')


# ------------------------------------------------------------------ while_loop


@dataclass(frozen=True)
class WhileCase:
    limit: int  # loop while the counter is below it
    counter: str  # 'carry': an int in the carry; 'state': a carried 'state' variable
    noise: bool
    split: bool  # split_rngs={'noise': split}
    mutable: object  # ['state'] or True: the carried collection must be mutable (misuse otherwise)
    seed: int


def build_while(nn, case: WhileCase):
    np_ = nn.numpy

    class Loop(nn.Module):
        @nn.compact
        def __call__(self, x):
            def cond_fn(mdl, carry):
                i, _ = carry
                if case.counter == 'state':
                    return mdl.variables['state']['acc'] < case.limit
                return i < case.limit

            def body_fn(mdl, carry):
                i, y = carry
                acc = mdl.variable('state', 'acc', lambda: np_.zeros((), np_.int32))
                if mdl.is_mutable_collection('state'):
                    acc.value = acc.value + 1
                y = nn.tanh(nn.Dense(FEATURES)(y))
                if case.noise:
                    y = y + 0.5 * nn.random.normal(mdl.make_rng('noise'), y.shape)
                return i + 1, y

            carry = (np_.zeros((), np_.int32), x)
            if self.is_initializing():  # create the variables with one direct step
                return body_fn(self, carry)
            i, y = nn.while_loop(
                cond_fn, body_fn, self, carry, carry_variables='state', split_rngs={'noise': case.split}
            )
            if case.noise:  # a draw after the loop: the loop's draws (traced even if it never runs) count
                y = y + nn.random.normal(self.make_rng('noise'), y.shape)
            return i, y

    return Loop()


@st.composite
def while_cases(draw, **overrides):
    fields = dict(
        limit=draw(st.integers(0, 3)),
        counter=draw(st.sampled_from(('carry', 'state'))),
        noise=draw(st.booleans()),
        split=draw(st.booleans()),
        mutable=draw(st.sampled_from((['state'], True))),
        seed=draw(st.integers(0, 2**31 - 1)),
    )
    fields.update(overrides)
    return WhileCase(**fields)


def _run_while(case: WhileCase, **expect):
    return check_init_apply(
        partial(build_while, case=case),
        (data(case.seed, (BATCH, FEATURES)),),
        init_rngs={'params': case.seed, 'noise': case.seed + 1},
        apply_rngs={'noise': case.seed + 11},
        mutable=case.mutable,
        **expect,
    )


@settings(deadline=None)
@given(while_cases())
def test_while_loop_agrees(case):
    result = _run_while(case)
    assert shapes(result.variables) == {
        'params/Dense_0/kernel': (FEATURES, FEATURES),
        'params/Dense_0/bias': (FEATURES,),
        'state/acc': (),
    }
    out, state = result.apply_ref.value
    steps = case.limit if case.counter == 'carry' else max(case.limit - 1, 0)  # the variable starts at 1
    assert int(out[0]) == steps, (int(out[0]), steps)
    assert int(state['state']['acc']) == 1 + steps
    event(f'limit={case.limit} counter={case.counter} split={case.split}')


# ------------------------------------------------------------------ misuse

MISUSES = {
    # name: (field overrides, expected class, nnref detects it)
    'a collection written that the branches do not get': (
        dict(variables='params', mutable=True),
        errors.ScopeCollectionNotFound,
        True,
    ),
    'branches create different variables': (dict(mismatch='variables'), TypeError, False),
    'branches return different shapes': (dict(mismatch='shape'), TypeError, False),
}


@settings(deadline=None)
@given(st.sampled_from(sorted(MISUSES)), st.data())
def test_control_flow_misuse_raises_the_same_error(name, draw):
    overrides, expect, nnref_detects = MISUSES[name]
    case = draw.draw(branch_cases(**overrides))
    event(name)
    _run_branches(case, expect_init=expect, nnref_detects=nnref_detects)


@settings(deadline=None)
@given(while_cases(counter='carry', mutable=False))
def test_while_loop_with_immutable_carried_collection_raises(case):
    """The carried 'state' is not mutable in the call: it cannot be carried (lax's carry check)."""
    _run_while(case, expect_apply=TypeError)
