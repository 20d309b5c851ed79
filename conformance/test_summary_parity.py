"""``tabulate`` builds the same summary table on both backends.

Each case is model code written once against the backend ``nn`` and run on
nnjax (``init`` under ``jax.eval_shape``) and on nnref (eager ``init``);
the two :class:`~shared_spec.summary_table.SummaryTable` objects must be
equal cell for cell: rows, footer and caption. Each table must also add
up: per collection, the row counts sum to the footer, and the footer
totals to every variable the model has.
"""

from __future__ import annotations

import re

import pytest

nnref = pytest.importorskip("nnref")
nnjax = pytest.importorskip("nnjax")

from nnjax import summary as jax_summary  # noqa: E402
from nnref import summary as ref_summary  # noqa: E402
from shared_spec.summary_values import strip_markup  # noqa: E402


def foo(nn):
    class Foo(nn.Module):
        @nn.compact
        def __call__(self, x):
            h = nn.Dense(4)(x)
            return nn.Dense(2)(h)

    return Foo(), (nn.numpy.ones((16, 9)),), {}


def cnn(nn):
    class CNN(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.relu(nn.Conv(features=32, kernel_size=(3, 3))(x))
            x = nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2))
            x = nn.relu(nn.Conv(features=64, kernel_size=(3, 3))(x))
            x = nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2))
            x = x.reshape((x.shape[0], -1))
            x = nn.relu(nn.Dense(features=256)(x))
            return nn.Dense(features=10)(x)

    return CNN(), (nn.numpy.ones((1, 8, 8, 1)),), {}


def norm_dropout(nn):
    class Net(nn.Module):
        @nn.compact
        def __call__(self, x, train: bool):
            init = nn.with_partitioning(nn.initializers.lecun_normal(), (None, 'model'))
            x = nn.Dense(6, kernel_init=init)(x)
            x = nn.BatchNorm(use_running_average=not train)(x)
            x = nn.Dropout(0.5, deterministic=not train)(x)
            return x, {'mean': x.mean()}

    return Net(), (nn.numpy.ones((3, 5)),), {'train': True}


def autoencoder(nn):
    class AutoEncoder(nn.Module):
        def setup(self):
            self.encoder = nn.Dense(3)
            self.decoder = nn.Dense(5)

        def encode(self, x):
            return self.encoder(x)

        def __call__(self, x):
            return self.decoder(self.encode(x))

    return AutoEncoder(), (nn.numpy.ones((2, 5)),), {'method': 'encode'}


def autoencoder_full(nn):
    module, args, _ = autoencoder(nn)
    return module, args, {}


def shared_dense(nn):
    class Twice(nn.Module):
        @nn.compact
        def __call__(self, x):
            dense = nn.Dense(4)
            return dense(dense(x))

    return Twice(), (nn.numpy.ones((2, 4)),), {}


def nested(nn):
    class Block(nn.Module):
        width: int

        @nn.compact
        def __call__(self, x):
            x = nn.relu(nn.Dense(self.width)(x))
            return nn.LayerNorm()(nn.Dense(self.width)(x))

    class Tower(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = Block(4)(x)
            x = Block(3, name='second')(x)
            scale = self.param('scale', nn.initializers.ones, (3,))
            return nn.Dense(2)(x * scale)

    return Tower(), (nn.numpy.ones((2, 5)),), {}


def shared_block(nn):
    class Block(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.LayerNorm()(nn.Dense(4)(x))

    class Loop(nn.Module):
        @nn.compact
        def __call__(self, x):
            block = Block()
            return nn.Dense(1)(block(block(x)))

    return Loop(), (nn.numpy.ones((2, 4)),), {}


CASES = [
    ('foo', foo, {}),
    ('cnn', cnn, {}),
    ('norm_dropout', norm_dropout, {}),
    ('method_encode', autoencoder, {}),
    ('setup_call', autoencoder_full, {}),
    ('twice', shared_dense, {}),
    ('twice_repeated', shared_dense, {'show_repeated': True}),
    ('nested', nested, {}),
    ('nested_depth0', nested, {'depth': 0}),
    ('nested_depth1', nested, {'depth': 1}),
    ('shared_block', shared_block, {}),
    ('shared_block_repeated', shared_block, {'show_repeated': True}),
    ('shared_block_depth1_repeated', shared_block, {'depth': 1, 'show_repeated': True}),
]


def _rngs(nn):
    return {'params': nn.random.PRNGKey(0), 'dropout': nn.random.PRNGKey(1)}


def _table(backend, build, options):
    module, args, kwargs = build(backend)
    summary = jax_summary if backend is nnjax else ref_summary
    return summary.summary_table(module, _rngs(backend), args, kwargs, **options)


def _count(cell: str) -> int:
    """The element count a collection cell ends with ('' counts 0)."""
    match = re.search(r'([\d,]+) \([^()]*\)$', strip_markup(cell))
    return int(match.group(1).replace(',', '')) if match else 0


def _variable_count(tree) -> int:
    leaves = nnref.tree_util.tree_leaves(tree)
    return sum(int(leaf.size) for leaf in leaves if hasattr(leaf, 'size'))


@pytest.mark.parametrize('name,build,options', CASES, ids=[c[0] for c in CASES])
def test_both_backends_build_the_same_table(name, build, options):
    assert _table(nnjax, build, options) == _table(nnref, build, options)


@pytest.mark.parametrize('name,build,options', CASES, ids=[c[0] for c in CASES])
def test_rows_add_up_to_the_footer_and_the_footer_to_every_variable(name, build, options):
    table = _table(nnref, build, options)
    module, args, kwargs = build(nnref)
    variables = module.init(_rngs(nnref), *args, **kwargs)
    first = len(table.columns) - len(variables)
    assert list(table.columns[first:]) == sorted(variables)
    grand_total = 0
    for i, collection in enumerate(table.columns[first:], start=first):
        footer = _count(table.footer[i])
        assert sum(_count(row[i]) for row in table.rows) == footer
        assert footer == _variable_count(variables[collection])
        grand_total += footer
    assert _count(table.caption) == grand_total
