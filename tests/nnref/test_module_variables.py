"""nnref-only variable semantics: NumPy's in-place ``+=`` must not leak.

The backend-neutral variable tests live in ``tests/semantics/test_variables.py``.
This one stays here because it is about NumPy arrays being mutable: nnref
hands model code private copies so that ``v.value += 1`` or ``p += 1`` never
writes into stored variables or the caller's arrays. nnjax computes with
immutable JAX arrays and, like Flax, does not copy NumPy leaves a caller or an
init function supplies, so the guarantee is nnref's own.
"""

import numpy as np
import pytest

import nnref as nn
from shared_spec import errors

KEY = nn.random.PRNGKey(0)


def test_in_place_updates_in_model_code_never_reach_stored_or_caller_arrays():
    # JAX arrays are immutable; NumPy's += is in place. Neither the caller's
    # arrays nor the initial values may change behind the caller's back.
    class Counter(nn.Module):
        @nn.compact
        def __call__(self):
            first = not self.has_variable("counter", "count")
            count = self.variable("counter", "count", lambda: np.zeros((), np.int32))
            if not first:
                count.value += 1
            return count.value

    variables = Counter().init(KEY)
    assert variables["counter"]["count"] == 0
    for expected in (1, 1):
        _, state = Counter().apply(variables, mutable=["counter"])
        assert state["counter"]["count"] == expected
    assert variables["counter"]["count"] == 0
    with pytest.raises(errors.ModifyScopeVariableError):
        Counter().apply(variables)
    assert variables["counter"]["count"] == 0

    class Bias(nn.Module):
        @nn.compact
        def __call__(self):
            b = self.param("b", nn.initializers.zeros_init(), (2,))
            b += 1.0
            return b

    params = Bias().init(KEY)
    np.testing.assert_array_equal(params["params"]["b"], np.zeros(2, np.float32))
    Bias().apply(params)
    np.testing.assert_array_equal(params["params"]["b"], np.zeros(2, np.float32))
