"""A small decoder-only transformer, annotated with logical axis names.

Every parameter is created through :func:`nnjax.with_logical_partitioning`, so
it carries the *meaning* of each of its dimensions (``'vocab'``, ``'embed'``,
``'heads'``, ``'kv'``, ``'mlp'``, ``'length'``); the activations between
blocks are pinned with :func:`nnjax.with_logical_constraint` (``'batch'``,
``'length'``, ``'embed'``, ...). Nothing here names a device-mesh axis: the
rules in :mod:`examples.lm.training` map the logical names onto the mesh, so
data-parallel, FSDP-style and tensor-parallel training run this same code.

>>> import jax, jax.numpy as jnp
>>> import nnjax as nn
>>> model = TransformerLM(vocab_size=16, d_model=8, num_heads=2, num_layers=1, max_len=4)
>>> variables = jax.jit(model.init)(jax.random.PRNGKey(0), jnp.zeros((1, 4), jnp.int32))
>>> box = variables['params']['block_0']['mlp_in']['kernel']
>>> type(box).__name__, box.names, box.value.shape
('LogicallyPartitioned', ('embed', 'mlp'), (8, 32))
>>> jax.jit(model.apply)(variables, jnp.zeros((2, 3), jnp.int32)).shape
(2, 3, 16)
"""

from __future__ import annotations

import nnjax as nn
from nnjax import initializers

# The logical names of the activations between blocks.
HIDDEN = ('batch', 'length', 'embed')
MLP_HIDDEN = ('batch', 'length', 'mlp')
LOGITS = ('batch', 'length', 'vocab')


def _named(init, *names):
    """``init``, returning a parameter box that records its logical axis names."""
    return nn.with_logical_partitioning(init, names)


def _layer_norm(name):
    return nn.LayerNorm(
        scale_init=_named(initializers.ones_init(), 'embed'),
        bias_init=_named(initializers.zeros_init(), 'embed'),
        name=name,
    )


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention with a causal mask, one ``Einsum`` per projection.

    The kernels have the layout of ``nn.MultiHeadDotProductAttention``'s
    (``query``/``key``/``value`` ``[embed, heads, kv]``, ``out`` ``[heads, kv,
    embed]``) and its initialisation (fan-in over the contracted axes), and
    each axis has a logical name, so the heads can be split over devices.
    """

    num_heads: int

    @nn.compact
    def __call__(self, x, mask):
        d_model = x.shape[-1]
        head_dim = d_model // self.num_heads
        project_in = initializers.lecun_normal(in_axis=0, out_axis=(1, 2))
        q, k, v = (
            nn.Einsum(
                (d_model, self.num_heads, head_dim),
                'bld,dhk->blhk',
                name=name,
                kernel_init=_named(project_in, 'embed', 'heads', 'kv'),
                bias_init=_named(initializers.zeros_init(), 'heads', 'kv'),
            )(x)
            for name in ('query', 'key', 'value')
        )
        h = nn.dot_product_attention(q, k, v, mask=mask)
        project_out = initializers.lecun_normal(in_axis=(0, 1), out_axis=2)
        return nn.Einsum(
            (self.num_heads, head_dim, d_model),
            'blhk,hkd->bld',
            name='out',
            kernel_init=_named(project_out, 'heads', 'kv', 'embed'),
            bias_init=_named(initializers.zeros_init(), 'embed'),
        )(h)


class Block(nn.Module):
    """Pre-norm transformer block: causal self-attention, then a GELU MLP, each residual."""

    num_heads: int
    mlp_dim: int

    @nn.compact
    def __call__(self, x, mask):
        kernel = initializers.lecun_normal()
        zeros = initializers.zeros_init()
        h = CausalSelfAttention(self.num_heads, name='attention')(_layer_norm('ln_attention')(x), mask)
        x = nn.with_logical_constraint(x + h, HIDDEN)

        h = _layer_norm('ln_mlp')(x)
        h = nn.Dense(
            self.mlp_dim, kernel_init=_named(kernel, 'embed', 'mlp'), bias_init=_named(zeros, 'mlp'), name='mlp_in'
        )(h)
        h = nn.gelu(nn.with_logical_constraint(h, MLP_HIDDEN))
        h = nn.Dense(
            x.shape[-1], kernel_init=_named(kernel, 'mlp', 'embed'), bias_init=_named(zeros, 'embed'), name='mlp_out'
        )(h)
        return nn.with_logical_constraint(x + h, HIDDEN)


class TransformerLM(nn.Module):
    """Token ids ``[batch, length]`` to next-token logits ``[batch, length, vocab_size]``.

    Learned positional embeddings cover ``max_len`` positions; attention is
    causal (``nn.make_causal_mask``), so position ``t`` sees tokens ``0..t``.
    """

    vocab_size: int
    d_model: int = 128
    num_heads: int = 4
    num_layers: int = 2
    mlp_ratio: int = 4
    max_len: int = 128

    @nn.compact
    def __call__(self, tokens):
        length = tokens.shape[-1]
        embed = nn.Embed(
            self.vocab_size,
            self.d_model,
            name='embed',
            embedding_init=_named(initializers.normal(stddev=0.02), 'vocab', 'embed'),
        )
        positions = self.param(
            'positions', _named(initializers.normal(stddev=0.02), 'length', 'embed'), (self.max_len, self.d_model)
        )
        x = nn.with_logical_constraint(embed(tokens) + positions[:length], HIDDEN)
        mask = nn.make_causal_mask(tokens)
        for i in range(self.num_layers):
            x = Block(self.num_heads, self.mlp_ratio * self.d_model, name=f'block_{i}')(x, mask)
        x = _layer_norm('ln_final')(x)
        logits = nn.Dense(
            self.vocab_size,
            kernel_init=_named(initializers.lecun_normal(), 'embed', 'vocab'),
            bias_init=_named(initializers.zeros_init(), 'vocab'),
            name='logits',
        )(x)
        return nn.with_logical_constraint(logits, LOGITS)
