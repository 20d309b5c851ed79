"""nnjax initializers give the seed's parameters bit for bit, eagerly and under ``jax.jit``.

The seed's Linen code calls initializers eagerly; ``nnjax.init`` usually
runs inside ``jax.jit``, where XLA may fold and fuse operations. Both must
land on the seed's bits (``normal`` once came out one ulp off under jit).
"""

import jax
import numpy as np
import pytest

import nnjax as nn
from tests.initializers15 import kat_cases as kat

# The float64 cases ask for float64 with x64 off, on purpose (JAX warns).
pytestmark = pytest.mark.filterwarnings("ignore:Explicitly requested dtype float64")


def _key():
    return jax.random.PRNGKey(kat.SEED)


@pytest.mark.parametrize("case", kat.REPRESENTATIVE, ids=[c["id"] for c in kat.REPRESENTATIVE])
def test_eager(case):
    init = kat.build(nn.initializers, case)
    actual = init(_key(), tuple(case["shape"]), kat.dtype(case))
    assert kat.same_bits(actual, case["expected"]), case["id"]


def test_jit():
    # One compiled function holding every case: one compilation, and each
    # case's arithmetic is independent of the others.
    def all_cases(key):
        return [
            kat.build(nn.initializers, case)(key, tuple(case["shape"]), kat.dtype(case)) for case in kat.REPRESENTATIVE
        ]

    outputs = jax.jit(all_cases)(_key())
    wrong = [
        case["id"]
        for case, out in zip(kat.REPRESENTATIVE, outputs)
        if not kat.same_bits(np.asarray(out), case["expected"])
    ]
    assert not wrong, f"differ from the seed under jit: {wrong}"


@pytest.mark.parametrize("builder", ["normal", "variance_scaling"])
def test_jit_inside_a_larger_computation(builder):
    # Scaling the result afterwards must not pull the initializer's own
    # multiply into a folded constant either.
    case = next(
        c
        for c in kat.CASES
        if c["builder"] == builder
        and c["dtype"] == "float32"
        and (builder != "variance_scaling" or c["args"][2] == "normal")
    )
    init = kat.build(nn.initializers, case)
    out = jax.jit(lambda key: init(key, tuple(case["shape"]), np.float32) * 3.0)(_key())
    expected = np.asarray(jax.numpy.asarray(case["expected"]) * 3.0)
    assert kat.same_bits(np.asarray(out), expected)


def test_model_init_under_jit_equals_eager_init():
    # What users run: nn.init under jit. Eagerly it is op by op, as in the
    # seed; the normal-initialized parameters must not move under jit.
    layer = nn.Embed(11, 5, embedding_init=nn.initializers.normal(0.02))
    ids = np.arange(3, dtype=np.int32)
    eager = layer.init(_key(), ids)
    jitted = jax.jit(layer.init)(_key(), ids)
    table = np.asarray(eager["params"]["embedding"])
    assert kat.same_bits(np.asarray(jitted["params"]["embedding"]), table)
