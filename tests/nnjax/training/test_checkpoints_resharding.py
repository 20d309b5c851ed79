"""Restoring into sharded targets: a checkpoint from a 2x4 mesh onto 1x8, 2x4 and 4-device meshes.

Runs in one subprocess with 8 simulated CPU devices (the flag must be set
before JAX starts). Both formats are covered: the Orbax directory reads each
device's slice straight into the target's sharding; the msgpack file is read
on the host and placed shard by shard.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

_WORKER = textwrap.dedent('''
    import json, sys
    import jax, numpy as np, optax
    import orbax.checkpoint as ocp
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
    from nnjax.training import checkpoints, train_state

    ckpt_root = sys.argv[1]
    devices = np.array(jax.devices())
    mesh_2x4 = Mesh(devices.reshape(2, 4), ('data', 'model'))
    specs = {'kernel': P('data', 'model'), 'bias': P('model'), 'table': P(None, 'data')}
    values = {'kernel': np.arange(64.0, dtype=np.float32).reshape(8, 8),
              'bias': np.arange(8, dtype=np.float32) - 4,
              'table': np.arange(32, dtype=np.float16).reshape(4, 8)}

    def put(mesh, specs):
        return {k: jax.device_put(v, NamedSharding(mesh, specs[k])) for k, v in values.items()}

    saved = train_state.TrainState.create(apply_fn=None, params=put(mesh_2x4, specs),
                                          tx=optax.adam(1e-3))
    # One step, so that the optimizer state holds values worth checking.
    saved = saved.apply_gradients(
        grads=jax.tree_util.tree_map(lambda x: x * 0.5 + 1, saved.params))

    layouts = {
        '1x8': (Mesh(devices.reshape(1, 8), ('data', 'model')), specs),
        '2x4': (mesh_2x4, {k: P() for k in specs}),  # same mesh, replicated now
        '4dev': (Mesh(devices[:4].reshape(4, 1), ('data', 'model')),
                 {'kernel': P('data'), 'bias': P(), 'table': P(None, 'data')}),
    }
    report = {}
    for fmt in ('orbax', 'msgpack'):
        ckpt_dir = f'{ckpt_root}/{fmt}'
        kwargs = {'orbax_checkpointer': ocp.PyTreeCheckpointer()} if fmt == 'orbax' else {}
        checkpoints.save_checkpoint(ckpt_dir, saved, 7, **kwargs)
        for name, (mesh, target_specs) in layouts.items():
            target = train_state.TrainState.create(apply_fn=None,
                                                   params=put(mesh, target_specs),
                                                   tx=optax.adam(1e-3))
            target = jax.tree_util.tree_map(lambda x: x * 0, target)
            for kind in ('concrete', 'abstract'):
                tgt = target
                if kind == 'abstract':
                    tgt = jax.tree_util.tree_map(
                        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding)
                        if isinstance(x, jax.Array) else x, target)
                restored = checkpoints.restore_checkpoint(ckpt_dir, tgt)
                out = {}
                for path, leaf in jax.tree_util.tree_flatten_with_path(restored)[0]:
                    key = jax.tree_util.keystr(path)
                    want = dict(jax.tree_util.tree_flatten_with_path(target)[0])[path]
                    src = dict(jax.tree_util.tree_flatten_with_path(saved)[0])[path]
                    out[key] = {
                        'is_array': isinstance(leaf, jax.Array),
                        'same_sharding': isinstance(leaf, jax.Array)
                            and leaf.sharding == want.sharding,
                        'equal': bool(np.array_equal(np.asarray(leaf), np.asarray(src))),
                        'dtype_ok': np.asarray(leaf).dtype == np.asarray(src).dtype,
                    }
                report[f'{fmt}/{name}/{kind}'] = out
        raw = checkpoints.restore_checkpoint(ckpt_dir, None)
        report[f'{fmt}/raw'] = {
            'host': all(isinstance(x, np.ndarray)
                        for x in jax.tree_util.tree_leaves(raw['params'])),
            'equal': all(np.array_equal(raw['params'][k], np.asarray(saved.params[k]))
                         for k in values),
        }
    print(json.dumps(report))
''')


def test_checkpoint_from_a_2x4_mesh_restores_onto_other_meshes(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), XLA_FLAGS='--xla_force_host_platform_device_count=8')
    proc = subprocess.run(
        [sys.executable, '-c', _WORKER, str(tmp_path)], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    layouts = [k for k in report if not k.endswith('/raw')]
    assert len(layouts) == 2 * 3 * 2
    for layout in layouts:
        leaves = report[layout]
        assert any('kernel' in k for k in leaves) and any('mu' in k for k in leaves)
        for key, leaf in leaves.items():
            where = f'{layout} {key}'
            if 'step' in key:
                assert leaf['equal'], where
                continue
            assert leaf == {'is_array': True, 'same_sharding': True, 'equal': True, 'dtype_ok': True}, where
    for fmt in ('orbax', 'msgpack'):
        assert report[f'{fmt}/raw'] == {'host': True, 'equal': True}
