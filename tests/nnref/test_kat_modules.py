"""The seed system's known answers for the Module system, reproduced on nnref."""

import numpy as np
import pytest

import nnref
from conformance.kat_models import RUNNERS
from shared_spec import kat
from shared_spec.tolerances import assert_close, assert_trees_close


def _leaves_in_tree_order(tree):
    return nnref.tree_util.tree_leaves(tree)


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_kat_case_reproduces_on_nnref(name):
    case = kat.load_case(name)
    run = RUNNERS[name](nnref, case)
    # Same tree paths, same values: init is a pure function of the key.
    assert_trees_close(run.variables, case.variables, family="matmul", err_msg=f"{name}: variables")
    outputs = [leaf for out in run.outputs for leaf in _leaves_in_tree_order(out)]
    assert len(outputs) == len(case.outputs)
    for i, (got, want) in enumerate(zip(outputs, case.outputs)):
        assert np.shape(got) == want.shape, f"{name}: output {i} shape"
        assert_close(np.asarray(got), want, family="matmul", err_msg=f"{name}: output {i}")
    assert_trees_close(_as_arrays(run.mutated), case.mutated, family="matmul", err_msg=f"{name}: mutated")


def _as_arrays(tree):
    # sow stores a tuple of values; the KAT stores it stacked as one array
    def fix(x):
        if isinstance(x, tuple):
            return np.stack([np.asarray(v) for v in x])
        return x

    if isinstance(tree, dict):
        return {k: _as_arrays(v) if isinstance(v, dict) else fix(v) for k, v in tree.items()}
    return fix(tree)
