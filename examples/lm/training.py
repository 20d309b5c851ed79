"""The device mesh, the logical-axis rules, and the sharded train state and steps.

The model names its dimensions by meaning; :data:`RULES` says, per
parallelism scheme, which mesh axes each logical name is split over (the
first rule that fits wins; a name no rule places stays unsharded). On the
default 2x4 mesh of axes ``('data', 'model')``:

* ``dp``: batch over all 8 devices, every parameter replicated;
* ``fsdp``: batch over all 8 devices, every parameter with an ``embed`` axis
  (all kernels and embeddings: nearly all the bytes) split 8 ways along it,
  and so their Adam moments; XLA gathers each where it is used;
* ``tp``: batch over ``data`` (2), attention heads, MLP width and vocabulary
  over ``model`` (4): data parallel across rows, tensor parallel in each row.

The state is never built on one device and then moved: ``create_state``
runs ``init`` under ``jax.jit(..., out_shardings=...)`` so each device
creates only its own shards, optimizer state included.

>>> import jax
>>> mesh = make_mesh((1, 1), jax.devices()[:1])
>>> model = TransformerLM(vocab_size=16, d_model=8, num_heads=2, num_layers=1, max_len=4)
>>> tx = make_optimizer(1e-3, steps=10)
>>> shardings = state_shardings(model, tx, mesh, RULES['fsdp'], seq_len=4)
>>> shardings.params['block_0']['mlp_in']['kernel'].spec
P(('data', 'model'), None)
>>> state = create_state(model, tx, shardings, seed=0, seq_len=4)
>>> int(state.step), state.params['embed']['embedding'].sharding == shardings.params['embed']['embedding']
(0, True)
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding, PartitionSpec

import nnjax as nn
from examples.lm.model import TransformerLM  # noqa: F401  (named in the doctest)
from nnjax.training import train_state

MESH_AXES = ('data', 'model')
BOTH = MESH_AXES  # a logical name split over the whole mesh

RULES = {
    'dp': (('batch', BOTH),),
    'fsdp': (('batch', BOTH), ('embed', BOTH)),
    'tp': (('batch', 'data'), ('heads', 'model'), ('mlp', 'model'), ('vocab', 'model')),
}

BATCH = ('batch', 'length')  # the logical names of a batch of token ids


def make_mesh(shape, devices=None) -> jax.sharding.Mesh:
    """A ``('data', 'model')`` mesh of ``shape`` over all devices of all processes."""
    devices = jax.devices() if devices is None else devices
    if math.prod(shape) != len(devices):
        raise SystemExit(f'--mesh {shape[0]}x{shape[1]} needs {math.prod(shape)} devices, there are {len(devices)}.')
    axis_types = (jax.sharding.AxisType.Auto,) * len(shape)  # GSPMD propagation, as the guides use
    return jax.make_mesh(shape, MESH_AXES, axis_types=axis_types, devices=devices)


def make_optimizer(learning_rate: float, steps: int, warmup: int = 20) -> optax.GradientTransformation:
    """AdamW with gradient clipping; linear warm-up, then a cosine decay to a tenth at ``steps``."""
    warmup = min(warmup, max(steps // 5, 1))
    schedule = optax.warmup_cosine_decay_schedule(
        0.0, learning_rate, warmup, max(steps, warmup + 1), end_value=learning_rate / 10
    )
    return optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(schedule, b2=0.95, weight_decay=0.01))


def _init_state(model, tx, seed: int, seq_len: int) -> train_state.TrainState:
    """The train state with its parameters (and Adam moments) still in logical boxes."""
    variables = model.init(jax.random.PRNGKey(seed), jnp.zeros((1, seq_len), jnp.int32))
    return train_state.TrainState.create(apply_fn=model.apply, params=variables['params'], tx=tx)


def state_shardings(model, tx, mesh, rules, seq_len: int):
    """The ``NamedSharding`` of every leaf of the train state, from the logical annotations.

    ``jax.eval_shape`` traces ``init`` without computing anything; the boxes
    in its result give logical ``PartitionSpec``s (``nn.get_partition_spec``:
    the Adam moments inherit the boxes of the parameters), which the rules map
    onto the mesh (``nn.logical_to_mesh_sharding``).
    """
    abstract = jax.eval_shape(functools.partial(_init_state, model, tx, 0, seq_len))
    return nn.logical_to_mesh_sharding(nn.get_partition_spec(abstract), mesh, rules)


def create_state(model, tx, shardings, *, seed: int, seq_len: int) -> train_state.TrainState:
    """A fresh train state, created directly into ``shardings`` (no device holds it all)."""
    init = jax.jit(lambda: nn.meta.unbox(_init_state(model, tx, seed, seq_len)), out_shardings=shardings)
    return init()


def check_divisible(args, mesh, rules) -> None:
    """Refuse, with the fix, sizes that the rules cannot split evenly over the mesh."""

    def ways(name):
        axes = nn.logical_to_mesh_axes((name,), rules)[0]
        axes = () if axes is None else (axes,) if isinstance(axes, str) else axes
        return math.prod(mesh.shape[a] for a in axes)

    sizes = {
        'batch': ('--batch-size', args.batch_size),
        'embed': ('--d-model', args.d_model),
        'heads': ('--heads', args.heads),
        'mlp': ('--d-model (x4)', 4 * args.d_model),
        'vocab': ('the vocabulary', 256),
    }
    for name, (option, size) in sizes.items():
        if size % ways(name):
            raise SystemExit(
                f'{option} = {size} does not split over the {ways(name)} devices that '
                f'the {args.rules!r} rules give {name!r} on a {args.mesh} mesh; '
                f'use a multiple of {ways(name)}.'
            )
    if args.d_model % args.heads:
        raise SystemExit(f'--d-model {args.d_model} is not a multiple of --heads {args.heads}.')


def _cross_entropy(params, apply_fn, tokens):
    logits = apply_fn({'params': params}, tokens[:, :-1])
    return optax.softmax_cross_entropy_with_integer_labels(logits, tokens[:, 1:]).mean()


def make_steps(mesh, rules, shardings):
    """``(train_step, eval_step, batch_sharding)`` for these shardings.

    ``train_step(state, batch) -> (state, loss)`` takes and returns the state
    in its shardings (the old state's buffers are donated to the new one);
    ``eval_step(state, batch) -> loss``. Both expect the logical-axis rules
    and the mesh to be active while they trace (``with jax.set_mesh(mesh),
    nn.logical_axis_rules(rules):``), which is where the model's
    ``with_logical_constraint`` calls find them.
    """
    batch = NamedSharding(mesh, nn.logical_to_mesh_axes(BATCH, rules))
    scalar = NamedSharding(mesh, PartitionSpec())

    def train_step(state, tokens):
        loss, grads = jax.value_and_grad(_cross_entropy)(state.params, state.apply_fn, tokens)
        return state.apply_gradients(grads=grads), loss

    def eval_step(state, tokens):
        return _cross_entropy(state.params, state.apply_fn, tokens)

    train = jax.jit(train_step, in_shardings=(shardings, batch), out_shardings=(shardings, scalar), donate_argnums=0)
    evaluate = jax.jit(eval_step, in_shardings=(shardings, batch), out_shardings=scalar)
    return train, evaluate, batch


def to_host(x) -> np.ndarray:
    """A replicated array's value on this process (each process holds a full copy)."""
    return np.asarray(x.addressable_data(0))
