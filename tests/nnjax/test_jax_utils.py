"""nnjax.jax_utils: replicate/unreplicate, prefetch, pmean, pad_shard_unpad, partial_eval_by_shape.

Most tests run on however many local devices there are (one CPU in CI). One
test repeats the device-placement checks in a subprocess with two forced
host devices, where sharding is not a no-op.
"""

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nnjax import jax_utils

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_replicate_unreplicate_round_trip():
    n = jax.local_device_count()
    tree = {'w': jnp.arange(6.0).reshape(2, 3), 'step': 3, 'flag': np.bool_(True)}
    replicated = jax_utils.replicate(tree)
    assert replicated['w'].shape == (n, 2, 3) and replicated['step'].shape == (n,)
    assert {s.device for s in replicated['w'].addressable_shards} == set(jax.local_devices())
    back = jax_utils.unreplicate(replicated)
    np.testing.assert_array_equal(back['w'], tree['w'])
    assert int(back['step']) == 3 and bool(back['flag'])
    assert back['w'].dtype == jnp.float32


def test_replicate_on_explicit_devices_and_bad_devices():
    devices = jax.local_devices()[:1]
    out = jax_utils.replicate(np.ones(2), devices=devices)
    assert out.shape == (1, 2)
    with pytest.raises(ValueError, match='devices is empty'):
        jax_utils.replicate(np.ones(2), devices=[])


def test_pmap_takes_replicated_trees_and_pmean_averages():
    n = jax.local_device_count()
    params = jax_utils.replicate({'w': jnp.float32(2.0)})
    x = jnp.arange(n * 2, dtype=jnp.float32).reshape(n, 2)

    step = jax.pmap(lambda p, x: x * p['w'])
    np.testing.assert_array_equal(step(params, x), np.asarray(x) * 2)
    mean = jax.pmap(lambda v: jax_utils.pmean({'v': v}, 'i'), axis_name='i')(x)
    np.testing.assert_array_equal(mean['v'], np.broadcast_to(np.mean(np.asarray(x), 0), (n, 2)))


def test_prefetch_to_device_keeps_order_and_validates():
    n = jax.local_device_count()
    batches = [{'x': np.full((n, 2), i, np.int32)} for i in range(4)]
    out = list(jax_utils.prefetch_to_device(iter(batches), size=2))
    assert [int(b['x'][0, 0]) for b in out] == [0, 1, 2, 3]
    assert all(isinstance(b['x'], jax.Array) for b in out)
    with pytest.raises(ValueError, match='size must be an int >= 1'):
        jax_utils.prefetch_to_device(iter(batches), size=0)
    with pytest.raises(ValueError, match='leading axis must have length'):
        next(jax_utils.prefetch_to_device(iter([np.ones((n + 1, 2))]), size=1))


def _forward(w, x, *, y):
    return {'out': x * w + y, 'sum': jnp.sum(x, axis=1)}


def test_pad_shard_unpad_on_the_local_devices():
    n = jax.local_device_count()
    calls = []

    def wrapped(w, x, *, y):
        calls.append(x.shape)
        return jax.pmap(_forward)(w, x, y=y)

    fn = jax_utils.pad_shard_unpad(wrapped)
    w = jax_utils.replicate(jnp.float32(3.0))
    x = np.arange(5 * 2, dtype=np.float32).reshape(5, 2)
    y = np.ones((5, 2), np.float32)
    out = fn(w, x, y=y)
    np.testing.assert_array_equal(out['out'], x * 3 + 1)
    np.testing.assert_array_equal(out['sum'], x.sum(axis=1))
    assert calls[-1] == (n, -(-5 // n), 2)
    # min_device_batch pads further so shapes repeat across batch sizes.
    out = fn(w, x[:3], y=y[:3], min_device_batch=4)
    assert calls[-1] == (n, 4, 2) and out['out'].shape == (3, 2)
    np.testing.assert_array_equal(out['out'], x[:3] * 3 + 1)


def test_pad_shard_unpad_static_arguments_and_errors():
    fn = jax_utils.pad_shard_unpad(lambda x, scale: x * scale, static_argnums=(-1,))
    np.testing.assert_array_equal(fn(np.arange(3.0), 2.0), np.arange(3.0) * 2)
    raw = jax_utils.pad_shard_unpad(lambda w, x: x.shape, static_return=True)
    assert raw(None, np.ones(3)) == (jax.local_device_count(), -(-3 // jax.local_device_count()))
    mixed = jax_utils.pad_shard_unpad(lambda w, a, b: a)
    with pytest.raises(ValueError, match=r'one batch size.*\[2, 3\]'):
        mixed(None, np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match='static_return=True'):
        jax_utils.pad_shard_unpad(lambda w, x: jnp.sum(x))(None, np.ones(2))


def test_partial_eval_by_shape_returns_input_independent_outputs():
    def fn(x, key, *, scale):
        w = jax.random.normal(key, (x.shape[-1], 2)) * scale
        return {'w': w, 'y': x @ w, 'n': jnp.arange(3) + 1}

    key = jax.random.PRNGKey(0)
    out = jax_utils.partial_eval_by_shape(fn, [((4, 3), jnp.float32)], key, scale=2.0)
    np.testing.assert_array_equal(out['w'], jax.random.normal(key, (3, 2)) * 2.0)
    np.testing.assert_array_equal(out['n'], [1, 2, 3])
    assert out['y'] == jax.ShapeDtypeStruct((4, 2), jnp.float32)
    ints = jax_utils.partial_eval_by_shape(lambda i: i + 1, [((2,), jnp.int32)])
    assert ints == jax.ShapeDtypeStruct((2,), jnp.int32)
    with pytest.raises(ValueError, match='neither a shape'):
        jax_utils.partial_eval_by_shape(lambda x: x, ['abc'])


def test_partial_eval_by_shape_initializes_a_model_without_data():
    import nnjax as nn

    model = nn.Dense(3)
    key = jax.random.PRNGKey(1)
    y, variables = jax_utils.partial_eval_by_shape(lambda x: model.init_with_output(key, x), [(2, 5)])
    assert y == jax.ShapeDtypeStruct((2, 3), jnp.float32)
    expected = jax.eval_shape(model.init, key, jnp.ones((2, 5)))
    assert jax.tree_util.tree_map(lambda a: a.shape, variables) == jax.tree_util.tree_map(lambda a: a.shape, expected)
    assert isinstance(variables['params']['kernel'], jax.Array)


_TWO_DEVICES = textwrap.dedent('''
    import sys
    sys.path.insert(0, {root!r})
    import jax, jax.numpy as jnp, numpy as np
    from nnjax import jax_utils
    from nnjax.training import common_utils
    assert jax.local_device_count() == 2, jax.devices()

    params = jax_utils.replicate({{'w': jnp.arange(3.0)}})
    shards = params['w'].addressable_shards
    assert [s.device for s in shards] == jax.local_devices()
    assert all(np.array_equal(s.data, [[0., 1., 2.]]) for s in shards)
    np.testing.assert_array_equal(jax_utils.unreplicate(params)['w'], [0., 1., 2.])

    batch = common_utils.shard({{'x': np.arange(8.0).reshape(4, 2)}})
    assert batch['x'].shape == (2, 2, 2)
    keys = common_utils.shard_prng_key(jax.random.PRNGKey(0))
    assert keys.shape == (2, 2)

    f = jax.pmap(lambda p, x: (x * p['w'][2], jax.lax.psum(jnp.sum(x), 'i')), axis_name='i')
    out, total = f(params, batch['x'])
    np.testing.assert_array_equal(out.reshape(4, 2), np.arange(8.0).reshape(4, 2) * 2)
    np.testing.assert_array_equal(total, [28., 28.])
    metrics = common_utils.get_metrics([{{'t': total}}, {{'t': total + 1}}])
    np.testing.assert_array_equal(metrics['t'], [28., 29.])

    fwd = jax_utils.pad_shard_unpad(jax.pmap(lambda p, x: x * p['w'][2]))
    np.testing.assert_array_equal(fwd(params, np.arange(5.0)), np.arange(5.0) * 2)
    np.testing.assert_array_equal(fwd(params, np.arange(3.0), min_device_batch=4),
                                  np.arange(3.0) * 2)

    items = [{{'x': np.full((2, 3), i)}} for i in range(3)]
    got = list(jax_utils.prefetch_to_device(iter(items), size=2))
    for i, item in enumerate(got):
        assert [s.device for s in item['x'].addressable_shards] == jax.local_devices()
        np.testing.assert_array_equal(item['x'], items[i]['x'])
    mean = jax.pmap(lambda v: jax_utils.pmean(v, 'i'), axis_name='i')(jnp.array([1.0, 3.0]))
    np.testing.assert_array_equal(mean, [2.0, 2.0])
    print('OK')
''')


def test_device_placement_with_two_host_devices():
    env = dict(os.environ, XLA_FLAGS='--xla_force_host_platform_device_count=2', JAX_PLATFORMS='cpu')
    result = subprocess.run(
        [sys.executable, '-c', _TWO_DEVICES.format(root=ROOT)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0 and result.stdout.strip().endswith('OK'), result.stderr
