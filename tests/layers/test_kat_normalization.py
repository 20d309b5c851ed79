"""The normalization known answers, on both backends (runners: conformance/kat_layers_normalization.py)."""

import numpy as np
import pytest

from conformance.compare import to_numpy
from conformance.kat_layers_normalization import RUNNERS
from shared_spec import kat
from shared_spec.tolerances import assert_close, assert_trees_close


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_normalization_reproduces_the_known_answer(nn, name):
    case = kat.load_case(name)
    run = RUNNERS[name](nn, case)
    # scale/bias are ones/zeros and batch_stats zeros/ones: exact.
    assert_trees_close(
        to_numpy(run.variables), case.variables, family="exact", err_msg=f"{nn.__name__} {name} variables"
    )
    (output,) = to_numpy(run.outputs)
    assert output.dtype == np.float32
    assert_close(output, case.outputs[0], family="normalization", err_msg=f"{nn.__name__} {name} output")
    assert_trees_close(
        to_numpy(run.mutated), case.mutated, family="normalization", err_msg=f"{nn.__name__} {name} mutated batch_stats"
    )
    if name == "batchnorm_train":
        assert set(run.mutated) == {"batch_stats"}
