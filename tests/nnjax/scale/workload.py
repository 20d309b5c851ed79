"""The model, data and rule sets that the scale workers train, written as a user would.

A small classifier with attention-shaped projections and an MLP, scanned
over layers, every parameter annotated with logical axis names and every
activation constrained with them. How the names map to the ('data',
'model') mesh is decided only by the rule sets below, never by the model.

Importing this module starts no devices, so pytest may import it;
the functions need the devices the worker process was started with.

>>> sorted(RULE_SETS)
['data_parallel', 'fsdp', 'fsdp_tp', 'tensor_parallel']
>>> dict(RULE_SETS['fsdp'])['embed']
'data'
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax

import nnjax as nn
from nnjax.training import train_state

# Every sharded size divides by 8, so any mesh of up to 8 devices can hold it.
EMBED, HEADS, KV, MLP, CLASSES, LAYERS, BATCH = 16, 8, 4, 32, 8, 2, 16
MESH_AXES = ('data', 'model')

#: Rule sets, as (logical name, mesh axis) pairs in order of precedence.
#: 'batch' always goes to 'data'; a name no rule mentions is unsharded.
RULE_SETS = {
    # Every parameter replicated; only the batch is split.
    'data_parallel': (('batch', 'data'),),
    # Parameters (and so the optimizer state) split along 'embed' over
    # 'data'. Activations keep 'embed' whole: 'batch' takes 'data' first.
    'fsdp': (('batch', 'data'), ('embed', 'data')),
    # Megatron-style: MLP hidden units and attention heads over 'model'.
    'tensor_parallel': (('batch', 'data'), ('mlp', 'model'), ('heads', 'model')),
    # Both at once: the layout trained and saved across processes, so that
    # gradients and parameters cross the process boundary ('data' spans them).
    'fsdp_tp': (('batch', 'data'), ('embed', 'data'), ('mlp', 'model'), ('heads', 'model')),
}


def _logical(init, names):
    return nn.with_logical_partitioning(init, names)


_kernel = nn.initializers.lecun_normal()
_zeros = nn.initializers.zeros_init()


class Block(nn.Module):
    """Residual per-head projection and residual MLP; returns ``(x, None)`` for scan.

    The head projections are written with ``self.param`` and ``einsum``, as
    the seed's pjit guide writes its layer.
    """

    @nn.compact
    def __call__(self, x):
        w_in = self.param('heads_in', _logical(_kernel, ('embed', 'heads', 'kv')), (EMBED, HEADS, KV))
        h = nn.with_logical_constraint(jnp.tanh(jnp.einsum('be,ehk->bhk', x, w_in)), ('batch', 'heads', 'kv'))
        w_out = self.param('heads_out', _logical(_kernel, ('heads', 'kv', 'embed')), (HEADS, KV, EMBED))
        x = nn.with_logical_constraint(x + jnp.einsum('bhk,hke->be', h, w_out), ('batch', 'embed'))
        m = nn.Dense(MLP, kernel_init=_logical(_kernel, ('embed', 'mlp')), bias_init=_logical(_zeros, ('mlp',)))(x)
        m = nn.with_logical_constraint(nn.relu(m), ('batch', 'mlp'))
        x = x + nn.Dense(
            EMBED, kernel_init=_logical(_kernel, ('mlp', 'embed')), bias_init=_logical(_zeros, ('embed',))
        )(m)
        return nn.with_logical_constraint(x, ('batch', 'embed')), None


class Classifier(nn.Module):
    """``LAYERS`` scanned blocks, a LayerNorm and a linear head."""

    @nn.compact
    def __call__(self, x):
        x = nn.with_logical_constraint(x, ('batch', 'embed'))
        x, _ = nn.scan(
            Block,
            length=LAYERS,
            variable_axes={'params': 0},
            split_rngs={'params': True},
            metadata_params={nn.PARTITION_NAME: 'layer'},
        )()(x)
        x = nn.LayerNorm(
            scale_init=_logical(nn.initializers.ones_init(), ('embed',)), bias_init=_logical(_zeros, ('embed',))
        )(x)
        return nn.Dense(
            CLASSES, kernel_init=_logical(_kernel, ('embed', 'classes')), bias_init=_logical(_zeros, ('classes',))
        )(x)


def make_mesh(shape, devices=None):
    """A ('data', 'model') mesh of ``shape`` over the first devices, in id order."""
    devices = jax.devices() if devices is None else devices
    count = int(np.prod(shape))
    return jax.sharding.Mesh(np.array(devices[:count]).reshape(shape), MESH_AXES)


#: One model and one optimizer object for every call: TrainState keeps them
#: as static fields, so jit's shardings tree must hold the very same ones.
MODEL = Classifier()
OPTIMIZER = optax.adam(1e-2)


def init_fn():
    """A fresh TrainState (fixed key and input shape): what ``jax.jit`` shards."""
    variables = MODEL.init(jax.random.PRNGKey(0), jnp.ones((BATCH, EMBED), jnp.float32))
    return train_state.TrainState.create(apply_fn=MODEL.apply, params=variables['params'], tx=OPTIMIZER)


def state_shardings(mesh, rules):
    """NamedShardings for every leaf of the TrainState, from its logical specs."""
    abstract = jax.eval_shape(init_fn)
    return nn.logical_to_mesh_sharding(nn.get_partition_spec(abstract), mesh, rules)


def sharded_init(mesh, rules, abstract=False):
    """The TrainState created directly into its shardings (nothing replicated first).

    With ``abstract``, only its shapes, dtypes and shardings
    (``jax.ShapeDtypeStruct`` leaves): nothing is computed or allocated.
    """
    shardings = state_shardings(mesh, rules)
    with jax.set_mesh(mesh), nn.logical_axis_rules(rules):
        # A new function object per call: JAX caches traces per function, and
        # the logical rules are not part of its cache key, so re-jitting the
        # same function under other rules would reuse the old constraints.
        init = jax.jit(lambda: init_fn(), out_shardings=shardings)
        return jax.eval_shape(init) if abstract else init()


def batch():
    """One fixed batch of inputs and labels, the same in every process (host NumPy)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, EMBED)).astype(np.float32)
    y = rng.integers(0, CLASSES, BATCH).astype(np.int32)
    return x, y


def global_array(host, sharding):
    """A (possibly multi-process) jax.Array from the full host copy each process holds."""
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def _train_step(state, x, y):
    def loss_fn(params):
        logits = state.apply_fn({'params': params}, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    loss, grads = jax.value_and_grad(loss_fn)(state.params)
    return state.apply_gradients(grads=grads), loss


def train(mesh, rules, steps, state=None):
    """Runs ``steps`` steps on one batch; returns (state, losses).

    Starts from ``state`` (as :func:`sharded_init` made it for this mesh and
    these rules), or from a fresh :func:`sharded_init`.
    """
    shardings = state_shardings(mesh, rules)
    x_sharding = nn.logical_to_mesh_sharding(jax.sharding.PartitionSpec('batch', 'embed'), mesh, rules)
    y_sharding = nn.logical_to_mesh_sharding(jax.sharding.PartitionSpec('batch'), mesh, rules)
    replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    # A new function object per call, for the reason given in sharded_init.
    step = jax.jit(
        lambda *args: _train_step(*args),
        in_shardings=(shardings, x_sharding, y_sharding),
        out_shardings=(shardings, replicated),
    )
    state = sharded_init(mesh, rules) if state is None else state
    x, y = batch()
    x, y = global_array(x, x_sharding), global_array(y, y_sharding)
    losses = []
    with jax.set_mesh(mesh), nn.logical_axis_rules(rules):
        for _ in range(steps):
            state, loss = step(state, x, y)
            losses.append(float(loss))  # replicated, so every process can read it
    return state, losses


def _key_name(key):
    for attr in ('key', 'name', 'idx'):  # DictKey, GetAttrKey, SequenceKey
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return str(key)


def named_leaves(tree):
    """``{'params/Dense_0/kernel/value': leaf, ...}`` for the leaves of a (boxed) tree."""
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {'/'.join(_key_name(k) for k in path): leaf for path, leaf in flat}


def device_bytes(tree, device):
    """Bytes of ``tree``'s arrays stored on ``device``."""
    return sum(
        shard.data.nbytes
        for leaf in named_leaves(tree).values()
        for shard in leaf.addressable_shards
        if shard.device == device
    )
