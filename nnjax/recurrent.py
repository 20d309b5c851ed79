"""``nnjax.recurrent``: the seed's ``linen.recurrent`` import path.

The seed's recurrent cells and the layers that scan them, for seed code that
imports them from ``linen.recurrent``: it runs on ``nnjax`` importing from
here. Nothing is defined in this module: the implementations live in
``nnjax.layers`` (one file per group of the API reference) and the typing
aliases in ``shared_spec.type_aliases``, so every name here is the very object
``nnjax`` uses (``nnjax.recurrent.LSTMCell is nnjax.LSTMCell``).

>>> import nnjax
>>> from nnjax.recurrent import LSTMCell
>>> LSTMCell is nnjax.LSTMCell
True
"""

from nnjax.layers.linear import default_kernel_init  # noqa: F401
from nnjax.layers.recurrent import (  # noqa: F401
    ConvLSTMCell,
    DenseParams,
    GRUCell,
    LSTMCell,
    MGUCell,
    OptimizedLSTMCell,
    RNNCellBase,
    SimpleCell,
)
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

__all__ = [
    'Array',
    'Bidirectional',
    'Carry',
    'CarryHistory',
    'CollectionFilter',
    'ConvLSTMCell',
    'default_kernel_init',
    'DenseParams',
    'Dtype',
    'flip_sequences',
    'GRUCell',
    'Initializer',
    'InOutScanAxis',
    'LSTMCell',
    'MGUCell',
    'OptimizedLSTMCell',
    'Output',
    'PrecisionLike',
    'PRNGKey',
    'PRNGSequenceFilter',
    'RNN',
    'RNNBase',
    'RNNCellBase',
    'SimpleCell',
]
