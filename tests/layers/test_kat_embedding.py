"""The ``embed`` known answer, on both backends (runner: conformance/kat_layers_embedding.py)."""

import numpy as np

from conformance.compare import to_numpy
from conformance.kat_layers_embedding import RUNNERS
from shared_spec import kat
from shared_spec.tolerances import assert_close, assert_trees_close


def test_embed_reproduces_the_known_answer(nn):
    case = kat.load_case("embed")
    run = RUNNERS["embed"](nn, case)
    variables = to_numpy(run.variables)
    # The table is a normal draw; the output gathers rows of it.
    assert_trees_close(variables, case.variables, family="prng_normal", err_msg=f"{nn.__name__} embed variables")
    (output,) = to_numpy(run.outputs)
    assert output.dtype == np.float32
    assert_close(output, case.outputs[0], family="prng_normal", err_msg=f"{nn.__name__} embed output")
    # The output is exactly the backend's own rows, whatever its draw.
    assert_close(output, variables["params"]["embedding"][case.inputs[0]], family="exact")
