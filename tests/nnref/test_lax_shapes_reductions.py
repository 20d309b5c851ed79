"""nnref.lax against jax.lax: shape ops, reductions, cumulative ops, windows and sorting (see ``lax_cases.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from nnref import lax
from tests.nnref.lax_cases import (
    ALL_FLOATS,
    BOOL,
    BOOLS,
    F32,
    FLOATS,
    I32,
    INT_EDGES,
    Case,
    case_params,
    check_matches_jax,
    fixed,
    joined,
    rounded,
    uniform,
    with_specials,
)

CASES = []

# ---------------------------------------------------------------------------
# shapes
# ---------------------------------------------------------------------------

X3 = uniform(-1, 1, (2, 3, 4))
CASES += [
    Case('reshape', lambda L, x: L.reshape(x, (4, 6)), X3),
    Case('reshape_dimensions', lambda L, x: L.reshape(x, (4, 6), dimensions=(2, 0, 1)), X3),
    Case('broadcast', lambda L, x: L.broadcast(x, (2, 1)), X3),
    Case('broadcast_in_dim', lambda L, x: L.broadcast_in_dim(x, (5, 3, 2), (1,)), uniform(-1, 1, (3,))),
    Case('broadcast_in_dim_ones', lambda L, x: L.broadcast_in_dim(x, (2, 3, 4), (1, 2)), uniform(-1, 1, (3, 1))),
    Case('broadcast_to_rank', lambda L, x: L.broadcast_to_rank(x, 5), X3),
    Case('expand_dims', lambda L, x: L.expand_dims(x, (0, 4)), X3),
    Case('expand_dims_negative', lambda L, x: L.expand_dims(x, (-1,)), X3),
    Case('squeeze', lambda L, x: L.squeeze(x, (0, 2)), uniform(-1, 1, (1, 3, 1, 2))),
    Case('transpose', lambda L, x: L.transpose(x, (2, 0, 1)), X3),
    Case('rev', lambda L, x: L.rev(x, (0, 2)), X3),
    Case('concatenate', lambda L, x, y: L.concatenate([x, y], 1), joined(X3, uniform(-1, 1, (2, 2, 4)))),
    Case('collapse', lambda L, x: L.collapse(x, 1), X3),
    Case('collapse_range', lambda L, x: L.collapse(x, 0, -1), X3),
    Case('split', lambda L, x: L.split(x, (1, 3), axis=2), X3),
    Case('slice', lambda L, x: L.slice(x, (0, 1, 0), (2, 3, 4), (1, 1, 3)), X3),
    Case(
        'slice_in_dim',
        lambda L, x: (
            L.slice_in_dim(x, -3, None, axis=2),
            L.slice_in_dim(x, None, -1, 2, 2),
            L.slice_in_dim(x, 1, 3, axis=1),
        ),
        X3,
    ),
    Case('index_in_dim', lambda L, x: (L.index_in_dim(x, -1, axis=2), L.index_in_dim(x, 1, 1, keepdims=False)), X3),
    Case(
        'full',
        lambda L: (
            L.full((2, 3), 1.5),
            L.full((2,), 2),
            L.full((2,), 2.7, int),
            L.full((3,), np.float16(1.5)),
            L.full((2,), True),
        ),
        lambda rng, dt: (),
        'exact',
        (F32,),
    ),
    Case('full_of_array_dtype', lambda L, x: (L.full((2,), 0.1, x.dtype), L.full((2,), -3.7, np.int8)), X3),
    Case(
        'full_like',
        lambda L, x: (L.full_like(x, 2), L.full_like(x, 2.7, np.int32), L.full_like(x, 1.0, shape=(5,))),
        X3,
    ),
    Case(
        'iota',
        lambda L: (L.iota(np.int32, 5), L.iota(int, 3), L.iota(float, 4), L.iota(np.int8, 2)),
        lambda rng, dt: (),
        'exact',
        (F32,),
    ),
    Case(
        'broadcasted_iota',
        lambda L: (L.broadcasted_iota(np.int32, (2, 3), 1), L.broadcasted_iota(float, (2, 3), 0)),
        lambda rng, dt: (),
        'exact',
        (F32,),
    ),
]
PAD_CONFIGS = [
    [(1, 2, 0), (0, 0, 0)],
    [(0, 0, 1), (2, 1, 2)],
    [(-1, 1, 0), (0, -2, 1)],
    [(-3, 2, 1), (1, -3, 0)],  # a crop reaching into the interior padding
    [(-6, 2, 2), (0, 0, 0)],  # a crop past the data into the high padding
]
CASES += [
    Case(f'pad_{i}', lambda L, x, _c=c: L.pad(x, x.dtype.type(9), _c), uniform(-1, 1, (3, 4)))
    for i, c in enumerate(PAD_CONFIGS)
]
CASES += [Case('pad_weak_value', lambda L, x: L.pad(x, 0.0, [(1, 1, 1)]), uniform(-1, 1, (3,)))]

# Dynamic slices: clamped starts, negative indices, array starts.
DYNAMIC_STARTS = [(0, 0), (1, 2), (-1, 0), (5, 9), (-9, -9), (np.int32(-2), np.int32(1))]
for i, starts in enumerate(DYNAMIC_STARTS):
    CASES += [
        Case(f'dynamic_slice_{i}', lambda L, x, _s=starts: L.dynamic_slice(x, _s, (2, 3)), uniform(-1, 1, (4, 5))),
        Case(
            f'dynamic_update_slice_{i}',
            lambda L, x, u, _s=starts: L.dynamic_update_slice(x, u, _s),
            joined(uniform(-1, 1, (4, 5)), uniform(5, 6, (2, 3))),
        ),
    ]
CASES += [
    Case(
        'dynamic_slice_array_starts',
        lambda L, x: L.dynamic_slice(x, np.array([3, 1], np.int32), (2, 2)),
        uniform(-1, 1, (4, 5)),
    ),
    Case(
        'dynamic_slice_in_dim',
        lambda L, x: (L.dynamic_slice_in_dim(x, 3, 2, axis=1), L.dynamic_slice_in_dim(x, np.int32(-1), 2)),
        uniform(-1, 1, (4, 5)),
    ),
    Case(
        'dynamic_index_in_dim',
        lambda L, x: (L.dynamic_index_in_dim(x, 7, axis=1), L.dynamic_index_in_dim(x, -1, keepdims=False)),
        uniform(-1, 1, (4, 5)),
    ),
    Case(
        'dynamic_update_slice_in_dim',
        lambda L, x, u: L.dynamic_update_slice_in_dim(x, u, 4, 1),
        joined(uniform(-1, 1, (4, 5)), uniform(5, 6, (4, 2))),
    ),
    Case(
        'dynamic_update_index_in_dim',
        lambda L, x, u: (L.dynamic_update_index_in_dim(x, u, -1, 0), L.dynamic_update_index_in_dim(x, u[None], 2, 0)),
        joined(uniform(-1, 1, (4, 5)), uniform(5, 6, (5,))),
    ),
]

# ---------------------------------------------------------------------------
# reductions, cumulative ops, windows, sorting
# ---------------------------------------------------------------------------

for _op in ('reduce_sum', 'reduce_prod', 'reduce_max', 'reduce_min'):
    _family = 'reduction' if _op in ('reduce_sum', 'reduce_prod') else 'exact'
    CASES += [
        Case(
            f'{_op}',
            lambda L, x, _op=_op: (getattr(L, _op)(x, (1,)), getattr(L, _op)(x, (0, 2)), getattr(L, _op)(x, ())),
            X3 if _op != 'reduce_prod' else uniform(0.5, 1.5, (2, 3, 4)),
            _family,
            ALL_FLOATS if _op != 'reduce_prod' else FLOATS,
        ),
        Case(
            f'{_op}_int',
            lambda L, x, _op=_op: getattr(L, _op)(x, (0,)),
            fixed(np.array([100, 100, 100], np.int8)),
            'exact',
            ('int8',),
        ),
    ]
CASES += [
    Case(
        'reduce_max_nan_and_empty',
        lambda L, x: (L.reduce_max(x, (1,)), L.reduce_min(x, (1,)), L.reduce_max(x[:, :0], (1,))),
        with_specials(-5, 5),
    ),
    Case(
        'reduce_max_int_empty',
        lambda L, x: (L.reduce_max(x[:0], (0,)), L.reduce_min(x[:0], (0,))),
        fixed(INT_EDGES),
        'exact',
        (I32,),
    ),
    Case(
        'reduce_bits_int',
        lambda L, x: (L.reduce_and(x, (0,)), L.reduce_or(x, (0,)), L.reduce_xor(x, (0,))),
        fixed(INT_EDGES),
        'exact',
        (I32,),
    ),
    Case(
        'reduce_bits_bool',
        lambda L, x: (L.reduce_and(x, (0,)), L.reduce_or(x, (0,)), L.reduce_xor(x, (0,)), L.reduce_max(x, (0,))),
        fixed(BOOLS[0]),
        'exact',
        (BOOL,),
    ),
    Case(
        'argmax_argmin',
        lambda L, x: (L.argmax(x, 1, np.int32), L.argmin(x, 0, np.int32), L.argmax(x, 0, np.int8)),
        rounded(-2, 2),
    ),
    Case('argmax_nan', lambda L, x: (L.argmax(x, 1, np.int32), L.argmin(x, 1, np.int32)), with_specials(-5, 5)),
    Case(
        'argmax_int_bool',
        lambda L, x: (L.argmax(x, 0, np.int32), L.argmin(x, 0, np.int32), L.argmax(x > 0, 0, np.int32)),
        fixed(INT_EDGES),
        'exact',
        (I32,),
    ),
]
for _op in ('cumsum', 'cumprod', 'cummax', 'cummin', 'cumlogsumexp'):
    _family = {'cumsum': 'reduction', 'cumprod': 'reduction', 'cumlogsumexp': 'transcendental'}.get(_op, 'exact')
    CASES.append(
        Case(
            _op,
            lambda L, x, _op=_op: (getattr(L, _op)(x), getattr(L, _op)(x, axis=2), getattr(L, _op)(x, 1, reverse=True)),
            uniform(0.5, 1.5, (2, 3, 4)),
            _family,
        )
    )
CASES += [
    Case('cumsum_int_wraps', lambda L, x: L.cumsum(x), fixed(np.array([100, 100, -3], np.int8)), 'exact', ('int8',)),
    Case('cummax_nan', lambda L, x: (L.cummax(x, 1), L.cummin(x, 1, True)), with_specials(-5, 5)),
]


def _argmax_reduce(L, x):
    """A variadic reduce: the maximum and its index along axis 1."""
    index = L.broadcasted_iota(np.int32, x.shape, 1)

    def pick(a, b):
        keep = L.ge(a[0], b[0])
        return L.select(keep, a[0], b[0]), L.select(keep, a[1], b[1])

    return L.reduce((x, index), (x.dtype.type(-np.inf), np.int32(0)), pick, (1,))


CASES += [
    Case('reduce_add', lambda L, x: L.reduce(x, x.dtype.type(0), L.add, (0, 2)), X3, 'reduction'),
    Case('reduce_variadic', _argmax_reduce, rounded(-3, 3)),
]
WINDOWS = [
    # (init, computation name, window, strides, padding, base_dilation, window_dilation)
    (0.0, 'add', (2, 2), (1, 1), 'VALID', None, None),
    (0.0, 'add', (3, 2), (2, 1), 'SAME', None, None),
    (-np.inf, 'max', (2, 3), (2, 2), 'SAME', None, None),
    (np.inf, 'min', (3, 3), (1, 1), ((1, 0), (-1, 2)), None, None),
    (0.0, 'add', (2, 2), (1, 1), 'SAME', (2, 1), None),
    (-np.inf, 'max', (2, 2), (1, 2), 'VALID', None, (2, 2)),
    (0.0, 'add', (3, 2), (1, 1), 'SAME', (2, 2), (2, 1)),
]
for i, (init, comp, window, strides, padding, base, wdil) in enumerate(WINDOWS):
    CASES.append(
        Case(
            f'reduce_window_{i}_{comp}',
            lambda L, x, _a=(init, comp, window, strides, padding, base, wdil): L.reduce_window(
                x, _a[0], getattr(L, _a[1]), _a[2], _a[3], _a[4], _a[5], _a[6]
            ),
            uniform(-1, 1, (5, 6)),
            'reduction' if comp == 'add' else 'exact',
        )
    )
CASES += [
    Case(
        'reduce_window_typed_init_converted',
        lambda L, x: L.reduce_window(x, np.int32(0), L.add, (2,), (1,)),
        uniform(-1, 1, (5,)),
        'reduction',
    ),
    Case(
        'reduce_window_pytree',
        lambda L, x, y: L.reduce_window(
            (x, y), (0.0, -np.inf), lambda a, b: (L.add(a[0], b[0]), L.max(a[1], b[1])), (2, 2), (1, 1), 'SAME'
        ),
        joined(uniform(-1, 1, (4, 5)), uniform(-1, 1, (4, 5))),
        'reduction',
    ),
]
SORT_INPUT = with_specials(-3, 3)
CASES += [
    Case('sort', lambda L, x: (L.sort(x), L.sort(x, dimension=0), L.sort(x.ravel())), SORT_INPUT),
    Case(
        'sort_several',
        lambda L, k, v: (L.sort((k, v), num_keys=1), L.sort([k, v], dimension=0, num_keys=2)),
        joined(rounded(-2, 2), uniform(-1, 1)),
    ),
    Case('sort_single_in_tuple', lambda L, x: L.sort((x,)), uniform(-1, 1)),
    Case('sort_key_val', lambda L, k, v: L.sort_key_val(k, v), joined(rounded(-2, 2), uniform(-1, 1))),
    Case('sort_int', lambda L, x: L.sort(x), fixed(INT_EDGES), 'exact', (I32,)),
    Case('top_k', lambda L, x: (L.top_k(x, 3), L.top_k(x, 2, axis=0), L.top_k(x.ravel(), 16)), SORT_INPUT),
    Case('top_k_ties', lambda L, x: L.top_k(x, 4), rounded(-2, 2)),
    Case('top_k_int_bool', lambda L, x: (L.top_k(x, 3), L.top_k(x > 0, 2)), fixed(INT_EDGES), 'exact', (I32,)),
]


def test_ops_do_not_write_into_their_operands():
    # Ops must not write into their operands (dynamic_update_slice copies).
    x = np.arange(6.0, dtype=np.float32)
    lax.dynamic_update_slice(x, np.ones(2, np.float32), (1,))
    lax.pad(x, np.float32(0), [(1, 1, 1)])
    lax.sort(x[::-1])
    assert x.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


@pytest.mark.parametrize('case,dtype', list(case_params(CASES)))
def test_matches_jax(case, dtype):
    check_matches_jax(case, dtype)
