"""The ``dropout`` known answer, on both backends (runner: conformance/kat_layers_stochastic.py)."""

from conformance.compare import to_numpy
from conformance.kat_layers_stochastic import RUNNERS
from shared_spec import kat
from shared_spec.tolerances import assert_close, assert_trees_close


def test_dropout_reproduces_the_known_answer(nn):
    case = kat.load_case("dropout")
    run = RUNNERS["dropout"](nn, case)
    assert_trees_close(
        to_numpy(run.variables), case.variables, family="prng_normal", err_msg=f"{nn.__name__} dropout variables"
    )
    (output,) = to_numpy(run.outputs)
    # The mask must be the seed's, bit for bit; the kept values went through a matmul.
    assert_close(output == 0, case.outputs[0] == 0, family="exact", err_msg=f"{nn.__name__} dropout mask")
    assert_close(output, case.outputs[0], family="matmul", err_msg=f"{nn.__name__} dropout output")
    assert run.mutated == {} and case.mutated == {}
