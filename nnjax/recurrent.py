"""``nnjax.recurrent``: the seed's ``linen.recurrent`` import path.

The seed's recurrent cells, the layers that scan them and the typing aliases
of that module, for seed code that imports them from ``linen.recurrent``.
Nothing is defined here: every name is the very object ``nnjax`` uses
(``nnjax.recurrent.LSTMCell is nnjax.LSTMCell``).

>>> import nnjax
>>> from nnjax.recurrent import LSTMCell
>>> LSTMCell is nnjax.LSTMCell
True
"""

from nnjax.layers.cell_base import RNNCellBase  # noqa: F401
from nnjax.layers.conv_lstm import ConvLSTMCell  # noqa: F401
from nnjax.layers.linear import default_kernel_init  # noqa: F401
from nnjax.layers.recurrent import DenseParams, GRUCell, LSTMCell, MGUCell, OptimizedLSTMCell, SimpleCell  # noqa: F401
from nnjax.layers.rnn import RNN, Bidirectional, flip_sequences  # noqa: F401
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

__all__ = sorted(name for name in globals() if not name.startswith("_"))
