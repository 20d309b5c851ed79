"""The helpers added to shared_spec.config_flags, summary_table and logical_axes for the backends' thin modules."""

import pytest

from shared_spec import config_flags, logical_axes
from shared_spec.summary_table import box_view


def test_define_prefixed_bool_and_named():
    cfg = config_flags.Config('t_')
    assert config_flags.define_prefixed_bool(cfg, 'a', 0, 'h') == 't_a'
    assert cfg.flax_a is False
    assert config_flags.define_named(cfg, 'flax_b', 1, 'h', 'bool') == 't_b' and cfg.t_b is True
    assert config_flags.define_named(cfg, 't_c', 7, 'h', 'int') == 't_c' and cfg.t_c == 7


def test_module_flag_reader():
    cfg = config_flags.Config('t_')
    cfg.define('t_x', True, 'h')
    read = config_flags.module_flag_reader(cfg, 'm')
    assert read('t_x') is read('flax_x') is True
    with pytest.raises(config_flags.UnknownFlagError):
        read('flax_missing')
    with pytest.raises(AttributeError, match="module 'm' has no attribute 'y'"):
        read('y')


def test_module_api_names_exist_on_both_backends():
    import importlib

    for backend in ('nnref', 'nnjax'):
        module = importlib.import_module(f'{backend}.config')
        assert list(module.__all__) == list(config_flags.MODULE_API)
        for name in config_flags.MODULE_API:
            assert hasattr(module, name), (backend, name)


def test_box_view():
    class P:
        value, names = 1, ('a',)

    class B:
        def unbox(self):
            return 2

    view = box_view(P, (P, B))
    assert view(P()) == (1, ('a',)) and view(B()) == (2, None) and view(3) is None


def test_is_logical_names_and_freeze_rules():
    u = object()
    assert logical_axes.is_logical_names(None, u)
    assert logical_axes.is_logical_names((), u)
    assert not logical_axes.is_logical_names(['a'], u)
    assert logical_axes.freeze_rules((['a', 'b'],)) == (['a', 'b'],)  # a tuple is kept as given
    assert logical_axes.freeze_rules([('a', ('x', 'y'))]) == (('a', ('x', 'y')),)


def test_shared_public_name_lists_match_both_backends():
    import importlib

    from shared_spec import axes_records

    for backend in ('nnref', 'nnjax'):
        spmd = importlib.import_module(f'{backend}.spmd')
        assert list(spmd.__all__[: len(logical_axes.SPMD_API)]) == list(logical_axes.SPMD_API)
        partitioning = importlib.import_module(f'{backend}.partitioning')
        assert list(partitioning.__all__) == list(axes_records.PARTITIONING_API)
        for module in (spmd, partitioning):
            for name in module.__all__:
                assert hasattr(module, name), (module.__name__, name)
