"""``shared_spec.remat_args``: the ``nn.remat`` / ``nn.remat_scan`` arguments both backends refuse."""

import doctest

import pytest

from shared_spec import remat_args


def test_doctests():
    result = doctest.testmod(remat_args, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_concrete_is_refused_with_the_way_out():
    remat_args.check_concrete(False)
    with pytest.raises(
        NotImplementedError, match=r'^nn\.remat\(concrete=True\) is gone .* with static_argnums instead\.$'
    ):
        remat_args.check_concrete(True)


@pytest.mark.parametrize('lengths', [(1,), (10, 10), [3]])
def test_lengths_accepted(lengths):
    remat_args.check_lengths(lengths)


@pytest.mark.parametrize('lengths', [(), []])
def test_no_lengths_refused(lengths):
    with pytest.raises(ValueError, match=r'^nn\.remat_scan needs at least one loop length, e\.g\. lengths=\(10,\)\.$'):
        remat_args.check_lengths(lengths)
