"""Models the debugging tests run on both backends, written the ordinary nnjax way."""

import functools

import jax
import jax.numpy as jnp

import nnjax as nn


class MlpBlock(nn.Module):
    hidden: int
    dropout: float = 0.0
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x, deterministic=True):
        h = nn.Dense(self.hidden, dtype=self.dtype)(x)
        h = jax.nn.gelu(h)
        h = nn.Dropout(self.dropout)(h, deterministic=deterministic)
        return nn.Dense(x.shape[-1], dtype=self.dtype)(h)


class Block(nn.Module):
    """A pre-LayerNorm transformer block with causal self-attention."""

    heads: int = 2
    hidden: int = 32
    epsilon: float = 1e-3
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x, deterministic=True):
        mask = nn.make_causal_mask(jnp.ones(x.shape[:2]))
        h = nn.LayerNorm(epsilon=self.epsilon, dtype=self.dtype)(x)
        x = x + nn.MultiHeadDotProductAttention(num_heads=self.heads, dtype=self.dtype)(h, mask=mask)
        h = nn.LayerNorm(epsilon=self.epsilon, dtype=self.dtype)(x)
        return x + MlpBlock(self.hidden, dtype=self.dtype)(h, deterministic=deterministic)


class Transformer(nn.Module):
    vocab: int = 50
    width: int = 16
    depth: int = 3
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, tokens, deterministic=True):
        x = nn.Embed(self.vocab, self.width)(tokens).astype(self.dtype)
        for _ in range(self.depth):
            x = Block(dtype=self.dtype)(x, deterministic)
        x = nn.LayerNorm(dtype=self.dtype)(x)
        return nn.Dense(self.vocab, dtype=self.dtype)(x)


class CNN(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        x = nn.Conv(8, (3, 3))(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
        x = nn.relu(x)
        x = nn.avg_pool(x, (2, 2), strides=(2, 2))
        x = nn.Conv(16, (3, 3))(x)
        x = nn.BatchNorm(use_running_average=not train)(x)
        x = nn.relu(x)
        x = x.reshape((x.shape[0], -1))
        x = nn.Dropout(0.3, deterministic=not train)(x)
        return nn.Dense(10)(x)


ScanLSTM = nn.scan(
    nn.OptimizedLSTMCell, variable_broadcast='params', split_rngs={'params': False}, in_axes=1, out_axes=1
)


class SequenceModel(nn.Module):
    features: int = 8

    @nn.compact
    def __call__(self, xs):
        cell = ScanLSTM(self.features)
        carry = cell.initialize_carry(jax.random.key(0), xs[:, 0].shape)
        _, ys = cell(carry, xs)
        return nn.Dense(1)(ys[:, -1])


class Swish(nn.Module):
    """A custom activation module whose nnjax side goes through jax.nn.silu."""

    @nn.compact
    def __call__(self, x):
        beta = self.param('beta', nn.initializers.ones, (x.shape[-1],))
        return jax.nn.silu(x * beta) / beta


class SwishNet(nn.Module):
    @nn.compact
    def __call__(self, x):
        for width in (16, 16, 4):
            x = Swish()(nn.Dense(width)(x))
        return x


def transformer_inputs(batch=2, length=6, vocab=50, seed=1):
    return jax.random.randint(jax.random.key(seed), (batch, length), 0, vocab)


partial_dense = functools.partial(nn.Dense, use_bias=False)
