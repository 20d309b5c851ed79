"""On 8 simulated CPU devices, the recorded axis names really shard an nnjax model.

The recipe of T5X-style code: ``eval_shape`` the init to get
``params_axes``, turn it into logical specs with ``get_axis_names``, map them
to mesh shardings with the rules, and ``jax.jit`` the init with those
``out_shardings``. Needs several devices, so it runs in a fresh process
started with ``--xla_force_host_platform_device_count=8``.
"""

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent('''
    import jax, numpy as np
    from jax.sharding import Mesh, PartitionSpec as PS
    import nnjax as nn
    from shared_spec.frozen_dict import unfreeze
    P = nn.partitioning

    class Layer(nn.Module):
        @nn.compact
        def __call__(self, x, _):
            wi = P.param_with_axes('wi', nn.initializers.normal(), (8, 16), axes=('embed', 'mlp'))
            h = P.with_sharding_constraint(x @ wi, ('batch', 'mlp'))
            return h @ wi.T, None

    class Model(nn.Module):
        @nn.compact
        def __call__(self, ids):
            table = P.param_with_axes('embedding', nn.initializers.normal(), (32, 8), axes=('vocab', 'embed'))
            stack = P.scan_with_axes(Layer, variable_axes={'params': 0}, split_rngs={'params': True}, length=2)
            return stack(name='layers')(table[ids], None)[0]

    mesh = Mesh(np.array(jax.devices()).reshape(2, 4), ('data', 'model'))
    rules = (('batch', 'data'), ('mlp', 'model'), ('vocab', 'model'), ('embed', None))
    ids = np.zeros((4, 3), np.int32)
    key = jax.random.PRNGKey(0)
    with P.axis_rules(rules):
        abstract = jax.eval_shape(Model().init, key, ids)
        # A FrozenDict, as in the seed; out_shardings must match the params' plain dicts.
        specs = unfreeze(P.get_axis_names(abstract['params_axes']))
        shardings = nn.logical_to_mesh_sharding(specs, mesh, rules)
        params = jax.jit(lambda k: Model().init(k, ids)['params'], out_shardings=shardings)(key)
    for path in (('embedding',), ('layers', 'wi')):
        arr = params
        for k in path:
            arr = arr[k]
        shard = arr.addressable_shards[0].data.shape
        print('/'.join(path), tuple(arr.sharding.spec), arr.shape, shard)

    x = jax.numpy.ones((4, 8))
    F = P.RulesFallback
    with jax.set_mesh(mesh):
        for fallback in (F.AXIS_IS_UNSHARDED, F.NO_CONSTRAINT):
            f = jax.jit(lambda x: P.with_sharding_constraint(x * 2, ('batch', 'hidden'), rules=rules,
                                                             fallback=fallback))
            out = f(x)
            print(fallback.name, out.addressable_shards[0].data.shape, out.sharding.is_fully_replicated)
    out = jax.jit(lambda x: P.with_sharding_constraint(x * 2, ('batch', 'mlp'), rules=rules, mesh=mesh))(x)
    print('explicit mesh', tuple(out.sharding.spec))
''')


def test_jitted_init_shards_parameters_per_the_rules():
    env = dict(os.environ, XLA_FLAGS='--xla_force_host_platform_device_count=8', JAX_PLATFORMS='cpu')
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run(
        [sys.executable, '-c', SCRIPT], env=env, cwd=root, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines() == [
        # ('vocab', 'embed') -> ('model', None): 32 rows over 4 'model' devices.
        "embedding ('model', None) (32, 8) (8, 8)",
        # scan_with_axes put 'layers' first; ('layers', 'embed', 'mlp') -> (None, None, 'model').
        "layers/wi (None, None, 'model') (2, 8, 16) (2, 8, 4)",
        # 'hidden' has no rule: unsharded but 'batch' still goes over 'data' (2 devices)...
        'AXIS_IS_UNSHARDED (2, 8) False',
        # ...or, with NO_CONSTRAINT, the whole constraint is dropped.
        'NO_CONSTRAINT (4, 8) True',
        "explicit mesh ('data', 'model')",
    ]
