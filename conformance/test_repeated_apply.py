"""One module applied again and again: every call agrees with nnref, whatever changed since the last one.

nnjax caches work between calls (``nn.jit`` keeps one trace per cache key,
``init``/``apply`` reuse compiled helpers); nnref recomputes everything. A
cache key missing one part of what a trace depends on shows only when the
*same* module (same classes, same variables) is applied twice with that part
changed, so each example here applies one model several times, in a
sequence of calls, comparing outputs and returned state after every call
(the classes are made once per backend for the whole module, so the cache
also carries over from one example to the next):

1. :func:`test_repeated_apply_with_changing_mutable`: a model with a Dense, a
   sown intermediate, a 'counter' updated only when mutable and a BatchNorm
   in training mode only when 'batch_stats' is mutable, untransformed or
   under ``nn.jit`` (root class, child class, method decorator, function of
   a module), applied 2 to 4 times with ``mutable=`` drawn per call (False,
   a string, lists, True, ``DenyList``), with or without a 'noise' stream,
   ``capture_intermediates`` and a new batch size; the variables are the
   same every call, or the state returned by the previous one (threaded);
2. :func:`test_jit_cache_key_parts_changed_alone`: a jitted child called by a
   parent; each call changes exactly one part of what ``nn.jit``'s trace
   depends on, from a drawn starting point, every part once in a drawn
   order (``mutable``, the random streams
   given, the ``make_rng`` counter, a module field, the module's path, a
   static argument, the method, the input's shape or dtype,
   ``capture_intermediates``, an active method interceptor);
3. :func:`test_jit_initializing_flag_changed_alone`: a jitted child in a
   model without variables, whose output depends on ``is_initializing()``,
   called under ``init``, ``apply`` with init's ``mutable=`` and streams
   (only the scope flag differs) and a plain ``apply``, in a drawn order.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from functools import partial

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from conformance.compare import attempt
from conformance.lifted import _as_arrays, backend_args, compare, data, rngs

nnref = pytest.importorskip("nnref")
nnjax = pytest.importorskip("nnjax")

BATCHES, FEAT_IN, FEATURES = (2, 3), 4, 5
#: Each example makes several calls per backend: a fifth of the profile's examples.
EXAMPLES = max(1, settings.default.max_examples // 5)

#: ``mutable=`` forms, built per backend (a DenyList is a backend object).
MUTABLE_FORMS = {
    'False': lambda nn: False,
    'True': lambda nn: True,
    "'counter'": lambda nn: 'counter',
    "['batch_stats']": lambda nn: ['batch_stats'],
    "['intermediates']": lambda nn: ['intermediates'],
    "['counter', 'batch_stats']": lambda nn: ['counter', 'batch_stats'],
    "DenyList('params')": lambda nn: nn.DenyList('params'),
}


def _returns_state(mutable_form: str, capture: bool) -> bool:
    return mutable_form != 'False' or capture


# -- 1. the same model, mutable= changing between calls --------------------------------


def net_step(nn, mdl, x):
    np_ = nn.numpy
    y = nn.Dense(FEATURES)(x)
    mdl.sow('intermediates', 'h', y)
    count = mdl.variable('counter', 'n', lambda: np_.zeros((), np_.float32))
    if mdl.is_mutable_collection('counter'):
        count.value = count.value + 1.0
    # a running mean, updated (as BatchNorm's) only when 'batch_stats' is mutable
    mean = mdl.variable('batch_stats', 'mean', lambda: np_.zeros((FEATURES,), np_.float32))
    if mdl.is_mutable_collection('batch_stats'):
        mean.value = 0.8 * mean.value + 0.2 * np_.mean(y, axis=0)
    y = y - mean.value
    if mdl.has_rng('noise'):
        y = y + 0.25 * nn.random.normal(mdl.make_rng('noise'), y.shape)
    return nn.tanh(y) + count.value


@functools.lru_cache(maxsize=None)
def build_net(nn, form: str):
    """The model, built once per backend and form (so nn.jit's cache is shared by every call)."""
    if form == 'decorator':

        class Net(nn.Module):
            @nn.jit
            @nn.compact
            def __call__(self, x):
                return net_step(nn, self, x)
    else:

        class Net(nn.Module):
            @nn.compact
            def __call__(self, x):
                return net_step(nn, self, x)

    if form in ('plain', 'decorator'):
        return Net()
    if form == 'root':
        return nn.jit(Net)()

    class Parent(nn.Module):
        @nn.compact
        def __call__(self, x):
            if form == 'child':
                return nn.jit(Net)()(x)
            return nn.jit(lambda mdl, x: mdl(x))(Net(), x)  # form 'function'

    return Parent()


@dataclass(frozen=True)
class Call:
    mutable: str
    noise: bool
    capture: bool
    batch: int


calls = st.builds(
    Call,
    mutable=st.sampled_from(sorted(MUTABLE_FORMS)),
    noise=st.booleans(),
    capture=st.booleans(),
    batch=st.sampled_from(BATCHES),
)


@settings(max_examples=EXAMPLES)
@given(
    form=st.sampled_from(('plain', 'root', 'child', 'decorator', 'function')),
    sequence=st.lists(calls, min_size=2, max_size=4),
    thread=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_repeated_apply_with_changing_mutable(form, sequence, thread, seed):
    models = {nn: build_net(nn, form) for nn in (nnref, nnjax)}
    x0 = data(seed, (BATCHES[0], FEAT_IN))
    init = {
        nn: attempt(lambda nn=nn: models[nn].init_with_output(rngs(nn, {'params': seed}), backend_args(nn, x0)))
        for nn in (nnref, nnjax)
    }
    compare(init[nnref], init[nnjax], 'init_with_output', with_variables=True)
    variables = {k: v for k, v in init[nnref].value[1].items() if k != 'intermediates'}

    for i, call in enumerate(sequence):
        x = data(seed + 1 + i, (call.batch, FEAT_IN))
        streams = {'noise': seed + 100 + i} if call.noise else {}

        def run(nn, call=call, x=x, streams=streams, variables=variables):
            return models[nn].apply(
                backend_args(nn, _as_arrays(variables)),
                backend_args(nn, x),
                rngs=rngs(nn, streams),
                mutable=MUTABLE_FORMS[call.mutable](nn),
                capture_intermediates=call.capture,
            )

        ref, jax = attempt(partial(run, nnref)), attempt(partial(run, nnjax))
        state = _returns_state(call.mutable, call.capture)
        compare(ref, jax, f'call {i}: {call} (form={form})', with_variables=state)
        if thread and state:
            updated = {k: v for k, v in ref.value[1].items() if k != 'intermediates'}
            variables = {**variables, **updated}
    event(f'form={form} thread={thread}')


# -- 2. each part of nn.jit's cache key changed alone -------------------------------------


@functools.lru_cache(maxsize=None)
def build_parent(nn):
    """``Parent(scale, calls, where)`` reaching ``nn.jit(Block)`` at two paths; classes made once per backend."""

    class Block(nn.Module):
        scale: float = 1.0

        def setup(self):
            self.dense = nn.Dense(FEATURES)
            self.count = self.variable('counter', 'n', lambda: nn.numpy.zeros((), nn.numpy.float32))

        def __call__(self, x, train):
            np_ = nn.numpy
            if self.is_mutable_collection('counter'):
                self.count.value = self.count.value + 1.0
            y = self.dense(x) * self.scale
            if train and self.has_rng('noise'):
                y = y + 0.5 * nn.random.normal(self.make_rng('noise'), y.shape)
            return np_.tanh(y) + self.count.value

        def encode(self, x, train):
            y = self.dense(x)
            return -y * self.scale if train else y * self.scale

    JitBlock = nn.jit(Block, static_argnums=2, methods=['__call__', 'encode'])

    class Wrap(nn.Module):  # the same jitted class, named 'blk', under 'left' and under 'right'
        scale: float = 1.0

        def setup(self):
            self.blk = JitBlock(scale=self.scale)

    class Parent(nn.Module):
        scale: float = 1.0
        calls: int = 1
        where: str = 'left'

        def setup(self):
            self.left = Wrap(scale=self.scale)
            self.right = Wrap(scale=self.scale)

        def __call__(self, x, train):
            blk = getattr(self, self.where).blk
            y = blk(x, train)
            for _ in range(self.calls - 1):
                y = y + blk(x, train)
            return y

        def encode(self, x, train):
            return getattr(self, self.where).blk.encode(x, train)

        def both(self, x, train):
            return self.left.blk(x, train) + self.right.blk(x, train)

    return Parent


def _double_dense(next_fun, args, kwargs, context):
    """A method interceptor that changes results (so a trace made without it is visibly wrong)."""
    y = next_fun(*args, **kwargs)
    return 2.0 * y if type(context.module).__name__ == 'Dense' else y


#: Each key part and its two values; a call flips exactly one of them.
PARTS = {
    'mutable': (False, ['counter']),
    'noise': (False, True),  # the random streams given to apply
    'calls': (1, 2),  # a second call of the child: its make_rng counter differs
    'scale': (1.0, -0.5),  # a module field of the jitted class
    'where': ('left', 'right'),  # the path of the jitted module (same class, same name)
    'train': (True, False),  # a static argument
    'method': ('__call__', 'encode'),
    'batch': BATCHES,  # the argument's shape
    'dtype': ('float32', 'bfloat16'),  # the argument's dtype
    'capture': (False, True),  # capture_intermediates (an interceptor, and 'intermediates' mutable)
    'intercept': (False, True),  # an active method interceptor alone
}
#: A starting point where every part shows (state written, noise drawn twice, a static branch taken).
ACTIVE = {**{part: values[0] for part, values in PARTS.items()}, 'mutable': ['counter'], 'noise': True, 'calls': 2}


def _flip(config: dict, part: str) -> dict:
    a, b = PARTS[part]
    return {**config, part: b if config[part] == a else a}


def _jit_call(nn, variables, config, seed):
    parent = build_parent(nn)(scale=config['scale'], calls=config['calls'], where=config['where'])
    x = data(seed, (config['batch'], FEAT_IN))
    x = nn.numpy.asarray(x).astype(nn.numpy.bfloat16) if config['dtype'] == 'bfloat16' else nn.numpy.asarray(x)

    def run():
        return parent.apply(
            backend_args(nn, _as_arrays(variables)),
            x,
            config['train'],
            method=config['method'],
            rngs=rngs(nn, {'noise': seed + 7} if config['noise'] else {}),
            mutable=config['mutable'],
            capture_intermediates=config['capture'],
        )

    if config['intercept']:
        with nn.intercept_methods(_double_dense):
            return attempt(run)
    return attempt(run)


@settings(max_examples=max(1, EXAMPLES // 2))
@given(
    base=st.one_of(st.just(ACTIVE), st.fixed_dictionaries({part: st.sampled_from(v) for part, v in PARTS.items()})),
    flips=st.permutations(sorted(PARTS)),
    seed=st.integers(0, 2**31 - 1),
)
def test_jit_cache_key_parts_changed_alone(base, flips, seed):
    x0 = data(seed, (BATCHES[0], FEAT_IN))

    def init(nn):
        parent = build_parent(nn)()
        return attempt(
            lambda: parent.init_with_output(rngs(nn, {'params': seed}), backend_args(nn, x0), True, method='both')
        )

    r, j = init(nnref), init(nnjax)
    compare(r, j, 'init_with_output', with_variables=True)
    variables = r.value[1]

    config = dict(base)
    for i, part in enumerate([None] + flips):
        if part is not None:
            config = _flip(config, part)
        # the same seed every call: only the flipped part differs from the previous call
        ref = _jit_call(nnref, variables, config, seed)
        jax = _jit_call(nnjax, variables, config, seed)
        state = config['mutable'] is not False or config['capture']
        compare(ref, jax, f'call {i} (changed {part}): {config}', with_variables=state)
    event(f'flips={len(flips)}')


# -- 3. the initializing flag changed alone ------------------------------------------------


@functools.lru_cache(maxsize=None)
def build_flagged(nn):
    class Flagged(nn.Module):
        @nn.compact
        def __call__(self, x):
            return x * (3.0 if self.is_initializing() else -1.0)

    class Outer(nn.Module):  # no variables: init and 'apply as init' differ by the flag alone
        @nn.compact
        def __call__(self, x):
            return nn.jit(Flagged)()(x)

    return Outer()


@given(
    order=st.lists(st.sampled_from(('init', 'apply', 'apply as init')), min_size=2, max_size=4),
    seed=st.integers(0, 2**31 - 1),
)
def test_jit_initializing_flag_changed_alone(order, seed):
    models = {nn: build_flagged(nn) for nn in (nnref, nnjax)}
    x = data(seed, (BATCHES[0], FEAT_IN))
    for i, what in enumerate(order):

        def run(nn, what=what):
            model = models[nn]
            if what == 'init':
                return model.init_with_output(rngs(nn, {'params': seed}), backend_args(nn, x))[0]
            if what == 'apply':
                return model.apply({}, backend_args(nn, x))
            # init's mutability and streams, without its 'initializing' flag
            mutable = nn.DenyList('intermediates')
            return model.apply({}, backend_args(nn, x), rngs=rngs(nn, {'params': seed}), mutable=mutable)[0]

        compare(attempt(partial(run, nnref)), attempt(partial(run, nnjax)), f'call {i}: {what}')
