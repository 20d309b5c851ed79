"""The linear_general known-answer cases reproduce on both backends (``conformance/kat_layers_linear_general.py``)."""

import numpy as np
import pytest

from conformance.kat_layers_linear_general import RUNNERS
from shared_spec import kat
from shared_spec.tolerances import assert_close, assert_trees_close


def _numpy(tree):
    if isinstance(tree, dict):
        return {k: _numpy(v) for k, v in tree.items()}
    return np.asarray(tree)


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_linear_general_kat(nn, name):
    case = kat.load_case(name)
    run = RUNNERS[name](nn, case)
    # Parameters are normal draws: compared with the PRNG-normal tolerance.
    assert_trees_close(
        _numpy(run.variables), case.variables, family="prng_normal", err_msg=f"{nn.__name__} {name}: variables"
    )
    assert len(run.outputs) == len(case.outputs)
    for i, (got, want) in enumerate(zip(run.outputs, case.outputs)):
        assert_close(got, want, family="matmul", err_msg=f"{nn.__name__} {name}: output {i}")
    assert_trees_close(_numpy(run.mutated), case.mutated, family="matmul", err_msg=f"{nn.__name__} {name}: mutated")
