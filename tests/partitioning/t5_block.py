"""A small T5-style decoder stack written against the older partitioning API, for either backend.

``make(nn)`` returns the Module classes built from ``nn`` (``nnjax`` or
``nnref``), so the tests and the conformance suite run the same model code
on both. Every weight is declared with ``param_with_axes`` and every
activation is constrained with ``with_sharding_constraint``, the way T5X
layers are written; ``Stack`` scans ``Block`` over ``'layers'`` with
``scan_with_axes``.

The axis names the seed records for this model (derived from its
documented behaviour: ``param_with_axes`` stores ``<name>_axes`` in
``params_axes``; ``scan_with_axes`` inserts ``axis_name`` at the scanned
``variable_axes`` position; ``variable_with_axes`` stores
``<collection>_axes``) are ``EXPECTED_PARAMS_AXES`` / ``EXPECTED_CACHE_AXES``.
"""

from __future__ import annotations

import functools
import importlib

IDS = [[1, 2, 3], [4, 5, 6]]
EMBED, HEADS, KV, MLP_DIM, LAYERS = 8, 2, 4, 16, 3

RULES = (
    ('batch', 'data'),
    ('heads', 'model'),
    ('mlp', 'model'),
    ('vocab', 'model'),
    ('embed', None),
    ('kv', None),
    ('layers', None),
    ('length', None),
)

# What the seed records: module path -> '<name>_axes' -> names, 'layers' first (scan axis 0).
EXPECTED_PARAMS_AXES = {
    'layers': {
        'attention': {
            'query_axes': ('layers', 'embed', 'heads', 'kv'),
            'key_axes': ('layers', 'embed', 'heads', 'kv'),
            'value_axes': ('layers', 'embed', 'heads', 'kv'),
            'out_axes': ('layers', 'heads', 'kv', 'embed'),
        },
        'mlp': {
            'wi_axes': ('layers', 'embed', 'mlp'),
            'wo_axes': ('layers', 'mlp', 'embed'),
        },
        'scale_axes': ('layers', 'embed'),
    },
    'embedding_axes': ('vocab', 'embed'),
}
# variable_with_axes('cache', ...) scanned with variable_axes={'cache': 1}: 'layers' at position 1.
EXPECTED_CACHE_AXES = {'layers': {'attention': {'calls_axes': ('heads', 'layers')}}}

EXPECTED_SHAPES = {
    'layers': {
        'attention': {
            'query': (LAYERS, EMBED, HEADS, KV),
            'key': (LAYERS, EMBED, HEADS, KV),
            'value': (LAYERS, EMBED, HEADS, KV),
            'out': (LAYERS, HEADS, KV, EMBED),
        },
        'mlp': {'wi': (LAYERS, EMBED, MLP_DIM), 'wo': (LAYERS, MLP_DIM, EMBED)},
        'scale': (LAYERS, EMBED),
    },
    'embedding': (32, EMBED),
}


def make(nn):
    """The model classes for backend ``nn``."""
    P = nn.partitioning
    np_ = nn.numpy
    init = nn.initializers.normal(0.3)  # (cheap to compile inside the scan)

    class Attention(nn.Module):
        @nn.compact
        def __call__(self, x):
            proj = {
                name: P.param_with_axes(name, init, (EMBED, HEADS, KV), axes=('embed', 'heads', 'kv'))
                for name in ('query', 'key', 'value')
            }
            out = P.param_with_axes('out', init, (HEADS, KV, EMBED), axes=('heads', 'kv', 'embed'))
            calls = P.variable_with_axes('cache', 'calls', np_.zeros, (HEADS,), axes=('heads',))
            calls.value = calls.value + 1.0
            q, k, v = (np_.einsum('ble,ehk->blhk', x, proj[n]) for n in ('query', 'key', 'value'))
            q = P.with_sharding_constraint(q, ('batch', 'length', 'heads', 'kv'))
            logits = np_.einsum('bqhk,bshk->bhqs', q, k) / KV**0.5
            weights = nn.softmax(logits, axis=-1)
            mixed = np_.einsum('bhqs,bshk->bqhk', weights, v)
            return np_.einsum('bqhk,hke->bqe', mixed, out)

    class Mlp(nn.Module):
        @nn.compact
        def __call__(self, x):
            wi = P.param_with_axes('wi', init, (EMBED, MLP_DIM), axes=('embed', 'mlp'))
            wo = P.param_with_axes('wo', init, (MLP_DIM, EMBED), axes=('mlp', 'embed'))
            h = P.with_sharding_constraint(nn.relu(x @ wi), ('batch', 'length', 'mlp'))
            return h @ wo

    class Block(nn.Module):
        @nn.compact
        def __call__(self, x, _):
            scale = P.param_with_axes('scale', nn.initializers.ones_init(), (EMBED,), axes=('embed',))
            x = x + Attention(name='attention')(x * scale)
            x = x + Mlp(name='mlp')(x)
            return P.with_sharding_constraint(x, ('batch', 'length', 'embed')), None

    class Stack(nn.Module):
        @nn.compact
        def __call__(self, ids):
            table = P.param_with_axes('embedding', init, (32, EMBED), axes=('vocab', 'embed'))
            x = table[ids]
            layers = P.scan_with_axes(
                Block,
                variable_axes={'params': 0, 'cache': 1},
                split_rngs={'params': True},
                length=LAYERS,
                axes_collections=('params', 'cache'),
                axis_name='layers',
            )
            x, _ = layers(name='layers')(x, None)
            return x

    return Stack


def axes_names(tree):
    """``{path: AxisMetadata}`` -> the same dict with each metadata's ``names`` (plain dicts)."""
    return {k: axes_names(v) if isinstance(v, dict) else v.names for k, v in dict(tree).items()}


def shapes(tree):
    return {k: shapes(v) if hasattr(v, 'items') else tuple(v.shape) for k, v in dict(tree).items()}


@functools.lru_cache(maxsize=None)
def run(backend: str):
    """``(variables, y, updated)``: init, then apply with the metadata mutable, on ``backend``.

    Cached: the scanned stack is slow to trace and compile, and the unit tests
    and the conformance suite look at the same run.
    """
    nn = importlib.import_module(backend)
    Stack = make(nn)
    ids = nn.numpy.array(IDS)
    with nn.partitioning.axis_rules(RULES):
        v = Stack().init(nn.random.PRNGKey(0), ids)
        y, upd = Stack().apply(v, ids, mutable=['cache', 'params_axes', 'cache_axes'])
    return v, y, upd
