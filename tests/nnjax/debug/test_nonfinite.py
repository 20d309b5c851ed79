"""``nnjax.debug.find_nonfinite`` names the submodule call that turns finite inputs into NaN or Inf.

Where the NaN/Inf should appear, and how many, is worked out in NumPy from
the variables, independently of the recording.
"""

from typing import Callable

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

import nnjax as nn
from nnjax.debug import NonFiniteReport, find_nonfinite


class Act(nn.Module):
    fn: Callable

    def __call__(self, x):
        return self.fn(x)


class Block(nn.Module):
    fn: Callable = jnp.tanh

    @nn.compact
    def __call__(self, x):
        return x + Act(self.fn)(nn.Dense(x.shape[-1])(x))


class Stack(nn.Module):
    fns: tuple

    @nn.compact
    def __call__(self, x):
        for fn in self.fns:
            x = Block(fn)(x)
        return nn.Dense(2)(x)


def _np(tree, *path):
    for key in path:
        tree = tree[key]
    return np.asarray(tree, np.float64)


@pytest.mark.parametrize('jit', [False, True])
def test_log_of_negatives_in_one_block_is_named(jit):
    model = Stack((jnp.tanh, jnp.log, jnp.tanh))
    x = jax.random.normal(jax.random.key(1), (5, 6))
    variables = model.init(jax.random.key(0), x)
    found = find_nonfinite(model, variables, x, jit=jit)

    p = variables['params']
    x0 = np.asarray(x, np.float64)
    x1 = x0 + np.tanh(x0 @ _np(p, 'Block_0', 'Dense_0', 'kernel') + _np(p, 'Block_0', 'Dense_0', 'bias'))
    h1 = x1 @ _np(p, 'Block_1', 'Dense_0', 'kernel') + _np(p, 'Block_1', 'Dense_0', 'bias')
    assert np.abs(h1).min() > 1e-4  # no sign a float32 rounding could flip
    negative = int((h1 < 0).sum())
    assert 0 < negative < h1.size

    assert found.found and found.path == '/Block_1/Act_0', str(found)
    assert (found.kind, found.method, found.index) == ('Act', '__call__', 0)
    assert [(leaf.name, leaf.shape, leaf.nan, leaf.inf) for leaf in found.leaves] == [('', (5, 6), negative, 0)]
    assert found.handed_to is None and not found.inputs_nonfinite
    text = str(found)
    assert text.startswith('/Block_1/Act_0 (Act) returns NaN/Inf from finite inputs')
    assert f'{negative} NaN, 0 Inf' in text


@pytest.mark.parametrize('dtype', [jnp.float16, jnp.bfloat16])
def test_overflow_in_a_narrow_dtype_counts_the_infinities(dtype):
    """A Dense with large weights overflows the narrow dtype; only the columns with those weights turn to Inf."""

    class Net(nn.Module):
        @nn.compact
        def __call__(self, x):
            h = jnp.abs(nn.Dense(8, dtype=dtype, param_dtype=dtype)(x)) + 1  # finite and >= 1
            return nn.Dense(5, dtype=dtype, param_dtype=dtype)(h)

    x = jax.random.normal(jax.random.key(1), (3, 4)).astype(dtype)
    variables = Net().init(jax.random.key(0), x)
    biggest = float(ml_dtypes.finfo(dtype).max)
    kernel = np.asarray(variables['params']['Dense_1']['kernel'], np.float64)
    kernel[:, 1] = biggest / 2  # every input is >= 1, so these columns sum past the largest value
    kernel[:, 3] = -biggest / 2
    params = {
        **variables['params'],
        'Dense_1': {**variables['params']['Dense_1'], 'kernel': jnp.asarray(kernel, dtype)},
    }
    found = find_nonfinite(Net(), {'params': params}, x)

    p = variables['params']
    h = np.abs(np.asarray(x, np.float64) @ _np(p, 'Dense_0', 'kernel') + _np(p, 'Dense_0', 'bias')) + 1
    out = h @ kernel + _np(p, 'Dense_1', 'bias')
    infinite = int((np.abs(out) > biggest).sum())
    assert infinite == 2 * x.shape[0]

    assert found.path == '/Dense_1' and found.kind == 'Dense', str(found)
    assert [(leaf.name, leaf.nan, leaf.inf) for leaf in found.leaves] == [('', 0, infinite)]


class Log(nn.Module):
    def __call__(self, x):
        return jnp.log(x)


class Step(nn.Module):
    @nn.compact
    def __call__(self, carry, x):
        carry = jnp.tanh(nn.Dense(carry.shape[-1])(carry)) + Log()(x)
        return carry, carry


class Recurrent(nn.Module):
    @nn.compact
    def __call__(self, xs):
        scan = nn.scan(Step, variable_broadcast='params', split_rngs={'params': False}, in_axes=1, out_axes=1)
        _, ys = scan()(jnp.zeros((xs.shape[0], xs.shape[-1])), xs)
        return ys


@pytest.mark.parametrize('jit', [False, True])
def test_inside_scan_the_step_is_named(jit):
    xs = np.abs(np.asarray(jax.random.normal(jax.random.key(1), (4, 6, 3)))) + 0.5
    xs[[0, 2], 3, 1] = -1.0  # two elements of step 3 make NaN
    xs[1, 3, 2] = 0.0  # and one -Inf
    variables = Recurrent().init(jax.random.key(0), jnp.ones((4, 6, 3)))
    found = find_nonfinite(Recurrent(), variables, jnp.asarray(xs), jit=jit)
    assert found.path == '/ScanStep_0/Log_0' and found.kind == 'Log', str(found)
    step = xs[:, 3]
    assert found.index == 3  # the fourth step, the first one given those inputs
    assert [(leaf.nan, leaf.inf) for leaf in found.leaves] == [(int((step < 0).sum()), int((step == 0).sum()))]


def test_nan_made_by_a_parent_names_the_parent_and_who_received_it():
    class Parent(nn.Module):
        @nn.compact
        def __call__(self, x):
            h = nn.Dense(6)(x)
            return nn.Dense(3)(jnp.sqrt(h))  # the parent's own code: sqrt of negatives

    class Model(nn.Module):
        @nn.compact
        def __call__(self, x):
            return Parent()(jnp.tanh(nn.Dense(4)(x)))

    x = jax.random.normal(jax.random.key(1), (5, 3))
    variables = Model().init(jax.random.key(0), x)
    found = find_nonfinite(Model(), variables, x)
    assert found.path == '/Parent_0' and found.handed_to == '/Parent_0/Dense_1', str(found)
    assert 'made by its own code: /Parent_0/Dense_1 already received NaN/Inf inputs' in str(found)


def test_healthy_model_finds_nothing():
    model = Stack((jnp.tanh, jax.nn.gelu))
    x = jax.random.normal(jax.random.key(1), (5, 6))
    found = find_nonfinite(model, model.init(jax.random.key(0), x), x)
    assert not found.found and found.path is None
    assert found.calls_checked == 1 + 2 * 3 + 1  # the root, each block with its Dense and Act, the head
    assert str(found) == f'No submodule call produced NaN or Inf ({found.calls_checked} calls checked).'
    assert isinstance(found, NonFiniteReport)


def test_nan_in_the_inputs_is_reported_as_such():
    model = Stack((jnp.tanh,))
    x = np.array(jax.random.normal(jax.random.key(1), (2, 6)))
    variables = model.init(jax.random.key(0), x)
    x[1, 2] = np.nan
    found = find_nonfinite(model, variables, jnp.asarray(x))
    assert found.found and found.inputs_nonfinite and found.path == '/'
    assert 'already hold NaN or Inf' in str(found)
