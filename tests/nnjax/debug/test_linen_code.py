"""Linen code written with the seed system's spelling, imports rewritten, runs through ``compare`` as is.

The model source below is ordinary Linen code: ``setup`` and ``compact``,
``partial`` layers, ``nn.Sequential``, boxed initializers, ``jax.lax`` and
``jax.random`` in the model body, a ``cache`` collection, lifted
``nn.scan``/``nn.vmap`` inside methods, and ``method=``. It is written to a
file (the rebuild reads class source) after the import rewrite the seed-code
tests use (the seed's own linen import is written with the
placeholder package name `seed`, as tests/seed_code.py maps it), and nothing
else changes.
"""

import importlib.util
import sys

import jax
import jax.numpy as jnp
import pytest

from nnjax.debug import ReferenceRunError, compare
from tests.seed_code import rewrite_imports

LINEN_SOURCE = '''
from functools import partial

from seed import linen as nn
import jax
import jax.numpy as jnp
from jax import lax

Dense = partial(nn.Dense, kernel_init=nn.with_partitioning(nn.initializers.lecun_normal(), (None, 'mlp')))
EPS = 1e-5


class RMSNorm(nn.Module):
    @nn.compact
    def __call__(self, x):
        scale = self.param('scale', nn.initializers.ones, (x.shape[-1],))
        return x * lax.rsqrt(jnp.mean(jnp.square(x), axis=-1, keepdims=True) + EPS) * scale


class Counter(nn.Module):
    @nn.compact
    def __call__(self, x):
        count = self.variable('cache', 'count', lambda: jnp.zeros((), jnp.int32))
        total = self.variable('cache', 'total', lambda: jnp.zeros(x.shape[-1:], x.dtype))
        count.value += 1
        total.value = total.value + x.sum(0)
        return x


class Stochastic(nn.Module):
    rate: float = 0.25

    @nn.compact
    def __call__(self, x):
        keep = jax.random.bernoulli(self.make_rng('noise'), 1.0 - self.rate, x.shape)
        return jnp.where(keep, x / (1.0 - self.rate), 0.0)


class Step(nn.Module):
    @nn.compact
    def __call__(self, carry, x):
        carry = nn.tanh(nn.Dense(carry.shape[-1])(carry) + nn.Dense(carry.shape[-1], use_bias=False)(x))
        return carry, carry


class Encoder(nn.Module):
    widths: tuple = (16, 16)

    def setup(self):
        self.layers = [Dense(w) for w in self.widths]
        self.norm = RMSNorm()
        self.head = nn.Sequential([nn.Dense(8), nn.gelu, nn.Dense(4)])
        self.noise = Stochastic()

    def __call__(self, x, train: bool = False):
        for layer in self.layers:
            x = nn.relu(layer(x))
        x = self.norm(x)
        if train:
            x = self.noise(x)
        return self.head(x)

    def embed(self, x):
        return self.norm(nn.relu(self.layers[0](x)))


class SeqModel(nn.Module):
    @nn.compact
    def __call__(self, xs):
        scan = nn.scan(Step, variable_broadcast='params', split_rngs={'params': False},
                       in_axes=1, out_axes=1)
        carry = jnp.zeros((xs.shape[0], 6), xs.dtype)
        _, ys = scan()(carry, xs)
        ys = Counter()(ys)
        per_example = nn.vmap(RMSNorm, in_axes=0, out_axes=0, variable_axes={'params': None},
                              split_rngs={'params': False})
        return per_example()(ys)


class UsesAt(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(2)(x.at[0].set(0.0))
'''


@pytest.fixture(scope='module')
def linen_module(tmp_path_factory):
    path = tmp_path_factory.mktemp('linen') / 'linen_models.py'
    path.write_text(rewrite_imports(LINEN_SOURCE, 'nnjax'))
    spec = importlib.util.spec_from_file_location('linen_models_for_debug', path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_rewritten_imports_are_the_usual_ones():
    rewritten = rewrite_imports(LINEN_SOURCE, 'nnjax')
    assert 'import nnjax as nn' in rewritten and 'seed' not in rewritten


def test_setup_partial_boxed_sequential_and_rngs(linen_module):
    m = linen_module.Encoder()
    x = jax.random.normal(jax.random.key(1), (3, 5))
    variables = m.init(jax.random.key(0), x)
    assert compare(m, variables, x).first_divergence is None
    report = compare(m, variables, x, train=True, rngs={'noise': jax.random.key(7)})
    assert report.first_divergence is None, str(report)
    assert '/noise' in [row.path for row in report.rows]
    embedded = compare(m, variables, x, method=m.embed)
    assert embedded.first_divergence is None and embedded.rows[0].method == 'embed'


def test_scan_vmap_and_mutable_cache(linen_module):
    m = linen_module.SeqModel()
    xs = jax.random.normal(jax.random.key(1), (2, 4, 3))
    variables = m.init(jax.random.key(0), xs)
    report = compare(m, variables, xs, mutable=['cache'])
    assert report.first_divergence is None, str(report)
    assert {row.path for row in report.state} == {'/Counter_0/count', '/Counter_0/total'}
    assert [row.index for row in report.rows if row.kind == 'Step'] == [0, 1, 2, 3]


def test_jax_only_array_api_is_explained(linen_module):
    m = linen_module.UsesAt()
    x = jnp.ones((2, 3))
    variables = m.init(jax.random.key(0), x)
    with pytest.raises(ReferenceRunError, match=r"in / \(UsesAt.__call__\).*x.at\[...\]"):
        compare(m, variables, x)
