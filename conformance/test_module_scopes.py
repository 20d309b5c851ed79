"""``nn.share_scope`` and ``nn.compact_name_scope`` give the seed's variable trees on both backends.

The same model code runs on ``nnref`` and ``nnjax``; the trees of shapes are
compared with the literal trees the seed system (flax 0.12.8) produced for
the same code (run once in a scratch script; written down here), and the
values of the two backends with each other.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.compare import FORWARD_FAMILY, PARAMS_FAMILY, to_numpy
from shared_spec.errors import NNError
from shared_spec.tolerances import assert_trees_close

nnref = pytest.importorskip("nnref")
nnjax = pytest.importorskip("nnjax")
BACKENDS = (nnref, nnjax)


def shapes_of(tree):
    return {k: shapes_of(v) for k, v in tree.items()} if isinstance(tree, dict) else tuple(np.shape(tree))


def lora_models(nn):
    class DenseLoRA(nn.Module):  # share_scope with an outside (sibling) module: moves into its scope
        base: nn.Module
        rank: int

        def setup(self):
            nn.share_scope(self, self.base)

        @nn.compact
        def __call__(self, x):
            a = self.param('A', nn.initializers.normal(0.1), (x.shape[-1], self.rank))
            b = self.param('B', nn.initializers.normal(0.1), (self.rank, self.base.features))
            return self.base(x) + x @ a @ b

    class Model(nn.Module):
        features: int
        rank: int

        @nn.compact
        def __call__(self, x):
            return DenseLoRA(nn.Dense(self.features), rank=self.rank)(x)

    class ChildLoRA(nn.Module):  # share_scope with its own child: the child moves up
        features: int
        rank: int

        def setup(self):
            self.child = nn.Dense(self.features)
            nn.share_scope(self, self.child)

        @nn.compact
        def __call__(self, x):
            a = self.param('A', nn.initializers.normal(0.1), (x.shape[-1], self.rank))
            return self.child(x) + (x @ a).sum(-1, keepdims=True)

    class Model2(nn.Module):
        features: int
        rank: int

        @nn.compact
        def __call__(self, x):
            return ChildLoRA(self.features, self.rank)(x)

    return Model, Model2, ChildLoRA


def name_scope_models(nn):
    class Foo(nn.Module):
        @nn.compact_name_scope
        def up(self, x):
            return nn.Dense(3)(x)

        @nn.compact_name_scope
        def down(self, x):
            return nn.Dense(3)(x) + self.up(x)

        def __call__(self, x):
            return self.up(x) + self.down(x)

    class Bar(nn.Module):  # mixed with setup and a compact __call__
        def setup(self):
            self.d = nn.Dense(4)

        @nn.compact_name_scope
        def enc(self, x):
            return nn.Dense(3)(self.d(x))

        @nn.compact
        def __call__(self, x):
            return nn.Dense(2)(self.enc(x)) + self.enc(x)[..., :2]

    class Baz(nn.Module):  # an explicitly named submodule, the method called twice
        @nn.compact_name_scope
        def layer(self, x):
            return nn.Dense(3, name='named')(x)

        def __call__(self, x):
            return self.layer(self.layer(x)[..., :2])

    return Foo, Bar, Baz


def run_both(build, fn):
    """``fn(nn, *build(nn))`` on both backends, results as NumPy."""
    return [to_numpy(fn(nn, *build(nn))) for nn in BACKENDS]


def assert_backends_agree(ref, jax):
    assert shapes_of(ref) == shapes_of(jax)
    assert_trees_close(jax, ref, family=PARAMS_FAMILY)


# few shapes: every new shape is a new JAX compile; hypothesis varies the keys and the rank
@settings(max_examples=2, deadline=None)
@given(rank=st.sampled_from([1, 2]), seed=st.integers(0, 2**31 - 1))
def test_share_scope_trees_match_seed(rank, seed):
    din, features = 3, 4

    def run(nn, Model, Model2, _):
        x = nn.numpy.ones((2, din))
        v1 = Model(features, rank).init(nn.random.PRNGKey(seed), x)
        v2 = Model2(features, rank).init(nn.random.PRNGKey(seed), x)
        return {'m1': v1, 'm2': v2, 'y1': Model(features, rank).apply(v1, x)}

    ref, jax = run_both(lora_models, run)
    # the seed's trees (flax 0.12.8) for this code
    assert shapes_of(ref['m1']) == {
        'params': {'Dense_0': {'A': (din, rank), 'B': (rank, features), 'kernel': (din, features), 'bias': (features,)}}
    }
    assert shapes_of(ref['m2']) == {
        'params': {'ChildLoRA_0': {'A': (din, rank), 'kernel': (din, features), 'bias': (features,)}}
    }
    # the seed's key order: the variables of the module that runs first come first
    assert list(ref['m1']['params']['Dense_0']) == ['A', 'B', 'kernel', 'bias']
    assert list(jax['m1']['params']['Dense_0']) == ['A', 'B', 'kernel', 'bias']
    assert_backends_agree({'m1': ref['m1'], 'm2': ref['m2']}, {'m1': jax['m1'], 'm2': jax['m2']})
    assert_trees_close(jax['y1'], ref['y1'], family=FORWARD_FAMILY)


def test_share_scope_at_the_root_and_errors():
    for nn in BACKENDS:
        _, _, ChildLoRA = lora_models(nn)
        v = ChildLoRA(4, 2).init(nn.random.PRNGKey(0), nn.numpy.ones((1, 5)))
        # seed: {'params': {'A': (5, 2), 'bias': (4,), 'kernel': (5, 4)}}
        assert shapes_of(v) == {'params': {'A': (5, 2), 'kernel': (5, 4), 'bias': (4,)}}
        with pytest.raises(NNError, match="Can't call `share_scope` on unbound modules"):
            nn.share_scope(nn.Dense(2), nn.Dense(3))


def test_share_scope_name_clash_is_name_in_use_on_both():
    def check(nn):
        class Conflict(nn.Module):
            base: nn.Module

            def setup(self):
                nn.share_scope(self, self.base)

            @nn.compact
            def __call__(self, x):
                y = self.base(x)
                self.param('kernel', nn.initializers.zeros_init(), (1,))  # the seed: NameInUseError
                return y

        class M(nn.Module):
            @nn.compact
            def __call__(self, x):
                return Conflict(nn.Dense(2))(x)

        with pytest.raises(nn.errors.NameInUseError, match='kernel'):
            M().init(nn.random.PRNGKey(0), nn.numpy.ones((1, 3)))

    for nn in BACKENDS:
        check(nn)


def test_share_scope_moves_setup_children_along():
    def check(nn):
        class Block(nn.Module):
            def setup(self):
                self.inner = nn.Dense(3)

            def __call__(self, x):
                return self.inner(x)

        class Wrapper(nn.Module):
            def setup(self):
                self.block = Block()
                nn.share_scope(self, self.block)
                self.extra = nn.Dense(2)

            def __call__(self, x):
                return self.extra(self.block(x))

        v = Wrapper().init(nn.random.PRNGKey(0), nn.numpy.ones((1, 5)))
        # seed: {'params': {'extra': {...}, 'inner': {...}}}
        assert shapes_of(v) == {
            'params': {'inner': {'kernel': (5, 3), 'bias': (3,)}, 'extra': {'kernel': (3, 2), 'bias': (2,)}}
        }

    for nn in BACKENDS:
        check(nn)


@settings(max_examples=2, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_compact_name_scope_trees_match_seed(seed):
    din = 2

    def run(nn, Foo, Bar, Baz):
        x = nn.numpy.ones((1, din))
        key = nn.random.PRNGKey(seed)
        foo = Foo().init(key, x)
        return {
            'foo': foo,
            'foo_down': Foo().init(key, x, method='down'),
            'bar': Bar().init(key, x),
            'baz': Baz().init(key, nn.numpy.ones((1, 2))),
            'y_up': Foo().apply(foo, x, method='up'),
        }

    ref, jax = run_both(name_scope_models, run)
    dense = lambda i, o: {'kernel': (i, o), 'bias': (o,)}  # noqa: E731
    # the seed's trees (flax 0.12.8) for this code
    seed_foo = {'params': {'up': {'Dense_0': dense(din, 3)}, 'down': {'Dense_0': dense(din, 3)}}}
    assert shapes_of(ref['foo']) == seed_foo
    assert shapes_of(ref['foo_down']) == seed_foo
    assert shapes_of(ref['bar']) == {
        'params': {'d': dense(din, 4), 'enc': {'Dense_0': dense(4, 3)}, 'Dense_0': dense(3, 2)}
    }
    assert shapes_of(ref['baz']) == {'params': {'layer': {'named': dense(2, 3)}}}
    assert shapes_of(ref['y_up']) == (1, 3)
    assert_backends_agree(
        {k: ref[k] for k in ('foo', 'foo_down', 'bar', 'baz')}, {k: jax[k] for k in ('foo', 'foo_down', 'bar', 'baz')}
    )
    assert_trees_close(jax['y_up'], ref['y_up'], family=FORWARD_FAMILY)


def test_compact_name_scope_unbound_and_param_errors():
    def check(nn):
        Foo, _, _ = name_scope_models(nn)
        with pytest.raises(ValueError, match="Cannot call compact_name_scope method 'up'"):
            Foo().up(nn.numpy.ones((1, 2)))

        class WithParam(nn.Module):
            @nn.compact_name_scope
            def f(self, x):
                return x * self.param('p', nn.initializers.zeros_init(), (1,))

            def __call__(self, x):
                return self.f(x)

        # the seed: "Parameters must be initialized in `setup()` or in a method wrapped in `@compact`"
        with pytest.raises(nn.errors.AssignSubModuleError):
            WithParam().init(nn.random.PRNGKey(0), nn.numpy.ones((1, 2)))

    for nn in BACKENDS:
        check(nn)


def test_preserve_adopted_names_on_both():
    def check(nn):
        class Leaf(nn.Module):
            @nn.compact
            def __call__(self, x):
                return nn.Dense(2)(x)

        class Holder(nn.Module):
            sub: nn.Module

            def __call__(self, x):
                return self.sub(x)

        class Keeps(Holder):
            preserve_adopted_names = True

        x = nn.numpy.ones((1, 2))
        key = nn.random.PRNGKey(0)
        # the seed: adopted modules are named after the attribute unless the flag is on
        assert list(Holder(Leaf(name='keep')).init(key, x)['params']) == ['sub']
        with nn.config.config.override('flax_preserve_adopted_names', True):
            assert list(Holder(Leaf(name='keep')).init(key, x)['params']) == ['keep']
            assert list(Holder(Leaf()).init(key, x)['params']) == ['sub']  # no name of its own
        assert list(Keeps(Leaf(name='keep')).init(key, x)['params']) == ['keep']

    for nn in BACKENDS:
        check(nn)


def test_share_scope_survives_repeated_calls():
    """A module that moved into another scope in setup stays there for every later call."""
    outputs = []

    def check(nn):
        class DenseLoRA(nn.Module):
            base: nn.Module

            def setup(self):
                nn.share_scope(self, self.base)

            @nn.compact
            def __call__(self, x):
                return self.base(x) + x @ self.param('A', nn.initializers.ones, (x.shape[-1], 1))

        class Model(nn.Module):
            def setup(self):
                self.l = DenseLoRA(nn.Dense(2))

            def __call__(self, x):
                return self.l(x) + self.l(x)

        x = nn.numpy.ones((1, 3))
        v = Model().init(nn.random.PRNGKey(0), x)
        # the seed: {'params': {'l': {'A': (3, 1), 'bias': (2,), 'kernel': (3, 2)}}}
        assert shapes_of(v) == {'params': {'l': {'A': (3, 1), 'kernel': (3, 2), 'bias': (2,)}}}
        bound = Model().bind(v)
        outputs.append(to_numpy([bound(x), bound(x), Model().apply(v, x)]))

    for nn in BACKENDS:
        check(nn)
    assert_trees_close(outputs[1], outputs[0], family=FORWARD_FAMILY)
    np.testing.assert_array_equal(outputs[0][0], outputs[0][1])
