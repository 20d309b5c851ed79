"""``nn.scan``: the same model code gives the same variables, outputs, state and errors on both backends.

Each example draws a scanned cell ``(c, x, w) -> (c, (y, p))`` and how it is
scanned:

* the length and the axes: ``x`` scanned along 0, 1 or -1 (or passed whole
  with ``nn.broadcast`` and an explicit ``length``), ``w`` scanned along 0 or
  broadcast; ``y`` stacked along 0, 1, 2 or -1; ``p`` (computed from the
  parameters alone) stacked along 0 or broadcast (``out_axes=nn.broadcast``)
  when the parameters are; ``length`` given or derived; ``reverse``;
* per collection, the kind: 'params' broadcast (``variable_broadcast``) or
  scanned (``variable_axes`` 0, 1 or -1); a 'state' counter broadcast,
  scanned, or carried (``variable_carry``, created before the loop);
* ``split_rngs`` per stream: 'params', and a stream the cell draws from
  ('noise' through ``make_rng``, or 'dropout' through ``nn.Dropout``);
* the form: a transformed class (``nn.scan(Cell, ...)``) as the root or a
  child, a function of a module (``nn.scan(lambda mdl, c, x, w: mdl(c, x,
  w), ...)``), or a function scanning the calling module itself
  (``nn.scan(body_fn, ...)(self, ...)``, as the seed's LSTM example does);
  optionally with ``nn.remat`` inside (scan of remat);
* ``mutable=`` of the apply call.

A second property draws misuses (vmap of scan is drawn by
``test_transforms_vmap.py``). Misuses visible only to a tracer, which nnref (a Python loop
over concrete values) does not detect, are checked on nnjax alone, as
``nnref/transforms/scan.py`` documents:

* a broadcast output (``out_axes=nn.broadcast``) computed from scanned
  parameters;
* broadcast parameters initialized from a split 'params' stream;
* a broadcast collection written with values computed from the loop.

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

BATCH, FEAT_IN, FEATURES = 2, 4, 5  # all different: a mixed-up axis shows as a shape error
BROADCAST = 'broadcast'  # stands for nn.broadcast in a draw (plain data)


@dataclass(frozen=True)
class ScanCase:
    n: int  # number of steps
    x_axis: object  # 0 | 1 | -1 | BROADCAST (then length=n)
    w_axis: object  # 0 | BROADCAST
    y_out: int
    p_out: object  # 0 | BROADCAST
    params: object  # BROADCAST | 0 | 1 | -1
    split_params: bool
    state: Optional[str]  # None | 'broadcast' | 'axes' | 'carry' | 'absent' (written, not lifted)
    state_from_data: bool  # the state update depends on the loop's values
    stream: Optional[str]  # None | 'noise' | 'dropout'
    split_stream: bool
    reverse: bool
    give_length: bool
    form: str  # 'root' | 'class' | 'function' | 'self'
    remat: bool  # scan of remat
    mutable: object
    seed: int
    length: Optional[int] = None  # explicit length overriding n (misuse)
    w_len: Optional[int] = None  # scanned length of w when it differs from n (misuse)
    carry_features: int = FEATURES  # features of the initial carry (misuse when different)

    @property
    def x_shape(self):
        inner = [BATCH, FEAT_IN]
        if self.x_axis == BROADCAST:
            return tuple(inner)
        axis = self.x_axis if self.x_axis >= 0 else len(inner) + 1 + self.x_axis
        return tuple(inner[:axis] + [self.n] + inner[axis:])

    @property
    def w_shape(self):
        return (FEATURES,) if self.w_axis == BROADCAST else ((self.w_len or self.n), FEATURES)


def _axis(nn, a):
    return nn.broadcast if a == BROADCAST else a


def scan_options(nn, case: ScanCase) -> dict:
    broadcast, axes, carry = [], {}, False
    if case.params == BROADCAST:
        broadcast.append('params')
    else:
        axes['params'] = case.params
    if case.state == 'broadcast':
        broadcast.append('state')
    elif case.state == 'axes':
        axes['state'] = 0
    elif case.state == 'carry':
        carry = 'state'
    split_rngs = {'params': case.split_params}
    if case.stream is not None:
        split_rngs[case.stream] = case.split_stream
    options = dict(
        variable_broadcast=broadcast or False,
        variable_axes=axes,
        variable_carry=carry,
        split_rngs=split_rngs,
        in_axes=(_axis(nn, case.x_axis), _axis(nn, case.w_axis)),
        out_axes=(case.y_out, _axis(nn, case.p_out)),
        reverse=case.reverse,
    )
    if case.length is not None:
        options['length'] = case.length
    elif case.give_length:
        options['length'] = case.n
    return options


def cell_step(nn, case: ScanCase, mdl, c, x, w):
    """One step, as model code: ``mdl`` is the module whose scope the step runs in."""
    np_ = nn.numpy
    if case.state is not None:
        count = mdl.variable('state', 'count', lambda: np_.zeros((), np_.float32))
        if mdl.is_mutable_collection('state'):
            count.value = count.value + (np_.mean(c) if case.state_from_data else 1.0)
    dense = nn.Dense(FEATURES)
    h = np_.tanh(dense(x) + c + w)
    if case.stream == 'noise':
        h = h + 0.5 * nn.random.normal(mdl.make_rng('noise'), h.shape)
    elif case.stream == 'dropout':
        h = nn.Dropout(0.5, deterministic=False)(h)
    p = np_.sum(dense.variables['params']['kernel'])
    return h, (2.0 * h, p)


def build(nn, case: ScanCase):
    class Cell(nn.Module):
        @nn.compact
        def __call__(self, c, x, w):
            return cell_step(nn, case, self, c, x, w)

    target = nn.remat(Cell) if case.remat else Cell
    options = scan_options(nn, case)
    if case.form == 'root':
        return nn.scan(target, **options)()

    def body_fn(mdl, c, x, w):
        return mdl(c, x, w)

    def self_body(mdl, c, x, w):
        return cell_step(nn, case, mdl, c, x, w)

    class Parent(nn.Module):
        @nn.compact
        def __call__(self, c, x, w):
            if case.form == 'class':
                return nn.scan(target, **options)()(c, x, w)
            if case.form == 'function':
                fn = nn.remat(body_fn) if case.remat else body_fn
                return nn.scan(fn, **options)(Cell(), c, x, w)
            # form 'self': the step runs in this module's own scope
            if case.state == 'carry':
                self.variable('state', 'count', lambda: nn.numpy.zeros((), nn.numpy.float32))
            fn = nn.remat(self_body) if case.remat else self_body
            return nn.scan(fn, **options)(self, c, x, w)

    return Parent()


MUTABLE = (False, ['state'], True)


@st.composite
def scan_cases(draw, **overrides):
    params = draw(st.sampled_from((BROADCAST, 0, 1, -1)))
    form = draw(st.sampled_from(('root', 'class', 'function', 'self')))
    # Valid programs: carried variables exist before the loop (form 'self'),
    # broadcast values do not depend on the loop.
    states = (None, 'broadcast', 'axes') + (('carry',) if form == 'self' else ())
    state = draw(st.sampled_from(states))
    x_axis = draw(st.sampled_from((0, 1, -1, BROADCAST)))
    w_axis = draw(st.sampled_from((0, BROADCAST)))
    fields = dict(
        n=draw(st.sampled_from((1, 3))),
        x_axis=x_axis,
        w_axis=w_axis,
        y_out=draw(st.sampled_from((0, 1, 2, -1))),
        p_out=draw(st.sampled_from((0, BROADCAST))) if params == BROADCAST else 0,
        params=params,
        split_params=False if params == BROADCAST else draw(st.booleans()),
        state=state,
        state_from_data=False if state == 'broadcast' else draw(st.booleans()),
        stream=draw(st.sampled_from((None, 'noise', 'dropout'))),
        split_stream=draw(st.booleans()),
        reverse=draw(st.booleans()),
        # nothing scanned: the length must be given
        give_length=x_axis == w_axis == BROADCAST or draw(st.booleans()),
        form=form,
        remat=draw(st.booleans()),
        mutable=draw(st.sampled_from(MUTABLE)),
        seed=draw(st.integers(0, 2**31 - 1)),
    )
    fields.update(overrides)
    return ScanCase(**fields)


def _args(case: ScanCase):
    return (
        data(case.seed, (BATCH, case.carry_features)),
        data(case.seed + 1, case.x_shape),
        data(case.seed + 2, case.w_shape),
    )


def _streams(case, offset: int) -> dict:
    return {'params': case.seed + offset, 'noise': case.seed + offset + 1, 'dropout': case.seed + offset + 2}


def _run(case: ScanCase, build_fn=build, args=None, **expect):
    return check_init_apply(
        partial(build_fn, case=case),
        args or _args(case),
        init_rngs=_streams(case, 0),
        apply_rngs={k: v for k, v in _streams(case, 10).items() if k != 'params'},
        mutable=case.mutable,
        **expect,
    )


def _with_axis(shape, axis, n):
    if axis is None or axis == BROADCAST:
        return tuple(shape)
    shape = list(shape)
    axis = axis if axis >= 0 else len(shape) + 1 + axis
    return tuple(shape[:axis] + [n] + shape[axis:])


def _prefix(case: ScanCase) -> tuple:
    """The path of the cell's variables below each collection."""
    cls = 'ScanCheckpointCell_0' if case.remat else 'ScanCell_0'
    return {'root': (), 'class': (cls,), 'function': ('Cell_0',), 'self': ()}[case.form]


def _expected_variable_shapes(case: ScanCase) -> dict:
    prefix = _prefix(case)
    dense = ('params',) + prefix + ('Dense_0',)
    out = {
        '/'.join(dense + ('kernel',)): _with_axis((FEAT_IN, FEATURES), case.params, case.n),
        '/'.join(dense + ('bias',)): _with_axis((FEATURES,), case.params, case.n),
    }
    if case.state is not None:
        out['/'.join(('state',) + prefix + ('count',))] = (case.n,) if case.state == 'axes' else ()
    return out


@settings(deadline=None)
@given(scan_cases())
def test_scan_agrees(case):
    result = _run(case)
    assert shapes(result.variables) == _expected_variable_shapes(case)
    c, (ys, p) = result.init_ref.value[0]
    assert c.shape == (BATCH, FEATURES)
    assert ys.shape == _with_axis((BATCH, FEATURES), case.y_out, case.n)
    assert p.shape == _with_axis((), case.p_out, case.n)
    if case.state is not None and case.mutable is not False and not case.state_from_data:
        # A carried counter counts every step (n at init, 2n after apply);
        # broadcast and scanned ones count once per slot (1, then 2).
        count = result.apply_ref.value[1]['state']
        for name in _prefix(case) + ('count',):
            count = count[name]
        assert (count == (2.0 * case.n if case.state == 'carry' else 2.0)).all(), (case.state, count)
    event(f'form={case.form} params={case.params} state={case.state} remat={case.remat}')


# ------------------------------------------------------------------ misuse

MISUSES = {
    # name: (field overrides, expected class, nnref detects it)
    'inconsistent scanned lengths': (dict(w_axis=0, w_len=-1), ValueError, True),  # -1: n + 1
    'nothing scanned and no length': (
        dict(x_axis=BROADCAST, w_axis=BROADCAST, length=None, give_length=False),
        ValueError,
        True,
    ),
    'length disagrees with the inputs': (dict(x_axis=0, length=-1), ValueError, True),  # -1: n + 1
    'carried variable created in the loop': (dict(state='carry', form='class'), TypeError, True),
    'carry changes shape': (dict(carry_features=1), TypeError, True),
    'collection not lifted is written': (dict(state='absent'), errors.ScopeCollectionNotFound, True),
    'broadcast output from scanned params': (dict(params=0, p_out=BROADCAST), ValueError, False),
    'broadcast params from a split stream': (dict(params=BROADCAST, split_params=True), ValueError, False),
    'broadcast collection written from loop data': (dict(state='broadcast', state_from_data=True), ValueError, False),
}


@settings(deadline=None)
@given(st.sampled_from(sorted(MISUSES)), st.data())
def test_scan_misuse_raises_the_same_error(name, draw):
    overrides, expect, nnref_detects = MISUSES[name]
    case = draw.draw(scan_cases(**overrides))
    if case.w_len == -1:
        case = replace(case, w_len=case.n + 1)
    if case.length == -1:
        case = replace(case, length=case.n + 1)
    event(name)
    if name == 'broadcast output from scanned params' and not case.split_params:
        # Unsplit, the parameters created at init are the same at every step
        # (independent of the loop); at apply they are the scanned slices.
        _run(case, expect_apply=expect, nnref_detects=nnref_detects)
        return
    _run(case, expect_init=expect, nnref_detects=nnref_detects)
