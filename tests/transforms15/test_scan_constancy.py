"""``nn.scan(check_constancy_invariants=...)``: the seed's outcomes for each case, on both backends.

True (the default): a first pass creates the broadcast variables and checks
they do not depend on the loop ("broadcasted variable has a data dependency
on the scan body."). False: no first pass; broadcast variables are read as
given (created in the loop, they are dropped) and broadcast outputs are
refused.
"""

import inspect

import numpy as np
import pytest


def cell(nn):
    class Cell(nn.Module):
        @nn.compact
        def __call__(self, c, x):
            h = nn.Dense(2)(x) + c
            return h, h

    return Cell


def test_signature_default(nn):
    assert inspect.signature(nn.scan).parameters['check_constancy_invariants'].default is True


@pytest.mark.parametrize('check', [True, False])
def test_independent_broadcast_params(nn, check):
    Scanned = nn.scan(
        cell(nn), variable_broadcast='params', split_rngs={'params': False}, check_constancy_invariants=check
    )
    c, xs = np.zeros(2, np.float32), np.ones((3, 2), np.float32)
    variables = Scanned().init(nn.random.PRNGKey(0), c, xs)
    if check:
        assert variables['params']['Dense_0']['kernel'].shape == (2, 2)
        Scanned().apply(variables, c, xs)
    else:
        assert 'params' not in variables  # created inside the loop: dropped, as in the seed
        with pytest.raises(nn.errors.ScopeCollectionNotFound):
            Scanned().apply(variables, c, xs)


def test_params_from_a_split_stream_depend_on_the_loop(nn):
    Scanned = nn.scan(cell(nn), variable_broadcast='params', split_rngs={'params': True})
    with pytest.raises(ValueError, match=r'^broadcasted variable has a data dependency on the scan body\.'):
        Scanned().init(nn.random.PRNGKey(0), np.zeros(2, np.float32), np.ones((3, 2), np.float32))


@pytest.mark.parametrize('check', [True, False])
def test_broadcast_state_written_from_the_carry(nn, check):
    np_ = nn.numpy

    class Dep(nn.Module):
        @nn.compact
        def __call__(self, c, x):
            s = self.variable('state', 's', lambda: np_.zeros(2, np_.float32))
            s.value = c + x
            return c + s.value, x

    Scanned = nn.scan(Dep, variable_broadcast='state', check_constancy_invariants=check)
    c, xs = np.zeros(2, np.float32), np.ones((3, 2), np.float32)
    state = {'state': {'s': np.zeros(2, np.float32)}}
    if check:
        with pytest.raises(ValueError, match='data dependency'):
            Scanned().apply(state, c, xs, mutable=['state'])
    else:
        (carry, _), updates = Scanned().apply(state, c, xs, mutable=['state'])
        np.testing.assert_allclose(carry, [7.0, 7.0])  # each step sees its own write: c <- 2c + 1
        np.testing.assert_allclose(updates['state']['s'], [0.0, 0.0])  # but the writes are dropped


@pytest.mark.parametrize('check', [True, False])
def test_broadcast_outputs(nn, check):
    np_ = nn.numpy

    class B(nn.Module):
        @nn.compact
        def __call__(self, c, x):
            return c + x, np_.ones(3, np_.float32)

    Scanned = nn.scan(B, in_axes=nn.broadcast, out_axes=nn.broadcast, length=3, check_constancy_invariants=check)
    args = (np.zeros(2, np.float32), np.ones(2, np.float32))
    if check:
        (carry, ys), _ = Scanned().init_with_output(nn.random.PRNGKey(0), *args)
        np.testing.assert_allclose(carry, [3.0, 3.0])
        np.testing.assert_allclose(ys, [1.0, 1.0, 1.0])  # computed once, not stacked
    else:
        with pytest.raises(
            ValueError,
            match='^nn.scan run with check_constancy_invariants=False does not support '
            'broadcast non-carry function outputs',
        ):
            Scanned().init_with_output(nn.random.PRNGKey(0), *args)
