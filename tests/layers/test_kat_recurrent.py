"""Recurrent-cell known answers, on both backends (runners: conformance/kat_layers_recurrent.py).

``gru`` is a runner. ``scan_lstm`` needs the lifted ``scan`` for the whole
case, but its parameters and its per-step arithmetic are plain LSTM-cell
facts, checked here with a Python loop over the time axis.
"""

import numpy as np
import pytest

from conformance.compare import to_numpy
from conformance.kat_check import assert_matches_kat, run_case
from conformance.kat_layers_recurrent import RUNNERS, layers
from shared_spec import kat
from shared_spec.tolerances import assert_close, assert_trees_close


def test_gru_reproduces_the_known_answer(nn):
    case, run = run_case(RUNNERS, "gru", nn)
    # Kernels are lecun_normal / orthogonal draws: the initializer row; outputs are (new carry, y).
    assert_matches_kat(run, case, f"{nn.__name__} gru", variables="prng_normal")
    assert list(run.variables["params"]) == list(case.variables["params"])


def _scanned_name_wrapper(nn, cell_cls):
    # nn.scan over a cell class names the scanned child ScanLSTMCell_0 and, with
    # params broadcast and unsplit, draws its parameters as a plain child.
    class Wrapper(nn.Module):
        @nn.compact
        def __call__(self, carry, x):
            return cell_cls(4, name="ScanLSTMCell_0")(carry, x)

    return Wrapper()


@pytest.mark.parametrize("cell_name", ["LSTMCell", "OptimizedLSTMCell"])
def test_lstm_cells_reproduce_scan_lstm_parameters_and_steps(nn, cell_name):
    case = kat.load_case("scan_lstm")
    cell_cls = getattr(layers(nn), cell_name)
    x = nn.numpy.asarray(case.inputs[0])  # (batch 2, time 5, features 3)
    carry = cell_cls(4).initialize_carry(nn.random.PRNGKey(0), (2, 3))
    variables = _scanned_name_wrapper(nn, cell_cls).init(nn.random.PRNGKey(10), carry, x[:, 0])
    assert_trees_close(
        to_numpy(variables),
        case.variables,
        family="prng_normal",
        err_msg=f"{nn.__name__} {cell_name} scan_lstm variables",
    )

    # One cell step per time index with the recorded parameters.
    cell_vars = {
        "params": {
            k: {p: nn.numpy.asarray(v) for p, v in d.items()}
            for k, d in case.variables["params"]["ScanLSTMCell_0"].items()
        }
    }
    ys = []
    for t in range(x.shape[1]):
        carry, y = cell_cls(4).apply(cell_vars, carry, x[:, t])
        ys.append(np.asarray(y))
    c, h = to_numpy(carry)
    assert_close(c, case.outputs[0], family="matmul", err_msg=f"{nn.__name__} {cell_name} final c")
    assert_close(h, case.outputs[1], family="matmul", err_msg=f"{nn.__name__} {cell_name} final h")
    assert_close(
        np.stack(ys, axis=1), case.outputs[2], family="matmul", err_msg=f"{nn.__name__} {cell_name} outputs over time"
    )
