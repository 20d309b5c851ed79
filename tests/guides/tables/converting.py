"""Guide 5.2.6 "Convert PyTorch models to Flax": torch layers side by side with Linen layers.

Every cell builds a PyTorch layer, copies its weights into the Linen layer
and asserts both outputs agree. PyTorch is not a dependency, and the cells
show no imports at all: the preamble imports what they use, with ``torch``
bound to ``tests/guides/torch_standin.py``, a NumPy double of the four torch
layers the guide uses (Linear, Conv2d, BatchNorm2d, AvgPool2d). What is
replaced is exactly the torch half: its weights are initialised as torch
initialises them (random for Linear and Conv2d; 1/0/0/1 for a fresh
BatchNorm2d), and its output is a NumPy computation of torch's formula. The Linen half -- the layout transposes, the
``variables`` dicts, ``nn.Dense``/``nn.Conv``/``nn.BatchNorm``/``nn.pool`` --
runs as written and must match to the guide's own tolerances.
"""

from tests.guides.reasons import WRAPPED

REPAIRS = [
    (2, "padding=\n→ 'valid')", "padding='valid')", WRAPPED),
    (6, 'strides,\n    →padding)', 'strides, padding)', WRAPPED),
]

_IMPORTS = '''\
import jax
import jax.numpy as jnp
import numpy as np
from jax import random

import nnjax as nn
from tests.guides import torch_standin as torch
'''

PREAMBLES = {
    'notebook': (
        _IMPORTS,
        'the cells use jax, jnp, random, np, nn and torch without importing '
        'them; torch is the NumPy double of tests/guides/torch_standin.py (PyTorch is '
        'not a dependency)',
    ),
}
