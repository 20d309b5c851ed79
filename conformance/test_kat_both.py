"""Every known-answer runner gives the same results on nnref and nnjax, and the known answer.

The runners of :mod:`conformance.kat_registry` are backend-neutral model code;
each is run on both backends. The two results are compared with each other
(same tree structure, container kinds and dtypes; values per the tolerance
table: initializer draws as 'prng_normal', computed values as 'matmul'), and
each against the vectors the seed system recorded.
"""

import numpy as np
import pytest

from conformance.compare import Outcome, assert_same_outcome, skeleton, to_numpy
from conformance.kat_registry import ALL_RUNNERS as RUNNERS
from shared_spec import kat
from shared_spec.tolerances import assert_close, assert_trees_close

nnref = pytest.importorskip("nnref")
nnjax = pytest.importorskip("nnjax")


def _stack_sown(tree):
    # sow stores a tuple of values; the KAT stores it stacked as one array.
    if isinstance(tree, dict):
        return {k: _stack_sown(v) for k, v in tree.items()}
    if isinstance(tree, tuple):
        return np.stack([np.asarray(v) for v in tree])
    return np.asarray(tree)


def _leaves(tree):
    if isinstance(tree, dict):
        return [leaf for k in tree for leaf in _leaves(tree[k])]
    if isinstance(tree, (tuple, list)):
        return [leaf for v in tree for leaf in _leaves(v)]
    return [tree]


def _run(nn, name, case):
    run = RUNNERS[name](nn, case)
    return to_numpy(run.variables), to_numpy(list(run.outputs)), to_numpy(run.mutated)


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_kat_runner_agrees_across_backends_and_with_kat(name):
    case = kat.load_case(name)
    ref = _run(nnref, name, case)
    jax = _run(nnjax, name, case)
    for part, r, j in zip(("variables", "outputs", "mutated"), ref, jax):
        assert skeleton(j) == skeleton(r), f"{name}: {part} structure/dtypes differ"
        assert_same_outcome(Outcome(value=r), Outcome(value=j), f"{name}: {part}")
    for backend, (variables, outputs, mutated) in (("nnref", ref), ("nnjax", jax)):
        assert_trees_close(
            _stack_sown(variables), case.variables, family="matmul", err_msg=f"{backend} {name}: variables vs KAT"
        )
        leaves = _leaves(outputs)
        assert len(leaves) == len(case.outputs), f"{backend} {name}: number of outputs"
        for i, (got, want) in enumerate(zip(leaves, case.outputs)):
            assert_close(got, want, family="matmul", err_msg=f"{backend} {name}: output {i} vs KAT")
        assert_trees_close(
            _stack_sown(mutated), case.mutated, family="matmul", err_msg=f"{backend} {name}: mutated vs KAT"
        )


def test_every_kat_runner_has_a_case():
    missing = sorted(set(RUNNERS) - set(kat.case_names()))
    assert not missing, f"runners without a known-answer case: {missing}"


def test_every_model_kat_case_has_a_runner():
    model_cases = {name for name in kat.case_names() if name != "prng" and not name.startswith("init_")}
    assert model_cases == set(RUNNERS)
