"""Every lifted transform writing to a collection: the same error on both backends when ``mutable=`` leaves it out.

Inside each transform (none, ``vmap``, ``scan``, ``jit``, ``remat``,
``remat_scan``, ``cond``, ``switch``, ``while_loop``, ``map_variables``,
``custom_vjp``, ``jvp``, ``vjp``, ``grad``, ``value_and_grad``) a Dense
computes the output and the body writes to a 'state' collection in one of
three ways: it updates a variable that exists ('update': the variables given
to ``apply`` hold it), creates one ('create': they do not), or ``sow``s a
value ('sow', which reports whether it stored it). ``apply`` is called with a
``mutable=`` that leaves 'state' out (False, ``['other']``,
``DenyList('state')``) or lets it in (True, ``['state']``). Both backends
must raise the same exception class, or both return the same output and
state; a write to a collection left immutable must raise (the sow, which
returns False instead, excepted). (``while_loop`` carries 'state': a
variable or sow created inside the loop changes the carry's structure,
which both must refuse with the same class, as the seed system does.)
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from conformance.compare import assert_same_outcome, attempt
from conformance.lifted import _as_arrays, backend_args, compare, data, rngs

nnref = pytest.importorskip("nnref")
nnjax = pytest.importorskip("nnjax")

BATCH, FEATURES = 2, 3
#: Each example runs a transformed model on both backends several times: half of the profile's examples.
EXAMPLES = max(1, settings.default.max_examples // 2)

MUTABLE = {
    'False': lambda nn: False,
    "['other']": lambda nn: ['other'],
    "DenyList('state')": lambda nn: nn.DenyList('state'),
    'True': lambda nn: True,
    "['state']": lambda nn: ['state'],
}
STATE_MUTABLE = ('True', "['state']")


def write(nn, mdl, kind: str, x):
    """The body's write to 'state', then its output."""
    np_ = nn.numpy
    y = nn.Dense(FEATURES)(x)
    if kind == 'sow':
        stored = mdl.sow('state', 'seen', np_.ones((), np_.float32))  # constant: broadcast-safe
        return y + (1.0 if stored else 0.0)
    count = mdl.variable('state', 'count', lambda: np_.zeros((), np_.float32))
    count.value = count.value + 1.0  # independent of the data: every transform may carry or broadcast it
    return y + count.value


def build(nn, transform: str, kind: str):
    class Cell(nn.Module):
        @nn.compact
        def __call__(self, x):
            return write(nn, self, kind, x)

    def body(mdl, x):
        return mdl(x)

    class Model(nn.Module):
        @nn.compact
        def __call__(self, x):
            cell = Cell()
            if transform == 'none':
                return cell(x)
            if transform == 'vmap':
                axes = {'params': None, 'state': None}
                return nn.vmap(Cell, variable_axes=axes, split_rngs={'params': False})()(x)
            if transform == 'scan':

                def step(mdl, c, x):
                    return c, mdl(x)

                scan = nn.scan(step, variable_broadcast=['params', 'state'], split_rngs={'params': False}, length=2)
                return scan(cell, 0.0, x)[1]
            if transform == 'jit':
                return nn.jit(Cell)()(x)
            if transform == 'remat':
                return nn.remat(Cell)()(x)
            if transform == 'remat_scan':
                scan = nn.remat_scan(Cell, lengths=(2,), variable_axes={'params': 0}, variable_broadcast='state')
                return scan()(x)
            if transform == 'cond':
                return nn.cond(True, body, lambda mdl, x: -mdl(x), cell, x)
            if transform == 'switch':
                return nn.switch(1, [lambda mdl, x: -mdl(x), body], cell, x)
            if transform == 'while_loop':

                def loop_body(mdl, carry):
                    i, y = carry
                    return i + 1, mdl(x)

                if self.is_initializing():  # the loop may not create parameters: a first call outside
                    cell(x)
                init = (0, nn.numpy.zeros((BATCH, FEATURES), nn.numpy.float32))
                loop = nn.while_loop(lambda mdl, c: c[0] < 2, loop_body, cell, init, carry_variables='state')
                return loop[1]
            if transform == 'map_variables':
                return nn.map_variables(Cell, 'state', lambda v: v, lambda v: v, mutable=True)()(x)
            if transform == 'custom_vjp':

                def fwd(mdl, x):
                    return mdl(x), None

                def bwd(residual, g):
                    return {'params': {}}, g

                return nn.custom_vjp(body, fwd, bwd)(cell, x)
            if transform == 'jvp':
                return nn.jvp(body, cell, (x,), (nn.numpy.ones_like(x),), {})[0]
            if transform == 'vjp':
                return nn.vjp(body, cell, x)[0]
            scalar = lambda mdl, x: nn.numpy.sum(mdl(x))  # noqa: E731
            if transform == 'grad':
                return nn.grad(scalar, cell, x)
            return nn.value_and_grad(scalar, cell, x)

    return Model()


TRANSFORMS = (
    'none',
    'vmap',
    'scan',
    'jit',
    'remat',
    'remat_scan',
    'cond',
    'switch',
    'while_loop',
    'map_variables',
    'custom_vjp',
    'jvp',
    'vjp',
    'grad',
    'value_and_grad',
)


@dataclass(frozen=True)
class WriteCase:
    transform: str
    kind: str  # 'update' | 'create' | 'sow'
    mutable: str
    seed: int


@settings(max_examples=EXAMPLES)
@given(
    st.builds(
        WriteCase,
        transform=st.sampled_from(TRANSFORMS),
        kind=st.sampled_from(('update', 'create', 'sow')),
        mutable=st.sampled_from(sorted(MUTABLE)),
        seed=st.integers(0, 2**31 - 1),
    )
)
def test_lifted_write_to_immutable_collection(case):
    x = data(case.seed, (BATCH, FEATURES))

    def init(nn):
        model = build(nn, case.transform, case.kind)
        return attempt(lambda: model.init_with_output(rngs(nn, {'params': case.seed}), backend_args(nn, x)))

    ref, jax = init(nnref), init(nnjax)
    if ref.raised or jax.raised:  # a sow in while_loop grows its carried collection: both must refuse it
        assert_same_outcome(ref, jax, f'{case} init_with_output', allow_foreign_errors=True)
        event(f'{case.transform}: init {type(ref.error).__name__}')
        return
    compare(ref, jax, f'{case} init_with_output', with_variables=True)
    variables = dict(ref.value[1])
    if case.kind != 'update':
        variables.pop('state', None)
    else:
        assert 'state' in variables

    def apply(nn):
        model = build(nn, case.transform, case.kind)
        return attempt(
            lambda: model.apply(
                backend_args(nn, _as_arrays(variables)), backend_args(nn, x), mutable=MUTABLE[case.mutable](nn)
            )
        )

    ref, jax = apply(nnref), apply(nnjax)
    returns_state = case.mutable != 'False'
    assert_same_outcome(ref, jax, f'{case} apply', variables_at=1 if returns_state else None, allow_foreign_errors=True)
    must_raise = case.kind != 'sow' and case.mutable not in STATE_MUTABLE
    if must_raise:
        assert ref.raised, f'{case}: a write to an immutable collection returned on both backends'
    elif not ref.raised and case.mutable in STATE_MUTABLE:
        state = ref.value[1].get('state')
        assert state is not None, f'{case}: the mutable write returned no state'
    event(f'{case.transform}: {type(ref.error).__name__ if ref.raised else "ok"}')
