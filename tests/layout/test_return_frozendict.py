"""The seed's ``flax_return_frozendict`` flag: init and mutable apply hand back FrozenDicts."""

import pytest

from shared_spec.frozen_dict import FrozenDict


@pytest.mark.parametrize('spelling', ['flax', 'own'])
def test_flag_makes_init_and_apply_return_frozen_dicts(nn, spelling):
    name = 'flax_return_frozendict' if spelling == 'flax' else f'{nn.BACKEND}_return_frozendict'
    model = nn.BatchNorm(use_running_average=False)
    x = nn.numpy.ones((2, 3))
    with nn.config.config.override(name, True):
        variables = model.init(nn.random.PRNGKey(0), x)
        _, updates = model.apply(variables, x, mutable=['batch_stats'])
    assert isinstance(variables, FrozenDict) and isinstance(updates, FrozenDict)
    assert set(variables) == {'params', 'batch_stats'} and set(updates) == {'batch_stats'}
    plain = model.init(nn.random.PRNGKey(0), x)  # the flag is back to its default
    assert type(plain) is dict
