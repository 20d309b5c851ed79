"""Embedding: a learned table with one row per token id; looking a token up reads its row.

An id ``i`` is the one-hot vector ``e_i``, and ``e_i @ table`` is row ``i``
of the table, so an embedding is a Dense layer without bias on one-hot
inputs, computed by indexing instead of multiplying by zeros.

>>> import nnref as nn
>>> from nnref.layers.embedding import Embed
>>> vocab = Embed(num_embeddings=10, features=4)
>>> sentence = nn.numpy.array([[1, 2, 3]], dtype=nn.numpy.int32)
>>> table = vocab.init(nn.random.PRNGKey(0), sentence)['params']['embedding']
>>> table.shape  # one row of 4 numbers per id 0..9
(10, 4)
>>> vectors = vocab.apply({'params': {'embedding': table}}, sentence)
>>> vectors.shape, bool((vectors[0, 1] == table[2]).all())  # token 2 reads row 2
((1, 3, 4), True)
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from nnref import initializers
from nnref import numpy as _rnp
from nnref.dtypes import canonicalize_dtype, promote_dtype
from nnref.module import Module
from shared_spec import layer_args

# The table's rows are the vectors, so out_axis=0: the "fan-in" is the row
# length, and each entry has variance 1 / features (a vector of about unit norm).
default_embed_init = initializers.variance_scaling(1.0, "fan_in", "normal", out_axis=0)


def _missing_row_value(dtype: np.dtype):
    """What a row read with an id out of range holds (JAX's ``take(mode='fill')``): NaN, or the type's extreme."""
    if dtype == np.bool_:
        return True
    if np.issubdtype(dtype, np.signedinteger):
        return np.iinfo(dtype).min
    if np.issubdtype(dtype, np.unsignedinteger):
        return np.iinfo(dtype).max
    return np.nan


def _rows(table: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``table[ids]``: negative ids count from the end; ids outside ``[-n, n)`` read a filled row."""
    n = table.shape[0]
    in_range = (ids >= -n) & (ids < n)
    index = np.where(in_range, ids, 0).astype(np.int64)
    index = np.where(index < 0, index + n, index)  # -1 is the last row
    found = table[index]
    if in_range.all():
        return found
    filler = np.asarray(_missing_row_value(table.dtype), dtype=table.dtype)
    return np.where(in_range[..., None], found, filler)


class Embed(Module):
    """A table of ``num_embeddings`` vectors of length ``features``; ``Embed(...)(ids)[..., :] = table[ids]``.

    The table is the parameter ``'embedding'``, shape
    ``(num_embeddings, features)``. It is created in ``setup``, not in the
    call, so that :meth:`attend` can use it even in a model that never looks
    a token up. An id outside ``[-num_embeddings, num_embeddings)`` reads a
    row of NaN (for a float table), as JAX does; negative ids count from
    the end, as in Python.

    Attributes:
      num_embeddings: the number of rows (the vocabulary size).
      features: the length of each vector.
      dtype: the dtype of the vectors returned (None: the table's).
      param_dtype: the table's dtype (default float32).
      embedding_init: how the table is drawn (default ``variance_scaling(1.0,
        'fan_in', 'normal', out_axis=0)``, variance ``1 / features``).

    >>> import nnref as nn
    >>> colours = Embed(num_embeddings=3, features=2)
    >>> ids = nn.numpy.array([0, 2], dtype=nn.numpy.int32)
    >>> variables = colours.init(nn.random.PRNGKey(0), ids)
    >>> colours.apply(variables, ids).shape  # one vector per id
    (2, 2)
    >>> colours.apply(variables, nn.numpy.ones((5, 2)), method=colours.attend).shape  # one score per row
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
        table_shape = (self.num_embeddings, self.features)
        self.embedding = self.param("embedding", self.embedding_init, table_shape, self.param_dtype)

    def __call__(self, inputs):
        """The row of each id: an array of shape ``inputs.shape + (features,)``."""
        ids = np.asarray(layer_args.array_input(inputs, _rnp.asarray, arg="inputs", layer=self))
        layer_args.integer_ids(np.issubdtype(ids.dtype, np.integer), ids.dtype, layer=self)
        (table,) = promote_dtype(self.embedding, dtype=self.dtype, inexact=False)
        if self.num_embeddings == 1:
            # One row: id 0 reads it and every other id is out of range, so NaN (a float result).
            out_dtype = canonicalize_dtype(table)
            hit = np.broadcast_to((ids == 0)[..., None], ids.shape + (self.features,))
            return np.where(hit, table.astype(out_dtype), np.asarray(np.nan, dtype=out_dtype))
        return _rows(table, ids)

    def attend(self, query):
        """The score of ``query`` against every row: ``query @ table.T`` (the table reused as an output layer).

        Reusing the input table to score outputs is weight tying; the last
        axis of ``query`` must have length ``features``.
        """
        query, table = promote_dtype(query, self.embedding, dtype=self.dtype)
        return np.tensordot(query, table, axes=((query.ndim - 1,), (1,)))
