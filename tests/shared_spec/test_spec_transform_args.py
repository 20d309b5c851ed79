"""shared_spec.transform_args: the checks of lifted-transform arguments both backends share."""

import numpy as np
import pytest

from shared_spec.transform_args import check_scalar_output


def test_scalar_output_passes_and_anything_else_names_the_shape_and_the_module():
    check_scalar_output((), '/')
    with pytest.raises(ValueError, match=r'out shape=\(3, 1\) \(nn.grad / nn.value_and_grad at module /enc\)'):
        check_scalar_output((3, 1), '/enc')
    with pytest.raises(ValueError, match='use nn.vjp for non-scalar outputs'):
        check_scalar_output((1,), '/')


def test_loop_condition_must_be_a_boolean_scalar():
    from shared_spec.transform_args import check_loop_condition

    check_loop_condition('bool_', (), np.dtype(bool), ('m',))
    with pytest.raises(TypeError, match='got int of shape \\(\\) and dtype int64'):
        check_loop_condition('int', (), np.dtype(np.int64), ())
    with pytest.raises(TypeError, match='nn.while_loop at module /a/b'):
        check_loop_condition('ndarray', (1,), np.dtype(bool), ('a', 'b'))


def test_predicate_and_branch_mismatch_texts():
    from shared_spec.transform_args import branch_mismatch_error, check_predicate

    check_predicate('switch', 'index', (), ())
    with pytest.raises(TypeError, match=r'nn.switch\(index=...\) at module /: index must be a scalar'):
        check_predicate('switch', 'index', (2,), ())
    err = branch_mismatch_error('switch', ('m',), [((1,),), ((2,),)])
    assert 'branch 0: ((1,),); branch 1: ((2,),)' in str(err) and str(err).startswith('nn.switch at module /m:')
    assert len(str(branch_mismatch_error('cond', (), ['x' * 1000]))) < 600
