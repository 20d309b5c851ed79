"""``nn.grad``, ``nn.value_and_grad``, ``nn.fold_rngs`` and ``nn.scan(check_constancy_invariants=)`` on both backends.

* ``nn.value_and_grad`` / ``nn.grad``: a Dense + activation submodule inside a
  scalar function of one or two primals, with or without ``has_aux``, with a
  'state' counter written inside, the submodule made in ``setup`` or inline in
  a ``@compact`` method, and the whole thing run directly, inside ``nn.scan``
  (one gradient per step) or inside ``nn.vmap`` (one per row). nnjax (JAX
  autodiff) and nnref (central differences) must agree within the
  'derivative' tolerance, and nnjax's gradients must equal an independent
  oracle: plain ``jax.grad`` of the same submodule applied on its own
  parameters (``jax.vmap`` of it for the scanned / mapped forms).
* ``nn.fold_rngs``: a method (decorator form) or a class (``nn.fold_rngs(Cls)``)
  drawing from a stream, called several times; the draws agree between the
  backends and differ from call to call, and the caller's own draws agree.
* ``check_constancy_invariants``: a broadcast collection computed from the
  loop's values raises ``ValueError`` on both backends when the check is on
  and is dropped (no error) when it is off; a broadcast output is refused on
  both when it is off; an independent broadcast passes either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from conformance.lifted import DERIVATIVE_FAMILY, FORWARD_FAMILY, PARAMS_FAMILY, check_init_apply, data
from shared_spec.tolerances import assert_trees_close

nnref = pytest.importorskip("nnref")
nnjax = pytest.importorskip("nnjax")
jax = pytest.importorskip("jax")

# Kept tiny: nnref's gradient evaluates the function twice per input element.
BATCH, FEAT_IN, FEATURES = 2, 3, 2
ACTIVATIONS = ('tanh', 'sigmoid', 'softplus')


@dataclass(frozen=True)
class GradCase:
    api: str  # 'grad' | 'value_and_grad'
    activation: str
    two_primals: bool  # fn(mdl, x, w) (else fn(mdl, x) with a fixed weighting)
    has_aux: bool
    state: bool  # the differentiated module writes a 'state' counter
    in_setup: bool  # the submodule is made in setup (else inline in @compact)
    wrapper: str  # 'none' | 'scan' | 'vmap'
    mutable: object
    seed: int


def _inner(nn, case):
    np_ = nn.numpy

    class Inner(nn.Module):
        @nn.compact
        def __call__(self, x):
            if case.state:
                count = self.variable('state', 'count', lambda: np_.zeros((), np_.float32))
                if self.is_mutable_collection('state'):
                    count.value = count.value + 1.0
            return getattr(nn, case.activation)(nn.Dense(FEATURES)(x))

    return Inner


def _scalar_fn(nn, case):
    """The function differentiated: ``sum(mdl(x) * w)``; ``w`` a primal or a constant."""
    np_ = nn.numpy

    def fn(mdl, x, *w):
        y = mdl(x)
        weight = w[0] if w else np_.cos(np_.arange(y.size, dtype=np_.float32)).reshape(y.shape)
        value = (y * weight).sum()
        return (value, {'double_x': 2.0 * x}) if case.has_aux else value

    return fn


def _differentiate(nn, case, inner, x, w):
    """``{'value'?, 'grads', 'aux'?}`` from one lifted call (the same layout for both APIs)."""
    fn, primals = _scalar_fn(nn, case), ((x, w) if case.two_primals else (x,))
    if case.api == 'value_and_grad':
        value, grads = nn.value_and_grad(fn, inner, *primals, has_aux=case.has_aux)
        out = {'grads': grads}
        if case.has_aux:
            out['value'], out['aux'] = value
        else:
            out['value'] = value
        return out
    out = nn.grad(fn, inner, *primals, has_aux=case.has_aux)
    return {'grads': out[0], 'aux': out[1]} if case.has_aux else {'grads': out}


def build(nn, case: GradCase):
    Inner = _inner(nn, case)

    class Body(nn.Module):
        def setup(self):
            if case.in_setup:
                self.inner = Inner()

        @nn.compact
        def __call__(self, x, w):
            inner = self.inner if case.in_setup else Inner()
            return _differentiate(nn, case, inner, x, w)

    class ScanBody(nn.Module):
        @nn.compact
        def __call__(self, c, x, w):
            out = Body()(x, w)
            return c + 1.0, out

    if case.wrapper == 'none':
        return Body()
    if case.wrapper == 'vmap':
        return nn.vmap(
            Body, in_axes=0, out_axes=0, variable_axes={'params': None, 'state': 0}, split_rngs={'params': False}
        )()
    Scanned = nn.scan(
        ScanBody,
        variable_broadcast='params',
        variable_carry='state',
        split_rngs={'params': False},
        in_axes=0,
        out_axes=0,
    )

    class ScanRoot(nn.Module):
        @nn.compact
        def __call__(self, x, w):
            _, out = Scanned()(nn.numpy.zeros((), nn.numpy.float32), x, w)
            return out

    return ScanRoot()


def _families(case):
    fam = {'grads': DERIVATIVE_FAMILY}
    if case.api == 'value_and_grad':
        fam['value'] = FORWARD_FAMILY
    if case.has_aux:
        fam['aux'] = FORWARD_FAMILY
    return fam


def _dense_params(tree):
    """The subtree of 'params' that holds 'Dense_0' (wherever the wrappers put it)."""
    if 'Dense_0' in tree:
        return tree
    for value in tree.values():
        if isinstance(value, dict):
            found = _dense_params(value)
            if found is not None:
                return found
    return None


def _oracle(case, variables, x, w):
    """Plain ``jax.grad`` of the submodule's function applied on its own parameters (nnjax)."""
    nn, jnp = nnjax, jax.numpy
    params = jax.tree_util.tree_map(jnp.asarray, {'params': _dense_params(variables['params'])})
    fn = _scalar_fn(nn, case)
    module = _inner(nn, case)()

    def scalar(x, *w):
        bound = module.bind(params, mutable=['state'])
        out = fn(bound, x, *w)
        return out[0] if case.has_aux else out

    argnums = (0, 1) if case.two_primals else (0,)
    primals = (x, w) if case.two_primals else (x,)
    grad_fn = jax.grad(scalar, argnums=argnums)
    if case.wrapper != 'none':  # one gradient per row (vmap) or per step (scan)
        grad_fn = jax.vmap(grad_fn)
    return grad_fn(*(jnp.asarray(p) for p in primals))


@st.composite
def grad_cases(draw, wrapper):
    return GradCase(
        api=draw(st.sampled_from(('grad', 'value_and_grad'))),
        activation=draw(st.sampled_from(ACTIVATIONS)),
        two_primals=draw(st.booleans()),
        has_aux=draw(st.booleans()),
        state=wrapper != 'scan' and draw(st.booleans()),  # a carried collection must exist before the loop
        in_setup=draw(st.booleans()),
        wrapper=wrapper,
        mutable=draw(st.sampled_from((False, ['state'], True))),
        seed=draw(st.integers(0, 2**31 - 1)),
    )


@pytest.mark.parametrize('wrapper', ['none', 'scan', 'vmap'])
@settings(deadline=None, max_examples=3)
@given(data_=st.data())
def test_grad_agrees_across_backends_and_with_jax_grad(wrapper, data_):
    case = data_.draw(grad_cases(wrapper))
    x, w = data(case.seed, (BATCH, FEAT_IN)), data(case.seed + 1, (BATCH, FEATURES))
    result = check_init_apply(
        partial(build, case=case),
        (x, w),
        init_rngs={'params': case.seed},
        mutable=case.mutable,
        output_family=_families(case),
    )
    out_jax = result.apply_jax.value if case.mutable is False else result.apply_jax.value[0]
    expected = _oracle(case, result.variables, x, w)
    assert_trees_close(
        {'g': tuple(np.asarray(g) for g in out_jax['grads'])},
        {'g': tuple(np.asarray(g) for g in expected)},
        family=FORWARD_FAMILY,
        err_msg='nnjax lifted grad vs plain jax.grad',
    )
    if case.state and case.mutable is not False:
        # the counter written inside the differentiated function is kept: 1 at init, 2 after apply
        for count in jax.tree_util.tree_leaves(result.apply_ref.value[1]['state']):
            assert np.all(np.asarray(count) == 2.0), count
    event(f'{case.api} wrapper={case.wrapper} setup={case.in_setup} aux={case.has_aux}')


# ------------------------------------------------------------------ fold_rngs


@dataclass(frozen=True)
class FoldCase:
    form: str  # 'method' | 'class'
    calls: int
    with_params: bool
    seed: int


def build_fold(nn, case: FoldCase):
    def draw_noise(mdl, x):
        y = nn.Dense(FEATURES)(x) if case.with_params else x
        return y + nn.random.normal(mdl.make_rng('noise'), y.shape)

    class Noise(nn.Module):
        @nn.compact
        def __call__(self, x):
            return draw_noise(self, x)

    class NoiseM(nn.Module):
        @nn.fold_rngs
        @nn.compact
        def __call__(self, x):
            return draw_noise(self, x)

    class Root(nn.Module):
        @nn.compact
        def __call__(self, x):
            layer = nn.fold_rngs(Noise)() if case.form == 'class' else NoiseM()
            outs = [layer(x) for _ in range(case.calls)]
            return {'calls': outs, 'outside': nn.random.uniform(self.make_rng('noise'), (2,))}

    return Root()


@settings(deadline=None, max_examples=6)
@given(
    st.builds(
        FoldCase,
        form=st.sampled_from(('method', 'class')),
        calls=st.integers(1, 3),
        with_params=st.booleans(),
        seed=st.integers(0, 2**31 - 1),
    )
)
def test_fold_rngs_agrees_and_gives_fresh_keys(case):
    x = data(case.seed, (BATCH, FEAT_IN if case.with_params else FEATURES))
    rngs = {'params': case.seed, 'noise': case.seed + 1}
    result = check_init_apply(
        partial(build_fold, case=case),
        (x,),
        init_rngs=rngs,
        apply_rngs={'noise': case.seed + 2},
        output_family=PARAMS_FAMILY,
    )
    outs = result.apply_ref.value['calls']
    for i in range(len(outs)):
        for j in range(i):
            assert not np.allclose(outs[i], outs[j]), (i, j)  # every call draws new keys
    if case.with_params:
        assert len(result.variables['params']) == 1  # one shared submodule, called several times
    event(f'form={case.form} calls={case.calls}')


# ------------------------------------------------------------------ check_constancy_invariants


@dataclass(frozen=True)
class ConstancyCase:
    kind: str  # 'independent' | 'dependent_state' | 'broadcast_output'
    check: bool
    seed: int


def build_constancy(nn, case: ConstancyCase):
    np_ = nn.numpy

    class Cell(nn.Module):
        @nn.compact
        def __call__(self, c, x):
            if case.kind == 'dependent_state':
                s = self.variable('state', 's', lambda: np_.zeros((FEATURES,), np_.float32))
                s.value = c + x  # a broadcast collection written from the loop's values
                return c + s.value, x
            if case.kind == 'broadcast_output':
                return c + x, np_.ones((3,), np_.float32)
            h = nn.Dense(FEATURES)(x) + c
            return h, h

    kwargs = dict(
        variable_broadcast=['params', 'state'], split_rngs={'params': False}, check_constancy_invariants=case.check
    )
    if case.kind == 'broadcast_output':
        kwargs.update(out_axes=nn.broadcast)
    return nn.scan(Cell, **kwargs)()


@pytest.mark.parametrize('check', [True, False])
@pytest.mark.parametrize('kind', ['independent', 'dependent_state', 'broadcast_output'])
def test_check_constancy_invariants(kind, check):
    case = ConstancyCase(kind=kind, check=check, seed=7)
    carry, xs = data(case.seed, (FEATURES,)), data(case.seed + 1, (BATCH + 1, FEATURES))
    expect_init = expect_apply = None
    if case.kind == 'dependent_state' and case.check:
        expect_init = ValueError  # "broadcasted variable has a data dependency on the scan body."
    if case.kind == 'broadcast_output' and not case.check:
        expect_init = ValueError  # no broadcast outputs without the first pass
    if case.kind == 'independent' and not case.check:
        # without the first pass, parameters created in the loop are dropped: apply finds none
        expect_apply = nnjax.errors.ScopeCollectionNotFound
    result = check_init_apply(
        partial(build_constancy, case=case),
        (carry, xs),
        init_rngs={'params': case.seed},
        mutable=['state'] if case.kind == 'dependent_state' else False,
        expect_init=expect_init,
        expect_apply=expect_apply,
    )
    if case.kind == 'dependent_state' and not case.check:
        # what the loop writes to a broadcast collection is dropped: init keeps no 'state'
        assert 'state' not in result.variables, result.variables
