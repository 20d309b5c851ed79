"""``nn.vmap``: the same model code gives the same variables, outputs, state and errors on both backends.

Each example draws a vmapped module and how it is mapped:

* the mapped size and where the mapped axis sits in each argument
  (``in_axes`` 0, 1 or -1 for ``x``; 0 or ``None`` for a second argument
  ``z``) and in each output (``out_axes`` 0, 1, 2, -1, and ``None`` for an
  output that does not depend on the mapped axis);
* per collection, ``variable_axes``: 'params' mapped along 0, 1, -1 or
  shared (``None``); a 'state' variable (a counter, or a running statistic
  of the mapped data) mapped along 0 or shared;
* ``split_rngs`` per stream: 'params' and a stream the body draws from
  ('noise' through ``make_rng``, or 'dropout' through ``nn.Dropout``);
* the form: a transformed class as the root module or as a child, or a
  function of a module (``nn.vmap(lambda mdl, x, z: mdl(x, z), ...)``);
  optionally a nested ``nn.vmap`` of a Dense layer inside the body (vmap of
  vmap), with shared or mapped parameters, or a nested ``nn.scan`` over the
  rows of the body's activations (vmap of scan, a function scanning the
  body module itself);
* ``mutable=`` of the apply call.

:func:`conformance.lifted.check_init_apply` compares init (variable trees,
values, outputs) and apply (outputs, mutated collections). The shapes of the
variables are also checked against the shapes the draw implies, so a
mistake both backends share still fails.

A second property draws misuses and checks both backends raise the class
the seed system raises. Three misuses are visible only to a tracer, and
nnref (a loop over concrete values) does not detect them; they are checked
on nnjax alone (``nnref_detects=False``):

* an output with ``out_axes=None`` that depends on the mapped axis;
* shared parameters (``variable_axes={'params': None}``) initialized with a
  split 'params' stream (each index would draw different parameters);
* a shared collection (``None``) written with values computed from the
  mapped data (nnref now refuses it too when the written values differ
  between indices, but not when they happen to be equal, so the case stays
  nnjax-only).

Sizes come from small fixed menus: nnjax compiles every new shape.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Optional

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from conformance.lifted import check_init_apply, data, shapes

nnref = pytest.importorskip("nnref")
nnjax = pytest.importorskip("nnjax")

from shared_spec import errors  # noqa: E402


@dataclass(frozen=True)
class VmapCase:
    n: int  # mapped size
    inner_batch: int  # leading axis of x inside the map
    feat_in: int
    features: int
    x_axis: int  # in_axes of x (x has rank 3 outside)
    z_axis: Optional[int]  # in_axes of z ((features,) inside)
    y_out: int  # out_axes of y ((inner_batch, features) inside)
    aux_out: Optional[int]  # out_axes of aux = 2 * z
    params_axis: Optional[int]
    split_params: bool
    state: Optional[str]  # None | 'counter' | 'stat'
    state_axis: object  # 0 | None | 'absent' (not lifted at all)
    stream: Optional[str]  # None | 'noise' | 'dropout'
    split_stream: bool
    form: str  # 'root' | 'class' | 'function'
    inner: Optional[str]  # None | 'shared' | 'mapped': a nested vmap of Dense; 'scan': a nested scan
    mutable: object
    seed: int
    axis_size: Optional[int] = None
    z_size: Optional[int] = None  # mapped size of z when it differs from n (misuse)
    z_keyword: bool = False  # pass z as a keyword argument (misuse)

    @property
    def x_shape(self):
        inner = [self.inner_batch, self.feat_in]
        if self.x_axis is None:
            return tuple(inner)
        axis = self.x_axis if self.x_axis >= 0 else len(inner) + 1 + self.x_axis
        return tuple(inner[:axis] + [self.n] + inner[axis:])

    @property
    def z_shape(self):
        return (self.features,) if self.z_axis is None else ((self.z_size or self.n), self.features)


def _vmap_options(nn, case: VmapCase) -> dict:
    variable_axes = {'params': case.params_axis}
    if case.state_axis != 'absent':
        variable_axes['state'] = case.state_axis
    split_rngs = {'params': case.split_params}
    if case.stream is not None:
        split_rngs[case.stream] = case.split_stream
    options = dict(
        variable_axes=variable_axes,
        split_rngs=split_rngs,
        in_axes=(case.x_axis, case.z_axis),
        out_axes=(case.y_out, case.aux_out),
    )
    if case.axis_size is not None:
        options['axis_size'] = case.axis_size
    return options


def build(nn, case: VmapCase):
    np_ = nn.numpy

    class Body(nn.Module):
        features: int

        @nn.compact
        def __call__(self, x, z):
            if case.state is not None:
                s = self.variable('state', 's', lambda: np_.zeros((x.shape[-1],), np_.float32))
                if self.is_mutable_collection('state'):
                    step = 1.0 if case.state == 'counter' else np_.mean(x, axis=0)
                    s.value = s.value + step
            y = nn.Dense(self.features)(x)
            if case.inner == 'scan':
                # vmap of scan: a Dense with broadcast params applied row by
                # row of y, a running sum carried.
                def step(mdl, c, row):
                    c = c + nn.Dense(self.features)(nn.tanh(row))
                    return c, c

                ScanRows = nn.scan(step, variable_broadcast='params', split_rngs={'params': False})
                _, y = ScanRows(self, np_.zeros((self.features,), np_.float32), y)
            elif case.inner is not None:
                mapped = case.inner == 'mapped'
                InnerDense = nn.vmap(
                    nn.Dense,
                    variable_axes={'params': 0 if mapped else None},
                    split_rngs={'params': mapped},
                    in_axes=0,
                    out_axes=0,
                )
                y = InnerDense(self.features)(nn.tanh(y))
            if case.stream == 'noise':
                y = y + 0.5 * nn.random.normal(self.make_rng('noise'), y.shape)
            elif case.stream == 'dropout':
                y = nn.Dropout(0.5, deterministic=False)(y)
            return y + z, 2.0 * z

    options = _vmap_options(nn, case)
    if case.form == 'root':
        return nn.vmap(Body, **options)(case.features)

    class Parent(nn.Module):
        @nn.compact
        def __call__(self, x, z):
            if case.form == 'class':
                mapped = nn.vmap(Body, **options)(case.features)
                if case.z_keyword:
                    return mapped(x, z=z)
                return mapped(x, z)
            return nn.vmap(lambda mdl, x, z: mdl(x, z), **options)(Body(case.features), x, z)

    return Parent()


MUTABLE = (False, ['state'], True)


@st.composite
def vmap_cases(draw, **overrides):
    z_axis = draw(st.sampled_from((None, 0)))
    params_axis = draw(st.sampled_from((0, 1, -1, None)))
    state = draw(st.sampled_from((None, 'counter', 'stat')))
    # Valid programs: a shared collection is written only with values that do
    # not depend on the mapped axis; shared params come from an unsplit stream.
    state_axis = 0 if state == 'stat' else draw(st.sampled_from((0, None)))
    stream = draw(st.sampled_from((None, 'noise', 'dropout')))
    fields = dict(
        # Fixed sizes, all different (an axis mixed up shows as a shape
        # error), except the mapped size, which may be 1.
        n=draw(st.sampled_from((1, 2))),
        inner_batch=3,
        feat_in=4,
        features=5,
        x_axis=draw(st.sampled_from((0, 1, -1))),
        z_axis=z_axis,
        y_out=draw(st.sampled_from((0, 1, 2, -1))),
        aux_out=draw(st.sampled_from((0, -1) if z_axis is not None else (None, 0, -1))),
        params_axis=params_axis,
        split_params=False if params_axis is None else draw(st.booleans()),
        state=state,
        state_axis=state_axis,
        stream=stream,
        split_stream=draw(st.booleans()),
        form=draw(st.sampled_from(('root', 'class', 'function'))),
        inner=draw(st.sampled_from((None, None, 'shared', 'mapped', 'scan'))),
        mutable=draw(st.sampled_from(MUTABLE)),
        seed=draw(st.integers(0, 2**31 - 1)),
    )
    fields.update(overrides)
    return VmapCase(**fields)


def _args(case: VmapCase):
    return (data(case.seed, case.x_shape), data(case.seed + 1, case.z_shape))


def _streams(case: VmapCase, offset: int) -> dict:
    return {'params': case.seed + offset, 'noise': case.seed + offset + 1, 'dropout': case.seed + offset + 2}


def _run(case: VmapCase, **expect):
    return check_init_apply(
        partial(build, case=case),
        _args(case),
        init_rngs=_streams(case, 0),
        apply_rngs={k: v for k, v in _streams(case, 10).items() if k != 'params'},
        mutable=case.mutable,
        **expect,
    )


def _with_axis(shape, axis, n):
    if axis is None:
        return tuple(shape)
    shape = list(shape)
    axis = axis if axis >= 0 else len(shape) + 1 + axis
    return tuple(shape[:axis] + [n] + shape[axis:])


def _expected_variable_shapes(case: VmapCase) -> dict:
    prefix = {'root': (), 'class': ('VmapBody_0',), 'function': ('Body_0',)}[case.form]
    out = {}
    body = ('params',) + prefix + ('Dense_0',)
    out['/'.join(body + ('kernel',))] = _with_axis((case.feat_in, case.features), case.params_axis, case.n)
    out['/'.join(body + ('bias',))] = _with_axis((case.features,), case.params_axis, case.n)
    if case.inner == 'scan':
        inner = ('params',) + prefix + ('Dense_1',)
        out['/'.join(inner + ('kernel',))] = _with_axis((case.features, case.features), case.params_axis, case.n)
        out['/'.join(inner + ('bias',))] = _with_axis((case.features,), case.params_axis, case.n)
    elif case.inner is not None:
        inner = ('params',) + prefix + ('VmapDense_0',)
        lead = (case.inner_batch,) if case.inner == 'mapped' else ()
        out['/'.join(inner + ('kernel',))] = _with_axis(lead + (case.features, case.features), case.params_axis, case.n)
        out['/'.join(inner + ('bias',))] = _with_axis(lead + (case.features,), case.params_axis, case.n)
    if case.state is not None:
        out['/'.join(('state',) + prefix + ('s',))] = _with_axis((case.feat_in,), case.state_axis, case.n)
    return out


@settings(deadline=None)
@given(vmap_cases())
def test_vmap_agrees(case):
    result = _run(case)
    assert shapes(result.variables) == _expected_variable_shapes(case)
    out, _ = result.init_ref.value
    y_inner = (case.inner_batch, case.features)
    assert out[0].shape == _with_axis(y_inner, case.y_out, case.n)
    assert out[1].shape == _with_axis((case.features,), case.aux_out, case.n)
    event(f'form={case.form} params_axis={case.params_axis} state={case.state}/{case.state_axis}')


# ------------------------------------------------------------------ misuse

MISUSES = {
    # name: (field overrides, expected class, nnref detects it)
    'inconsistent mapped sizes': (dict(z_axis=0, aux_out=0, z_size=-1), ValueError, True),  # -1: n + 1
    'nothing mapped and no axis_size': (dict(x_axis=None, z_axis=None, aux_out=None, y_out=0), ValueError, True),
    'axis_size disagrees with the inputs': (dict(axis_size=-1), ValueError, True),  # -1: n + 1
    'keyword arguments': (dict(form='class', z_keyword=True), TypeError, True),
    'in_axes beyond the rank': (dict(x_axis=3), ValueError, True),
    'collection not lifted is written': (
        dict(state='counter', state_axis='absent'),
        errors.ScopeCollectionNotFound,
        True,
    ),
    'out_axes None on a mapped output': (dict(z_axis=0, aux_out=None), ValueError, False),
    'shared params from a split stream': (dict(params_axis=None, split_params=True), ValueError, False),
    'shared collection written from mapped data': (dict(state='stat', state_axis=None), ValueError, False),
}


@settings(deadline=None)
@given(st.sampled_from(sorted(MISUSES)), st.data())
def test_vmap_misuse_raises_the_same_error(name, draw):
    overrides, expect, nnref_detects = MISUSES[name]
    case = draw.draw(vmap_cases(**overrides))
    if case.z_size == -1:
        case = replace(case, z_size=case.n + 1)
    if case.axis_size == -1:
        case = replace(case, axis_size=case.n + 1)
    event(name)
    _run(case, expect_init=expect, nnref_detects=nnref_detects)
