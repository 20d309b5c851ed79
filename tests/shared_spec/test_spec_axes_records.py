"""shared_spec.axes_records: the recorded-axis-names rules of ``nn.partitioning``, tested once."""

import doctest

import pytest

from shared_spec import axes_records as ar
from shared_spec.collection_filters import DenyList
from shared_spec.in_out_axes import In, Out


def test_docstring_examples():
    result = doctest.testmod(ar)
    assert result.attempted > 0 and result.failed == 0


def test_naming_round_trips():
    for col in ('params', 'cache', 'x_axes'):
        assert ar.axes_collection(col) == col + '_axes'
        assert ar.strip_axes_suffix(ar.axes_key(col)) == col


def test_as_names_only_converts_lists():
    assert ar.as_names(['a', None]) == ('a', None)
    assert ar.as_names(('a',)) == ('a',)
    assert ar.as_names('a') == 'a'  # a bare name is left for the constraint to reject


def test_check_resown_rules():
    assert ar.check_resown({}, ('a',), tuple) == ('a',)  # no earlier record
    assert ar.check_resown(('a',), ('a',), tuple) == ('a',)
    with pytest.raises(TypeError, match='Expected newly sown value to be an AxisMetadata, got list'):
        ar.check_resown(None, ['a'], tuple)
    with pytest.raises(ValueError, match='sown twice'):
        ar.check_resown(('a',), ('b',), tuple)


@pytest.mark.parametrize('names,pos', [(('a', 'b'), 0), (('a', 'b'), 1), (('a', 'b'), 2), ((), 0)])
def test_insert_then_remove_is_identity(names, pos):
    inserted = ar.insert_axis_name(names, pos, 'new')
    assert len(inserted) == len(names) + 1
    assert ar.remove_axis_name(inserted, pos, 'new', 'params_axes') == names


def test_none_names_pass_through():
    assert ar.insert_axis_name(None, 0, 'x') is None
    assert ar.remove_axis_name(None, 0, 'x', 'c') is None


def test_remove_checks_the_name():
    with pytest.raises(ValueError, match=r"Expected axis layers at position 1 in axis metadata \['a', 'b'\]"):
        ar.remove_axis_name(('a', 'b'), 1, 'layers', 'params_axes')


def test_nest_records_drops_suffix_at_every_depth():
    records = {'a': {'b': {'k_axes': 1}}, 'top_axes': 2, 'plain': 3}
    assert ar.nest_records(records, lambda r: r * 10) == {'a': {'b': {'k': 10}}, 'top': 20, 'plain': 30}
    assert ar.nest_records({}, str) == {}


def test_scan_plan():
    broadcast, ins = ar.scan_plan({'params': In(1), 'cache': 0}, 'state', ('params', 'cache', 'other'), 'layers')
    assert set(broadcast) == {'state', 'params_axes', 'cache_axes', 'other_axes'}
    assert ins == [ar.AxisInsertion('params_axes', 1, 'layers'), ar.AxisInsertion('cache_axes', 0, 'layers')]
    broadcast, ins = ar.scan_plan({}, True, ('params',), 'layers')
    assert broadcast is True and ins == []
    broadcast, _ = ar.scan_plan({}, DenyList('params_axes'), ('params',), 'layers')
    assert isinstance(broadcast, DenyList) and not broadcast.deny  # together they select everything


def test_vmap_plan_broadcasts_and_inserts_in_dict_order():
    axes, ins = ar.vmap_plan({'params': Out(2), 'cache': 0}, {'cache': 'c', 'params': 'p'})
    assert axes == {'params': Out(2), 'cache': 0, 'cache_axes': None, 'params_axes': None}
    assert ins == [ar.AxisInsertion('params_axes', 2, 'p'), ar.AxisInsertion('cache_axes', 0, 'c')]


def test_no_module_error_text():
    assert 'pass module=' in str(ar.no_module_error('variable_with_axes'))
