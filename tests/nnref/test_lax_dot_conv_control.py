"""nnref.lax against jax.lax: dot, convolution, control flow and pytree ops (see ``lax_cases.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.nnref.lax_cases import (
    ALL_FLOATS,
    BF16,
    F16,
    F32,
    FLOATS,
    I32,
    Case,
    case_params,
    check_matches_jax,
    ints,
    joined,
    uniform,
)

CASES = []

# ---------------------------------------------------------------------------
# dot and convolution
# ---------------------------------------------------------------------------

CASES += [
    Case(
        'dot_vv_mv_mm',
        lambda L, a, v, m: (L.dot(v, v), L.dot(a, v), L.dot(a, m), L.dot(v, m)),
        joined(uniform(-1, 1, (3, 4)), uniform(-1, 1, (4,)), uniform(-1, 1, (4, 5))),
        'matmul',
        ALL_FLOATS,
    ),
    Case(
        'dot_general_batch',
        lambda L, a, b: L.dot_general(a, b, (((2,), (1,)), ((0,), (0,)))),
        joined(uniform(-1, 1, (2, 3, 4)), uniform(-1, 1, (2, 4, 5))),
        'matmul',
        ALL_FLOATS,
    ),
    Case(
        'dot_general_two_contractions',
        lambda L, a, b: L.dot_general(a, b, (((0, 2), (2, 1)), ((1,), (0,)))),
        joined(uniform(-1, 1, (2, 3, 4)), uniform(-1, 1, (3, 4, 2, 5))),
        'matmul',
    ),
    Case(
        'dot_general_outer',
        lambda L, a, b: L.dot_general(a, b, (((), ()), ((), ()))),
        joined(uniform(-1, 1, (2, 3)), uniform(-1, 1, (4,))),
        'matmul',
    ),
    Case(
        'dot_precisions',
        lambda L, a, b: (
            L.dot(a, b, precision=L.Precision.HIGHEST),
            L.dot(a, b, precision='high'),
            L.dot(a, b, precision=('highest', 'default')),
            L.dot(a, b, precision=L.DotAlgorithmPreset.DEFAULT),
        ),
        joined(uniform(-1, 1, (3, 4)), uniform(-1, 1, (4, 2))),
        'matmul',
        (F32,),
    ),
    Case(
        'dot_general_preferred',
        lambda L, a, b: L.dot_general(a, b, (((1,), (0,)), ((), ())), preferred_element_type=np.float32),
        joined(uniform(-1, 1, (3, 4)), uniform(-1, 1, (4, 2))),
        'matmul',
        (BF16, F16),
    ),
    Case(
        'dot_int_preferred_float',
        lambda L, a, b: L.dot(a, b, preferred_element_type=np.float32),
        joined(ints(-50, 50, (3, 4)), ints(-50, 50, (4, 2))),
        'matmul',
        (I32,),
    ),
    Case(
        'dot_mixed_dtypes',
        lambda L, a, b: L.dot(a, b.astype(np.float16)),
        joined(uniform(-1, 1, (3, 4)), uniform(-1, 1, (4, 2))),
        'matmul',
        (F32,),
    ),
    Case(
        'batch_matmul',
        lambda L, a, b: L.batch_matmul(a, b),
        joined(uniform(-1, 1, (2, 3, 4)), uniform(-1, 1, (2, 4, 5))),
        'matmul',
    ),
]
NHWC = ('NHWC', 'HWIO', 'NHWC')
CONVS = [
    # (id, lhs shape, rhs shape, kwargs)
    ('nchw_valid', (2, 3, 6, 5), (4, 3, 3, 2), dict(window_strides=(1, 1), padding='VALID')),
    (
        'nhwc_same_strided',
        (2, 6, 5, 3),
        (3, 3, 3, 4),
        dict(window_strides=(2, 1), padding='SAME', dimension_numbers=NHWC),
    ),
    (
        'explicit_pads_dilations',
        (1, 7, 6, 2),
        (3, 2, 2, 4),
        dict(
            window_strides=(1, 2),
            padding=((2, 1), (-1, 1)),
            lhs_dilation=(2, 1),
            rhs_dilation=(1, 2),
            dimension_numbers=NHWC,
        ),
    ),
    (
        'feature_groups',
        (2, 5, 5, 4),
        (3, 3, 2, 6),
        dict(window_strides=(1, 1), padding='SAME', dimension_numbers=NHWC, feature_group_count=2),
    ),
    (
        'depthwise',
        (1, 5, 5, 3),
        (3, 3, 1, 3),
        dict(window_strides=(1, 1), padding='SAME', dimension_numbers=NHWC, feature_group_count=3),
    ),
    (
        'batch_groups',
        (4, 5, 5, 3),
        (3, 3, 3, 6),
        dict(window_strides=(1, 1), padding='VALID', dimension_numbers=NHWC, batch_group_count=2),
    ),
    (
        'conv1d_nwc',
        (2, 9, 3),
        (3, 3, 2),
        dict(window_strides=(2,), padding='SAME_LOWER', dimension_numbers=('NWC', 'WIO', 'NWC')),
    ),
]
for cid, lhs_shape, rhs_shape, kw in CONVS:
    CASES.append(
        Case(
            f'conv_general_dilated_{cid}',
            lambda L, x, w, _kw=kw: L.conv_general_dilated(x, w, **_kw),
            joined(uniform(-1, 1, lhs_shape), uniform(-1, 1, rhs_shape)),
            'conv',
            ALL_FLOATS if cid == 'nchw_valid' else FLOATS,
        )
    )
CASES += [
    Case(
        'conv',
        lambda L, x, w: L.conv(x, w, (1, 2), 'SAME'),
        joined(uniform(-1, 1, (2, 3, 6, 5)), uniform(-1, 1, (4, 3, 3, 2))),
        'conv',
    ),
    Case(
        'conv_with_general_padding',
        lambda L, x, w: L.conv_with_general_padding(x, w, (1, 1), ((1, 1), (0, 2)), (1, 2), (2, 1)),
        joined(uniform(-1, 1, (2, 3, 6, 5)), uniform(-1, 1, (4, 3, 3, 2))),
        'conv',
    ),
    Case(
        'conv_preferred',
        lambda L, x, w: L.conv(x, w, (1, 1), 'VALID', preferred_element_type=np.float32),
        joined(uniform(-1, 1, (1, 2, 5, 5)), uniform(-1, 1, (3, 2, 2, 2))),
        'conv',
        (BF16,),
    ),
]
CONV_TRANSPOSES = [
    ('same', dict(strides=(2, 2), padding='SAME')),
    ('valid_dilated', dict(strides=(2, 1), padding='VALID', rhs_dilation=(1, 2))),
    ('explicit', dict(strides=(2, 2), padding=((1, 2), (0, 1)))),
    ('explicit_consistent', dict(strides=(2, 2), padding=((1, 0), (0, 1)), use_consistent_padding=True)),
    ('transpose_kernel', dict(strides=(2, 1), padding='SAME', transpose_kernel=True)),
]
for cid, kw in CONV_TRANSPOSES:
    CASES.append(
        Case(
            f'conv_transpose_{cid}',
            lambda L, x, w, _kw=kw: L.conv_transpose(x, w, **_kw),
            joined(uniform(-1, 1, (2, 4, 5, 3)), uniform(-1, 1, (3, 2, 3, 3))),
            'conv',
        )
    )
CASES += [
    Case(
        'conv_general_dilated_local',
        lambda L, x, w: L.conv_general_dilated_local(x, w, (1, 1), 'SAME', (2, 3), dimension_numbers=NHWC),
        joined(uniform(-1, 1, (2, 4, 5, 3)), uniform(-1, 1, (4, 5, 3 * 6, 2))),
        'conv',
    ),
    Case(
        'conv_dimension_numbers',
        lambda L: (
            tuple(L.conv_dimension_numbers((1, 5, 5, 3), (3, 3, 3, 8), NHWC)),
            tuple(L.conv_dimension_numbers((1, 3, 5), (8, 3, 2), None)),
            L.padtype_to_pads((5, 7), (3, 2), (2, 3), 'SAME'),
        ),
        lambda rng, dt: (),
        'exact',
        (F32,),
    ),
]

# ---------------------------------------------------------------------------
# control flow, pytrees
# ---------------------------------------------------------------------------


def _scan_body(L):
    def body(carry, x):
        total, count = carry['total'], carry['count']
        new = {'total': L.add(total, L.mul(x['a'], x['b'])), 'count': L.add(count, np.int32(1))}
        return new, (L.tanh(total), None, {'sq': L.square(x['a'])})

    return body


def _scan(L, a, b, **kw):
    init = {'total': np.zeros(a.shape[1:], a.dtype), 'count': np.int32(0)}
    return L.scan(_scan_body(L), init, {'a': a, 'b': b}, **kw)


AFFINE = joined(uniform(0.5, 1.5, (6, 3)), uniform(-1, 1, (6, 3)))
MATRICES = uniform(-1, 1, (7, 2, 2))
CASES += [
    Case(
        'scan_pytrees',
        lambda L, a, b: _scan(L, a, b),
        joined(uniform(-1, 1, (5, 3)), uniform(-1, 1, (5, 3))),
        'transcendental',
    ),
    Case(
        'scan_reverse_unroll',
        lambda L, a, b: _scan(L, a, b, reverse=True, unroll=2),
        joined(uniform(-1, 1, (5, 3)), uniform(-1, 1, (5, 3))),
        'transcendental',
    ),
    Case(
        'scan_length_no_xs',
        lambda L, x: L.scan(lambda c, _: (L.mul(c, 1.5), c), x, None, length=4),
        uniform(-1, 1, (3,)),
        'elementwise',
    ),
    Case(
        'scan_empty',
        lambda L, x: L.scan(lambda c, row: (L.add(c, row), L.mul(row, 2.0)), x[0], x[:0]),
        uniform(-1, 1, (3, 2)),
    ),
    Case(
        'fori_loop',
        lambda L, x: L.fori_loop(
            0, 5, lambda i, c: (L.add(c[0], L.convert_element_type(i, x.dtype)), L.mul(c[1], 1.5)), (x, x)
        ),
        uniform(-1, 1, (3,)),
        'elementwise',
    ),
    Case(
        'fori_loop_index',
        lambda L: L.fori_loop(2, 7, lambda i, acc: L.add(acc, L.mul(i, i)), np.int32(0)),
        lambda rng, dt: (),
        'exact',
        (F32,),
    ),
    Case(
        'while_loop',
        lambda L, x: L.while_loop(
            lambda c: L.lt(c[1], np.int32(6)), lambda c: (L.mul(c[0], 1.1), L.add(c[1], np.int32(1))), (x, np.int32(0))
        ),
        uniform(-1, 1, (3,)),
        'elementwise',
    ),
    Case(
        'while_loop_weak_carry',
        lambda L: L.while_loop(lambda c: c < 3, lambda c: c + 1.0, 0),
        lambda rng, dt: (),
        'exact',
        (F32,),
    ),
    Case(
        'map',
        lambda L, x: L.map(lambda row: {'s': L.reduce_sum(row, (0,)), 'r': L.rev(row, (0,))}, x),
        uniform(-1, 1, (4, 3)),
        'reduction',
    ),
    Case(
        'map_batch_size',
        lambda L, x: L.map(lambda row: L.exp(row), x, batch_size=2),
        uniform(-1, 1, (5, 3)),
        'transcendental',
    ),
    Case(
        'associative_scan_add',
        lambda L, x: (
            L.associative_scan(L.add, x),
            L.associative_scan(L.add, x, axis=1),
            L.associative_scan(L.add, x, reverse=True),
        ),
        uniform(-1, 1, (9, 5)),
        'reduction',
    ),
    Case(
        'associative_scan_matmul',
        lambda L, m: (
            L.associative_scan(lambda a, b: a @ b, m),
            L.associative_scan(lambda a, b: a @ b, m, reverse=True),
        ),
        MATRICES,
        'matmul',
    ),
    Case(
        'associative_scan_affine_pytree',
        lambda L, s, t: L.associative_scan(lambda f, g: (f[0] * g[0], g[0] * f[1] + g[1]), (s, t)),
        AFFINE,
        'matmul',
    ),
    Case(
        'cond',
        lambda L, x: (
            L.cond(True, lambda v: L.exp(v), lambda v: L.neg(v), x),
            L.cond(np.int32(0), lambda v: L.exp(v), lambda v: L.neg(v), x),
            L.cond(2.0, lambda: x, lambda: x * 2),
            L.cond(False, lambda a, b: a, lambda a, b: b, x, 2 * x),
        ),
        uniform(-1, 1),
        'transcendental',
    ),
    Case(
        'switch',
        lambda L, x: tuple(
            L.switch(i, [lambda v: v, lambda v: L.sin(v), lambda v: L.cos(v)], x) for i in (0, 1, 2, 5, -3, np.int32(1))
        ),
        uniform(-1, 1),
        'transcendental',
    ),
    Case('stop_gradient', lambda L, x: L.stop_gradient({'a': x, 'b': (x, np.float32(2))}), uniform(-1, 1)),
    Case('optimization_barrier', lambda L, x: L.optimization_barrier((x, x)), uniform(-1, 1)),
]


@pytest.mark.parametrize('case,dtype', list(case_params(CASES)))
def test_matches_jax(case, dtype):
    check_matches_jax(case, dtype)
