"""Layers built with some fields left at their defaults agree on both backends.

The per-family properties (``test_layers_*.py``) pass most fields
explicitly, so a default that differs between the backends (an epsilon, a
momentum, a padding, ``use_bias``, ``num_groups``...) would go unseen. Here
each example picks a layer and, for each of its optional fields, draws
whether to leave it out (its default is used) or to give a value other than
the default (every layer in every example, each with its own draw). Then,
on both backends:

1. ``init_with_output``: the same variable tree and values, and output;
2. ``apply`` with nnref's variables (and ``mutable=['batch_stats']`` for
   BatchNorm, whose running statistics use the default momentum): outputs
   and state, within the tolerance family of the layer.

Inputs of the normalization layers are drawn at scale 0.01: their variance
(~3e-5) is close enough to the default epsilons that a different default
epsilon shows (scale-1 inputs are ``test_layers_normalization.py``'s).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from conformance.compare import attempt
from conformance.lifted import _as_arrays, backend_args, compare, rngs

nnref = pytest.importorskip("nnref")
nnjax = pytest.importorskip("nnjax")


@dataclass(frozen=True)
class Layer:
    required: dict  # fields always given
    optional: dict  # field -> a value other than its default (a str names a backend function)
    shape: tuple  # input shape
    family: str  # tolerance family of the output
    kind: str = 'plain'  # 'plain' | 'ints' (Embed) | 'cell' (a carry first) | 'batchnorm' | 'dropout'


NORM_OPTIONAL = {'epsilon': 1e-3, 'use_bias': False, 'use_scale': False, 'use_fast_variance': False}

LAYERS = {
    'LayerNorm': Layer(
        {}, {**NORM_OPTIONAL, 'reduction_axes': (-2, -1), 'feature_axes': -2}, (2, 3, 4), 'normalization'
    ),
    'RMSNorm': Layer({}, {'epsilon': 1e-3, 'use_scale': False, 'use_fast_variance': False}, (2, 3, 4), 'normalization'),
    'GroupNorm': Layer({}, {**NORM_OPTIONAL, 'num_groups': 8}, (2, 3, 32), 'normalization'),
    'InstanceNorm': Layer({}, {**NORM_OPTIONAL, 'feature_axes': (-2, -1)}, (2, 3, 4), 'normalization'),
    'BatchNorm': Layer(
        {'use_running_average': False},
        {**NORM_OPTIONAL, 'momentum': 0.5, 'axis': -2},
        (3, 2, 4),
        'normalization',
        'batchnorm',
    ),
    'Dense': Layer({'features': 5}, {'use_bias': False}, (2, 3, 4), 'matmul'),
    'DenseGeneral': Layer(
        {'features': (2, 3)}, {'axis': -2, 'batch_dims': (0,), 'use_bias': False}, (2, 3, 4), 'matmul'
    ),
    'Conv': Layer(
        {'features': 3, 'kernel_size': (3,)},
        {'strides': 2, 'padding': 1, 'kernel_dilation': 2, 'use_bias': False},
        (2, 7, 4),
        'conv',
    ),
    'ConvTranspose': Layer(
        {'features': 3, 'kernel_size': (3,)},
        {'strides': 2, 'padding': 'VALID', 'transpose_kernel': True, 'use_bias': False},
        (2, 5, 4),
        'conv',
    ),
    'Embed': Layer({'num_embeddings': 7, 'features': 3}, {}, (2, 5), 'exact', 'ints'),
    'MultiHeadDotProductAttention': Layer(
        {'num_heads': 2},
        {'qkv_features': 6, 'out_features': 3, 'use_bias': False, 'normalize_qk': True, 'deterministic': True},
        (2, 3, 4),
        'attention',
    ),
    'LSTMCell': Layer({'features': 4}, {'activation_fn': 'relu', 'gate_fn': 'tanh'}, (2, 3), 'transcendental', 'cell'),
    'GRUCell': Layer({'features': 4}, {'activation_fn': 'relu', 'gate_fn': 'tanh'}, (2, 3), 'transcendental', 'cell'),
    'SimpleCell': Layer({'features': 4}, {'activation_fn': 'relu', 'residual': True}, (2, 4), 'transcendental', 'cell'),
    'Dropout': Layer({'rate': 0.5}, {'broadcast_dims': (0,), 'rng_collection': 'noise'}, (3, 4), 'exact', 'dropout'),
}


@dataclass(frozen=True)
class DefaultsCase:
    layer: str
    given: tuple  # the optional fields given a non-default value (the rest are left out)
    seed: int


@st.composite
def defaults_cases(draw, name):
    optional = sorted(LAYERS[name].optional)
    given_fields = draw(st.lists(st.sampled_from(optional), unique=True)) if optional else []
    return DefaultsCase(layer=name, given=tuple(sorted(given_fields)), seed=draw(st.integers(0, 2**31 - 1)))


def _fields(nn, case: DefaultsCase) -> dict:
    spec = LAYERS[case.layer]
    fields = dict(spec.required)
    for name in case.given:
        value = spec.optional[name]
        fields[name] = getattr(nn, value) if isinstance(value, str) and name.endswith('_fn') else value
    return fields


def _inputs(case: DefaultsCase) -> tuple:
    spec = LAYERS[case.layer]
    rng = np.random.RandomState(case.seed % 2**32)
    if spec.kind == 'ints':
        return (rng.randint(0, 7, size=spec.shape).astype(np.int32),)
    x = rng.uniform(-1.0, 1.0, size=spec.shape).astype(np.float32) * np.float32(SCALE.get(spec.family, 1.0))
    if spec.kind != 'cell':
        return (x,)
    batch, features = spec.shape[0], spec.required['features']
    h = rng.uniform(-1.0, 1.0, size=(batch, features)).astype(np.float32)
    if case.layer == 'LSTMCell':
        return ((h, rng.uniform(-1.0, 1.0, size=(batch, features)).astype(np.float32)), x)
    return (h, x)


def _call_kwargs(case: DefaultsCase) -> dict:
    return {'deterministic': False} if LAYERS[case.layer].kind == 'dropout' else {}


#: Each example builds every layer: an eighth of the profile's examples.
EXAMPLES = max(1, settings.default.max_examples // 8)
#: Input scale per family: normalization inputs small enough that epsilon shows.
SCALE = {'normalization': 0.01}


@settings(max_examples=EXAMPLES)
@given(st.tuples(*(defaults_cases(name) for name in sorted(LAYERS))))
def test_layer_defaults_agree(cases):
    for case in cases:
        _check(case)
    event(f'{sum(not c.given for c in cases)} of {len(cases)} layers built with every default')


def _check(case: DefaultsCase):
    spec = LAYERS[case.layer]
    args = _inputs(case)
    stream = 'noise' if 'rng_collection' in case.given else 'dropout'

    def init(nn):
        layer = getattr(nn, case.layer)(**_fields(nn, case))
        streams = rngs(nn, {'params': case.seed, stream: case.seed + 1})
        return attempt(lambda: layer.init_with_output(streams, *backend_args(nn, args), **_call_kwargs(case)))

    ref, jax = init(nnref), init(nnjax)
    compare(ref, jax, f'{case} init_with_output', with_variables=True, output_family=spec.family)
    variables = ref.value[1]
    mutable = ['batch_stats'] if spec.kind == 'batchnorm' else False

    def apply(nn):
        layer = getattr(nn, case.layer)(**_fields(nn, case))
        return attempt(
            lambda: layer.apply(
                backend_args(nn, _as_arrays(variables)),
                *backend_args(nn, args),
                rngs=rngs(nn, {stream: case.seed + 2}),
                mutable=mutable,
                **_call_kwargs(case),
            )
        )

    ref, jax = apply(nnref), apply(nnjax)
    compare(ref, jax, f'{case} apply', with_variables=mutable is not False, output_family=spec.family)
