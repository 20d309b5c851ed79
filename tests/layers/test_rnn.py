"""``RNN`` and ``Bidirectional`` on both backends, against step-by-step loops over the cell.

Every expectation is computed without the layer under test: the cell is
applied one step at a time (``cell.apply``) with the variables the layer
created, over the inputs in the order the seed system documents (reversed
for ``reverse``, each sequence's valid part reversed when ``seq_lengths`` is
given, outputs flipped back for ``keep_order``). Shapes are kept to a handful
(batch 2, 5 steps, 4 input features, 3 hidden units) so that JAX's per-shape
compilations are shared across tests.
"""

import importlib
import logging

import numpy as np
import pytest

from conformance.compare import to_numpy
from shared_spec.tolerances import assert_close

BATCH, STEPS, IN_FEATURES, FEATURES = 2, 5, 4, 3


def rnn_layers(nn):
    return importlib.import_module(f"{nn.__name__}.layers.rnn")


def cells(nn):
    return importlib.import_module(f"{nn.__name__}.layers.recurrent")


def _inputs(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _map(fn, tree):
    if isinstance(tree, tuple):
        return tuple(_map(fn, t) for t in tree)
    return fn(tree)


def _leaves(tree):
    return [leaf for t in tree for leaf in _leaves(t)] if isinstance(tree, tuple) else [tree]


def _assert_tree_close(actual, desired, what):
    actual, desired = to_numpy(actual), to_numpy(desired)
    assert type(actual) is type(desired), f"{what}: {type(actual).__name__} vs {type(desired).__name__}"
    got, want = _leaves(actual), _leaves(desired)
    assert len(got) == len(want), what
    for i, (a, d) in enumerate(zip(got, want)):
        assert_close(a, d, family="matmul", dtype="float32", err_msg=f"{what} [{i}]")


def _run_cell(nn, cell, cell_vars, carry, steps):
    """The cell applied to each step input in ``steps`` in turn: (carries after each step, outputs)."""
    carries, ys = [], []
    for x in steps:
        carry, y = cell.apply(cell_vars, carry, nn.numpy.asarray(x))
        carries.append(to_numpy(carry))
        ys.append(np.asarray(y))
    return carries, ys


def manual_rnn(nn, cell, cell_vars, carry, xs, *, time_major=False, reverse=False, keep_order=False):
    """What RNN must return for full-length sequences: ``(final_carry, outputs)``."""
    axis = 0 if time_major else xs.ndim - 2
    steps = list(np.moveaxis(xs, axis, 0))
    if reverse:
        steps = steps[::-1]
    carries, ys = _run_cell(nn, cell, cell_vars, carry, steps)
    if reverse and keep_order:
        ys = ys[::-1]
    return carries[-1], np.stack(ys, axis=axis)


def manual_padded_rnn(nn, cell, cell_vars, carry, xs, lengths, *, reverse=False, keep_order=False):
    """What RNN must return with ``seq_lengths`` (batch-major ``xs``, one batch axis), one sequence at a time.

    Each sequence is run on its own (the cell applied to unbatched steps).
    Reversed, a sequence of length L is processed as its valid steps
    backwards, then its padding steps backwards (the seed keeps padding at
    the end and flips it within itself); ``keep_order`` puts each output back
    at the position of the input it was computed from. The carry is the one
    after the L-th processed step.
    """
    final_carries, outputs = [], []
    for b, length in enumerate(lengths):
        length = int(length)
        order = list(range(STEPS))
        if reverse:
            order = order[:length][::-1] + order[length:][::-1]
        carries, ys = _run_cell(
            nn, cell, cell_vars, _map(lambda c, b=b: np.asarray(c)[b], carry), [xs[b, t] for t in order]
        )
        final_carries.append(carries[length - 1])
        if reverse and keep_order:
            placed = [None] * STEPS
            for processed, position in enumerate(order):
                placed[position] = ys[processed]
            ys = placed
        outputs.append(np.stack(ys))
    return _stack_trees(final_carries), np.stack(outputs)


def _stack_trees(trees):
    """Carries of single sequences stacked into a batch (tuples of arrays stacked leaf by leaf)."""
    if isinstance(trees[0], tuple):
        return tuple(_stack_trees([t[i] for t in trees]) for i in range(len(trees[0])))
    return np.stack(trees)


def _cell_variables(variables, *path):
    params = variables["params"]
    for name in path:
        params = params[name]
    return {"params": params}


def _zero_carry(nn, cell, batch=(BATCH,)):
    return cell.initialize_carry(nn.random.PRNGKey(0), batch + (IN_FEATURES,))


# ---------------------------------------------------------------- variables


def test_parameter_paths_top_level(nn):
    R = rnn_layers(nn)
    x = nn.numpy.asarray(_inputs((BATCH, STEPS, IN_FEATURES)))
    variables = R.RNN(nn.LSTMCell(FEATURES)).init(nn.random.PRNGKey(0), x)
    assert list(variables) == ["params"]
    assert list(variables["params"]) == ["cell"]
    lstm = variables["params"]["cell"]
    assert sorted(lstm) == ["hf", "hg", "hi", "ho", "if", "ig", "ii", "io"]
    assert np.shape(lstm["ii"]["kernel"]) == (IN_FEATURES, FEATURES)
    assert np.shape(lstm["hi"]["kernel"]) == (FEATURES, FEATURES)
    assert sorted(lstm["hi"]) == ["bias", "kernel"] and sorted(lstm["ii"]) == ["kernel"]


def test_parameter_paths_inside_parents(nn):
    R = rnn_layers(nn)
    x = nn.numpy.asarray(_inputs((BATCH, STEPS, IN_FEATURES)))

    class Compact(nn.Module):
        @nn.compact
        def __call__(self, x):
            # cells built in a compact method belong to the parent, under their auto-names
            y = R.RNN(nn.GRUCell(FEATURES), name="first")(x)
            return R.Bidirectional(R.RNN(nn.SimpleCell(2)), R.RNN(nn.SimpleCell(2)))(y)

    class Setup(nn.Module):
        def setup(self):
            self.rnn = R.RNN(nn.GRUCell(FEATURES))
            self.bi = R.Bidirectional(R.RNN(nn.SimpleCell(2)), R.RNN(nn.SimpleCell(2)))

        def __call__(self, x):
            return self.bi(self.rnn(x))

    params = Compact().init(nn.random.PRNGKey(0), x)["params"]
    assert sorted(params) == ["GRUCell_0", "SimpleCell_0", "SimpleCell_1"]
    assert np.shape(params["SimpleCell_0"]["i"]["kernel"]) == (FEATURES, 2)

    params = Setup().init(nn.random.PRNGKey(0), x)["params"]
    assert sorted(params) == ["bi", "rnn"]
    assert list(params["rnn"]) == ["cell"]
    assert sorted(params["bi"]) == ["backward_rnn", "forward_rnn"]
    assert list(params["bi"]["forward_rnn"]) == ["cell"]
    assert np.shape(params["bi"]["backward_rnn"]["cell"]["h"]["kernel"]) == (2, 2)


def test_parameters_equal_those_of_one_plain_cell_call(nn):
    # Broadcast params with unsplit rngs: the scan creates the cell's
    # parameters exactly as one ordinary call of the cell held in a field.
    R = rnn_layers(nn)

    class Wrapper(nn.Module):
        cell: nn.Module

        def __call__(self, carry, x):
            return self.cell(carry, x)

    xs = _inputs((BATCH, STEPS, IN_FEATURES))
    cell = nn.GRUCell(FEATURES)
    carry = _zero_carry(nn, cell)
    want = Wrapper(nn.GRUCell(FEATURES)).init(nn.random.PRNGKey(3), carry, nn.numpy.asarray(xs[:, 0]))
    got = R.RNN(cell).init(nn.random.PRNGKey(3), nn.numpy.asarray(xs))
    want, got = to_numpy(want)["params"]["cell"], to_numpy(got)["params"]["cell"]
    assert sorted(got) == sorted(want)
    for layer in want:
        for name in want[layer]:
            np.testing.assert_array_equal(got[layer][name], want[layer][name], err_msg=f"{layer}/{name}")


def test_per_step_parameters(nn):
    # variable_axes/split_rngs are forwarded to scan: one parameter slice per step.
    R = rnn_layers(nn)
    xs = _inputs((BATCH, STEPS, IN_FEATURES))
    layer = R.RNN(
        nn.SimpleCell(FEATURES), variable_axes={"params": 0}, variable_broadcast=False, split_rngs={"params": True}
    )
    variables = to_numpy(layer.init(nn.random.PRNGKey(4), nn.numpy.asarray(xs)))
    kernel = variables["params"]["cell"]["i"]["kernel"]
    assert kernel.shape == (STEPS, IN_FEATURES, FEATURES)
    assert not np.array_equal(kernel[0], kernel[1])  # split keys: each step its own draw
    cell = nn.SimpleCell(FEATURES)
    carry = _zero_carry(nn, cell)
    ys = []
    for t in range(STEPS):
        step_vars = {"params": {"cell": _map_dict(lambda a, t=t: a[t], variables["params"]["cell"])}}
        carry, y = cell.apply(_cell_variables(step_vars, "cell"), carry, nn.numpy.asarray(xs[:, t]))
        ys.append(np.asarray(y))
    _assert_tree_close(layer.apply(variables, nn.numpy.asarray(xs)), np.stack(ys, axis=1), "per-step params")


def _map_dict(fn, tree):
    return {k: _map_dict(fn, v) for k, v in tree.items()} if isinstance(tree, dict) else fn(tree)


# ---------------------------------------------------------------- shapes and options


@pytest.mark.parametrize("time_major", [False, True])
def test_shapes(nn, time_major):
    R = rnn_layers(nn)
    shape = (STEPS, BATCH, IN_FEATURES) if time_major else (BATCH, STEPS, IN_FEATURES)
    x = nn.numpy.asarray(_inputs(shape))
    layer = R.RNN(nn.LSTMCell(FEATURES), time_major=time_major)
    variables = layer.init(nn.random.PRNGKey(0), x)
    y = layer.apply(variables, x)
    assert np.shape(y) == shape[:2] + (FEATURES,)
    (c, h), y2 = layer.apply(variables, x, return_carry=True)
    assert np.shape(c) == np.shape(h) == (BATCH, FEATURES)
    np.testing.assert_array_equal(np.asarray(y2), np.asarray(y))


def test_unbatched_and_two_batch_axes(nn):
    R = rnn_layers(nn)
    cell = nn.GRUCell(FEATURES)
    layer = R.RNN(nn.GRUCell(FEATURES), return_carry=True)
    xs = _inputs((STEPS, IN_FEATURES))  # no batch axis: time is axis 0
    variables = layer.init(nn.random.PRNGKey(0), nn.numpy.asarray(xs))
    want = manual_rnn(nn, cell, _cell_variables(variables, "cell"), _zero_carry(nn, cell, ()), xs)
    _assert_tree_close(layer.apply(variables, nn.numpy.asarray(xs)), want, "unbatched")

    xs = _inputs((BATCH, 1, STEPS, IN_FEATURES))  # (*batch, time, features) with two batch axes
    want = manual_rnn(nn, cell, _cell_variables(variables, "cell"), _zero_carry(nn, cell, (BATCH, 1)), xs)
    _assert_tree_close(layer.apply(variables, nn.numpy.asarray(xs)), want, "two batch axes")


@pytest.mark.parametrize("time_major", [False, True])
@pytest.mark.parametrize("reverse,keep_order", [(False, False), (True, False), (True, True)])
def test_matches_step_by_step_loop(nn, time_major, reverse, keep_order):
    R = rnn_layers(nn)
    shape = (STEPS, BATCH, IN_FEATURES) if time_major else (BATCH, STEPS, IN_FEATURES)
    xs = _inputs(shape)
    layer = R.RNN(
        nn.LSTMCell(FEATURES), time_major=time_major, reverse=reverse, keep_order=keep_order, return_carry=True
    )
    variables = layer.init(nn.random.PRNGKey(1), nn.numpy.asarray(xs))
    cell = nn.LSTMCell(FEATURES)
    want = manual_rnn(
        nn,
        cell,
        _cell_variables(variables, "cell"),
        _zero_carry(nn, cell),
        xs,
        time_major=time_major,
        reverse=reverse,
        keep_order=keep_order,
    )
    _assert_tree_close(layer.apply(variables, nn.numpy.asarray(xs)), want, "RNN vs loop")


def test_keep_order_without_reverse_changes_nothing(nn):
    R = rnn_layers(nn)
    xs = nn.numpy.asarray(_inputs((BATCH, STEPS, IN_FEATURES)))
    layer = R.RNN(nn.GRUCell(FEATURES))
    variables = layer.init(nn.random.PRNGKey(0), xs)
    np.testing.assert_array_equal(
        np.asarray(layer.apply(variables, xs, keep_order=True)), np.asarray(layer.apply(variables, xs))
    )


def test_call_arguments_override_attributes(nn):
    R = rnn_layers(nn)
    xs = _inputs((BATCH, STEPS, IN_FEATURES))
    cell = nn.GRUCell(FEATURES)
    layer = R.RNN(nn.GRUCell(FEATURES), time_major=True, reverse=True, keep_order=True, return_carry=True)
    variables = layer.init(nn.random.PRNGKey(2), nn.numpy.asarray(np.swapaxes(xs, 0, 1)))
    _, want = manual_rnn(nn, cell, _cell_variables(variables, "cell"), _zero_carry(nn, cell), xs)
    got = layer.apply(
        variables, nn.numpy.asarray(xs), time_major=False, reverse=False, keep_order=False, return_carry=False
    )
    _assert_tree_close(got, want, "overridden")


def test_unroll_gives_the_same_numbers(nn):
    R = rnn_layers(nn)
    xs = nn.numpy.asarray(_inputs((BATCH, STEPS, IN_FEATURES)))
    variables = R.RNN(nn.GRUCell(FEATURES)).init(nn.random.PRNGKey(0), xs)
    _assert_tree_close(
        R.RNN(nn.GRUCell(FEATURES), unroll=2).apply(variables, xs),
        R.RNN(nn.GRUCell(FEATURES)).apply(variables, xs),
        "unroll=2",
    )


# ---------------------------------------------------------------- the first carry


def test_initial_carry_from_init_key_default_prngkey_0(nn):
    R = rnn_layers(nn)
    xs = _inputs((BATCH, STEPS, IN_FEATURES))
    make = lambda: nn.SimpleCell(FEATURES, carry_init=nn.initializers.normal(1.0))  # noqa: E731
    layer = R.RNN(make(), return_carry=True)
    variables = layer.init(nn.random.PRNGKey(9), nn.numpy.asarray(xs))
    cell = make()
    step_shape = (BATCH, IN_FEATURES)
    for init_key, seed in ((None, 0), (nn.random.PRNGKey(7), 7)):
        first = cell.initialize_carry(nn.random.PRNGKey(seed), step_shape)
        want = manual_rnn(nn, cell, _cell_variables(variables, "cell"), first, xs)
        got = layer.apply(variables, nn.numpy.asarray(xs), init_key=init_key)
        _assert_tree_close(got, want, f"init_key={init_key}")
    first = nn.numpy.asarray(_inputs((BATCH, FEATURES), seed=5))
    want = manual_rnn(nn, cell, _cell_variables(variables, "cell"), first, xs)
    _assert_tree_close(layer.apply(variables, nn.numpy.asarray(xs), initial_carry=first), want, "initial_carry")


# ---------------------------------------------------------------- padded sequences


@pytest.mark.parametrize("reverse,keep_order", [(False, False), (True, False), (True, True)])
def test_seq_lengths_match_per_sequence_loops(nn, reverse, keep_order):
    R = rnn_layers(nn)
    xs = _inputs((BATCH, STEPS, IN_FEATURES), seed=3)
    lengths = np.array([3, STEPS])
    make = lambda: nn.LSTMCell(FEATURES, carry_init=nn.initializers.normal(1.0))  # noqa: E731
    layer = R.RNN(make(), reverse=reverse, keep_order=keep_order, return_carry=True)
    variables = layer.init(nn.random.PRNGKey(1), nn.numpy.asarray(xs), seq_lengths=nn.numpy.asarray(lengths))
    cell = make()
    first = cell.initialize_carry(nn.random.PRNGKey(0), (BATCH, IN_FEATURES))
    want = manual_padded_rnn(
        nn, cell, _cell_variables(variables, "cell"), first, xs, lengths, reverse=reverse, keep_order=keep_order
    )
    got = layer.apply(variables, nn.numpy.asarray(xs), seq_lengths=nn.numpy.asarray(lengths))
    _assert_tree_close(got, want, "padded")
    # without return_carry, the same outputs
    outputs = layer.apply(variables, nn.numpy.asarray(xs), seq_lengths=nn.numpy.asarray(lengths), return_carry=False)
    _assert_tree_close(outputs, want[1], "padded outputs")


def test_seq_lengths_do_not_zero_padding_outputs(nn):
    # Forward, the padding steps are computed like any other: outputs equal
    # the unpadded run's, only the carry is taken at each sequence's end.
    R = rnn_layers(nn)
    xs = nn.numpy.asarray(_inputs((BATCH, STEPS, IN_FEATURES), seed=4))
    layer = R.RNN(nn.GRUCell(FEATURES), return_carry=True)
    variables = layer.init(nn.random.PRNGKey(0), xs)
    (carry, ys) = layer.apply(variables, xs, seq_lengths=nn.numpy.asarray(np.array([2, 4])))
    full_carry, full_ys = layer.apply(variables, xs)
    _assert_tree_close(ys, full_ys, "outputs")
    _, prefix2 = layer.apply(variables, xs[:, :2])
    _, prefix4 = layer.apply(variables, xs[:, :4])
    _assert_tree_close(carry, np.stack([np.asarray(prefix2)[0, -1], np.asarray(prefix4)[1, -1]]), "carry")
    assert not np.allclose(np.asarray(carry), np.asarray(full_carry))


def test_seq_length_zero_takes_the_last_step_carry(nn):
    # The seed picks carry index length-1, so a length of 0 wraps to the last step.
    R = rnn_layers(nn)
    xs = nn.numpy.asarray(_inputs((BATCH, STEPS, IN_FEATURES), seed=6))
    layer = R.RNN(nn.GRUCell(FEATURES), return_carry=True)
    variables = layer.init(nn.random.PRNGKey(0), xs)
    carry, _ = layer.apply(variables, xs, seq_lengths=nn.numpy.asarray(np.array([0, 1])))
    full_carry, ys = layer.apply(variables, xs)
    want = np.stack([np.asarray(full_carry)[0], np.asarray(ys)[1, 0]])
    _assert_tree_close(carry, want, "length 0")


def test_seq_lengths_with_two_batch_axes(nn):
    R = rnn_layers(nn)
    xs = _inputs((BATCH, 1, STEPS, IN_FEATURES), seed=7)
    lengths = np.array([[2], [4]])
    layer = R.RNN(nn.SimpleCell(FEATURES), return_carry=True, reverse=True, keep_order=True)
    variables = layer.init(nn.random.PRNGKey(0), nn.numpy.asarray(xs))
    cell = nn.SimpleCell(FEATURES)
    want = manual_padded_rnn(
        nn,
        cell,
        _cell_variables(variables, "cell"),
        _zero_carry(nn, cell),
        xs[:, 0],
        lengths[:, 0],
        reverse=True,
        keep_order=True,
    )
    carry, ys = layer.apply(variables, nn.numpy.asarray(xs), seq_lengths=nn.numpy.asarray(lengths))
    _assert_tree_close((carry[:, 0], ys[:, 0]), want, "two batch axes")


def test_flip_sequences(nn):
    R = rnn_layers(nn)
    x = np.array([[1, 2, 3, 7, 8], [4, 5, 6, 9, 0]])
    flipped = np.asarray(
        R.flip_sequences(nn.numpy.asarray(x), nn.numpy.asarray(np.array([3, 5])), num_batch_dims=1, time_major=False)
    )
    # valid parts reversed; padding kept at the end (reversed within itself, as the seed does)
    np.testing.assert_array_equal(flipped, [[3, 2, 1, 8, 7], [0, 9, 6, 5, 4]])
    back = R.flip_sequences(
        nn.numpy.asarray(flipped.T), nn.numpy.asarray(np.array([3, 5])), num_batch_dims=1, time_major=True
    )
    np.testing.assert_array_equal(np.asarray(back).T, x)
    np.testing.assert_array_equal(
        np.asarray(R.flip_sequences(nn.numpy.asarray(x), None, num_batch_dims=1, time_major=False)), x[:, ::-1]
    )


# ---------------------------------------------------------------- Bidirectional


@pytest.mark.parametrize("time_major", [False, True])
@pytest.mark.parametrize("padded", [False, True])
def test_bidirectional_is_forward_and_reversed_rnn(nn, time_major, padded):
    R = rnn_layers(nn)
    xs = _inputs((BATCH, STEPS, IN_FEATURES), seed=8)
    lengths = np.array([4, 2]) if padded else None
    layer = R.Bidirectional(
        R.RNN(nn.LSTMCell(FEATURES)), R.RNN(nn.GRUCell(2)), time_major=time_major, return_carry=True
    )
    arg = nn.numpy.asarray(np.swapaxes(xs, 0, 1) if time_major else xs)
    kwargs = {} if lengths is None else {"seq_lengths": nn.numpy.asarray(lengths)}
    variables = layer.init(nn.random.PRNGKey(0), arg, **kwargs)
    fwd_cell, bwd_cell = nn.LSTMCell(FEATURES), nn.GRUCell(2)
    fwd_vars = _cell_variables(variables, "forward_rnn", "cell")
    bwd_vars = _cell_variables(variables, "backward_rnn", "cell")
    if lengths is None:
        fwd = manual_rnn(nn, fwd_cell, fwd_vars, _zero_carry(nn, fwd_cell), xs)
        bwd = manual_rnn(nn, bwd_cell, bwd_vars, _zero_carry(nn, bwd_cell), xs, reverse=True, keep_order=True)
    else:
        fwd = manual_padded_rnn(nn, fwd_cell, fwd_vars, _zero_carry(nn, fwd_cell), xs, lengths)
        bwd = manual_padded_rnn(
            nn, bwd_cell, bwd_vars, _zero_carry(nn, bwd_cell), xs, lengths, reverse=True, keep_order=True
        )
    (carry_f, carry_b), ys = layer.apply(variables, arg, **kwargs)
    if time_major:
        ys = np.swapaxes(np.asarray(ys), 0, 1)
    assert np.shape(ys) == (BATCH, STEPS, FEATURES + 2)
    _assert_tree_close(ys, np.concatenate([fwd[1], bwd[1]], axis=-1), "outputs")
    _assert_tree_close(carry_f, fwd[0], "forward carry")
    _assert_tree_close(carry_b, bwd[0], "backward carry")


def test_bidirectional_keys_carries_and_merge(nn):
    R = rnn_layers(nn)
    xs = _inputs((BATCH, STEPS, IN_FEATURES), seed=9)
    make = lambda: nn.SimpleCell(FEATURES, carry_init=nn.initializers.normal(1.0))  # noqa: E731
    layer = R.Bidirectional(R.RNN(make()), R.RNN(make()), merge_fn=lambda a, b: a - b)
    variables = layer.init(nn.random.PRNGKey(0), nn.numpy.asarray(xs))
    cell = make()
    fwd_vars = _cell_variables(variables, "forward_rnn", "cell")
    bwd_vars = _cell_variables(variables, "backward_rnn", "cell")

    def expect(first_f, first_b):
        _, f = manual_rnn(nn, cell, fwd_vars, first_f, xs)
        _, b = manual_rnn(nn, cell, bwd_vars, first_b, xs, reverse=True, keep_order=True)
        return f - b

    step_shape = (BATCH, IN_FEATURES)
    # no init_key: each RNN uses its own default key, PRNGKey(0)
    zero = cell.initialize_carry(nn.random.PRNGKey(0), step_shape)
    _assert_tree_close(layer.apply(variables, nn.numpy.asarray(xs)), expect(zero, zero), "default keys")
    # an init_key is split in two, the first half for the forward RNN
    key_f, key_b = nn.random.split(nn.random.PRNGKey(11))
    want = expect(cell.initialize_carry(key_f, step_shape), cell.initialize_carry(key_b, step_shape))
    _assert_tree_close(layer.apply(variables, nn.numpy.asarray(xs), init_key=nn.random.PRNGKey(11)), want, "init_key")
    # an initial carry is a (forward, backward) pair
    first_f = nn.numpy.asarray(_inputs(step_shape[:1] + (FEATURES,), seed=1))
    first_b = nn.numpy.asarray(_inputs(step_shape[:1] + (FEATURES,), seed=2))
    _assert_tree_close(
        layer.apply(variables, nn.numpy.asarray(xs), initial_carry=(first_f, first_b)),
        expect(first_f, first_b),
        "initial_carry",
    )


def test_bidirectional_shared_rnn_warns_and_shares_parameters(nn, caplog):
    R = rnn_layers(nn)
    xs = nn.numpy.asarray(_inputs((BATCH, STEPS, IN_FEATURES)))
    rnn = R.RNN(nn.GRUCell(FEATURES))
    layer = R.Bidirectional(rnn, rnn)
    with caplog.at_level(logging.WARNING):
        variables = layer.init(nn.random.PRNGKey(0), xs)
    assert any("share" in record.getMessage() for record in caplog.records)
    assert sorted(variables["params"]) == ["forward_rnn"]
    assert np.shape(layer.apply(variables, xs)) == (BATCH, STEPS, 2 * FEATURES)


# ---------------------------------------------------------------- errors


def test_inputs_without_time_axis_are_refused(nn):
    R = rnn_layers(nn)
    with pytest.raises(ValueError, match="time axis"):
        R.RNN(nn.GRUCell(FEATURES)).init(nn.random.PRNGKey(0), nn.numpy.ones((IN_FEATURES,)))
