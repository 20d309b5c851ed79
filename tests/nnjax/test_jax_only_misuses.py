"""Misuses only the JAX backend can meet: raw JAX transforms around bound modules, checkpoints."""

import pytest

import nnjax as nn
from conformance.misuse_cases import JAX_ONLY_MISUSES
from shared_spec import errors

# What each message must name besides its "Fix:": the lifted alternative, the
# overwrite switch, the mismatching variable, the damage.
MESSAGE_NAMES = {
    "JaxTransformError": "nn.vmap",
    "AlreadyExistsError": "model.msgpack",
    "InvalidCheckpointError": "overwrite=True",
    "CheckpointMismatchError": "at '/params'",  # and lists the keys, 'bias' among them
    "CorruptCheckpointError": "checkpoint_1",
}


@pytest.mark.parametrize("error_name, description, misuse", JAX_ONLY_MISUSES, ids=[m[1] for m in JAX_ONLY_MISUSES])
def test_jax_only_misuse_raises_catalogue_error(error_name, description, misuse):
    with pytest.raises(getattr(errors, error_name)) as info:
        misuse(nn)
    assert MESSAGE_NAMES[error_name] in str(info.value) and "Fix:" in str(info.value)


def test_reading_a_bound_module_inside_jax_jit_is_allowed():
    import jax

    model = nn.Dense(2)
    x = nn.numpy.ones((1, 3))
    bound = model.bind(model.init(jax.random.PRNGKey(0), x))
    assert jax.jit(lambda x: bound(x))(x).shape == (1, 2)
