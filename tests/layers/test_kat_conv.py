"""The seed system's known answers for Conv and ConvTranspose, on both backends."""

import numpy as np
import pytest

from conformance.kat_layers_conv import RUNNERS
from shared_spec import kat
from shared_spec.tolerances import assert_close, assert_trees_close


def _numpy(tree):
    if isinstance(tree, dict):
        return {k: _numpy(v) for k, v in tree.items()}
    return np.asarray(tree)


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_kat_case_reproduces(nn, name):
    case = kat.load_case(name)
    run = RUNNERS[name](nn, case)
    # Parameters are initializer draws (normal family); outputs are convolutions.
    assert_trees_close(_numpy(run.variables), case.variables, family="prng_normal", err_msg=f"{name}: variables")
    assert len(run.outputs) == len(case.outputs)
    for i, (got, want) in enumerate(zip(run.outputs, case.outputs)):
        assert_close(np.asarray(got), want, family="conv", err_msg=f"{name}: output {i}")
    assert not case.mutated or all(not v for v in case.mutated.values())
