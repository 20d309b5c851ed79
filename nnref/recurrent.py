"""``nnref.recurrent``: the recurrent layers under the seed's ``linen.recurrent`` import path.

Seed code written as ``from flax.linen.recurrent import LSTMCell`` runs here
with only the package name changed. This module defines nothing of its own;
it re-exports, so that ``nnref.recurrent.LSTMCell is nnref.LSTMCell``:

* the cells, from :mod:`nnref.layers.cell_base` (the contract),
  :mod:`nnref.layers.recurrent` (the gated cells) and
  :mod:`nnref.layers.conv_lstm`;
* the layers that run a cell over a sequence, from :mod:`nnref.layers.rnn`;
* the seed's typing aliases, from :mod:`shared_spec.type_aliases`.

>>> import nnref
>>> from nnref.recurrent import GRUCell, RNN
>>> (GRUCell, RNN) == (nnref.GRUCell, nnref.RNN)
True
"""

from nnref.layers.cell_base import RNNCellBase  # noqa: F401
from nnref.layers.conv_lstm import ConvLSTMCell  # noqa: F401
from nnref.layers.linear import default_kernel_init  # noqa: F401
from nnref.layers.recurrent import DenseParams, GRUCell, LSTMCell, MGUCell, OptimizedLSTMCell, SimpleCell  # noqa: F401
from nnref.layers.rnn import RNN, Bidirectional, flip_sequences  # noqa: F401
from shared_spec.type_aliases import (  # noqa: F401
    Array,
    Carry,
    CarryHistory,
    CollectionFilter,
    Dtype,
    Initializer,
    InOutScanAxis,
    Output,
    PrecisionLike,
    PRNGKey,
    PRNGSequenceFilter,
    RNNBase,
)

# Everything imported above is the public surface.
__all__ = sorted(name for name in globals() if not name.startswith("_"))
