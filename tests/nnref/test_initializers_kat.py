"""nnref.initializers reproduces the seed system's initializer known answers.

Each case is ``nn.initializers.<name>()(PRNGKey(3), (6, 4), float32)``.
Uniform-based initializers are exact (the same bits and the same float32
operations); truncated-normal ones go through erfinv ('prng_normal');
orthogonal adds a QR factorisation, done by a different LAPACK build
('matmul').
"""

import numpy as np
import pytest

from nnref import initializers, random
from shared_spec import kat
from shared_spec.tolerances import assert_close

CASES = {
    "lecun_normal": "prng_normal",
    "glorot_uniform": "exact",
    "he_normal": "prng_normal",
    "orthogonal": "matmul",
    "xavier_normal": "prng_normal",
    "kaiming_uniform": "exact",
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("kind", ["raw", "typed"])
def test_initializer_case(name, kind):
    desired = kat.load_case(f"init_{name}").extras["value"]
    key = random.PRNGKey(3) if kind == "raw" else random.key(3)
    actual = getattr(initializers, name)()(key, (6, 4), np.float32)
    assert actual.dtype == np.float32
    assert_close(actual, desired, family=CASES[name], err_msg=name)
