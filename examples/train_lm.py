"""The scale example (``make demo-lm``): a byte-level transformer LM, trained sharded.

A small decoder-only transformer, written with nnjax Linen modules and logical
axis names, learns Python's own help texts (``pydoc_data.topics``, shipped
with CPython: nothing is downloaded) on a mesh of simulated CPU devices:

* ``--mesh 2x4`` (default) lays 8 devices out as ``('data', 'model')``;
  ``--rules dp|fsdp|tp`` maps the model's logical axes onto it
  (see ``examples/lm/training.py``); the train state is created directly in
  its shardings, optimizer state included;
* ``--processes N`` runs N cooperating processes on this machine under
  ``jax.distributed`` (8/N devices each), each feeding only its own part of
  every batch; process 0 prints and plots;
* a progress bar and the loss per step; sharded, asynchronous checkpoints
  every ``--checkpoint-every`` steps into ``--workdir``; running again
  resumes from the latest one, on any mesh or number of processes
  (``--fresh`` starts over);
* at the end: validation loss, a loss plot (``<workdir>/loss.png``) and text
  generated from a fixed prompt; ``<workdir>/summary.json`` sums the run up.

Run: ``make demo-lm``, or ``.venv/bin/python examples/train_lm.py --help``.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import shutil
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from examples.lm import launch  # noqa: E402  (no jax import: devices are configured first)

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROMPT = 'The "for" statement is used to '
# What a checkpoint's arrays depend on: resuming with other values is refused.
MODEL_OPTIONS = ('d_model', 'layers', 'heads', 'seq_len', 'seed')


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument('--steps', type=int, default=800, help='train up to this step')
    p.add_argument('--batch-size', type=int, default=64, help='global batch (sequences per step)')
    p.add_argument('--seq-len', type=int, default=64, help='bytes per training sequence')
    p.add_argument('--d-model', type=int, default=128)
    p.add_argument('--layers', type=int, default=2)
    p.add_argument('--heads', type=int, default=4)
    p.add_argument('--learning-rate', type=float, default=3e-3)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--mesh', default='2x4', help="devices as DATAxMODEL, e.g. 2x4, 1x8, 4x2, 2x2")
    p.add_argument(
        '--rules',
        choices=('dp', 'fsdp', 'tp'),
        default='fsdp',
        help='how logical axes map onto the mesh: data parallel, fully sharded data '
        'parallel, or data x tensor parallel',
    )
    p.add_argument(
        '--processes',
        type=int,
        default=1,
        help='run as this many processes under jax.distributed (each with its share of devices)',
    )
    p.add_argument(
        '--timeout', type=float, default=None, help='with --processes: stop every process after this many seconds'
    )
    p.add_argument('--checkpoint-every', type=int, default=200)
    p.add_argument('--eval-every', type=int, default=200, help='validation loss every this many steps')
    p.add_argument('--eval-batches', type=int, default=4)
    p.add_argument('--log-every', type=int, default=10, help='print the loss every this many steps')
    p.add_argument('--generate', type=int, default=300, help='bytes of text to generate at the end')
    p.add_argument('--temperature', type=float, default=0.5, help='0 picks the most likely byte')
    p.add_argument('--workdir', type=pathlib.Path, default=ROOT / 'out' / 'lm')
    p.add_argument('--fresh', action='store_true', help='delete the workdir and start over')
    p.add_argument('--no-plot', action='store_true', help='skip the PNG (no matplotlib needed)')
    # Set by the launcher of --processes for each copy it starts.
    p.add_argument('--process-id', type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument('--num-processes', type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument('--coordinator', default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.layers < 1 or args.steps < 0:
        p.error('--layers must be at least 1 and --steps not negative')
    try:
        args.mesh_shape = tuple(int(n) for n in args.mesh.lower().split('x'))
        assert len(args.mesh_shape) == 2 and min(args.mesh_shape) > 0
    except (ValueError, AssertionError):
        p.error(f'--mesh must look like 2x4, not {args.mesh!r}')
    devices = math.prod(args.mesh_shape)
    if args.processes < 1 or devices % args.processes:
        p.error(f'--processes {args.processes} must divide the {devices} devices of --mesh {args.mesh}')
    return args


def main(argv=None) -> dict:
    """Train (or resume), report, and return the run's summary (also in ``<workdir>/summary.json``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.processes > 1 and args.coordinator is None:
        return _launch(args, argv)
    launch.simulate_cpu_devices(math.prod(args.mesh_shape) // args.num_processes)
    out = sys.stdout
    if args.coordinator is not None:
        launch.initialize_distributed(args.coordinator, args.num_processes, args.process_id)
        if args.process_id == 0:  # gloo prints a notice per connection: to the log, not the screen
            out = launch.divert_native_stdout(args.workdir / 'logs' / 'process_0.log')
    elif args.fresh and args.workdir.exists():
        shutil.rmtree(args.workdir)
    return _train(args, out)


def _launch(args, argv) -> dict:
    """Start ``--processes`` copies of this script and return process 0's summary."""
    if args.fresh and args.workdir.exists():
        shutil.rmtree(args.workdir)  # here, once, not raced by the copies
    args.workdir.mkdir(parents=True, exist_ok=True)
    summary_path = args.workdir / 'summary.json'
    summary_path.unlink(missing_ok=True)
    child_argv = [a for a in argv if a != '--fresh']
    logs = args.workdir / 'logs'
    status = launch.run_processes(__file__, child_argv, args.processes, logs, args.timeout)
    if status != 0:
        raise SystemExit(
            f'a process exited with status {status}; process 0 printed above, the others wrote to {logs}/.'
        )
    from examples.lm.report import read_summary

    return read_summary(summary_path)


def _check_config(args, path: pathlib.Path) -> None:
    """Refuse to resume a run whose checkpoint has other shapes; record this run's options.

    Process 0 alone reads and writes the file; when it refuses, the launcher
    stops the other processes.
    """
    options = {name: getattr(args, name) for name in MODEL_OPTIONS}
    if path.exists():
        saved = json.loads(path.read_text())
        changed = {k: (saved[k], v) for k, v in options.items() if saved.get(k) != v}
        if changed:
            what = ', '.join(f'--{k.replace("_", "-")} {old} (now {new})' for k, (old, new) in changed.items())
            raise SystemExit(
                f'{path.parent} holds a run with {what}. Pass --fresh to start over, or the options of that run.'
            )
    else:
        path.write_text(json.dumps(options, indent=1) + '\n')


def _train(args, out) -> dict:
    import jax
    import numpy as np
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    import nnjax as nn
    from examples.lm import data, training
    from examples.lm.checkpointing import Checkpoints
    from examples.lm.generate import generate
    from examples.lm.model import TransformerLM
    from examples.lm.report import LossLog, plot_losses, write_summary
    from nnjax.errors import CheckpointMismatchError

    started = time.perf_counter()
    is_main = jax.process_index() == 0
    console = Console(file=out, quiet=not is_main)
    args.workdir.mkdir(parents=True, exist_ok=True)
    if is_main:
        _check_config(args, args.workdir / 'config.json')

    corpus = data.load()
    mesh = training.make_mesh(args.mesh_shape)
    rules = training.RULES[args.rules]
    training.check_divisible(args, mesh, rules)
    console.print(
        f'data: {len(corpus.train):,} train / {len(corpus.valid):,} validation bytes of '
        "Python's help topics (pydoc_data.topics)"
    )
    console.print(
        f'mesh: {args.mesh} {dict(mesh.shape)} over {jax.device_count()} {jax.default_backend()} '
        f'devices in {jax.process_count()} process(es); rules {args.rules}: '
        + ', '.join(f'{name}->{axes}' for name, axes in rules)
    )

    model = TransformerLM(
        vocab_size=data.VOCAB_SIZE,
        d_model=args.d_model,
        num_heads=args.heads,
        num_layers=args.layers,
        max_len=args.seq_len,
    )
    tx = training.make_optimizer(args.learning_rate, args.steps)
    ckpts = Checkpoints(args.workdir / 'checkpoints')
    train_log, valid_log = LossLog(args.workdir / 'losses.tsv'), LossLog(args.workdir / 'valid.tsv')

    with jax.set_mesh(mesh), nn.logical_axis_rules(rules):
        shardings = training.state_shardings(model, tx, mesh, rules, args.seq_len)
        state = training.create_state(model, tx, shardings, seed=args.seed, seq_len=args.seq_len)
        _describe_state(console, state, shardings)
        resumed_from = ckpts.latest()
        try:
            state = ckpts.restore(state)
        except CheckpointMismatchError as err:  # e.g. written by another version of the model
            raise SystemExit(f'{resumed_from} does not fit this model ({err}). Pass --fresh to start over.') from err
        start = int(training.to_host(state.step))
        if resumed_from is not None:
            console.print(f'resumed from {resumed_from} (step {start} of {args.steps} done)')
        train_losses = train_log.resume_at(start) if is_main else []
        valid_losses = valid_log.resume_at(start) if is_main else []

        train_step, eval_step, batch_sharding = training.make_steps(mesh, rules, shardings)

        def validation_loss():
            losses = [
                eval_step(
                    state,
                    data.global_batch(
                        corpus.valid,
                        args.batch_size,
                        args.seq_len,
                        batch_sharding,
                        seed=args.seed,
                        split=data.VALID,
                        step=i,
                    ),
                )
                for i in range(args.eval_batches)
            ]
            return float(np.mean([training.to_host(x) for x in losses]))

        run_losses = []
        columns = (
            TextColumn('step'),
            MofNCompleteColumn(),
            BarColumn(),
            TextColumn('loss {task.fields[loss]:.4f}'),
            TimeElapsedColumn(),
        )
        train_started = time.perf_counter()
        with Progress(
            *columns, console=console, transient=True, disable=not (is_main and console.is_terminal)
        ) as progress:
            task = progress.add_task('train', total=args.steps, completed=start, loss=float('nan'))
            for step in range(start + 1, args.steps + 1):
                batch = data.global_batch(
                    corpus.train,
                    args.batch_size,
                    args.seq_len,
                    batch_sharding,
                    seed=args.seed,
                    split=data.TRAIN,
                    step=step,
                )
                state, loss = train_step(state, batch)
                loss = float(training.to_host(loss))
                run_losses.append(loss)
                if is_main:
                    train_log.append(step, loss)
                    train_losses.append((step, loss))
                progress.update(task, advance=1, loss=loss)
                if step % args.log_every == 0 or step == args.steps:
                    console.print(f'step {step:5d}  loss {loss:.4f}')
                if step % args.checkpoint_every == 0 or step == args.steps:
                    ckpts.save(state, step)  # returns at once; the files are written meanwhile
                if args.eval_batches and (step % args.eval_every == 0 or step == args.steps):
                    valid = validation_loss()
                    console.print(f'step {step:5d}  validation loss {valid:.4f}')
                    if is_main:
                        valid_log.append(step, valid)
                        valid_losses.append((step, valid))
        train_seconds = time.perf_counter() - train_started
        ckpts.close()  # the last save is complete before anyone reads it

        final_valid = validation_loss() if args.eval_batches else None
        sample = (
            generate(
                state, mesh, PROMPT, args.generate, seq_len=args.seq_len, temperature=args.temperature, seed=args.seed
            )
            if args.generate
            else ''
        )

    done = int(training.to_host(state.step))
    if run_losses:
        console.print(
            f'trained steps {start + 1}..{done} in {train_seconds:.1f} s ({train_seconds / len(run_losses):.3f} s/step)'
        )
    if sample:
        console.rule(f'generated (temperature {args.temperature})')
        console.print(sample, markup=False, highlight=False)
        console.rule()
    plot = None
    if is_main and not args.no_plot:
        plot = plot_losses(
            train_losses,
            valid_losses,
            args.workdir / 'loss.png',
            f'byte-level LM, {args.mesh} mesh, {args.rules} rules',
        )
        console.print(f'loss plot written to {plot}' if plot else 'no loss plot: matplotlib is not installed')
    summary = {
        'start_step': start,
        'end_step': done,
        'resumed_from': resumed_from,
        'run_losses': run_losses,
        'losses': [loss for _, loss in train_losses],
        'first_loss': train_losses[0][1] if train_losses else None,
        'final_loss': train_losses[-1][1] if train_losses else None,
        'valid_loss': final_valid,
        'sample': sample,
        'prompt': PROMPT,
        'mesh': args.mesh,
        'rules': args.rules,
        'processes': jax.process_count(),
        'devices': jax.device_count(),
        'latest_checkpoint': ckpts.latest(),
        'plot': str(plot) if plot else None,
        'train_seconds': train_seconds,
        'seconds': time.perf_counter() - started,
    }
    if summary['final_loss'] is not None:
        console.print(
            f'loss {summary["first_loss"]:.3f} at step 1 -> {summary["final_loss"]:.3f} at step '
            f'{done}'
            + (f'; validation {final_valid:.3f}' if final_valid is not None else '')
            + f'; wall time {summary["seconds"]:.1f} s'
        )
    if is_main:
        write_summary(summary, args.workdir / 'summary.json')
    return summary


def _describe_state(console, state, shardings) -> None:
    """Parameter count, and how much of the train state one device holds under these rules."""
    import jax

    leaves = jax.tree_util.tree_leaves(state)
    params = sum(x.size for x in jax.tree_util.tree_leaves(state.params))
    total = sum(x.nbytes for x in leaves)
    device = jax.local_devices()[0]
    local = sum(s.data.nbytes for x in leaves for s in x.addressable_shards if s.device == device)
    kernel = shardings.params['block_0']['mlp_in']['kernel'].spec
    console.print(
        f'model: {params:,} parameters; train state (params + AdamW moments) '
        f'{total / 2**20:.2f} MiB, {local / 2**20:.2f} MiB on each device '
        f'(e.g. block_0/mlp_in/kernel {kernel})'
    )


if __name__ == '__main__':
    main()
