"""``In(axis)`` / ``Out(axis)`` in ``variable_axes`` of ``nn.vmap`` and ``nn.scan``, on both backends.

Each example draws the transform (``vmap`` over a Dense body, or ``scan``
of a Dense cell over four steps), the axis of 'params' (0 or 1), how
'params' and a 'stats' collection (a counter and a running total written by
the body) are lifted (a plain axis, ``In``: in only, ``Out``: out only;
'intermediates' sown by the body is always ``Out(0)``), the phase (init of
the marked module, or apply of it to the variables a plain-axis init made)
and ``mutable=``.

Both backends must give the same variables, outputs and state, or raise the
same class; the class (or success) must also be the one the seed system
(flax 0.12.8) gives. :func:`seed_outcome` states its rule; it was checked
against the seed on all 216 combinations of transform, axis, markers, phase
and ``mutable=`` drawn here:

* init: ``In`` on 'params' or 'stats' -> ``ScopeCollectionNotFound`` (the
  body may not create a collection lifted in only);
* apply, 'params' ``Out`` -> ``InvalidRngError`` when 'params' is mutable
  (the body starts without it and would create it, with no key), else
  ``ScopeCollectionNotFound``;
* apply, 'stats' ``In`` -> ``ModifyScopeVariableError`` (read-only inside);
  'stats' not mutable -> ``ModifyScopeVariableError`` for a plain axis,
  ``ScopeCollectionNotFound`` for ``Out``; otherwise success.

On success two more facts from the seed are checked: with 'params' ``In``
the output equals the plain-axis module's, and 'stats' ``Out`` starts
afresh (every count is 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from conformance.compare import attempt, to_backend
from conformance.lifted import compare, data

nnref = pytest.importorskip("nnref")
nnjax = pytest.importorskip("nnjax")

from shared_spec import errors  # noqa: E402
from shared_spec.in_out_axes import In, Out  # noqa: E402

N, BATCH, FEAT = 4, 2, 3  # mapped size / scan length, rows, features (fixed: nnjax compiles each shape)
MUTABLES = (False, ['stats'], ['params'], True, ['params', 'stats'])


@dataclass(frozen=True)
class InOutCase:
    transform: str  # 'vmap' | 'scan'
    axis: int  # the axis of 'params'
    params: str  # 'plain' | 'in' | 'out'
    stats: str  # 'plain' | 'in' | 'out' (axis 0)
    phase: str  # 'init' | 'apply'
    mutable: object
    seed: int


def build(nn, case: InOutCase, params=None, stats=None):
    """The lifted module; ``params``/``stats`` override the case's markers (the plain variant)."""
    np_ = nn.numpy

    class Body(nn.Module):
        @nn.compact
        def __call__(self, c, x=None):
            h = nn.Dense(FEAT)(c)
            if x is not None:
                h = h + x
            count = self.variable('stats', 'count', lambda: np_.zeros((), np_.int32))
            count.value += 1
            total = self.variable('stats', 'total', lambda: np_.zeros((), np_.float32))
            total.value = total.value + h.sum()
            self.sow('intermediates', 'h', h.sum())
            return (h, total.value) if x is not None else h

    def mark(kind, axis):
        return {'plain': axis, 'in': In(axis), 'out': Out(axis)}[kind]

    variable_axes = {
        'params': mark(params or case.params, case.axis),
        'stats': mark(stats or case.stats, 0),
        'intermediates': Out(0),
    }
    if case.transform == 'vmap':
        return nn.vmap(Body, variable_axes=variable_axes, split_rngs={'params': True})()
    return nn.scan(Body, variable_axes=variable_axes, split_rngs={'params': True})()


def call_args(case: InOutCase) -> tuple:
    if case.transform == 'vmap':
        return (data(case.seed, (N, BATCH, FEAT)),)
    return data(case.seed, (BATCH, FEAT)), data(case.seed + 1, (N, BATCH, FEAT))


def seed_outcome(case: InOutCase):
    """The exception class the seed system raises for ``case`` (None: success); see the module docstring."""

    def mutable(col):
        return case.mutable is True or (isinstance(case.mutable, list) and col in case.mutable)

    if case.phase == 'init':
        return errors.ScopeCollectionNotFound if 'in' in (case.params, case.stats) else None
    if case.params == 'out':
        return errors.InvalidRngError if mutable('params') else errors.ScopeCollectionNotFound
    if case.stats == 'in':
        return errors.ModifyScopeVariableError
    if not mutable('stats'):
        return errors.ModifyScopeVariableError if case.stats == 'plain' else errors.ScopeCollectionNotFound
    return None


def plain_variables(case: InOutCase) -> dict:
    """What a plain-axis module's init gives (nnref's, as NumPy): the variables apply is given."""
    args = to_backend(nnref, call_args(case))
    return build(nnref, case, 'plain', 'plain').init(nnref.random.PRNGKey(case.seed), *args)


def run(nn, case: InOutCase, variables, params=None, stats=None):
    args = to_backend(nn, call_args(case))
    module = build(nn, case, params, stats)
    if case.phase == 'init':
        return attempt(lambda: module.init_with_output(nn.random.PRNGKey(case.seed), *args))
    mutable = list(case.mutable) if isinstance(case.mutable, list) else case.mutable
    return attempt(lambda: module.apply(to_backend(nn, variables), *args, mutable=mutable))


cases = st.builds(
    InOutCase,
    transform=st.sampled_from(('vmap', 'scan')),
    axis=st.sampled_from((0, 1)),
    params=st.sampled_from(('plain', 'in', 'out')),
    stats=st.sampled_from(('plain', 'in', 'out')),
    phase=st.sampled_from(('init', 'apply', 'apply')),
    mutable=st.sampled_from(MUTABLES),
    seed=st.integers(0, 2**16),
)


@settings(deadline=None, max_examples=12)  # each example compiles a new nnjax module
@given(cases)
def test_in_out_axes_agree_with_each_other_and_the_seed(case):
    variables = None if case.phase == 'init' else plain_variables(case)
    ref, jax = run(nnref, case, variables), run(nnjax, case, variables)
    with_variables = case.phase == 'init' or case.mutable is not False
    expect = seed_outcome(case)
    event(f'{case.phase}: {expect.__name__ if expect else "success"}')
    compare(ref, jax, f'{case.phase} {case}', expect=expect, with_variables=with_variables)
    if jax.raised:
        return
    output, state = jax.value if with_variables else (jax.value, {})
    if case.phase == 'apply' and case.params == 'in':  # seed: In reads the params as a plain axis does
        plain = run(nnjax, case, variables, params='plain')
        plain_output = plain.value[0] if with_variables else plain.value
        assert not plain.raised
        assert len(_leaves(output)) == len(_leaves(plain_output))
        for got, want in zip(_leaves(output), _leaves(plain_output)):
            np.testing.assert_array_equal(got, want)
    if case.stats == 'out' and 'stats' in state:  # seed: an Out collection starts afresh inside
        np.testing.assert_array_equal(state['stats']['count'], np.ones(N, np.int32))


def _leaves(tree) -> list:
    if isinstance(tree, (tuple, list)):
        return [leaf for x in tree for leaf in _leaves(x)]
    return [tree]
