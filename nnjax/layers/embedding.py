"""Embedding: a learned lookup table from token ids to vectors.

>>> import jax, jax.numpy as jnp
>>> from nnjax.layers.embedding import Embed
>>> layer = Embed(num_embeddings=10, features=4)
>>> tokens = jnp.array([[1, 2, 3]], dtype=jnp.int32)
>>> variables = layer.init(jax.random.PRNGKey(0), tokens)
>>> variables['params']['embedding'].shape
(10, 4)
>>> layer.apply(variables, tokens).shape
(1, 3, 4)
"""

from __future__ import annotations

from typing import Any, Callable

import jax.numpy as jnp

from nnjax import initializers
from nnjax.dtypes import promote_dtype
from nnjax.module import Module
from shared_spec import layer_args

# Rows are the embeddings: out_axis=0 makes fan_in the feature count.
default_embed_init = initializers.variance_scaling(1.0, "fan_in", "normal", out_axis=0)


class Embed(Module):
    """Maps integer ids in ``[0, num_embeddings)`` to ``features``-dimensional vectors.

    The table is the parameter ``'embedding'`` of shape
    ``(num_embeddings, features)``, created in ``setup`` so that
    :meth:`attend` works without a prior ``__call__``.

    Attributes:
      num_embeddings: the number of rows (the vocabulary size).
      features: the length of each embedding vector.
      dtype: the dtype of the returned vectors (default: the table's dtype).
      param_dtype: the dtype of the table (default float32).
      embedding_init: initializer of the table (default
        ``variance_scaling(1.0, 'fan_in', 'normal', out_axis=0)``).

    Ids outside ``[-num_embeddings, num_embeddings)`` give NaN rows (for a
    float table), as ``jnp.take`` does; negative ids count from the end.

    >>> import jax, jax.numpy as jnp
    >>> layer = Embed(num_embeddings=3, features=2)
    >>> tokens = jnp.array([0, 2])
    >>> variables = layer.init(jax.random.PRNGKey(0), tokens)
    >>> layer.apply(variables, tokens).shape
    (2, 2)
    >>> layer.apply(variables, jnp.ones((5, 2)), method=layer.attend).shape
    (5, 3)
    """

    num_embeddings: int
    features: int
    dtype: Any = None
    param_dtype: Any = jnp.float32
    embedding_init: Callable = default_embed_init

    def setup(self):
        layer_args.positive_int(self.num_embeddings, field="num_embeddings", layer=self)
        layer_args.positive_int(self.features, field="features", layer=self)
        self.embedding = self.param(
            "embedding", self.embedding_init, (self.num_embeddings, self.features), self.param_dtype
        )

    def __call__(self, inputs):
        """Looks up each id of ``inputs``; the output shape is ``inputs.shape + (features,)``."""
        inputs = jnp.asarray(layer_args.array_input(inputs, jnp.asarray, arg="inputs", layer=self))
        layer_args.integer_ids(jnp.issubdtype(inputs.dtype, jnp.integer), inputs.dtype, layer=self)
        (embedding,) = promote_dtype(self.embedding, dtype=self.dtype, inexact=False)
        if self.num_embeddings == 1:
            # A single row: a gather would be wasted work; id 0 reads it, anything else NaN.
            hit = jnp.broadcast_to(inputs[..., None], inputs.shape + (self.features,)) == 0
            return jnp.where(hit, embedding, jnp.nan)
        return jnp.take(embedding, inputs, axis=0)

    def attend(self, query):
        """Scores ``query`` against every embedding: ``query @ embedding.T``.

        Useful to share the input table with an output projection (weight
        tying); ``query``'s last axis must have length ``features``.
        """
        query, embedding = promote_dtype(query, self.embedding, dtype=self.dtype)
        return jnp.dot(query, embedding.T)
