"""nnjax.config: flags, update, environment parsing, define_bool_state."""

import doctest
import uuid

import jax
import pytest

import nnjax.config
import nnjax.errors
import shared_spec.errors
from nnjax.config import config, define_bool_state, static_bool_env, update


def _unique(prefix='flag'):
    return f'{prefix}_{uuid.uuid4().hex[:8]}'


def test_docstring_examples():
    for module in (nnjax.config, nnjax.errors):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__


def test_errors_module_is_the_shared_catalogue():
    assert nnjax.errors.__all__ == shared_spec.errors.__all__
    for name in shared_spec.errors.__all__:
        assert getattr(nnjax.errors, name) is getattr(shared_spec.errors, name)


def test_default_and_update_and_module_level_reads():
    assert config.nnjax_return_frozendict is False
    assert nnjax.config.nnjax_return_frozendict is False
    try:
        update('nnjax_return_frozendict', True)
        assert config.nnjax_return_frozendict is True
        assert nnjax.config.nnjax_return_frozendict is True
        assert nnjax.config.return_frozendict.value is True
    finally:
        update('nnjax_return_frozendict', False)


def test_update_checks_name_and_type():
    with pytest.raises(AttributeError, match='nnjax_return_frozendict'):
        update('nnjax_no_such_flag', True)
    with pytest.raises(TypeError, match='bool'):
        update('nnjax_return_frozendict', 1)
    with pytest.raises(AttributeError, match='config.update'):
        config.nnjax_return_frozendict = True
    with pytest.raises(AttributeError):
        nnjax.config.not_a_flag  # noqa: B018


def test_override_restores_on_error():
    with pytest.raises(RuntimeError):
        with config.override('nnjax_return_frozendict', True):
            assert config.nnjax_return_frozendict is True
            raise RuntimeError
    assert config.nnjax_return_frozendict is False


@pytest.mark.parametrize('word', ['y', 'YES', 't', 'True', 'on', '1', ' true '])
def test_static_bool_env_true_words(monkeypatch, word):
    monkeypatch.setenv('NNJAX_TEST_ENV', word)
    assert static_bool_env('NNJAX_TEST_ENV', False) is True


@pytest.mark.parametrize('word', ['n', 'No', 'f', 'FALSE', 'off', '0'])
def test_static_bool_env_false_words(monkeypatch, word):
    monkeypatch.setenv('NNJAX_TEST_ENV', word)
    assert static_bool_env('NNJAX_TEST_ENV', True) is False


def test_static_bool_env_default_and_invalid(monkeypatch):
    monkeypatch.delenv('NNJAX_TEST_ENV', raising=False)
    assert static_bool_env('NNJAX_TEST_ENV', True) is True
    monkeypatch.setenv('NNJAX_TEST_ENV', 'maybe')
    with pytest.raises(ValueError, match="'maybe'.*NNJAX_TEST_ENV"):
        static_bool_env('NNJAX_TEST_ENV', True)


def test_define_bool_state_reads_the_prefixed_environment_variable(monkeypatch):
    name = _unique()
    monkeypatch.setenv('NNJAX_' + name.upper(), 'on')
    holder = define_bool_state(name, False, 'test flag')
    assert holder.name == 'nnjax_' + name
    assert holder.value is True and bool(holder) is True
    update('nnjax_' + name, False)
    assert holder.value is False and getattr(config, 'nnjax_' + name) is False
    assert config.help('nnjax_' + name) == 'test flag'


def test_define_bool_state_default_without_environment():
    name = _unique()
    assert define_bool_state(name, True, 'h').value is True


def test_redefinition_same_is_harmless_other_is_an_error():
    name = _unique()
    define_bool_state(name, False, 'h')
    update('nnjax_' + name, True)
    assert define_bool_state(name, False, 'h').value is True  # value kept
    with pytest.raises(ValueError, match='already defined'):
        define_bool_state(name, True, 'h')


def test_flags_do_not_touch_jax_config():
    name = _unique()
    define_bool_state(name, False, 'h')
    assert not hasattr(jax.config, 'nnjax_' + name)
    assert not hasattr(jax.config, 'nnjax_return_frozendict')


def test_seed_spelling_names_the_same_flag():
    assert config.flax_use_orbax_checkpointing is config.nnjax_use_orbax_checkpointing is False
    try:
        nnjax.config.update('flax_use_orbax_checkpointing', True)
        assert config.nnjax_use_orbax_checkpointing is True
        assert nnjax.config.flax_use_orbax_checkpointing is True
        assert nnjax.config.use_orbax_checkpointing.value is True
    finally:
        update('nnjax_use_orbax_checkpointing', False)
    with config.override('flax_return_frozendict', True):
        assert config.nnjax_return_frozendict is True
    assert config.nnjax_return_frozendict is False
    assert config.help('flax_use_orbax_checkpointing') == config.help('nnjax_use_orbax_checkpointing')
    with pytest.raises(AttributeError, match='flax_no_such_flag'):
        update('flax_no_such_flag', True)
