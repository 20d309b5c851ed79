"""``nn.jit``, ``nn.remat``/``nn.checkpoint`` and ``nn.remat_scan`` agree on both backends.

nnref runs jit and remat as semantic identities over the same lifting, so
everything observable must match nnjax's compiled and rematerialized runs:
variable trees and values, outputs, mutated state, and the random numbers
(``nn.jit`` forks every stream on entry, which changes them compared with an
untransformed module, and a second call of the same jitted module reuses the
trace while its ``make_rng`` counters advance as if it traced again).

The first property draws the transform (jit or remat), its form (a
transformed class as root or child, the method-decorator form ``@nn.jit`` /
``@nn.remat`` on a ``@nn.compact __call__``, or a function of a module),
whether a Python bool ``train`` is passed as a static argument
(``static_argnums=2``: the module counts as argument 0, as in the seed
system), a 'state' counter, a random stream ('noise' via ``make_rng`` or
'dropout' via ``nn.Dropout``), one or two calls of the same module, an
inner transformed Dense (jit in remat, remat in jit, ...), and ``mutable=``.

The second draws ``nn.remat_scan``: the loop lengths (nested scans), whether
'params' are stacked (the default ``variable_axes={True: 0}``) or broadcast,
a 'state' counter and a 'noise' stream, and the form.

The third draws misuses. nnref runs the body directly and never traces, so
two of them are nnjax-only (``nnref_detects=False``): Python control flow on
an argument that is not static, and an array marked static (not hashable).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Optional

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from conformance.lifted import check_init_apply, data, shapes

nnref = pytest.importorskip("nnref")
nnjax = pytest.importorskip("nnjax")

import jax  # noqa: E402  (the class of tracer errors, which only nnjax raises)

from shared_spec import errors  # noqa: E402

BATCH, FEATURES = 2, 4  # the blocks map FEATURES -> FEATURES, so they can be called again on their output
MUTABLE = (False, ['state'], True)


@dataclass(frozen=True)
class BlockCase:
    transform: str  # 'jit' | 'remat'
    form: str  # 'root' | 'class' | 'decorator' | 'function'
    static_train: Optional[bool]  # None: no train argument; else its (static) value
    state: bool
    stream: Optional[str]  # None | 'noise' | 'dropout'
    calls: int  # calls of the same transformed module (shared variables)
    inner: Optional[str]  # None | 'jit' | 'remat': a transformed Dense inside the block
    mutable: object
    seed: int
    variables: object = True  # the collections the transform lifts
    static_argnums: object = 'auto'  # 'auto': (2,) when there is a static train argument


def _options(case: BlockCase) -> dict:
    options = {'variables': case.variables}
    if case.static_argnums != 'auto':
        options['static_argnums'] = case.static_argnums
    elif case.static_train is not None:
        options['static_argnums'] = (2,)
    return options


def block_call(nn, case: BlockCase, mdl, x, train):
    np_ = nn.numpy
    if case.state:
        count = mdl.variable('state', 'count', lambda: np_.zeros((), np_.int32))
        if mdl.is_mutable_collection('state'):
            count.value = count.value + 1
    y = nn.Dense(FEATURES)(x)
    if case.inner is not None:
        transform = nn.jit if case.inner == 'jit' else nn.remat
        y = transform(nn.Dense)(FEATURES)(nn.tanh(y))
    if train:  # Python control flow: fine when train is static (or not an argument)
        if case.stream == 'noise':
            y = y + 0.5 * nn.random.normal(mdl.make_rng('noise'), y.shape)
        elif case.stream == 'dropout':
            y = nn.Dropout(0.5, deterministic=False)(y)
    return nn.tanh(y)


def build(nn, case: BlockCase):
    transform = nn.jit if case.transform == 'jit' else nn.remat
    options = _options(case)

    if case.form == 'decorator':

        class Block(nn.Module):
            @partial(transform, **options)
            @nn.compact
            def __call__(self, x, train=True):
                return block_call(nn, case, self, x, train)
    else:

        class Block(nn.Module):
            @nn.compact
            def __call__(self, x, train=True):
                return block_call(nn, case, self, x, train)

    def call(module, x):
        return module(x) if case.static_train is None else module(x, case.static_train)

    if case.form == 'root':
        return transform(Block, **options)()

    def fn(mdl, x, train=True):
        return mdl(x, train)

    class Parent(nn.Module):
        @nn.compact
        def __call__(self, x):
            if case.form == 'class':
                block = transform(Block, **options)()
            elif case.form == 'decorator':
                block = Block()
            else:
                inner, lifted = Block(), transform(fn, **options)

                def block(x, *train):
                    return lifted(inner, x, *train)

            for _ in range(case.calls):
                x = call(block, x)
            return x

    return Parent()


@st.composite
def block_cases(draw, **overrides):
    form = draw(st.sampled_from(('root', 'class', 'decorator', 'function')))
    fields = dict(
        transform=draw(st.sampled_from(('jit', 'remat'))),
        form=form,
        static_train=draw(st.sampled_from((None, True, False))),
        state=draw(st.booleans()),
        stream=draw(st.sampled_from((None, 'noise', 'dropout'))),
        calls=1 if form == 'root' else draw(st.sampled_from((1, 2))),
        inner=draw(st.sampled_from((None, None, 'jit', 'remat'))),
        mutable=draw(st.sampled_from(MUTABLE)),
        seed=draw(st.integers(0, 2**31 - 1)),
    )
    fields.update(overrides)
    return BlockCase(**fields)


def _args(case):
    args = (data(case.seed, (BATCH, FEATURES)),)
    if case.form == 'root' and case.static_train is not None:
        args += (case.static_train,)
    return args


def _streams(seed, offset):
    return {'params': seed + offset, 'noise': seed + offset + 1, 'dropout': seed + offset + 2}


def _run_block(case, **expect):
    return check_init_apply(
        partial(build, case=case),
        _args(case),
        init_rngs=_streams(case.seed, 0),
        apply_rngs={k: v for k, v in _streams(case.seed, 10).items() if k != 'params'},
        mutable=case.mutable,
        **expect,
    )


def _block_prefix(case) -> tuple:
    name = {'jit': 'JitBlock_0', 'remat': 'CheckpointBlock_0'}[case.transform]
    return {'root': (), 'class': (name,), 'decorator': ('Block_0',), 'function': ('Block_0',)}[case.form]


@settings(deadline=None)
@given(block_cases())
def test_jit_and_remat_agree(case):
    result = _run_block(case)
    prefix = _block_prefix(case)
    expected = {
        '/'.join(('params',) + prefix + ('Dense_0', leaf)): shape
        for leaf, shape in (('kernel', (FEATURES, FEATURES)), ('bias', (FEATURES,)))
    }
    if case.inner is not None:
        inner = {'jit': 'JitDense_0', 'remat': 'CheckpointDense_0'}[case.inner]
        expected.update(
            {
                '/'.join(('params',) + prefix + (inner, leaf)): shape
                for leaf, shape in (('kernel', (FEATURES, FEATURES)), ('bias', (FEATURES,)))
            }
        )
    if case.state:
        expected['/'.join(('state',) + prefix + ('count',))] = ()
    assert shapes(result.variables) == expected
    if case.state and case.mutable is not False:
        count = result.apply_ref.value[1]['state']
        for name in prefix + ('count',):
            count = count[name]
        assert int(count) == 2 * case.calls  # one count per call, at init and again at apply
    event(f'{case.transform} form={case.form} calls={case.calls} inner={case.inner}')


# ------------------------------------------------------------------ remat_scan


@dataclass(frozen=True)
class RematScanCase:
    lengths: tuple
    params: str  # 'stacked' (the defaults) | 'broadcast'
    state: bool
    stream: bool
    form: str  # 'root' | 'class' | 'function'
    mutable: object
    seed: int


def build_remat_scan(nn, case: RematScanCase):
    np_ = nn.numpy

    class Layer(nn.Module):
        @nn.compact
        def __call__(self, x):
            if case.state:
                count = self.variable('state', 'count', lambda: np_.zeros((), np_.float32))
                if self.is_mutable_collection('state'):
                    count.value = count.value + 1.0
            y = nn.Dense(FEATURES)(x)
            if case.stream:
                y = y + 0.5 * nn.random.normal(self.make_rng('noise'), y.shape)
            return x + nn.tanh(y)

    options = {'lengths': case.lengths}
    if case.params == 'broadcast':
        options.update(variable_broadcast='params', variable_axes={True: 0}, split_rngs={'params': False, True: True})
    if case.form == 'root':
        return nn.remat_scan(Layer, **options)()

    class Parent(nn.Module):
        @nn.compact
        def __call__(self, x):
            if case.form == 'class':
                return nn.remat_scan(Layer, **options)()(x)
            return nn.remat_scan(lambda mdl, x: mdl(x), **options)(Layer(), x)

    return Parent()


@st.composite
def remat_scan_cases(draw):
    return RematScanCase(
        lengths=draw(st.sampled_from(((1,), (3,), (2, 2), (1, 2)))),
        params=draw(st.sampled_from(('stacked', 'broadcast'))),
        state=draw(st.booleans()),
        stream=draw(st.booleans()),
        form=draw(st.sampled_from(('root', 'class', 'function'))),
        mutable=draw(st.sampled_from(MUTABLE)),
        seed=draw(st.integers(0, 2**31 - 1)),
    )


@settings(deadline=None)
@given(remat_scan_cases())
def test_remat_scan_agrees(case):
    result = check_init_apply(
        partial(build_remat_scan, case=case),
        (data(case.seed, (BATCH, FEATURES)),),
        init_rngs=_streams(case.seed, 0),
        apply_rngs={'noise': case.seed + 11},
        mutable=case.mutable,
    )
    prefix = {'root': (), 'class': ('Remat_scanLayer_0',), 'function': ('Layer_0',)}[case.form]
    lead = tuple(case.lengths) if case.params == 'stacked' else ()
    expected = {
        '/'.join(('params',) + prefix + ('Dense_0', 'kernel')): lead + (FEATURES, FEATURES),
        '/'.join(('params',) + prefix + ('Dense_0', 'bias')): lead + (FEATURES,),
    }
    if case.state:
        expected['/'.join(('state',) + prefix + ('count',))] = tuple(case.lengths)
    assert shapes(result.variables) == expected
    event(f'lengths={case.lengths} params={case.params} form={case.form}')


# ------------------------------------------------------------------ misuse

MISUSES = {
    # name: (field overrides, expected class, nnref detects it)
    'collection not lifted is written': (dict(variables='params', state=True), errors.ScopeCollectionNotFound, True),
    'Python control flow on a traced argument': (
        dict(static_train=True, static_argnums=(), form='class'),
        jax.errors.TracerBoolConversionError,
        False,
    ),
    'an array marked static': (
        dict(static_train=None, static_argnums=(1,), form='class', transform='jit'),
        ValueError,
        False,
    ),
}


@settings(deadline=None)
@given(st.sampled_from(sorted(MISUSES)), st.data())
def test_jit_remat_misuse_raises_the_same_error(name, draw):
    overrides, expect, nnref_detects = MISUSES[name]
    case = draw.draw(block_cases(**overrides))
    event(name)
    _run_block(case, expect_init=expect, nnref_detects=nnref_detects)


@pytest.mark.parametrize('nn', [nnref, nnjax], ids=['nnref', 'nnjax'])
def test_remat_scan_needs_lengths(nn):
    with pytest.raises(ValueError):
        nn.remat_scan(nn.Dense, lengths=())(FEATURES).init(nn.random.PRNGKey(0), nn.numpy.ones((1, FEATURES)))
