"""Every known-answer runner gives the same results on nnref and nnjax, and the known answer.

The runners of :mod:`conformance.kat_registry` are backend-neutral model code;
each is run on both backends. The two results are compared with each other
(same tree structure, container kinds and dtypes; values per the tolerance
table: initializer draws as 'prng_normal', computed values as 'matmul'), and
each against the vectors the seed system recorded.
"""

import pytest

from conformance.compare import Outcome, assert_same_outcome, skeleton, to_numpy
from conformance.kat_check import assert_matches_kat
from conformance.kat_models import KatRun
from conformance.kat_registry import ALL_RUNNERS as RUNNERS
from shared_spec import kat

nnref = pytest.importorskip("nnref")
nnjax = pytest.importorskip("nnjax")


def _run(nn, name, case):
    run = RUNNERS[name](nn, case)
    return KatRun(to_numpy(run.variables), to_numpy(list(run.outputs)), to_numpy(run.mutated))


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_kat_runner_agrees_across_backends_and_with_kat(name):
    case = kat.load_case(name)
    ref = _run(nnref, name, case)
    jax = _run(nnjax, name, case)
    for part in ("variables", "outputs", "mutated"):
        r, j = getattr(ref, part), getattr(jax, part)
        assert skeleton(j) == skeleton(r), f"{name}: {part} structure/dtypes differ"
        assert_same_outcome(Outcome(value=r), Outcome(value=j), f"{name}: {part}")
    for backend, run in (("nnref", ref), ("nnjax", jax)):
        assert_matches_kat(run, case, f"{backend} {name} vs KAT")


def test_every_kat_runner_has_a_case():
    missing = sorted(set(RUNNERS) - set(kat.case_names()))
    assert not missing, f"runners without a known-answer case: {missing}"


def test_every_model_kat_case_has_a_runner():
    model_cases = {name for name in kat.case_names() if name != "prng" and not name.startswith("init_")}
    assert model_cases == set(RUNNERS)
