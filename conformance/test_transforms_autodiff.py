"""``nn.jvp``, ``nn.vjp`` and ``nn.custom_vjp``: nnjax's autodiff agrees with nnref's central differences.

nnref differentiates numerically in float64 (``nnref/transforms/autodiff.py``);
nnjax with JAX's autodiff in float32. Primal values are compared with the
forward-pass tolerance ('matmul'), derivatives with the table's
'derivative' row; variable trees, mutated state and random draws inside
the differentiated function must agree as for any other transform.

* ``nn.jvp``: a Dense + activation submodule differentiated along an input
  tangent and (at apply) tangents for its 'params' (``variable_tangents``,
  computed from the parameters by model code, or left out: zero), with a
  'state' counter the function may write and, optionally, a 'noise' stream.
* ``nn.vjp``: the same submodule; gradients for ``vjp_variables``
  ('params', or every collection), the input, and ``has_aux``.
* ``nn.custom_vjp``: the forward value (and the variables it creates) of the
  seed's sign-gradient example and of a scaled variant. nnref cannot run
  the custom backward rule (finite differences see only the function), so
  gradients through ``custom_vjp`` are not compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from conformance.lifted import DERIVATIVE_FAMILY, FORWARD_FAMILY, check_init_apply, data

nnref = pytest.importorskip("nnref")
nnjax = pytest.importorskip("nnjax")

# Kept tiny: nnref's vjp evaluates the function twice per input element.
BATCH, FEAT_IN, FEATURES = 2, 3, 2
ACTIVATIONS = ('tanh', 'sigmoid', 'softplus')
MUTABLE = (False, ['state'], True)


@dataclass(frozen=True)
class DiffCase:
    activation: str
    use_bias: bool
    state: bool  # the differentiated module writes a 'state' counter
    noise: bool  # ... and draws from a 'noise' stream
    var_tangents: bool  # jvp: tangents for 'params' (else zero)
    x_tangent: bool  # jvp: a nonzero input tangent
    vjp_all: bool  # vjp: gradients for every collection (else 'params')
    has_aux: bool
    mutable: object
    seed: int


def inner_module(nn, case: DiffCase):
    np_ = nn.numpy

    class Inner(nn.Module):
        @nn.compact
        def __call__(self, x):
            if case.state:
                count = self.variable('state', 'count', lambda: np_.zeros((), np_.float32))
                if self.is_mutable_collection('state'):
                    count.value = count.value + 1.0
            y = getattr(nn, case.activation)(nn.Dense(FEATURES, use_bias=case.use_bias)(x))
            if case.noise:
                y = y + 0.5 * nn.random.normal(self.make_rng('noise'), y.shape)
            return y

    return Inner


def build_jvp(nn, case: DiffCase):
    np_, tmap = nn.numpy, nn.tree_util.tree_map
    Inner = inner_module(nn, case)

    class Foo(nn.Module):
        @nn.compact
        def __call__(self, x, t):
            inner = Inner()
            # Tangents for the parameters, computed from them (none exist before init creates them).
            params = inner.variables.get('params', {}) if case.var_tangents else {}
            var_t = tmap(lambda p: np_.cos(3.0 * p + 1.0), params)
            tangent = t if case.x_tangent else np_.zeros_like(t)
            y, y_t = nn.jvp(lambda mdl, x: mdl(x), inner, (x,), (tangent,), variable_tangents={'params': var_t})
            return {'value': y, 'tangent': y_t}

    return Foo()


def build_vjp(nn, case: DiffCase):
    np_ = nn.numpy
    Inner = inner_module(nn, case)

    def fn(mdl, x):
        y = mdl(x)
        return (y, 2.0 * x) if case.has_aux else y

    class Foo(nn.Module):
        @nn.compact
        def __call__(self, x):
            out = nn.vjp(fn, Inner(), x, has_aux=case.has_aux, vjp_variables=True if case.vjp_all else 'params')
            y, bwd = out[:2]
            cotangent = np_.cos(np_.arange(y.size, dtype=np_.float32)).reshape(y.shape)
            var_grads, x_grad = bwd(cotangent)
            result = {'value': y, 'grads': {'variables': var_grads, 'x': x_grad}}
            if case.has_aux:
                result['aux'] = out[2]
            return result

    return Foo()


@st.composite
def diff_cases(draw):
    return DiffCase(
        activation=draw(st.sampled_from(ACTIVATIONS)),
        use_bias=draw(st.booleans()),
        state=draw(st.booleans()),
        noise=draw(st.booleans()),
        var_tangents=draw(st.booleans()),
        x_tangent=draw(st.booleans()),
        vjp_all=draw(st.booleans()),
        has_aux=draw(st.booleans()),
        mutable=draw(st.sampled_from(MUTABLE)),
        seed=draw(st.integers(0, 2**31 - 1)),
    )


def _rngs(case, offset):
    return {'params': case.seed + offset, 'noise': case.seed + offset + 1}


@settings(deadline=None)
@given(diff_cases())
def test_jvp_agrees(case):
    args = (data(case.seed, (BATCH, FEAT_IN)), data(case.seed + 1, (BATCH, FEAT_IN)))
    result = check_init_apply(
        partial(build_jvp, case=case),
        args,
        init_rngs=_rngs(case, 0),
        apply_rngs={'noise': case.seed + 11},
        mutable=case.mutable,
        output_family={'value': FORWARD_FAMILY, 'tangent': DERIVATIVE_FAMILY},
    )
    out = result.apply_ref.value if case.mutable is False else result.apply_ref.value[0]
    if not (case.var_tangents or case.x_tangent):
        assert not out['tangent'].any()  # zero tangents in, zero tangent out
    event(f'act={case.activation} var_tangents={case.var_tangents} x_tangent={case.x_tangent}')


@settings(deadline=None)
@given(diff_cases())
def test_vjp_agrees(case):
    families = {'value': FORWARD_FAMILY, 'grads': DERIVATIVE_FAMILY}
    if case.has_aux:
        families['aux'] = FORWARD_FAMILY
    result = check_init_apply(
        partial(build_vjp, case=case),
        (data(case.seed, (BATCH, FEAT_IN)),),
        init_rngs=_rngs(case, 0),
        apply_rngs={'noise': case.seed + 11},
        mutable=case.mutable,
        output_family=families,
    )
    out = result.apply_ref.value if case.mutable is False else result.apply_ref.value[0]
    grads = out['grads']['variables']
    expected = {'params'} | ({'state'} if case.vjp_all and case.state else set())
    assert set(grads) == expected, sorted(grads)
    event(f'act={case.activation} vjp_all={case.vjp_all} has_aux={case.has_aux}')


# ------------------------------------------------------------------ custom_vjp


@dataclass(frozen=True)
class CustomCase:
    rule: str  # 'sign' | 'scale': what the backward rule does to the parameter gradients
    features: int
    mutable: object
    seed: int


def build_custom(nn, case: CustomCase):
    np_, tmap = nn.numpy, nn.tree_util.tree_map

    class Foo(nn.Module):
        @nn.compact
        def __call__(self, x):
            def f(mdl, x):
                return mdl(x)

            def fwd(mdl, x):
                return nn.vjp(f, mdl, x)

            def bwd(vjp_fn, y_t):
                params_t, *inputs_t = vjp_fn(y_t)
                rule = np_.sign if case.rule == 'sign' else (lambda g: 0.5 * g)
                return (tmap(rule, params_t), *inputs_t)

            custom = nn.custom_vjp(f, forward_fn=fwd, backward_fn=bwd)
            return custom(nn.Dense(case.features), x)

    return Foo()


@settings(deadline=None)
@given(
    st.builds(
        CustomCase,
        rule=st.sampled_from(('sign', 'scale')),
        features=st.sampled_from((1, FEATURES)),
        mutable=st.sampled_from((False, True)),
        seed=st.integers(0, 2**31 - 1),
    )
)
def test_custom_vjp_forward_agrees(case):
    result = check_init_apply(
        partial(build_custom, case=case),
        (data(case.seed, (BATCH, FEAT_IN)),),
        init_rngs={'params': case.seed},
        mutable=case.mutable,
    )
    assert set(result.variables['params']) == {'Dense_0'}
