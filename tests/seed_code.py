"""Running the seeds' own example code on either backend, changing only its imports.

The seed documentation's examples import ``flax.linen`` and ``jax``. A test
that runs such an example on backend ``nnref`` or ``nnjax`` rewrites its import
lines with the fixed per-backend table ``IMPORT_REWRITES`` and changes nothing
else; any import line without a rule fails, so a new import cannot slip in
unmapped.

* ``from flax import linen as nn`` and ``import flax.linen as nn``: ``import
  nnref as nn`` / ``import nnjax as nn``;
* ``from flax.core import X, Y``: ``from nnref.core import X, Y`` /
  ``from nnjax.core import X, Y``;
* the seed's submodule paths, on both: ``from flax.linen.M import X`` (and
  ``import flax.linen.M as A``) imports the backend's alias module ``M``
  (``linear``, ``attention``, ``partitioning``, ...), ``from flax.linen import
  X`` the top level, ``from flax.core.frozen_dict|scope|meta import X`` the
  backend's ``core`` package, ``from flax import config`` its config;
* on nnjax only: ``from flax import serialization`` (or ``struct``,
  ``traverse_util``, ``jax_utils``) imports nnjax's module of that name, and
  ``from flax.training import X`` imports ``nnjax.training``'s; ``import
  flax`` is ``import nnjax as flax`` and ``from flax import struct,
  serialization`` (a list of those modules) imports nnjax's; ``import
  optax``, ``from functools import partial``, ``import os``, ``import
  shutil``, ``import orbax.checkpoint`` and ``from jax.sharding import ...``
  are unchanged;
* on nnref only: ``import jax.numpy as jnp`` becomes ``import nnref.numpy as
  jnp``, ``from jax import random`` becomes ``from nnref import random``, and
  any other ``import jax`` / ``from jax import X, ...`` imports the ``jax``
  stand-in below under the same names; on nnjax, jax imports are unchanged;
* ``import functools``, ``import numpy as np`` and ``from typing import ...``
  are unchanged on both.

The ``jax`` stand-in (:func:`jax_standin`, test code, not part of nnref)
exposes nnref's own ``random``, ``numpy`` and ``tree_util`` under jax's names,
``nn.softmax`` as nnref's ``softmax`` (which takes a tuple of axes, as
``jax.nn.softmax`` does), and ``lax`` with a single function,
``dot_general`` without batch dimensions, written here with
``numpy.tensordot``. nnref has no ``lax`` namespace (none is in the API table
or planned), yet seed examples write contractions with ``lax.dot_general``; the
stand-in lets them exercise what they are about while the contraction itself
is plain NumPy. Nothing else of jax is there: an example that needs
``jax.grad``, ``jax.vmap`` or ``jax.jit`` cannot run on nnref and says so.
"""

import ast
import contextlib
import re
import sys
import types

import numpy as np

BACKENDS = ('nnref', 'nnjax')

JAX_STANDIN_NAME = '_seed_code_jax_standin'  # a private module name, never 'jax'


def _dot_general(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None):
    """``lax.dot_general`` for contracting dimensions only (the seed's uses)."""
    (lhs_contract, rhs_contract), (lhs_batch, rhs_batch) = dimension_numbers
    if lhs_batch or rhs_batch:
        raise NotImplementedError('test stand-in: dot_general without batch dimensions only')
    out = np.tensordot(lhs, rhs, axes=(tuple(lhs_contract), tuple(rhs_contract)))
    return out if preferred_element_type is None else out.astype(preferred_element_type)


def jax_standin():
    """The ``jax`` names the seed examples use, from nnref (a fresh module each call)."""
    import nnref

    jax = types.ModuleType(JAX_STANDIN_NAME, 'jax names for seed examples, from nnref (test only)')
    jax.random = nnref.random
    jax.numpy = nnref.numpy
    jax.tree_util = nnref.tree_util
    jax.nn = types.SimpleNamespace(softmax=nnref.softmax)
    jax.lax = types.SimpleNamespace(dot_general=_dot_general)
    return jax


def _linen_paths(backend):
    """The seed's submodule paths (``flax.linen.linear``, ``flax.core.frozen_dict``, config)."""
    return [
        (r'from flax\.linen\.(\w+) import (.+)', rf'from {backend}.\1 import \2'),
        (r'import flax\.linen\.(\w+) as (\w+)', rf'import {backend}.\1 as \2'),
        (r'from flax\.linen import (.+)', rf'from {backend} import \1'),
        (r'from flax\.core\.(frozen_dict|scope|meta) import (.+)', rf'from {backend}.core.\1 import \2'),
        (r'from flax import config', f'from {backend} import config'),
        (r'from flax\.configurations import (.+)', rf'from {backend}.config import \1'),
    ]


IMPORT_REWRITES = {
    'nnref': [
        (r'from flax import linen as nn', 'import nnref as nn'),
        (r'from seed import linen as nn', 'import nnref as nn'),  # placeholders for the seed's import
        (r'import seed_linen as nn', 'import nnref as nn'),
        (r'import flax\.linen as nn', 'import nnref as nn'),
        (r'from flax\.core import (.+)', r'from nnref.core import \1'),
        *_linen_paths('nnref'),
        (r'import jax\.numpy as jnp', 'import nnref.numpy as jnp'),
        (r'from jax import random', 'from nnref import random'),
        (r'from jax import (.+)', rf'from {JAX_STANDIN_NAME} import \1'),
        (r'import jax', f'import {JAX_STANDIN_NAME} as jax'),
    ],
    'nnjax': [
        (r'from flax import linen as nn', 'import nnjax as nn'),
        (r'from seed import linen as nn', 'import nnjax as nn'),  # placeholders for the seed's import
        (r'import seed_linen as nn', 'import nnjax as nn'),
        (r'import flax\.linen as nn', 'import nnjax as nn'),
        (r'from flax\.core import (.+)', r'from nnjax.core import \1'),
        *_linen_paths('nnjax'),
        (r'from flax\.(jax_utils|serialization|struct|traverse_util) import (.+)', r'from nnjax.\1 import \2'),
        (r'from flax\.training\.(\w+) import (.+)', r'from nnjax.training.\1 import \2'),
        (r'from flax import (serialization|struct|traverse_util|jax_utils)', r'from nnjax import \1'),
        (r'from flax\.training import (.+)', r'from nnjax.training import \1'),
        # the seed's checkpointing guides (003)
        (r'import flax', 'import nnjax as flax'),
        (
            r'from flax import ((?:serialization|struct|traverse_util|jax_utils)'
            r'(?:, (?:serialization|struct|traverse_util|jax_utils))+)',
            r'from nnjax import \1',
        ),
    ],
}
IMPORTS_KEPT = {
    'nnref': [r'import functools', r'import numpy as np', r'from typing import .+'],
    'nnjax': [
        r'import functools',
        r'from functools import partial',
        r'import numpy as np',
        r'from typing import .+',
        r'import jax',
        r'import jax\.numpy as jnp',
        r'from jax import .+',
        r'import optax',
        r'import os',
        r'import shutil',
        r'import orbax\.checkpoint',
        r'from jax\.sharding import .+',
    ],
}


def is_import_line(line):
    return re.match(r'(import|from)\s', line.strip()) is not None


def rewrite_imports(source, backend):
    """``source`` with each import line mapped for ``backend``; other lines untouched."""
    lines = []
    for line in source.split('\n'):
        stripped = line.strip()
        if is_import_line(stripped):
            indent = line[: len(line) - len(line.lstrip())]
            for pattern, replacement in IMPORT_REWRITES[backend]:
                if re.fullmatch(pattern, stripped):
                    line = indent + re.sub(pattern, replacement, stripped)
                    break
            else:
                assert any(re.fullmatch(p, stripped) for p in IMPORTS_KEPT[backend]), (
                    f'import line with no mapping for {backend}: {stripped!r}'
                )
        lines.append(line)
    return '\n'.join(lines)


@contextlib.contextmanager
def imports_for(backend):
    """While active, the rewritten imports of ``backend`` resolve (nnref: the jax stand-in)."""
    if backend != 'nnref':
        yield
        return
    sys.modules[JAX_STANDIN_NAME] = jax_standin()
    try:
        yield
    finally:
        sys.modules.pop(JAX_STANDIN_NAME, None)


def run_cell(source, namespace):
    """Execute like a notebook cell: a trailing bare expression is evaluated and returned."""
    tree = ast.parse(source)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    exec(compile(tree, '<cell>', 'exec', dont_inherit=True), namespace)
    if last is not None:
        return eval(compile(last, '<cell>', 'eval', dont_inherit=True), namespace)
    return None


# --- NumPy references the seed examples are checked against ------------------------


def lstm_step(params, carry, x):
    """One ``LSTMCell`` step in float64, from the gate equations of the seed's API reference.

    ``params``: the cell's ``{'ii': {'kernel'}, ..., 'hi': {'kernel', 'bias'}, ...}``.
    """

    def dense(h, p):
        y = np.asarray(h, np.float64) @ np.asarray(p['kernel'], np.float64)
        return y + np.asarray(p['bias'], np.float64) if 'bias' in p else y

    def sigmoid(z):
        return 1 / (1 + np.exp(-z))

    c, h = carry

    def gate(g, act):
        return act(dense(x, params['i' + g]) + dense(h, params['h' + g]))

    i, f, o, g = gate('i', sigmoid), gate('f', sigmoid), gate('o', sigmoid), gate('g', np.tanh)
    c = f * c + i * g
    h = o * np.tanh(c)
    return (c, h), h


def lstm_shapes(features_in, hidden):
    """The parameter shapes of an ``LSTMCell`` with ``hidden`` units on ``features_in`` inputs."""
    shapes = {f'i{g}': {'kernel': (features_in, hidden)} for g in 'ifgo'}
    shapes.update({f'h{g}': {'kernel': (hidden, hidden), 'bias': (hidden,)} for g in 'ifgo'})
    return shapes
