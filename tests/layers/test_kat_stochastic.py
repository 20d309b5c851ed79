"""The ``dropout`` known answer, on both backends (runner: conformance/kat_layers_stochastic.py)."""

from conformance.compare import to_numpy
from conformance.kat_check import assert_matches_kat, run_case
from conformance.kat_layers_stochastic import RUNNERS
from shared_spec.tolerances import assert_close


def test_dropout_reproduces_the_known_answer(nn):
    case, run = run_case(RUNNERS, "dropout", nn)
    # The kept values went through a matmul; nothing is mutated.
    assert_matches_kat(run, case, f"{nn.__name__} dropout", variables="prng_normal")
    # The mask must be the seed's, bit for bit.
    (output,) = to_numpy(run.outputs)
    assert_close(output == 0, case.outputs[0] == 0, family="exact", err_msg=f"{nn.__name__} dropout mask")
