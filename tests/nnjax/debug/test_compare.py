"""``nnjax.debug.compare`` finds a bug planted on the nnjax side only, and finds nothing without one."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import nnjax as nn
import nnjax.layers.attention as attention
import nnjax.layers.normalization as normalization
from nnjax.debug import DivergenceReport, compare
from tests.nnjax.debug import models as M


@pytest.fixture(scope='module')
def transformer():
    tokens = M.transformer_inputs()
    model = M.Transformer()
    return model, model.init(jax.random.key(0), tokens), tokens


def _only_at(path, buggy, original):
    """A layer helper that misbehaves only for the module at ``path`` (its first argument)."""

    def helper(module, *args):
        if module.scope.path == path:
            return buggy(module, *args)
        return original(module, *args)

    return helper


def test_no_divergence_on_a_transformer(transformer):
    model, variables, tokens = transformer
    report = compare(model, variables, tokens)
    assert report.first_divergence is None, str(report)
    paths = [row.path for row in report.rows]
    assert paths[:3] == ['/', '/Embed_0', '/Block_0']
    assert '/Block_2/MlpBlock_0/Dense_1' in paths
    assert all(row.local <= 1 for row in report.rows)


def test_layernorm_without_epsilon_is_named(transformer, monkeypatch):
    model, variables, tokens = transformer
    original = normalization._normalize

    def no_epsilon(module, x, mean, var, reduction_axes, feature_axes, dtype, param_dtype, epsilon, *rest):
        return original(module, x, mean, var, reduction_axes, feature_axes, dtype, param_dtype, 0.0, *rest)

    monkeypatch.setattr(normalization, '_normalize', _only_at(('Block_1', 'LayerNorm_1'), no_epsilon, original))
    report = compare(model, variables, tokens)
    assert report.first_divergence == '/Block_1/LayerNorm_1', str(report)
    first = report.first
    assert first.kind == 'LayerNorm' and first.local > 1
    # The blame is local: the block around it and the layers after it are not diverging themselves.
    by_path = {row.path: row for row in report.rows if row.index == 0}
    assert not by_path['/Block_1'].diverges
    assert not by_path['/Block_2/LayerNorm_0'].diverges
    # ... while the global error downstream shows the damage.
    assert by_path['/Block_2/LayerNorm_0'].input_abs > 1e-4
    assert 'First divergence: /Block_1/LayerNorm_1' in str(report)


def test_attention_mask_off_by_one_is_named(transformer, monkeypatch):
    model, variables, tokens = transformer
    original = attention.dot_product_attention_weights

    def shifted_mask(query, key, bias=None, mask=None, *args, **kwargs):
        if mask is not None:  # lets each position see one step into the future
            mask = jnp.roll(mask, 1, axis=-1).at[..., 0].set(1)
        return original(query, key, bias, mask, *args, **kwargs)

    monkeypatch.setattr(attention, 'dot_product_attention_weights', shifted_mask)
    report = compare(model, variables, tokens)
    assert report.first_divergence == '/Block_0/MultiHeadDotProductAttention_0', str(report)
    assert report.first.family == 'attention'


def test_custom_module_with_a_jax_only_difference_is_named(monkeypatch):
    model = M.SwishNet()
    x = jax.random.normal(jax.random.key(1), (4, 3))
    variables = model.init(jax.random.key(0), x)
    assert compare(model, variables, x).first_divergence is None
    # jax.nn.silu goes wrong on the nnjax side only; the rebuilt model calls nnref's silu.
    monkeypatch.setattr(jax.nn, 'silu', lambda x: x * jax.nn.sigmoid(1.05 * x))
    report = compare(model, variables, x)
    assert report.first_divergence == '/Swish_0', str(report)
    assert report.first.kind == 'Swish'


def test_glue_code_of_a_parent_is_blamed(monkeypatch):
    """A wrong value computed in a module's own code and handed to a submodule names that module."""

    class Squash(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(3)(jnp.tanh(x))  # the Dense's output is all the caller sees

    x = jax.random.normal(jax.random.key(1), (2, 3))
    variables = Squash().init(jax.random.key(0), x)
    tanh = jnp.tanh
    monkeypatch.setattr(jnp, 'tanh', lambda x: tanh(x) * 1.01)  # nnjax side only
    report = compare(Squash(), variables, x)
    assert report.first_divergence == '/', str(report)
    assert report.first.glue > 1 and report.first.local <= 1
    assert not [row for row in report.rows if row.path == '/Dense_0' and row.diverges]


def test_cnn_with_batchnorm_and_dropout_in_training():
    model = M.CNN()
    x = jax.random.normal(jax.random.key(2), (4, 8, 8, 1))
    variables = model.init(jax.random.key(0), x)
    report = compare(model, variables, x, train=True, mutable=['batch_stats'], rngs={'dropout': jax.random.key(3)})
    assert report.first_divergence is None, str(report)
    assert {row.path for row in report.state} == {
        '/BatchNorm_0/mean',
        '/BatchNorm_0/var',
        '/BatchNorm_1/mean',
        '/BatchNorm_1/var',
    }


def test_wrong_batchnorm_statistics_update_is_named(monkeypatch):
    model = M.CNN()
    x = jax.random.normal(jax.random.key(2), (4, 8, 8, 1))
    variables = model.init(jax.random.key(0), x)
    original = normalization.BatchNorm.__call__

    def other_momentum(self, x, use_running_average=None, *, mask=None):
        if self.name == 'BatchNorm_1':  # the update of the running statistics goes wrong
            object.__setattr__(self, 'momentum', 0.5)
        return original(self, x, use_running_average, mask=mask)

    monkeypatch.setattr(normalization.BatchNorm, '__call__', other_momentum)
    report = compare(model, variables, x, train=True, mutable=['batch_stats'], rngs={'dropout': jax.random.key(3)})
    assert report.first_divergence == '/BatchNorm_1', str(report)
    assert report.first.collection == 'batch_stats'


def test_scanned_lstm():
    model = M.SequenceModel()
    xs = jax.random.normal(jax.random.key(2), (3, 5, 4))
    variables = model.init(jax.random.key(0), xs)
    report = compare(model, variables, xs)
    assert report.first_divergence is None, str(report)
    steps = [row for row in report.rows if row.kind == 'OptimizedLSTMCell' and row.method == '__call__']
    assert [row.index for row in steps] == list(range(5))


@pytest.mark.parametrize('jit', [False, True])
def test_vmap_remat_jit_and_method(jit):
    class Inner(nn.Module):
        @nn.compact
        def __call__(self, x):
            return jnp.tanh(nn.Dense(4)(x))

        def project(self, x):
            return x @ jnp.ones((x.shape[-1], 2))

    class Outer(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.vmap(Inner, in_axes=0, out_axes=0, variable_axes={'params': 0}, split_rngs={'params': True})()(x)
            x = nn.remat(Inner)()(x)
            return nn.jit(Inner)()(x)

        def encode(self, x):
            return self(x).sum(-1)

    x = jax.random.normal(jax.random.key(1), (3, 2, 5))
    variables = Outer().init(jax.random.key(0), x)
    report = compare(Outer(), variables, x, jit=jit)
    assert report.first_divergence is None, str(report)
    vmapped = [row for row in report.rows if row.path == '/VmapInner_0' and row.kind == 'Inner']
    assert len(vmapped) == 3  # once per mapped element, on both sides
    encoded = compare(Outer(), variables, x, method=Outer.encode)
    assert encoded.rows[0].method == 'encode' and encoded.first_divergence is None
    by_name = compare(Outer(), variables, x, method='encode')
    assert by_name.rows[0].output_abs == encoded.rows[0].output_abs


def test_bfloat16_model_shows_where_precision_is_lost(transformer):
    _, variables, tokens = transformer
    model = M.Transformer(dtype=jnp.bfloat16)
    report = compare(model, variables, tokens)
    assert report.first_divergence is None, str(report)  # rounding, not a bug
    rows = {row.path: row for row in report.rows if row.index == 0}
    assert rows['/Block_0/LayerNorm_0'].dtype == 'bfloat16'
    # the global error grows down the model, far beyond float32's
    assert rows['/'].output_rel > 1e-3
    assert rows['/Block_2'].output_abs > rows['/Block_0/LayerNorm_0'].output_abs
    float32 = compare(M.Transformer(), variables, tokens)
    assert rows['/'].output_rel > 100 * float32.rows[0].output_rel


def test_report_reads_at_a_glance(transformer):
    model, variables, tokens = transformer
    report = compare(model, variables, tokens)
    text = str(report)
    assert text.splitlines()[0].startswith('nnjax vs nnref (float64)')
    assert '/Block_1/MlpBlock_0/Dense_0' in text
    assert 'No divergence' in text.splitlines()[-1]
    assert isinstance(report, DivergenceReport)
    assert 'first_divergence=None' in repr(report)


def test_widen_false_compares_in_the_model_dtypes(transformer):
    model, variables, tokens = transformer
    report = compare(model, variables, tokens, widen=False)
    assert report.reference_dtype == 'model dtypes'
    assert report.first_divergence is None, str(report)
    assert np.isfinite(report.rows[0].output_abs)
