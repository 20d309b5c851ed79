"""nn.remat / nn.remat_scan shrink the compiled gradient's temporary buffers.

XLA's memory analysis of a compiled program (``temp_size_in_bytes``) is a
compile-time fact: the same on every run, no clock involved. A 16-layer MLP
(Dense(64) + gelu, batch 512: activations of 128 KiB against kernels of
16 KiB) measured on XLA:CPU, jax 0.10.2, in units of one activation:

==========================================  =====  =========
variant                                     temp   vs plain
==========================================  =====  =========
plain                                        47     1.00
``nn.remat(Block)`` around every block       32     0.68
``nn.remat_scan(Block, lengths=(8, 2))``     24.5   0.52
==========================================  =====  =========

The tests ask for at most ``MAX_RATIO`` of the plain model's temp bytes, a
wide margin that still fails when the remat is dropped (1.0 for the blocks;
the same scan without remat needs 2.4x).
``benchmarks/remat_memory.py`` measures the full-size model.
"""

import jax
import jax.numpy as jnp
import pytest

import nnjax as nn
from shared_spec.tolerances import assert_close

DEPTH, WIDTH, BATCH = 16, 64, 512
SCAN_LENGTHS = (8, 2)
MAX_RATIO = 0.8


class Block(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.gelu(nn.Dense(WIDTH)(x))


class MLP(nn.Module):
    remat: bool = False

    @nn.compact
    def __call__(self, x):
        block = nn.remat(Block) if self.remat else Block
        for i in range(DEPTH):
            x = block(name=f"layers_{i}")(x)  # the same parameter tree with and without remat
        return x


class ScanMLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.remat_scan(Block, lengths=SCAN_LENGTHS)(name="stack")(x)


def compiled_grad(model, params, x):
    def loss(params, x):
        return (model.apply({"params": params}, x) ** 2).mean()

    return jax.jit(jax.grad(loss)).lower(params, x).compile()


def stacked(params):
    """The plain MLP's per-layer parameters as remat_scan's stacked tree."""
    layers = [params[f"layers_{i}"]["Dense_0"] for i in range(DEPTH)]
    return {
        "stack": {
            "Dense_0": {
                name: jnp.stack([layer[name] for layer in layers]).reshape(*SCAN_LENGTHS, *layers[0][name].shape)
                for name in ("kernel", "bias")
            }
        }
    }


@pytest.fixture(scope="module")
def plain():
    x = jax.random.normal(jax.random.PRNGKey(1), (BATCH, WIDTH))
    params = MLP().init(jax.random.PRNGKey(0), x)["params"]
    compiled = compiled_grad(MLP(), params, x)
    return params, x, compiled, compiled(params, x)


def assert_grads_close(actual, desired):
    """Each gradient array against the plain model's, relative to its largest entry.

    Through 16 gelu layers the gradients are small (~1e-8 at the bottom), so
    a plain atol would accept anything; scaled, the float32 matmul row applies.
    """
    assert jax.tree_util.tree_structure(actual) == jax.tree_util.tree_structure(desired)
    for a, d in zip(jax.tree_util.tree_leaves(actual), jax.tree_util.tree_leaves(desired)):
        scale = jnp.max(jnp.abs(d))
        assert scale > 0
        assert_close(a / scale, d / scale, family="matmul")


def temp_bytes(compiled):
    return compiled.memory_analysis().temp_size_in_bytes


def test_plain_keeps_activations(plain):
    # The premise: the plain backward pass holds several activations per layer.
    _, _, compiled, _ = plain
    assert temp_bytes(compiled) >= 2 * DEPTH * BATCH * WIDTH * 4


def test_remat_of_every_block_shrinks_temp_buffers(plain):
    params, x, plain_compiled, plain_grads = plain
    compiled = compiled_grad(MLP(remat=True), params, x)
    ratio = temp_bytes(compiled) / temp_bytes(plain_compiled)
    assert ratio <= MAX_RATIO, f"nn.remat: temp {temp_bytes(compiled)} bytes = {ratio:.2f}x the plain model's"
    assert_grads_close(compiled(params, x), plain_grads)


def test_remat_scan_shrinks_temp_buffers(plain):
    params, x, plain_compiled, plain_grads = plain
    scan_params = stacked(params)
    assert jax.tree_util.tree_map(jnp.shape, scan_params) == jax.tree_util.tree_map(
        jnp.shape, jax.eval_shape(ScanMLP().init, jax.random.PRNGKey(0), x)["params"]
    )
    compiled = compiled_grad(ScanMLP(), scan_params, x)
    ratio = temp_bytes(compiled) / temp_bytes(plain_compiled)
    assert ratio <= MAX_RATIO, f"nn.remat_scan: temp {temp_bytes(compiled)} bytes = {ratio:.2f}x the plain model's"
    assert_grads_close(compiled(scan_params, x), stacked(plain_grads))
