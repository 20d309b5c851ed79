"""``nn.linear``, ``nn.attention`` ...: the seed's module paths, re-exporting the implementation.

SEED_NAMES lists, per module, the public names of the seed's module of that
name that are part of this library's API (layers, functions, typing aliases
seed code imports); every one must be importable from the alias module of
both backends and be the very object the implementation defines.
"""

import importlib
import typing

import pytest

from conformance.compare import Outcome, assert_same_outcome, to_numpy
from shared_spec import type_aliases

SEED_NAMES = {
    'linear': [
        'Conv',
        'ConvLocal',
        'ConvTranspose',
        'Dense',
        'DenseGeneral',
        'Einsum',
        'Embed',
        'canonicalize_padding',
        'default_kernel_init',
        'default_embed_init',
        'promote_dtype',
        'Array',
        'ConvGeneralDilatedT',
        'DotGeneralT',
        'Dtype',
        'Initializer',
        'LaxPadding',
        'PRNGKey',
        'PaddingLike',
        'PrecisionLike',
        'PromoteDtypeFn',
        'Shape',
    ],
    'attention': [
        'MultiHeadAttention',
        'MultiHeadDotProductAttention',
        'SelfAttention',
        'combine_masks',
        'dot_product_attention',
        'dot_product_attention_weights',
        'make_attention_mask',
        'make_causal_mask',
        'default_kernel_init',
        'Array',
        'DotGeneralT',
        'Dtype',
        'Initializer',
        'PRNGKey',
        'PrecisionLike',
        'Shape',
    ],
    'normalization': [
        'BatchNorm',
        'GroupNorm',
        'InstanceNorm',
        'LayerNorm',
        'RMSNorm',
        'SpectralNorm',
        'WeightNorm',
        'canonicalize_dtype',
        'Array',
        'Axes',
        'Dtype',
        'Initializer',
        'PRNGKey',
        'Shape',
    ],
    'pooling': ['avg_pool', 'max_pool', 'min_pool', 'pool'],
    'stochastic': ['Dropout', 'PRNGKey'],
    'recurrent': [
        'Bidirectional',
        'ConvLSTMCell',
        'DenseParams',
        'GRUCell',
        'LSTMCell',
        'MGUCell',
        'OptimizedLSTMCell',
        'RNN',
        'RNNBase',
        'RNNCellBase',
        'SimpleCell',
        'flip_sequences',
        'default_kernel_init',
        'Array',
        'Carry',
        'CarryHistory',
        'CollectionFilter',
        'Dtype',
        'InOutScanAxis',
        'Initializer',
        'Output',
        'PRNGKey',
        'PRNGSequenceFilter',
        'PrecisionLike',
    ],
    'combinators': ['Sequential'],
    'dtypes': ['canonicalize_dtype', 'promote_dtype'],
}

# Where each non-alias name is implemented, relative to the backend package.
IMPLEMENTED_IN = {
    'canonicalize_padding': 'layers.conv',
    'default_kernel_init': 'layers.linear',
    'default_embed_init': 'layers.embedding',
    'promote_dtype': 'dtypes',
    'canonicalize_dtype': 'dtypes',
    'flip_sequences': 'layers.rnn',
    'DenseParams': 'layers.recurrent',
}


def _seed_names():
    return [(module, name) for module, names in SEED_NAMES.items() for name in names]


@pytest.mark.parametrize('module, name', _seed_names(), ids=lambda v: str(v))
def test_every_seed_name_is_the_implementation_object(nn, module, name):
    alias = importlib.import_module(f'{nn.__name__}.{module}')
    assert getattr(nn, module) is alias  # reachable as an attribute after ``import nn``
    value = getattr(alias, name)
    if name in type_aliases.__all__:
        assert value is getattr(type_aliases, name)
    elif name in IMPLEMENTED_IN:
        impl = importlib.import_module(f'{nn.__name__}.{IMPLEMENTED_IN[name]}')
        assert value is getattr(impl, name)
    else:
        assert value is getattr(nn, name)  # the top-level layer/function is the same object
        assert value.__module__.startswith(f'{nn.__name__}.layers.')


@pytest.mark.parametrize('module', sorted(set(SEED_NAMES) - {'dtypes'}))
def test_alias_modules_list_the_same_names_on_both_backends(module):
    ref = importlib.import_module(f'nnref.{module}')
    jax_side = importlib.import_module(f'nnjax.{module}')
    assert sorted(ref.__all__) == sorted(jax_side.__all__) == sorted(SEED_NAMES[module])
    for name in ref.__all__:
        assert hasattr(ref, name) and hasattr(jax_side, name)


def test_seed_style_from_imports_build_the_same_model_on_both_backends():
    # A seed-style model importing each layer from its module path; only the
    # package name differs between the two runs.
    source = '''
from {b}.linear import Dense
from {b}.normalization import LayerNorm
from {b}.stochastic import Dropout
from {b}.pooling import avg_pool
from {b}.combinators import Sequential
from {b}.module import Module, compact
import {b} as nn

class Net(Module):
    @compact
    def __call__(self, x, train=False):
        x = avg_pool(x, (2, 2))
        x = LayerNorm()(x.reshape((x.shape[0], -1)))
        x = Dropout(0.5, deterministic=not train)(x)
        return Sequential([Dense(4), nn.relu, Dense(2)])(x)

variables = Net().init(nn.random.PRNGKey(0), nn.numpy.ones((1, 4, 4, 1)))
out = Net().apply(variables, nn.numpy.ones((1, 4, 4, 1)))
'''
    results = {}
    for b in ('nnref', 'nnjax'):
        namespace = {}
        exec(source.format(b=b), namespace)  # noqa: S102
        results[b] = namespace
    for key in ('variables', 'out'):
        assert_same_outcome(
            Outcome(value=to_numpy(results['nnref'][key])), Outcome(value=to_numpy(results['nnjax'][key])), key
        )
    assert results['nnref']['out'].shape == (1, 2)


# canonicalize_padding and flip_sequences: known answers from the seed.
@pytest.mark.parametrize(
    'padding, rank, expected',
    [
        ('SAME', 2, 'SAME'),
        ('valid', 1, 'valid'),
        (1, 2, [(1, 1), (1, 1)]),
        ((1, 2), 2, [(1, 1), (2, 2)]),
        ([(1, 2)], 1, [(1, 2)]),
        ([(1, 2), (3, 4)], 2, [(1, 2), (3, 4)]),
        ((0, (1, 2)), 2, [(0, 0), (1, 2)]),
    ],
)
def test_canonicalize_padding_known_answers(nn, padding, rank, expected):
    assert nn.linear.canonicalize_padding(padding, rank) == expected


def test_flip_sequences_known_answers(nn):
    x = nn.numpy.arange(8.0).reshape(2, 4, 1)
    flipped = nn.recurrent.flip_sequences(x, nn.numpy.array([2, 4]), num_batch_dims=1, time_major=False)
    assert [[float(v) for v in row] for row in flipped[..., 0]] == [[1, 0, 3, 2], [7, 6, 5, 4]]
    whole = nn.recurrent.flip_sequences(x, None, num_batch_dims=1, time_major=False)
    assert [[float(v) for v in row] for row in whole[..., 0]] == [[3, 2, 1, 0], [7, 6, 5, 4]]


def test_typing_aliases_annotate(nn):
    def layer(
        x: nn.linear.Array, padding: nn.linear.PaddingLike = 'SAME', precision: nn.linear.PrecisionLike = None
    ) -> nn.linear.Array:
        return x

    hints = typing.get_type_hints(layer)
    assert hints['padding'] == typing.Union[str, int, typing.Sequence[typing.Union[int, tuple[int, int]]]]
    assert isinstance(nn.RNN(nn.GRUCell(2)), object)  # RNNBase is a Protocol: only annotates
    assert typing.get_type_hints(nn.recurrent.RNNBase.__call__)['return'] is typing.Any


def test_dtypes_module(nn):
    np_ = nn.numpy
    assert str(nn.dtypes.canonicalize_dtype(np_.ones(2, np_.int32), None)) == 'float32'
    a, b = nn.dtypes.promote_dtype(np_.ones(2, np_.float16), np_.ones(2, np_.bfloat16))
    assert str(a.dtype) == str(b.dtype) == 'float32'
    x, none = nn.dtypes.promote_dtype(np_.ones(2, np_.int32), None, dtype=np_.float16)
    assert str(x.dtype) == 'float16' and none is None
