"""Embedding: a learned lookup table from token ids to vectors.

>>> import nnref as nn
>>> from nnref.layers.embedding import Embed
>>> layer = Embed(num_embeddings=10, features=4)
>>> tokens = nn.numpy.array([[1, 2, 3]], dtype=nn.numpy.int32)
>>> variables = layer.init(nn.random.PRNGKey(0), tokens)
>>> variables['params']['embedding'].shape
(10, 4)
>>> layer.apply(variables, tokens).shape
(1, 3, 4)
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from nnref import initializers
from nnref import numpy as _rnp
from nnref.dtypes import canonicalize_dtype, promote_dtype
from nnref.module import Module
from shared_spec import layer_args

# Rows are the embeddings: out_axis=0 makes fan_in the feature count, so each
# vector has unit variance per entry divided by `features`.
default_embed_init = initializers.variance_scaling(1.0, "fan_in", "normal", out_axis=0)


def _fill_value(dtype: np.dtype):
    """What an out-of-range id reads (JAX's ``take(mode='fill')``): NaN, or the type's extreme."""
    if dtype == np.bool_:
        return True
    if np.issubdtype(dtype, np.signedinteger):
        return np.iinfo(dtype).min
    if np.issubdtype(dtype, np.unsignedinteger):
        return np.iinfo(dtype).max
    return np.nan


def _take_rows(table: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``table[ids]`` with negative ids counted from the end and ids outside [-n, n) filled."""
    n = table.shape[0]
    valid = (ids >= -n) & (ids < n)
    safe = np.where(valid, ids, 0).astype(np.int64)
    safe = np.where(safe < 0, safe + n, safe)
    rows = table[safe]
    if valid.all():
        return rows
    return np.where(valid[..., None], rows, np.asarray(_fill_value(table.dtype), dtype=table.dtype))


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
    float table), as JAX's ``take`` does; negative ids count from the end.

    >>> import nnref as nn
    >>> layer = Embed(num_embeddings=3, features=2)
    >>> tokens = nn.numpy.array([0, 2], dtype=nn.numpy.int32)
    >>> variables = layer.init(nn.random.PRNGKey(0), tokens)
    >>> layer.apply(variables, tokens).shape
    (2, 2)
    >>> layer.apply(variables, nn.numpy.ones((5, 2)), method=layer.attend).shape
    (5, 3)
    """

    num_embeddings: int
    features: int
    dtype: Any = None
    param_dtype: Any = np.float32
    embedding_init: Callable = default_embed_init

    def setup(self):
        layer_args.positive_int(self.num_embeddings, field="num_embeddings", layer=self)
        layer_args.positive_int(self.features, field="features", layer=self)
        self.embedding = self.param(
            "embedding", self.embedding_init, (self.num_embeddings, self.features), self.param_dtype
        )

    def __call__(self, inputs):
        """Looks up each id of ``inputs``; the output shape is ``inputs.shape + (features,)``."""
        inputs = np.asarray(layer_args.array_input(inputs, _rnp.asarray, arg="inputs", layer=self))
        if not np.issubdtype(inputs.dtype, np.integer):
            raise ValueError(
                f"{layer_args.where(self)}: inputs must be integer ids, got dtype {inputs.dtype}. "
                "Cast the token ids to an integer type (e.g. x.astype(int32)) before embedding them."
            )
        (embedding,) = promote_dtype(self.embedding, dtype=self.dtype, inexact=False)
        if self.num_embeddings == 1:
            # A single row: id 0 reads it, anything else reads NaN (a float result).
            out_dtype = canonicalize_dtype(embedding)
            hit = np.broadcast_to((inputs == 0)[..., None], inputs.shape + (self.features,))
            return np.where(hit, embedding.astype(out_dtype), np.asarray(np.nan, dtype=out_dtype))
        return _take_rows(embedding, inputs)

    def attend(self, query):
        """Scores ``query`` against every embedding: ``query @ embedding.T``.

        Useful to share the input table with an output projection (weight
        tying); ``query``'s last axis must have length ``features``.
        """
        query, embedding = promote_dtype(query, self.embedding, dtype=self.dtype)
        return np.tensordot(query, embedding, axes=((query.ndim - 1,), (1,)))
