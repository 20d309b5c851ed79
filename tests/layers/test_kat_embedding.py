"""The ``embed`` known answer, on both backends (runner: conformance/kat_layers_embedding.py)."""

from conformance.compare import to_numpy
from conformance.kat_check import assert_matches_kat, run_case
from conformance.kat_layers_embedding import RUNNERS
from shared_spec.tolerances import assert_close


def test_embed_reproduces_the_known_answer(nn):
    case, run = run_case(RUNNERS, "embed", nn)
    # The table is a normal draw; the output gathers rows of it.
    assert_matches_kat(run, case, f"{nn.__name__} embed", variables="prng_normal", outputs="prng_normal")
    # The output is exactly the backend's own rows, whatever its draw.
    (output,) = to_numpy(run.outputs)
    assert_close(output, to_numpy(run.variables)["params"]["embedding"][case.inputs[0]], family="exact")
