"""What happens to each cell of the seed's guides when they run on nnjax.

Indices count the fenced blocks of a guide from 0, in seed order (see
``notebook.py``). A cell runs unless :data:`NOT_RUN` lists it with the first
line it starts with and the reason; a listed cell that is Python is still
checked by the tests for the reason given (see ``test_guides.py``): shell
commands and printed output must not parse, a printed repr that parses
(:data:`OUTPUT_REPR`) must be one expression, and a printed plain literal must
equal the value the cell above displays on nnjax.

The first guides' tables are here; the later guides' live in
``tables/<guide>.py`` (:data:`PER_GUIDE_TABLES`) and are merged in below.
"""

from tests.guides.reasons import OUTPUT, OUTPUT_REPR, SHELL, SKETCH  # noqa: F401
from tests.guides.reasons import PAGE_INDENT as _PAGE_INDENT
from tests.guides.reasons import indented as _indented
from tests.guides.tables import converting, inspection, parallel, upgrading

#: guide -> (heading it starts at, heading of what follows it).
GUIDES = {
    'quickstart': ('### 5.1 Quickstart', '## 5.2 Guides'),
    'basics': ('#### Flax Basics', '### 5.2.2 Data preprocessing'),
    'preprocessing': ('### 5.2.2 Data preprocessing', '## 5.2.3 Training techniques'),
    'training': ('## 5.2.3 Training techniques', '### Save and load checkpoints'),
    'parallel': ('## 5.2.4 Parallel training', '## 5.2.5 Model inspection'),
    'inspection': ('## 5.2.5 Model inspection', '## 5.2.6 Converting and upgrading'),
    'converting': ('## 5.2.6 Converting and upgrading', '## Migrate checkpointing to Orbx'),
    'upgrading': ('### Upgrading my codebase to Optax', '## 5.2.7 Flax - The Sharp Bits'),
    'sharp': ('## 5.2.7 Flax - The Sharp Bits', '## 5.3 Examples'),
}

#: Import rules beyond ``tests/seed_code.py``'s table (Linen submodule paths).
EXTRA_REWRITES = [
    # 'from flax import struct, traverse_util, linen as nn' (the pjit guide's imports).
    (r'from flax import ((?:\w+, )*\w+), linen as nn', r'from nnjax import \1; import nnjax as nn'),
    (r'from flax\.linen import (.+)', r'from nnjax import \1'),
    (r'import flax\.linen\.partitioning as (\w+)', r'import nnjax.partitioning as \1'),
    (r'from flax\.linen\.(\w+) import (.+)', r'from nnjax.\1 import \2'),
    (r'from flax\.core\.(\w+) import (.+)', r'from nnjax.core.\1 import \2'),
    (r'from flax\.training\.(\w+) import (.+)', r'from nnjax.training.\1 import \2'),
]

#: guide -> {index: (first line starts with, reason it does not run)}.
NOT_RUN = {
    'quickstart': {
        0: ('!pip install -q flax', SHELL),
        5: ('!pip install -q clu', SHELL),
        19: ('train epoch: 1, loss:', OUTPUT),
    },
    'basics': {
        0: ('# Install the latest JAXlib version.', SHELL),
        1: ('WARNING: Running pip as root', OUTPUT),
        5: ('No GPU/TPU found', OUTPUT),
        8: ('Error: FrozenDict is immutable.', OUTPUT),
        12: ('x shape: (20, 10) ; y shape: (20, 5)', OUTPUT),
        15: ('Loss for "true" W,b:', OUTPUT),
        16: ('Loss step 0:', OUTPUT),
        17: ('Loss step 30:', OUTPUT),
        18: ('Loss step 60:', OUTPUT),
        19: ('Loss step 90:', OUTPUT),
        21: ('Loss step 0:', OUTPUT),
        22: ('Loss step 40:', OUTPUT),
        23: ('Loss step 80:', OUTPUT),
        25: ('Dict output', OUTPUT),
        29: ('initialized parameter shapes:', OUTPUT),
        32: ('initialized parameter shapes:', OUTPUT),
        34: ('initialized parameters:', OUTPUT),
        36: ('initialized variables:', OUTPUT),
        37: ('updated state:', OUTPUT),
        39: ('updated state:', OUTPUT),
        40: ('updated state:', OUTPUT),
        42: ('Updated state: FrozenDict({', OUTPUT),
        43: ('Updated state: FrozenDict({', OUTPUT),
        6: ('FrozenDict({', OUTPUT_REPR),
        10: ('Array([-1.3721193', OUTPUT_REPR),
        27: ('FrozenDict({', OUTPUT_REPR),
        52: ('from functools import partial', SKETCH),
    },
    'training': {
        4: ('FrozenDict({', OUTPUT_REPR),
        5: ('FrozenDict({', OUTPUT_REPR),
        33: ('# Note that the Transformers library', SHELL),
        34: (
            '%%capture',
            'an IPython cell (`%%capture`) that downloads a pretrained CLIP through '
            "Hugging Face's transformers, which needs the seed system itself and the network; "
            'the preamble of the transfer run defines load_model() over a small Linen CLIP-like '
            'model instead (the data download replaced, as the issue allows)',
        ),
        40: ('FrozenDict({', OUTPUT_REPR),
    },
    'sharp': {
        0: ('! pip install -qq flax', SHELL),
        2: ('No GPU/TPU found', OUTPUT),
    },
}

#: guide -> {index: (first line starts with, exception class name, reason)}: cells that run
#: and must raise that exception (the guide shows an error, or the guide's code relies on
#: behaviour the seed system itself no longer has).
_PLAIN_DICT_POP = (
    "`state, params = variables.pop('params')` expects the FrozenDict.pop of "
    'older releases, returning (rest, value); init returns a plain dict (as the '
    "seed system does by default, flax_return_frozendict=False), whose pop "
    'returns the value alone, so the unpacking fails'
)

FAILS_AS_DOCUMENTED = {
    'basics': {
        33: (
            'class SimpleDense(nn.Module):',
            'TypeError',
            'lax.dot_general((((ndim - 1), (0,)), ((0), ()))): `(0)` is the int 0, not a tuple; '
            'JAX 0.10.2 refuses the unequal batch dimensions (so does the seed system on it)',
        ),
        38: ('for val in [1.0, 2.0, 3.0]:', 'ValueError', _PLAIN_DICT_POP),
        41: ('from functools import partial', 'ValueError', _PLAIN_DICT_POP),
        46: ('model = BiasAdderWithRunningMean()', 'ValueError', _PLAIN_DICT_POP),
        49: ('model = MLP(hidden_size=10, out_size=1)', 'ValueError', _PLAIN_DICT_POP),
    },
    'training': {
        38: (
            'from flax.core.frozen_dict import freeze',
            'AttributeError',
            "params.unfreeze(): init returns plain dicts (as the seed system does by default), "
            'which have no unfreeze method',
        ),
        41: (
            'from flax.training.train_state import TrainState',
            'ValueError',
            'follows from cell 38: params stayed a plain dict while cell 39 labelled the '
            'partitions with a FrozenDict (freeze), and optax.multi_transform refuses labels '
            'whose tree type differs from the params (the seed system raises the same '
            'pytree structure error)',
        ),
    },
    'preprocessing': {
        3: (
            'shard = lambda x: einops.rearrange(',
            'TypeError',
            'the guide slices before unsharding, `unshard(get_preds(...)[:n])`, which cuts the '
            'device axis, not the examples: the padded last batch compares n labels with all the '
            'padded predictions (any backend fails so; `unshard(...)[:n]` is what it means)',
        ),
    },
}

#: guide -> {index: (first line starts with, reason)}: cells that run on a copy of the
#: namespace, because what they bind would break the cells after them.
ISOLATED = {
    'basics': {
        7: (
            "try:\n    params['new_key']",
            "it expects init to return an immutable FrozenDict, so that params['new_key'] = ... "
            'raises; init returns a plain dict (as the seed system does by default), so the '
            "assignment succeeds and leaves a non-collection 'new_key' that every later apply "
            'refuses',
        ),
    },
}

#: guide -> [(index, seed text, repaired text, reason)].
_QUICKSTART_EPOCH_END = (
    "state = state.replace(metrics=state.metrics.empty()) # reset train_metrics for nexttraining epoch\n"
    "\n"
    "# Compute metrics on the test set after each training epoch\n"
    "test_state = state\n"
    "for test_batch in test_ds.as_numpy_iterator():\n"
    "    test_state = compute_metrics(state=test_state, batch=test_batch)\n"
    "\n"
    "for metric,value in test_state.metrics.compute().items():\n"
    "    metrics_history[f'test_{metric}'].append(value)\n"
    "\n"
    'print(f"train epoch: {(step+1) // num_steps_per_epoch}, "\n'
    '      f"loss: {metrics_history[\'train_loss\'][-1]}, "\n'
    '      f"accuracy: {metrics_history[\'train_accuracy\'][-1] * 100}")\n'
    'print(f"test epoch: {(step+1) // num_steps_per_epoch}, "\n'
    '      f"loss: {metrics_history[\'test_loss\'][-1]}, "\n'
    '      f"accuracy: {metrics_history[\'test_accuracy\'][-1] * 100}")\n'
)
_QUICKSTART_RECORD = "\nmetrics_history[f'train_{metric}'].append(value) # record metrics\n"

_BASICS_RUNNING_MEAN = (
    "\nbias = self.param('bias', lambda rng, shape: jnp.zeros(shape), x.shape[1:])\n"
    "if is_initialized:\n"
    "    ra_mean.value = "
)
_BASICS_MLP_BODY = (
    'x = nn.Dense(self.hidden_size)(x)\nx = norm()(x)\nx = nn.relu(x)\n'
    'x = nn.Dense(self.hidden_size)(x)\nx = norm()(x)\nx = nn.relu(x)\n'
    'y = nn.Dense(self.out_size)(x)\n\nreturn y\n'
)
_TRAINING_DROPOUT_STEP_TAIL = (
    '    return loss, logits\n'
    'grad_fn = jax.value_and_grad(loss_fn, has_aux=True)\n'
    '(loss, logits), grads = grad_fn(state.params)\n'
    'state = state.apply_gradients(grads=grads)\n'
    'return state\n'
)

REPAIRS = {
    'basics': [
        (
            13,
            '    return jnp.inner(y-pred, y-pred) / 2.0\n# Vectorize',
            '        return jnp.inner(y-pred, y-pred) / 2.0\n    # Vectorize',
            _PAGE_INDENT,
        ),
        (
            35,
            _BASICS_RUNNING_MEAN,
            "\n    bias = self.param('bias', lambda rng, shape: jnp.zeros(shape), x.shape[1:])\n"
            "    if is_initialized:\n"
            "      ra_mean.value = ",
            _PAGE_INDENT,
        ),
        (47, _BASICS_MLP_BODY, _indented(_BASICS_MLP_BODY, 8), _PAGE_INDENT),
        (
            54,
            'class MyDropout(nn.Module):',
            'from typing import Optional\nclass MyDropout(nn.Module):',
            'the guide uses typing.Optional without importing it (its imports cell has Any, Callable, Sequence)',
        ),
    ],
    'training': [
        (
            23,
            'key: jax.random.KeyArray',
            'key: jax.Array',
            'jax.random.KeyArray was removed from JAX after its deprecation in 0.4.24 (the seed '
            'system on JAX 0.10.2 fails the same); a key is a jax.Array',
        ),
        (24, _TRAINING_DROPOUT_STEP_TAIL, _indented(_TRAINING_DROPOUT_STEP_TAIL, 4), _PAGE_INDENT),
        (
            24,
            '        loss = optax.softmax_cross_entropy_with_integer_labels(\n    logits=',
            '        loss = optax.softmax_cross_entropy_with_integer_labels(\n            logits=',
            _PAGE_INDENT,
        ),
    ],
    'quickstart': [
        (
            18,
            _QUICKSTART_RECORD,
            _indented(_QUICKSTART_RECORD, 12),
            'a page break lost the indentation of the end-of-epoch block',
        ),
        (
            18,
            _QUICKSTART_EPOCH_END,
            _indented(_QUICKSTART_EPOCH_END, 8),
            'a page break lost the indentation of the end-of-epoch block',
        ),
    ],
}

#: guide -> [(index, indent, reason)]: block index+1 continues block index, indented by
#: ``indent`` spaces (a page break cut the block and the indentation with it).
MERGES = {
    'quickstart': [(1, 4, 'the body of get_datasets() starts on the next page')],
}

_TRAINING_IMPORTS = '''\
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import nnjax as nn
'''
_TRAINING_WHY = 'the training-technique guides show snippets without their imports; these are the names they use'
_CLIP_STANDIN = '''
class _Pooled:
    def __init__(self, pooler_output):
        self.pooler_output = pooler_output


class _VisionModel(nn.Module):
    @nn.compact
    def __call__(self, pixels):
        patches = nn.Conv(8, (32, 32), strides=(32, 32), name='patch_embedding')(pixels)
        return _Pooled(nn.LayerNorm(name='post_layernorm')(patches.mean(axis=(1, 2))))


class _CLIP(nn.Module):
    def setup(self):
        self.vision_model = _VisionModel()

    def __call__(self, pixels):
        return self.vision_model(pixels)


def load_model():
    module = _CLIP()
    variables = module.init(jax.random.PRNGKey(0), jnp.ones((1, 224, 224, 3)))
    return module, variables
'''
_CLIP_WHY = (
    "; load_model() returns a small CLIP-shaped Linen model (a `vision_model` submodule "
    'whose output has `pooler_output`) instead of downloading the pretrained one'
)

_PREPROCESSING_CONTEXT = '''\
import collections

import einops
import jax
import jax.numpy as jnp
import numpy as np
import tensorflow_datasets as tfds

import nnjax as flax
import nnjax.jax_utils
import nnjax as nn


class Classifier(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(10)(x.reshape(x.shape[0], -1) / 255.0)


dataset_name = 'mnist'
per_device_batch_size = 5
per_host_batch_size = per_device_batch_size * jax.local_device_count()
model = Classifier()
variables = vs = flax.jax_utils.replicate(
    model.init(jax.random.PRNGKey(0), jnp.ones((1, 28, 28, 1))))
get_preds = jax.pmap(model.apply)
ds = tfds.load(dataset_name, split='test').batch(per_host_batch_size)
'''
_PREPROCESSING_INFINITE = '''
devices = jax.local_device_count()
ds = tfds.load(dataset_name, split='test').map(
    lambda example: {**example, 'mask': True}).batch(per_device_batch_size, drop_remainder=True).batch(
    devices, drop_remainder=True)
count_p = jax.pmap(lambda mask: jax.lax.psum(mask.sum(), 'batch'), axis_name='batch')
count_correct_p = jax.pmap(
    lambda labels, preds, mask: jax.lax.psum((mask & (labels == preds)).sum(), 'batch'),
    axis_name='batch')
'''
_PREPROCESSING_WHY = (
    'the guide is a set of snippets around an evaluation loop it does not show: '
    'the model, its (replicated) variables, a pmapped get_preds, the batch sizes '
    'and the dataset `ds` are defined here, on the random stand-in MNIST'
)

#: (guide, run) -> (source run before the run's first cell, reason).
PREAMBLES = {
    ('basics', 'notebook'): (
        'import jax.numpy as jnp\ndummy_input = jnp.ones((10, 5))\nnum_epochs = 3\n'
        'X = jnp.ones((8, 5))\nY = jnp.ones((8, 1))',
        'the "Managing parameters and state" cells use dummy_input, num_epochs, X and Y without '
        'defining them; these give them small values',
    ),
    **{
        ('training', run): (_TRAINING_IMPORTS, _TRAINING_WHY)
        for run in ('batchnorm', 'dropout', 'lr_default', 'lr_schedule')
    },
    **{
        ('training', run): (
            _TRAINING_IMPORTS + 'from nnjax.training.train_state import TrainState\n',
            _TRAINING_WHY + '; the left-hand (plain) cells annotate their steps with '
            '`TrainState`, a name only the right-hand cells define',
        )
        for run in ('no_batchnorm', 'no_dropout')
    },
    ('training', 'transfer'): (_TRAINING_IMPORTS + _CLIP_STANDIN, _TRAINING_WHY + _CLIP_WHY),
    ('preprocessing', 'padding'): (_PREPROCESSING_CONTEXT, _PREPROCESSING_WHY),
    ('preprocessing', 'infinite'): (
        _PREPROCESSING_CONTEXT + _PREPROCESSING_INFINITE,
        _PREPROCESSING_WHY + '; the "infinite padding" loop reads batches already sharded per '
        'device, with a mask, and two pmapped counters',
    ),
}

#: guide -> {run: [indices]} where a guide is not one notebook (side-by-side variants).
RUNS = {
    'training': {
        'no_batchnorm': [0, 2, 6, 8, 10, 12],
        'batchnorm': [1, 3, 7, 9, 11, 13],
        'no_dropout': [14, 16, 18, 20, 22, 24],
        'dropout': [15, 17, 19, 21, 23, 25],
        'lr_default': [27, 29, 31],
        'lr_schedule': [26, 28, 30, 32],
        'transfer': list(range(35, 42)),
    },
    'preprocessing': {'padding': [0, 1, 2, 3, 4, 5], 'infinite': [6]},
}


#: guides whose table lives in ``tables/<guide>.py`` (NOT_RUN, FAILS_AS_DOCUMENTED, ISOLATED,
#: REPAIRS, MERGES, PREAMBLES keyed by run, RUNS; each optional).
PER_GUIDE_TABLES = {'parallel': parallel, 'inspection': inspection, 'converting': converting, 'upgrading': upgrading}
for _guide, _table in PER_GUIDE_TABLES.items():
    for _name, _merged in (
        ('NOT_RUN', NOT_RUN),
        ('FAILS_AS_DOCUMENTED', FAILS_AS_DOCUMENTED),
        ('ISOLATED', ISOLATED),
        ('REPAIRS', REPAIRS),
        ('MERGES', MERGES),
        ('RUNS', RUNS),
    ):
        if hasattr(_table, _name):
            _merged[_guide] = getattr(_table, _name)
    for _run, _preamble in getattr(_table, 'PREAMBLES', {}).items():
        PREAMBLES[(_guide, _run)] = _preamble


def runs(guide, n_cells):
    """{run: [indices]} of the cells that run, in order."""
    skip = NOT_RUN.get(guide, {})
    if guide in RUNS:
        return {run: [i for i in indices if i not in skip] for run, indices in RUNS[guide].items()}
    return {'notebook': [i for i in range(n_cells) if i not in skip]}
