"""Every flag of the seed's ``flax.config``, on both backends, under both spellings."""

import importlib
import uuid

import pytest

from shared_spec import config_flags
from shared_spec.config_flags import SEED_FLAGS, UnknownFlagError

# The seed's flags and defaults (flax 0.12.8), except use_orbax_checkpointing,
# whose default here is False (the seed: True): msgpack files by default.
SEED_DEFAULTS = {
    'flax_filter_frames': True,
    'flax_profile': True,
    'flax_use_orbax_checkpointing': False,
    'flax_preserve_adopted_names': False,
    'flax_return_frozendict': False,
    'flax_fix_rng_separator': False,
    'flax_use_flaxlib': False,
    'flax_array_ref': False,
    'flax_pytree_module': True,
    'flax_max_repr_depth': None,
    'flax_always_shard_variable': True,
    'flax_hijax_variable': False,
    'nnx_graph_mode': True,
    'nnx_graph_updates': True,
}


@pytest.fixture(params=['nnref', 'nnjax'])
def cfg(request):
    return importlib.import_module(f'{request.param}.config')


def _own(cfg, seed_name):
    return seed_name.replace('flax_', cfg.PREFIX, 1)


def test_table_is_the_seed_flag_list():
    names = {f.name if f.name.startswith('nnx_') else 'flax_' + f.name for f in SEED_FLAGS}
    assert names == set(SEED_DEFAULTS)


@pytest.mark.parametrize('seed_name', sorted(SEED_DEFAULTS))
def test_every_flag_under_both_spellings(cfg, seed_name):
    config = cfg.config
    own = _own(cfg, seed_name)
    assert getattr(config, seed_name) == getattr(config, own) == SEED_DEFAULTS[seed_name]
    assert getattr(cfg, seed_name) == SEED_DEFAULTS[seed_name]  # module-level read, as flax.config.<flag>
    assert config.help(seed_name) == config.help(own) != ''
    if seed_name == 'flax_fix_rng_separator':
        return
    new = 3 if seed_name == 'flax_max_repr_depth' else not SEED_DEFAULTS[seed_name]
    with config.override(seed_name, new):
        assert getattr(config, own) == new and getattr(cfg, own) == new
    assert getattr(config, own) == SEED_DEFAULTS[seed_name]


def test_backends_have_separate_tables():
    import nnjax.config
    import nnref.config

    with nnjax.config.config.override('flax_return_frozendict', True):
        assert nnref.config.config.flax_return_frozendict is False
        assert nnref.config.config.nnref_return_frozendict is False


def test_int_flag_takes_int_or_none(cfg):
    config = cfg.config
    try:
        cfg.update('flax_max_repr_depth', 2)
        assert config.flax_max_repr_depth == 2
        cfg.update(_own(cfg, 'flax_max_repr_depth'), None)
        assert config.flax_max_repr_depth is None
        with pytest.raises(TypeError, match='int or None'):
            cfg.update('flax_max_repr_depth', True)
        with pytest.raises(TypeError, match='int or None'):
            cfg.update('flax_max_repr_depth', '2')
    finally:
        cfg.update('flax_max_repr_depth', None)


def test_bool_flag_rejects_non_bools(cfg):
    with pytest.raises(TypeError, match='bool'):
        cfg.update('flax_profile', 1)


def test_unimplemented_value_is_refused_not_ignored(cfg):
    with pytest.raises(ValueError, match='fix_rng_separator.*only its default'):
        cfg.update('flax_fix_rng_separator', True)
    assert cfg.config.flax_fix_rng_separator is False


def test_unknown_flag_is_attribute_and_lookup_error(cfg):
    with pytest.raises(UnknownFlagError, match='flax_not_a_flag') as info:
        cfg.update('flax_not_a_flag', True)
    assert isinstance(info.value, LookupError) and isinstance(info.value, AttributeError)


def test_holders_and_seed_helpers(cfg):
    config = cfg.config
    holder = cfg.return_frozendict
    assert holder.name == _own(cfg, 'flax_return_frozendict') and holder.value is False
    config.update(holder, True)  # the seed's update(holder, value)
    try:
        assert holder.value is True and config.flax_return_frozendict is True
    finally:
        config.update(holder, False)
    with config.temp_flip_flag('profile', False):
        assert config.flax_profile is False
    assert config.flax_profile is True
    name = f'flax_layout_{uuid.uuid4().hex[:8]}'
    assert cfg.bool_flag(name, default=True, help='h').value is True
    assert cfg.int_flag(name + '_n', default=5, help='h').value == 5
    assert getattr(config, name.replace('flax_', cfg.PREFIX)) is True


def test_environment_sets_start_values(cfg, monkeypatch):
    # A fresh table built as the backend builds its own, under the backend's prefix.
    prefix = cfg.PREFIX.upper()
    monkeypatch.setenv(f'{prefix}MAX_REPR_DEPTH', '4')
    monkeypatch.setenv(f'{prefix}PROFILE', 'off')
    monkeypatch.setenv('NNX_GRAPH_MODE', '0')
    table = config_flags.Config(cfg.PREFIX)
    config_flags.define_seed_flags(table)
    assert (table.flax_max_repr_depth, table.flax_profile, table.nnx_graph_mode) == (4, False, False)
    monkeypatch.setenv(f'{prefix}FIX_RNG_SEPARATOR', '1')
    with pytest.raises(ValueError, match='only its default'):
        config_flags.define_seed_flags(config_flags.Config(cfg.PREFIX))


def test_the_config_module_stands_in_for_the_seed_config_object(cfg):
    # Seed code: ``from flax import config`` then ``config.update(...)``,
    # ``config.flax_x`` and ``config.temp_flip_flag(...)``; here the module does it all.
    cfg.update('flax_preserve_adopted_names', True)
    try:
        assert cfg.flax_preserve_adopted_names is True
    finally:
        cfg.update('flax_preserve_adopted_names', False)
    with cfg.temp_flip_flag('return_frozendict', True):
        assert cfg.flax_return_frozendict is True
    with cfg.override('flax_profile', False):
        assert cfg.config.flax_profile is False
    assert cfg.flax_return_frozendict is False and cfg.flax_profile is True
