"""Hash / == of modules: static ``jax.jit`` arguments holding transformed submodules, deep and shared graphs."""

import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import nnjax
import nnref

BACKENDS = pytest.mark.parametrize("nn", [nnref, nnjax], ids=["nnref", "nnjax"])


class Holder(nnjax.Module):
    cell: nnjax.Module

    @nnjax.compact
    def __call__(self, *args):
        return self.cell(*args)


def transformed_submodules():
    scan_lstm = nnjax.scan(
        nnjax.LSTMCell, variable_broadcast='params', split_rngs={'params': False}, in_axes=1, out_axes=1
    )
    vmap_dense = nnjax.vmap(
        nnjax.Dense, variable_axes={'params': 0}, split_rngs={'params': True}, in_axes=0, out_axes=0
    )
    remat_dense = nnjax.remat(nnjax.Dense)
    return {'scan': scan_lstm(features=3), 'vmap': vmap_dense(3), 'remat': remat_dense(3)}


@pytest.mark.parametrize("kind", ["scan", "vmap", "remat"])
def test_static_jit_argument_holding_a_transformed_submodule(kind):
    sub = transformed_submodules()[kind]
    model = Holder(sub)
    again = Holder(sub.clone())
    assert model == again and hash(model) == hash(again)
    traces = []
    if kind == 'scan':  # applying a scanned LSTM costs seconds of compiling: use the module statically only
        scaled = jax.jit(lambda m, x: traces.append(1) or x * m.cell.features, static_argnums=0)
        assert float(scaled(model, 2.0)) == float(scaled(again, 2.0)) == 6.0
        assert len(traces) == 1
        return
    x = jnp.ones((2, 2))
    args = (x,)

    @jax.jit
    def init(key):
        return model.init(key, *args)

    variables = init(jax.random.PRNGKey(0))

    def run(m, v, *a):
        traces.append(1)
        return m.apply(v, *a)

    fast = jax.jit(run, static_argnums=0)
    y1 = fast(model, variables, *args)
    y2 = fast(again, variables, *args)  # equal static argument: the compiled code is reused
    assert len(traces) == 1
    for a, b in zip(jax.tree_util.tree_leaves(y1), jax.tree_util.tree_leaves(y2)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert Holder(sub.clone(features=4)) != model


@BACKENDS
def test_hash_and_eq_of_bound_modules_with_adopted_fields(nn):
    class Wrap(nn.Module):
        inner: nn.Module

        def __call__(self, x):
            return self.inner(x)

    x = nn.numpy.ones((1, 2))
    m = Wrap(nn.Dense(2))
    bound = m.bind(m.init(nn.random.PRNGKey(0), x))
    assert isinstance(hash(bound), int)  # the adopted child points back at its parent: no endless loop
    assert bound == bound and bound != m


@BACKENDS
def test_unhashable_field_is_a_type_error(nn):
    class Lists(nn.Module):
        sizes: list

    with pytest.raises(TypeError, match="Failed to hash"):
        hash(Lists([1, 2]))


@BACKENDS
def test_deep_and_shared_graphs_do_not_recurse(nn):
    class Wrap(nn.Module):
        inner: nn.Module
        flag: bool = False

        def __call__(self, x):
            return self.inner(x)

    class Two(nn.Module):
        a: nn.Module
        b: nn.Module

    class Walk(nn.Module):  # walks the chain instead of calling through 600 levels
        chain: nn.Module

        @nn.compact
        def __call__(self, x):
            m = self.chain
            depth = 0
            while isinstance(m, Wrap):
                assert m.scope is not None  # every level was adopted and bound
                m, depth = m.inner, depth + 1
            return self.param('w', nn.initializers.ones, (depth,))

    def chain(n, flag=False):
        m = Wrap(Two(nn.Dense(1), nn.Dense(1)), flag=flag)
        for _ in range(n):
            m = Wrap(m, flag=flag)
        return m

    start = time.perf_counter()
    a, b = chain(600), chain(600)
    assert a == b and hash(a) == hash(b) and a != chain(600, flag=True)
    assert a.clone() == a
    deep = a.clone(_deep_clone=True)
    assert deep == a and deep.inner is not a.inner
    assert len(repr(a)) > 600
    variables = Walk(a).init(nn.random.PRNGKey(0), nn.numpy.ones((1,)))
    assert variables['params']['w'].shape == (601,)

    shared = nn.Dense(1)
    dag = Two(shared, shared)
    for _ in range(80):  # 2**80 paths from the root to the Dense
        dag = Two(dag, dag)
    other = Two(nn.Dense(1), nn.Dense(1))
    for _ in range(80):
        other = Two(other, other)
    assert dag == other and hash(dag) == hash(other)
    assert dag.clone(_deep_clone=True) == dag
    assert len(repr(dag)) < 1_000_000
    assert time.perf_counter() - start < 20
