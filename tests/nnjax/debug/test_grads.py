"""``nnjax.debug.check_grads``: jax.grad against float64 central differences on nnref, per parameter leaf."""

import jax
import jax.numpy as jnp
import pytest

import nnjax as nn
from nnjax.debug import GradCheckReport, check_grads
from tests.nnjax.debug import models as M


def mean_square(y):
    return jnp.mean(y**2)


class PositiveScale(nn.Module):
    """A learned per-feature scale kept positive through softplus (the leaf the planted bug hits)."""

    @nn.compact
    def __call__(self, x):
        raw = self.param('raw', nn.initializers.normal(1.0), (x.shape[-1],))
        return x * jax.nn.softplus(raw)


class Mlp(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = jnp.tanh(nn.Dense(8)(x))
        x = PositiveScale()(x)
        return nn.Dense(2)(jax.nn.gelu(nn.Dense(6)(x)))


@pytest.fixture(scope='module')
def mlp():
    x = jax.random.normal(jax.random.key(1), (5, 3))
    return Mlp(), Mlp().init(jax.random.key(0), x), x


def test_healthy_mlp_passes(mlp):
    model, variables, x = mlp
    report = check_grads(model, variables, x, loss=mean_square)
    assert report.ok and report.failing == (), str(report)
    assert [row.path for row in report.rows] == [
        '/Dense_0/bias',
        '/Dense_0/kernel',
        '/Dense_1/bias',
        '/Dense_1/kernel',
        '/Dense_2/bias',
        '/Dense_2/kernel',
        '/PositiveScale_0/raw',
    ]
    assert all(row.max_rel < 1e-3 for row in report.rows), str(report)
    assert str(report).splitlines()[-1] == 'All gradients agree.'


def _wrong_softplus(backward):
    """JAX's softplus with the backward rule ``backward(x, g)``: the forward, and so compare, see no bug."""
    original = jax.nn.softplus

    @jax.custom_vjp
    def softplus(x):
        return original(x)

    softplus.defvjp(lambda x: (original(x), x), backward)
    return softplus


@pytest.mark.parametrize('loss_scale', [1e-2, 1e2])
def test_a_wrong_backward_rule_names_exactly_its_leaf(mlp, monkeypatch, loss_scale):
    """softplus's gradient off by 1.5x on the nnjax side only: only the leaf it feeds fails.

    The reference does not see the patch: the rebuilt model reaches
    ``jax.nn`` through nnref's stand-in namespace. A bug is a bug whatever
    the scale of the loss, so the verdict must not depend on it.
    """
    model, variables, x = mlp
    monkeypatch.setattr(jax.nn, 'softplus', _wrong_softplus(lambda x, g: (1.5 * g * jax.nn.sigmoid(x),)))
    report = check_grads(model, variables, x, loss=lambda y: loss_scale * jnp.mean(y**2))
    assert report.failing == ('/PositiveScale_0/raw',), str(report)
    row = {row.path: row for row in report.rows}['/PositiveScale_0/raw']
    # <1.5 g, v> against <g, v>: a third of the larger one, in every direction
    assert row.max_rel == pytest.approx(1 / 3, rel=1e-3)
    text = str(report)
    assert text.splitlines()[-1] == 'Gradients off for 1 leaves: /PositiveScale_0/raw.'
    failing_lines = [line for line in text.splitlines() if line.lstrip('│ ').startswith('!')]
    assert len(failing_lines) == 1 and '/PositiveScale_0/raw' in failing_lines[0]


def test_a_nan_gradient_fails(mlp, monkeypatch):
    """A backward rule that makes NaN for one leaf must not pass as agreeing."""
    model, variables, x = mlp
    monkeypatch.setattr(jax.nn, 'softplus', _wrong_softplus(lambda x, g: (g * jnp.nan,)))
    report = check_grads(model, variables, x, loss=mean_square, directions=1)
    assert report.failing == ('/PositiveScale_0/raw',), str(report)


def test_cnn_with_batchnorm_in_training_and_dropout():
    model = M.CNN()
    x = jax.random.normal(jax.random.key(2), (2, 6, 6, 1))
    variables = model.init(jax.random.key(0), x)
    report = check_grads(
        model,
        variables,
        x,
        train=True,
        mutable=['batch_stats'],
        rngs={'dropout': jax.random.key(3)},
        loss=mean_square,
        directions=1,
    )
    assert report.ok, str(report)
    assert {row.path for row in report.rows} == {
        f'/{layer}/{name}'
        for layer, names in [
            ('Conv_0', ('kernel', 'bias')),
            ('Conv_1', ('kernel', 'bias')),
            ('BatchNorm_0', ('scale', 'bias')),
            ('BatchNorm_1', ('scale', 'bias')),
            ('Dense_0', ('kernel', 'bias')),
        ]
        for name in names
    }
    assert report.directions == 1


def test_scanned_lstm():
    model = M.SequenceModel(features=4)
    xs = jax.random.normal(jax.random.key(2), (2, 4, 3))
    variables = model.init(jax.random.key(0), xs)
    report = check_grads(model, variables, xs, loss=mean_square, directions=2)
    assert report.ok, str(report)
    assert any(row.path.startswith('/ScanOptimizedLSTMCell_0/') for row in report.rows)
    assert isinstance(report, GradCheckReport)


@jax.custom_vjp
def _scaled(x, s):
    return x * s


def _scaled_forward(x, s):
    return x * s, (x, s)


def _scaled_backward(residuals, g):
    x, s = residuals
    return g * s, jnp.sum(g * x, axis=tuple(range(g.ndim - 1)))


_scaled.defvjp(_scaled_forward, _scaled_backward)


class CustomScale(nn.Module):
    @nn.compact
    def __call__(self, x):
        return _scaled(x, self.param('scale', nn.initializers.ones, (x.shape[-1],)))


def test_a_correct_custom_vjp_function_passes():
    """A module-level ``jax.custom_vjp`` function is the user's code: the reference runs its forward rule.

    It must run on nnref in float64 like the rest of the model; run as JAX
    (float32) its rounding swamps the central differences and a correct
    gradient fails.
    """
    model = nn.Sequential([nn.Dense(4), CustomScale(), nn.Dense(2)])
    x = jax.random.normal(jax.random.key(1), (3, 5))
    variables = model.init(jax.random.key(0), x)
    report = check_grads(model, variables, x, loss=mean_square)
    assert report.ok, str(report)
