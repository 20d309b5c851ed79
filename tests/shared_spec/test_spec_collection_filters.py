"""Collection filters: bool, name, containers of names, DenyList."""

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared_spec.collection_filters import DenyList, first_match_groups, in_filter, union_filters
from shared_spec.errors import InvalidFilterError

COLS = ['params', 'batch_stats', 'intermediates', 'cache']


@pytest.mark.parametrize('col', COLS)
def test_bools_select_all_or_nothing(col):
    assert in_filter(True, col) is True
    assert in_filter(False, col) is False


@pytest.mark.parametrize('col', COLS)
def test_string_selects_exactly_that_collection(col):
    assert in_filter('params', col) == (col == 'params')
    # a name is not a substring match
    assert not in_filter('param', col)


@pytest.mark.parametrize('container', [list, tuple, set, frozenset])
def test_containers_select_their_members(container):
    f = container(['params', 'cache'])
    assert [c for c in COLS if in_filter(f, c)] == ['params', 'cache']
    assert not any(in_filter(container(), c) for c in COLS)


def test_denylist_is_the_complement_and_nests():
    default = DenyList(deny='intermediates')
    assert [c for c in COLS if in_filter(default, c)] == ['params', 'batch_stats', 'cache']
    assert not any(in_filter(DenyList(True), c) for c in COLS)
    assert all(in_filter(DenyList(False), c) for c in COLS)
    twice = DenyList(DenyList(['cache']))
    assert [c for c in COLS if in_filter(twice, c)] == ['cache']
    assert not in_filter(DenyList(['params', 'cache']), 'params')


def test_denylist_is_a_frozen_dataclass_with_field_deny():
    d = DenyList(deny='intermediates')
    assert [f.name for f in dataclasses.fields(d)] == ['deny']
    assert repr(d) == "DenyList(deny='intermediates')"
    assert d == DenyList('intermediates') and hash(d) == hash(DenyList('intermediates'))
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.deny = 'params'


@pytest.mark.parametrize('bad', [1, None, 2.5, {'params': True}, ['params', 3], lambda c: True, DenyList(7)])
def test_invalid_filters_raise(bad):
    with pytest.raises(InvalidFilterError) as info:
        in_filter(bad, 'params')
    inner = bad.deny if isinstance(bad, DenyList) else bad
    assert info.value.filter_like is inner


_NAMES = st.sampled_from(['params', 'intermediates', 'cache', 'batch_stats'])
_SIMPLE = st.one_of(st.booleans(), _NAMES, st.lists(_NAMES, max_size=3), st.frozensets(_NAMES, max_size=3))
_FILTERS = st.one_of(_SIMPLE, st.builds(DenyList, _SIMPLE))


@given(_FILTERS, _FILTERS, _NAMES)
def test_union_selects_what_either_selects(a, b, col):
    assert in_filter(union_filters(a, b), col) == (in_filter(a, col) or in_filter(b, col))


# --- first-match grouping (lifted transforms' variable and RNG filters) ---


def test_first_match_groups_known_answer():
    names = ['params', 'batch_stats', 'cache', 'intermediates']
    filters = ['batch_stats', DenyList(deny='cache'), 'cache']
    assert first_match_groups(names, filters) == [['batch_stats'], ['params', 'intermediates'], ['cache']]


def test_first_match_groups_leaves_unmatched_names_out_and_handles_no_filters():
    assert first_match_groups(['params', 'cache'], ['params']) == [['params']]
    assert first_match_groups(['params'], []) == []
    assert first_match_groups([], [True, False]) == [[], []]


@given(st.lists(st.sampled_from(COLS), unique=True), st.lists(st.sampled_from([True, False] + COLS), max_size=4))
def test_first_match_groups_is_a_partition_of_the_selected_names(names, filters):
    groups = first_match_groups(names, filters)
    assert len(groups) == len(filters)
    placed = [name for group in groups for name in group]
    assert sorted(placed) == sorted(n for n in names if any(in_filter(f, n) for f in filters))
    for i, group in enumerate(groups):
        for name in group:
            assert in_filter(filters[i], name)
            assert not any(in_filter(f, name) for f in filters[:i])
        assert group == [n for n in names if n in group]
