"""``variable_axes`` values wrapped in ``In(axis)`` / ``Out(axis)`` (nn.vmap, nn.scan, partitioning).

``In(a)``: the collection is lifted in only (sliced along ``a``, read-only in
the body, nothing it writes comes back, it cannot be created there);
``Out(a)``: out only (the body starts without it; what it creates or writes
is stacked along ``a`` and returned). The expected values and error classes
below were observed on the seed system (flax 0.12.8) running the same code
in a scratch script; they are written out literally, each with where it came
from. Every test runs on both backends (the ``nn`` fixture).
"""

import numpy as np
import pytest

from shared_spec import errors
from shared_spec.in_out_axes import In, Out


def _vmapped_dense(nn, axis):
    return nn.vmap(nn.Dense, in_axes=0, out_axes=0, variable_axes={'params': axis}, split_rngs={'params': True})


def _params_shapes(variables):
    return {k: np.shape(v) for k, v in variables['params'].items()}


# -- (1) nn.vmap with 'params': In(0) / Out(0) --------------------------------------------


def test_vmap_in_reads_existing_params(nn):
    x = np.ones((3, 2, 5), np.float32)
    variables = _vmapped_dense(nn, 0)(4).init(nn.random.PRNGKey(0), x)
    plain = np.asarray(_vmapped_dense(nn, 0)(4).apply(variables, x))
    y = _vmapped_dense(nn, In(0))(4).apply(variables, x)
    np.testing.assert_array_equal(np.asarray(y), plain)  # seed: In(0) output == plain 0 output (bitwise)
    # seed: mutable=['params'] returns the given params untouched (nothing written inside comes out)
    _, state = _vmapped_dense(nn, In(0))(4).apply(variables, x, mutable=['params'])
    assert _params_shapes(state) == {'bias': (3, 4), 'kernel': (3, 5, 4)}
    np.testing.assert_array_equal(np.asarray(state['params']['kernel']), np.asarray(variables['params']['kernel']))


def test_vmap_in_cannot_create_params_at_init(nn):
    x = np.ones((3, 2, 5), np.float32)
    # seed: ScopeCollectionNotFound 'Tried to access "kernel" from collection "params" ... is empty.'
    with pytest.raises(errors.ScopeCollectionNotFound, match=r"(?s)Tried to access \"kernel\".*in only"):
        _vmapped_dense(nn, In(0))(4).init(nn.random.PRNGKey(0), x)


def test_vmap_out_creates_params_but_cannot_read_them(nn):
    x = np.ones((3, 2, 5), np.float32)
    plain = _vmapped_dense(nn, 0)(4).init(nn.random.PRNGKey(0), x)
    y, created = _vmapped_dense(nn, Out(0))(4).init_with_output(nn.random.PRNGKey(0), x)
    # seed: Out(0) init == plain 0 init (same keys, same stacking), output (3, 2, 4)
    assert np.shape(y) == (3, 2, 4)
    for name in ('kernel', 'bias'):
        np.testing.assert_array_equal(np.asarray(created['params'][name]), np.asarray(plain['params'][name]))
    # seed: apply raises ScopeCollectionNotFound (the body starts without 'params')
    with pytest.raises(errors.ScopeCollectionNotFound, match="out only"):
        _vmapped_dense(nn, Out(0))(4).apply(plain, x)


# -- (2) nn.scan and partitioning.scan_with_axes with ScanIn / ScanOut ---------------------


def _layer(nn):
    class Layer(nn.Module):
        @nn.compact
        def __call__(self, x, _):
            w = nn.partitioning.param_with_axes('w', nn.initializers.ones_init(), (3, 3), axes=('embed', 'mlp'))
            return x @ w, None

    return Layer


def _scan_with_axes(nn, axis):
    return nn.partitioning.scan_with_axes(
        _layer(nn), variable_axes={'params': axis}, split_rngs={'params': True}, length=4
    )


def test_partitioning_scan_in(nn):
    P = nn.partitioning
    assert P.ScanIn is In and P.ScanOut is Out
    x = np.ones((2, 3), np.float32)
    variables = _scan_with_axes(nn, 0)().init(nn.random.PRNGKey(0), x, None)
    # seed: init with ScanIn(0) raises ScopeCollectionNotFound
    with pytest.raises(errors.ScopeCollectionNotFound):
        _scan_with_axes(nn, P.ScanIn(0))().init(nn.random.PRNGKey(0), x, None)
    # seed: apply works; four steps of x @ ones((3, 3)) from ones((2, 3)): every entry 3**4 = 81
    y, _ = _scan_with_axes(nn, P.ScanIn(0))().apply(variables, x, None)
    np.testing.assert_array_equal(np.asarray(y), np.full((2, 3), 81.0, np.float32))
    # seed: mutable=True returns the given params and params_axes unchanged
    _, state = _scan_with_axes(nn, P.ScanIn(0))().apply(variables, x, None, mutable=True)
    assert sorted(state) == ['params', 'params_axes']
    assert np.shape(state['params']['w']) == (4, 3, 3)
    assert tuple(state['params_axes']['w_axes'].names) == ('layers', 'embed', 'mlp')


def test_partitioning_scan_out(nn):
    P = nn.partitioning
    x = np.ones((2, 3), np.float32)
    # seed: init with ScanOut(0) gives the plain tree: params (4, 3, 3), names ('layers', 'embed', 'mlp')
    variables = _scan_with_axes(nn, P.ScanOut(0))().init(nn.random.PRNGKey(0), x, None)
    assert np.shape(variables['params']['w']) == (4, 3, 3)
    assert tuple(variables['params_axes']['w_axes'].names) == ('layers', 'embed', 'mlp')
    # seed: apply raises ScopeCollectionNotFound; apply(mutable=True) tries to create 'w': InvalidRngError
    with pytest.raises(errors.ScopeCollectionNotFound):
        _scan_with_axes(nn, P.ScanOut(0))().apply(variables, x, None)
    with pytest.raises(errors.InvalidRngError):
        _scan_with_axes(nn, P.ScanOut(0))().apply(variables, x, None, mutable=True)


def _block(nn):
    class Blk(nn.Module):
        @nn.compact
        def __call__(self, c, x):
            h = nn.Dense(3)(c) + x
            return h, h.sum()

    return Blk


def _scan_params(nn, axis):
    return nn.scan(_block(nn), variable_axes={'params': axis}, split_rngs={'params': True})


def _scan_inputs():
    c0 = np.ones((2, 3), np.float32)
    xs = np.arange(24.0, dtype=np.float32).reshape(4, 2, 3) / 10
    variables = {
        'params': {
            'Dense_0': {
                'kernel': np.arange(36.0, dtype=np.float32).reshape(4, 3, 3) / 50,
                'bias': np.arange(12.0, dtype=np.float32).reshape(4, 3) / 7,
            }
        }
    }
    return c0, xs, variables


def test_scan_in_and_out_params(nn):
    c0, xs, variables = _scan_inputs()
    plain_c, plain_ys = _scan_params(nn, 0)().apply(variables, c0, xs)
    c, ys = _scan_params(nn, In(0))().apply(variables, c0, xs)  # seed: In(0) apply == plain 0 apply
    np.testing.assert_array_equal(np.asarray(c), np.asarray(plain_c))
    np.testing.assert_array_equal(np.asarray(ys), np.asarray(plain_ys))
    # seed: Out(1) init stacks along axis 1: kernel (3, 4, 3), bias (3, 4)
    created = _scan_params(nn, Out(1))().init(nn.random.PRNGKey(1), c0, xs)
    assert {k: np.shape(v) for k, v in created['params']['Dense_0'].items()} == {'kernel': (3, 4, 3), 'bias': (3, 4)}
    # seed: In(1) slices the (4, 3, 3) kernel along axis 1: ScopeParamShapeError (expected (3, 3), got (4, 3))
    with pytest.raises(errors.ScopeParamShapeError):
        _scan_params(nn, In(1))().apply(variables, c0, xs)
    # seed: Out(0) apply(mutable=True) re-creates the params inside and has no 'params' key: InvalidRngError
    with pytest.raises(errors.InvalidRngError):
        _scan_params(nn, Out(0))().apply(variables, c0, xs, mutable=True)


# -- (3) a mutable collection with Out(0) / In(0) ------------------------------------------


def _counter(nn):
    class Counter(nn.Module):
        @nn.compact
        def __call__(self, x):
            count = self.variable('stats', 'count', lambda: nn.numpy.zeros((), nn.numpy.int32))
            count.value += 1
            total = self.variable('stats', 'total', lambda: nn.numpy.zeros(()))
            total.value = total.value + x.sum()
            self.sow('intermediates', 'x', x.sum())
            return x * 2.0

    return Counter


def _vmapped_counter(nn, stats_axis, intermediates_axis=Out(0)):
    return nn.vmap(
        _counter(nn), variable_axes={'stats': stats_axis, 'intermediates': intermediates_axis}, split_rngs={}
    )


_X = np.arange(6.0, dtype=np.float32).reshape(3, 2)  # row sums 1, 5, 9
_STATS = {'stats': {'count': np.array([5, 6, 7], np.int32), 'total': np.array([10.0, 20.0, 30.0], np.float32)}}


def _values(tree):
    return {k: np.asarray(v).tolist() for k, v in tree.items()}


@pytest.mark.parametrize(
    'stats_axis, expected',
    [
        # seed: a plain axis reads the given stats and writes them back
        (0, {'count': [6, 7, 8], 'total': [11.0, 25.0, 39.0]}),
        # seed: Out(0) does not see the given stats; the body creates them afresh
        (Out(0), {'count': [1, 1, 1], 'total': [1.0, 5.0, 9.0]}),
    ],
)
def test_vmap_mutable_collection(nn, stats_axis, expected):
    y, state = _vmapped_counter(nn, stats_axis)().apply(_STATS, _X, mutable=True)
    np.testing.assert_array_equal(np.asarray(y), 2 * _X)
    assert _values(state['stats']) == expected
    # seed: the Out(0) intermediates come out stacked: {'x': ([1.0, 5.0, 9.0],)}
    assert [np.asarray(v).tolist() for v in state['intermediates']['x']] == [[1.0, 5.0, 9.0]]


def test_vmap_out_collection_at_init_and_immutable(nn):
    # seed: init creates stats {'count': [1, 1, 1], 'total': [1.0, 5.0, 9.0]} (intermediates not kept by init)
    variables = _vmapped_counter(nn, Out(0))().init(nn.random.PRNGKey(0), _X)
    assert sorted(variables) == ['stats']
    assert _values(variables['stats']) == {'count': [1, 1, 1], 'total': [1.0, 5.0, 9.0]}
    # seed: with 'stats' immutable, the Out(0) body cannot read the given stats: ScopeCollectionNotFound
    with pytest.raises(errors.ScopeCollectionNotFound):
        _vmapped_counter(nn, Out(0))().apply(_STATS, _X)


def test_vmap_in_collection_is_read_only(nn):
    # seed: In(0) at init: ScopeCollectionNotFound; at apply, even mutable: ModifyScopeVariableError
    with pytest.raises(errors.ScopeCollectionNotFound):
        _vmapped_counter(nn, In(0))().init(nn.random.PRNGKey(0), _X)
    with pytest.raises(errors.ModifyScopeVariableError, match="in only"):
        _vmapped_counter(nn, In(0))().apply(_STATS, _X, mutable=True)


def test_vmap_out_axis_that_does_not_fit(nn):
    # seed: Out(1) on scalar stats: ValueError (axis 1 out of bounds for the stacked (3,) values)
    with pytest.raises(ValueError):
        _vmapped_counter(nn, Out(1))().init(nn.random.PRNGKey(0), _X)


def _twice(nn, intermediates_axis):
    counter = _counter(nn)

    class Twice(nn.Module):
        @nn.compact
        def __call__(self, x):
            self.sow('intermediates', 'pre', x.sum())
            m = nn.vmap(counter, variable_axes={'stats': 0, 'intermediates': intermediates_axis}, split_rngs={})(
                name='v'
            )
            return m(m(x))

    return Twice


@pytest.mark.parametrize(
    'axis, expected',
    [
        (0, [[1.0, 5.0, 9.0], [2.0, 10.0, 18.0]]),  # seed: a plain axis: the second call appends
        (Out(0), [[2.0, 10.0, 18.0]]),  # seed: Out(0): each call starts empty; the last one wins
    ],
)
def test_sow_twice_through_vmap(nn, axis, expected):
    stats = {'stats': {'v': _STATS['stats']}}
    y, state = _twice(nn, axis)().apply(stats, _X, mutable=True)
    np.testing.assert_array_equal(np.asarray(y), 4 * _X)
    assert [np.asarray(v).tolist() for v in state['intermediates']['v']['x']] == expected
    assert [np.asarray(v).tolist() for v in state['intermediates']['pre']] == [15.0]
    # seed: {'count': [7, 8, 9], 'total': [13.0, 35.0, 57.0]} either way
    assert _values(state['stats']['v']) == {'count': [7, 8, 9], 'total': [13.0, 35.0, 57.0]}


def _scanned_stats(nn, axis):
    class SBlk(nn.Module):
        @nn.compact
        def __call__(self, c, x):
            n = self.variable('stats', 'n', lambda: nn.numpy.zeros((), nn.numpy.float32))
            n.value = n.value + x.sum()
            self.sow('intermediates', 'h', c.sum())
            return c + x, n.value

    return nn.scan(SBlk, variable_axes={'stats': axis, 'intermediates': Out(0)}, split_rngs={})


def test_scan_mutable_collection(nn):
    c0, xs, _ = _scan_inputs()  # step sums of xs: 1.5, 5.1, 8.7, 12.3
    given = {'stats': {'n': np.arange(4.0, dtype=np.float32)}}
    _, state = _scanned_stats(nn, 0)().apply(given, c0, xs, mutable=True)
    np.testing.assert_allclose(np.asarray(state['stats']['n']), [1.5, 6.1, 10.7, 15.3], rtol=1e-6)  # seed
    (c, ys), state = _scanned_stats(nn, Out(0))().apply(given, c0, xs, mutable=True)
    np.testing.assert_allclose(np.asarray(ys), [1.5, 5.1, 8.7, 12.3], rtol=1e-6)  # seed: fresh n per step
    np.testing.assert_allclose(np.asarray(state['stats']['n']), [1.5, 5.1, 8.7, 12.3], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(state['intermediates']['h'][0]), [6.0, 7.5, 12.6, 21.3], rtol=1e-6)
    with pytest.raises(errors.ModifyScopeVariableError):  # seed: In(0) is read-only inside
        _scanned_stats(nn, In(0))().apply(given, c0, xs, mutable=True)
    with pytest.raises(errors.ScopeCollectionNotFound):  # seed: In(0) at init
        _scanned_stats(nn, In(0))().init(nn.random.PRNGKey(0), c0, xs)


# -- arguments -----------------------------------------------------------------------------


@pytest.mark.parametrize('transform', ['vmap', 'scan'])
@pytest.mark.parametrize('value', [In('a'), Out(1.5), In(In(0))])
def test_marker_must_wrap_an_axis(nn, transform, value):
    # the seed accepts these when the transform is made and fails inside the call; both backends check
    # variable_axes values when the transform is made, as for any other value that is not an axis
    with pytest.raises(TypeError, match="In\\(...\\)"):
        getattr(nn, transform)(nn.Dense, variable_axes={'params': value})
