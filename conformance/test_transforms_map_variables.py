"""``nn.map_variables``: both backends see, write and store mapped variables alike.

Each example draws a module (a Dense layer and a 'state' counter) seen
through ``nn.map_variables``:

* ``mapped_collections``: 'params', ['params', 'state'] or all (``True``);
* ``trans_in_fn``: identity, scaling, or a causal (upper-triangular) mask of
  the 2-D leaves, as in the seed's CausalDense example; ``trans_out_fn``:
  identity or halving (applied to what the module writes, with ``init`` or
  ``mutable``);
* ``init``: the seed idiom ``init=self.is_initializing()``, or ``False``
  with ``mutable=True`` (the module may write the mapped collections);
* the form: a transformed class in a ``@compact`` parent, a transformed
  class assigned in ``setup``, or a function of a module;
* ``mutable=`` of the apply call.

Variables from init, outputs and mutated state are compared
(:func:`conformance.lifted.check_init_apply`); the stored variables are
checked to be ``trans_out_fn`` of what the module created, and an input
that only reaches the masked-out weights is checked to give zero.

A second property draws misuses: creating the mapped variables at init with
neither ``init`` nor ``mutable`` (they are read-only inside), and keeping
``init=True`` at apply while 'params' is immutable. Both backends must
raise the seed system's ``ScopeCollectionNotFound``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from conformance.lifted import check_init_apply, data, shapes

nnref = pytest.importorskip("nnref")
nnjax = pytest.importorskip("nnjax")

from shared_spec import errors  # noqa: E402

BATCH, FEAT_IN, FEATURES = 2, 4, 3
MUTABLE = (False, ['state'], True)
COLLECTIONS = {'params': 'params', 'params+state': ['params', 'state'], 'all': True}


@dataclass(frozen=True)
class MapCase:
    mapped: str  # a key of COLLECTIONS
    trans_in: str  # 'identity' | 'scale' | 'triu'
    trans_out: str  # 'identity' | 'halve'
    init: str  # 'is_initializing' | 'never' | 'always'
    mutable_target: bool  # map_variables(mutable=...)
    form: str  # 'compact' | 'setup' | 'function'
    use_bias: bool
    apply_mutable: object
    seed: int


def _transforms(nn, case: MapCase):
    np_, tmap = nn.numpy, nn.tree_util.tree_map

    def trans_in(variables):
        if case.trans_in == 'scale':
            return tmap(lambda v: 2.0 * v, variables)
        if case.trans_in == 'triu':
            return tmap(lambda v: np_.triu(v) if np_.ndim(v) == 2 else v, variables)
        return variables

    def trans_out(variables):
        return tmap(lambda v: 0.5 * v, variables) if case.trans_out == 'halve' else variables

    return trans_in, trans_out


def build(nn, case: MapCase):
    np_ = nn.numpy
    trans_in, trans_out = _transforms(nn, case)

    class Body(nn.Module):
        @nn.compact
        def __call__(self, x):
            count = self.variable('state', 'count', lambda: np_.ones((), np_.float32))
            if self.is_mutable_collection('state'):
                count.value = count.value + 1.0
            return nn.Dense(FEATURES, use_bias=case.use_bias)(x)

    def options(module):
        init = {'is_initializing': module.is_initializing(), 'never': False, 'always': True}[case.init]
        return dict(
            mapped_collections=COLLECTIONS[case.mapped],
            trans_in_fn=trans_in,
            trans_out_fn=trans_out,
            init=init,
            mutable=case.mutable_target,
        )

    if case.form == 'setup':

        class Parent(nn.Module):
            def setup(self):
                self.layer = nn.map_variables(Body, **options(self))()

            def __call__(self, x):
                return self.layer(x)
    else:

        class Parent(nn.Module):
            @nn.compact
            def __call__(self, x):
                if case.form == 'compact':
                    return nn.map_variables(Body, **options(self))()(x)
                return nn.map_variables(lambda mdl, x: mdl(x), **options(self))(Body(), x)

    return Parent()


@st.composite
def map_cases(draw, **overrides):
    init = draw(st.sampled_from(('is_initializing', 'never')))
    fields = dict(
        mapped=draw(st.sampled_from(sorted(COLLECTIONS))),
        trans_in=draw(st.sampled_from(('identity', 'scale', 'triu'))),
        trans_out=draw(st.sampled_from(('identity', 'halve'))),
        init=init,
        # With init=False the module can create the mapped variables only if it may write them.
        mutable_target=True if init == 'never' else draw(st.booleans()),
        form=draw(st.sampled_from(('compact', 'setup', 'function'))),
        use_bias=draw(st.booleans()),
        apply_mutable=draw(st.sampled_from(MUTABLE)),
        seed=draw(st.integers(0, 2**31 - 1)),
    )
    fields.update(overrides)
    return MapCase(**fields)


def _run(case: MapCase, x=None, **expect):
    x = data(case.seed, (BATCH, FEAT_IN)) if x is None else x
    return check_init_apply(
        partial(build, case=case), (x,), init_rngs={'params': case.seed}, mutable=case.apply_mutable, **expect
    )


def _prefix(case):
    return {'compact': ('Map_variablesBody_0',), 'setup': ('layer',), 'function': ('Body_0',)}[case.form]


@settings(deadline=None)
@given(map_cases())
def test_map_variables_agrees(case):
    result = _run(case)
    prefix = _prefix(case)
    expected = {
        '/'.join(('params',) + prefix + ('Dense_0', 'kernel')): (FEAT_IN, FEATURES),
        '/'.join(('state',) + prefix + ('count',)): (),
    }
    if case.use_bias:
        expected['/'.join(('params',) + prefix + ('Dense_0', 'bias'))] = (FEATURES,)
    assert shapes(result.variables) == expected

    # Stored values are trans_out_fn of what the module wrote. The counter
    # starts at 1 and init increments it; with init=True the module runs a
    # first pass whose mapped results go through trans_out_fn and trans_in_fn
    # before the second pass reads them (unmapped results of the first pass
    # are dropped).
    count = result.variables['state']
    for name in prefix + ('count',):
        count = count[name]
    h = 0.5 if case.trans_out == 'halve' else 1.0
    s = 2.0 if case.trans_in == 'scale' else 1.0
    if case.mapped == 'params':
        expected_count = 2.0
    elif case.init == 'is_initializing':
        expected_count = (2.0 * h * s + 1.0) * h
    else:
        expected_count = 2.0 * h
    assert float(count) == expected_count, (float(count), expected_count)

    if case.trans_in == 'triu' and not case.use_bias:
        # Row i of the masked kernel keeps columns j >= i; with more inputs
        # than outputs the last row is masked out entirely, so the last input
        # feature reaches no output.
        probe = np.zeros((1, FEAT_IN), np.float32)
        probe[0, FEAT_IN - 1] = 1.0
        out = _run(replace(case, apply_mutable=False), x=probe).apply_ref.value
        assert np.all(out == 0.0), out
    event(f'form={case.form} mapped={case.mapped} init={case.init} in={case.trans_in}')


MISUSES = {
    'create mapped variables without init or mutable': (dict(init='never', mutable_target=False), 'init'),
    'init=True kept at apply with immutable params': (dict(init='always', apply_mutable=['state']), 'apply'),
}


@settings(deadline=None)
@given(st.sampled_from(sorted(MISUSES)), st.data())
def test_map_variables_misuse_raises_the_same_error(name, draw):
    overrides, phase = MISUSES[name]
    case = draw.draw(map_cases(**overrides))
    event(name)
    expect = {f'expect_{phase}': errors.ScopeCollectionNotFound}
    _run(case, **expect)
