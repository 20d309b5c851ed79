"""``shared_spec.scan_args``: the number of steps of ``nn.scan`` and the texts of its argument errors."""

import doctest

import pytest

from shared_spec import scan_args


def test_doctests():
    result = doctest.testmod(scan_args, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(
    'length, sizes, expected',
    [(None, {4}, 4), (7, set(), 7), (2, {2}, 2), (3, {5}, 3), (1, {1, 2}, 1)],
)
def test_step_count(length, sizes, expected):
    # a given length wins; agreement with the inputs is the caller's check (lax.scan's in nnjax)
    assert scan_args.step_count(length, sizes) == expected


def test_step_count_refuses_disagreeing_inputs_and_no_inputs():
    with pytest.raises(ValueError, match=r'^nn\.scan: inconsistent lengths \[2, 4\] of the scanned axes'):
        scan_args.step_count(None, {4, 2})
    with pytest.raises(ValueError, match=r'nothing is scanned over, so the number of steps is unknown; pass length='):
        scan_args.step_count(None, set())


def test_data_dependency_starts_with_the_seed_text():
    assert scan_args.DATA_DEPENDENCY.startswith('broadcasted variable has a data dependency on the scan body. ')


def test_message_texts():
    assert scan_args.unchecked_broadcast_outputs((0, 'b'), ('outer', 'cell')) == (
        'nn.scan run with check_constancy_invariants=False does not support broadcast non-carry function outputs. '
        "out_axes was given as (0, 'b') (module /outer/cell); mark no output nn.broadcast, or pass "
        'check_constancy_invariants=True.'
    )
    assert scan_args.variable_axes_misfit({'params': 2}, ('s',), 'bad axis') == (
        "nn.scan(variable_axes={'params': 2}) at module /s: an axis does not fit the variables it describes "
        '(bad axis); expected an axis in [-ndim, ndim) of each variable of the collection.'
    )
    assert scan_args.output_axes_misfit(3, {'params': 0}, ('s',), 'bad axis') == (
        "nn.scan(out_axes=3, variable_axes={'params': 0}) at module /s: an output or variable axis does not fit "
        'the value it describes (bad axis); expected axes in [-ndim-1, ndim] of each stacked output (one per '
        'output, or a single int/nn.broadcast for all).'
    )
