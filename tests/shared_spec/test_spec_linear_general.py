"""``shared_spec.linear_general``: DenseGeneral's axis arithmetic and Einsum's equation rules."""

import doctest

import pytest

from shared_spec import linear_general as lg


def test_doctests():
    result = doctest.testmod(lg, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_dense_general_plan_last_axis_is_dense():
    p = lg.dense_general_plan((2, 7), -1, (), (3,))
    assert p.axis == (1,) and p.batch_dims == ()
    assert p.kernel_shape == (7, 3) and p.bias_shape == (3,) and p.flat_kernel_shape == (7, 3)
    assert p.dimension_numbers == (((1,), (0,)), ((), ()))
    assert p.bias_broadcast_shape == (1, 3)


def test_dense_general_plan_sorts_axes_and_keeps_batch_sizes():
    p = lg.dense_general_plan((2, 3, 4, 5), (3, 2), (0,), (6, 7))
    assert p.axis == (2, 3)
    assert p.kernel_shape == (2, 4, 5, 6, 7) and p.flat_kernel_shape == (40, 42)
    assert p.dimension_numbers == (((2, 3), (1, 2)), ((0,), (0,)))
    assert p.bias_shape == (2, 6, 7) and p.bias_broadcast_shape == (2, 1, 6, 7)


@pytest.mark.parametrize(
    'axis, batch_dims, match',
    [
        (3, (), r'`axis` \(3,\) names axis 3, out of range for an input of rank 3'),
        (-1, (0, 2), r'`batch_dims` \(0, 2\) must be the leading axes'),
        (0, (0,), 'overlap'),
        (-1, (5,), 'must be the leading axes'),
    ],
)
def test_dense_general_refusals(axis, batch_dims, match):
    with pytest.raises(ValueError, match=match):
        lg.dense_general_plan((2, 3, 4), axis, batch_dims, (1,))


def test_einsum_str_checks():
    assert lg.check_einsum_str('...a , ab -> ...b') == '...a,ab->...b'
    with pytest.raises(ValueError, match="exactly two operands .* not 2"):
        lg.check_einsum_str('a,b,c->a')


def test_einsum_bias_shapes_follow_the_output_order():
    assert lg.einsum_bias_shapes('...c,cd->...d', 3, (4, 5)) == ([5], [1, 1, 5])
    assert lg.einsum_bias_shapes('bi,ji->jb', 2, (3, 4)) == ([3], [3, 1])
    with pytest.raises(ValueError, match='gives subscripts .* to an operand of rank 3'):
        lg.einsum_bias_shapes('ab,bc->ac', 2, (2, 3, 4))
    with pytest.raises(ValueError, match='more subscripts than operand axes'):
        lg.einsum_bias_shapes('...abc,cd->...d', 2, (4, 5))


def test_resolve_dot_general_prefers_the_class():
    class Built:
        pass

    assert isinstance(lg.resolve_dot_general(Built, min, max), Built)
