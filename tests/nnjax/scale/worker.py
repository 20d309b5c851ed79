"""One scale worker process: ``python -m tests.nnjax.scale.worker ROLE ...``.

Started by ``launcher.run_workers`` with simulated CPU devices; writes one
JSON object to ``--out``. Roles:

``multi``
    One of several processes joined with ``jax.distributed`` (gloo
    collectives): trains the workload under each ``--rules`` set on the
    2x4 mesh that spans all of them and reports the losses; with
    ``--ckpt-dir``, saves the state trained under the first set with
    ``save_checkpoint_multiprocess`` (each process its own shards) and dumps the shards it holds to ``shards_<process>.npz``
    beside the checkpoint directory, so the restoring side can check the
    values it gets back.
``single``
    One process with 8 devices: initialises the workload into each rule
    set's shardings and reports every leaf's spec and the bytes on device
    0; trains as ``multi`` does, on a 2x4 mesh of its own devices; with
    ``--ckpt-dir``, restores the checkpoint the ``multi`` processes wrote
    onto several meshes and as host arrays, and reports what it got.

``hang``
    For the launcher's own test: sleeps, except that with
    ``--fail-first`` process 0 raises instead.

With ``--num-processes 1``, ``multi`` is one process that still calls
``jax.distributed.initialize``, so its collectives are gloo's too.

Importing this module runs nothing (pytest's doctest collection imports it).
"""

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path

# Importing JAX starts no backend: the device count (XLA_FLAGS) and
# jax.distributed still take effect in main().
import jax
import numpy as np
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils

from nnjax import serialization
from nnjax.training import checkpoints
from tests.nnjax.scale import workload

STEPS = 4
TRAIN_MESH = (2, 4)


def _spec_json(spec):
    """A PartitionSpec as JSON: one entry per dimension, trailing Nones dropped."""
    entries = [list(e) if isinstance(e, tuple) else e for e in spec]
    while entries and entries[-1] is None:
        entries.pop()
    return entries


def _describe(state, device):
    """Per leaf: shape, dtype, spec; plus the bytes held on ``device``."""
    leaves = {
        path: {'shape': list(leaf.shape), 'dtype': str(leaf.dtype), 'spec': _spec_json(leaf.sharding.spec)}
        for path, leaf in workload.named_leaves(state).items()
    }
    return {'leaves': leaves, 'device0_bytes': workload.device_bytes(state, device)}


def _init_report(mesh):
    """The sharded init under every rule set; returns the states and the report."""
    # The values the shardings must not change: the same init on one device.
    plain = {k: np.asarray(v) for k, v in workload.named_leaves(jax.jit(workload.init_fn)()).items()}
    states, report = {}, {}
    for name, rules in workload.RULE_SETS.items():
        states[name] = state = workload.sharded_init(mesh, rules)
        entry = _describe(state, jax.devices()[0])
        entry['values_differ'] = sorted(
            k for k, v in workload.named_leaves(state).items() if not np.array_equal(np.asarray(v), plain[k])
        )
        report[name] = entry
    return states, report


def _train_report(mesh, rule_sets, initial=None):
    """Trains under each rule set; returns the state of the first and the report.

    ``initial`` may hold already initialised states by rule set name.
    """
    report = {
        'losses': {},
        'process_index': jax.process_index(),
        'process_count': jax.process_count(),
        # Which process owns each mesh position: 'data' should span processes.
        'mesh_processes': [[d.process_index for d in row] for row in mesh.devices],
        'local_devices': len(jax.local_devices()),
    }
    first = None
    for name in rule_sets:
        state, losses = workload.train(mesh, workload.RULE_SETS[name], STEPS, state=(initial or {}).get(name))
        first = state if first is None else first
        report['losses'][name] = losses
    return first, report


def _dump_own_shards(state, path):
    """The shards this process holds, as full-size arrays plus a mask of what is filled."""
    out = {}
    for name, leaf in workload.named_leaves(state).items():
        data = np.zeros(leaf.shape, leaf.dtype)
        mask = np.zeros(leaf.shape, bool)
        for shard in leaf.addressable_shards:
            data[shard.index] = np.asarray(shard.data)
            mask[shard.index] = True
        out[name + '#data'], out[name + '#mask'] = data, mask
    np.savez(path, **out)


def _role_multi(opts):
    jax.config.update('jax_cpu_collectives_implementation', 'gloo')
    jax.distributed.initialize(
        coordinator_address=f'127.0.0.1:{opts.port}', num_processes=opts.num_processes, process_id=opts.process_id
    )
    mesh = workload.make_mesh(TRAIN_MESH)
    state, result = _train_report(mesh, opts.rules)
    if opts.ckpt_dir:
        result['checkpoint'] = _save(state, opts)
        _dump_own_shards(state, Path(opts.ckpt_dir).parent / f'shards_{opts.process_id}.npz')
    jax.distributed.shutdown()
    return result


def _save(state, opts):
    """Saves as the seed's multi-host guide does; reports what was gathered to every host."""
    gathers = []
    real = multihost_utils.process_allgather

    def spy(in_tree, *args, **kwargs):  # records how many elements each call gathers
        gathers.append(sum(int(np.size(x)) for x in jax.tree_util.tree_leaves(in_tree)))
        return real(in_tree, *args, **kwargs)

    multihost_utils.process_allgather = spy
    try:
        checkpointer = ocp.AsyncCheckpointer(ocp.PyTreeCheckpointHandler())
        path = checkpoints.save_checkpoint_multiprocess(
            opts.ckpt_dir, state, step=STEPS, keep=2, orbax_checkpointer=checkpointer
        )
        checkpointer.wait_until_finished()
    finally:
        multihost_utils.process_allgather = real
    return {'path': str(path), 'allgathered_sizes': gathers}


def _saved_values(ckpt_dir, processes):
    """The trained state's values, put together from every saving process's shards."""
    dumps = [np.load(Path(ckpt_dir).parent / f'shards_{i}.npz') for i in range(processes)]
    names = {k.rsplit('#', 1)[0] for k in dumps[0].files}
    values, uncovered = {}, []
    for name in names:
        data = np.array(dumps[0][name + '#data'])
        covered = np.zeros(data.shape, bool)
        for dump in dumps:
            mask = dump[name + '#mask']
            data[mask] = dump[name + '#data'][mask]
            covered |= mask
        if not covered.all():
            uncovered.append(name)
        values[name] = data
    return values, uncovered


def _restore_report(opts, initialised):
    """The multi-process checkpoint restored here, onto several meshes and as NumPy.

    ``initialised``: sharded states on the 2x4 mesh by rule set name, reused
    as targets (their values are the init's, not the checkpoint's).
    """
    saved, uncovered = _saved_values(opts.ckpt_dir, opts.saved_by)

    def compare(restored, target_shardings):
        leaves = workload.named_leaves(restored)
        report = {
            'missing': sorted(set(saved) - set(leaves)),
            'extra': sorted(set(leaves) - set(saved)),
            'value_mismatch': [],
            'sharding_mismatch': [],
            'not_numpy': [],
        }
        for name, leaf in leaves.items():
            if name not in saved:
                continue
            host = np.asarray(leaf)
            if host.dtype != saved[name].dtype or not np.array_equal(host, saved[name]):
                report['value_mismatch'].append(name)
            if target_shardings is None:
                if not isinstance(leaf, np.ndarray):
                    report['not_numpy'].append(f'{name}: {type(leaf).__name__}')
            elif getattr(leaf, 'sharding', None) != target_shardings[name]:
                report['sharding_mismatch'].append(
                    f'{name}: {getattr(leaf, "sharding", type(leaf).__name__)} != {target_shardings[name]}'
                )
        return report

    report = {'uncovered_saved_leaves': uncovered, 'meshes': {}}
    # Targets on other meshes and layouts than the saved 2x4 / fsdp_tp one.
    # (label, mesh shape, rule set, abstract target: shapes and shardings only)
    targets = (
        ('1x8', (1, 8), 'fsdp_tp', False),
        ('2x4', (2, 4), 'fsdp_tp', False),
        ('2x4 tensor_parallel', (2, 4), 'tensor_parallel', False),
        ('2x2 on 4 devices', (2, 2), 'fsdp_tp', False),
        ('abstract 2x2 on 4 devices', (2, 2), 'tensor_parallel', True),
    )
    for label, shape, rule_set, abstract in targets:
        mesh = workload.make_mesh(shape)
        if shape == TRAIN_MESH:
            target = initialised[rule_set]
        else:
            target = workload.sharded_init(mesh, workload.RULE_SETS[rule_set], abstract)
        shardings = {k: v.sharding for k, v in workload.named_leaves(target).items()}
        restored = checkpoints.restore_checkpoint(opts.ckpt_dir, target=target)
        entry = compare(restored, shardings)
        entry['type'] = type(restored).__name__
        entry['mesh_devices'] = int(mesh.devices.size)
        report['meshes'][label] = entry
    raw = checkpoints.restore_checkpoint(opts.ckpt_dir, target=None)
    # target=None gives a state dict; the user puts it back into the state's structure.
    as_state = serialization.from_state_dict(jax.eval_shape(workload.init_fn), raw)
    entry = compare(as_state, None)
    entry['type'] = type(raw).__name__
    report['meshes']['target=None'] = entry
    return report


def _role_single(opts):
    mesh = workload.make_mesh(TRAIN_MESH)
    states, init_report = _init_report(mesh)
    result = {'init': init_report}
    # Training starts from the states just checked (it never changes them).
    _, result['train'] = _train_report(mesh, opts.rules, initial=states)
    result['device_count'] = jax.device_count()
    if opts.ckpt_dir:
        result['restore'] = _restore_report(opts, states)
    return result


def _role_hang(opts):
    if opts.fail_first and opts.process_id == 0:
        raise RuntimeError('process 0 fails on purpose')
    time.sleep(600)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('role', choices=['multi', 'single', 'hang'])
    parser.add_argument('--process-id', type=int, default=0)
    parser.add_argument('--num-processes', type=int, default=1)
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--out', required=True)
    parser.add_argument('--ckpt-dir', default=None)
    parser.add_argument(
        '--rules', nargs='+', default=['fsdp_tp'], help='rule sets to train with; the first one is saved'
    )
    parser.add_argument('--saved-by', type=int, default=2, help='how many processes wrote the checkpoint (single role)')
    parser.add_argument('--fail-first', action='store_true', help='hang role: process 0 fails')
    opts = parser.parse_args(argv)
    result = {'multi': _role_multi, 'single': _role_single, 'hang': _role_hang}[opts.role](opts)
    # Written last and whole: a result file exists only for a worker that finished.
    tmp = Path(opts.out + '.tmp')
    tmp.write_text(json.dumps(result))
    tmp.replace(opts.out)


if __name__ == '__main__':
    try:
        main()
    except BaseException:
        traceback.print_exc()
        sys.stdout.flush()
        sys.stderr.flush()
        # Exit at once: the atexit hook of jax.distributed would wait for the
        # other processes at a shutdown barrier, and they wait for this one.
        os._exit(1)
