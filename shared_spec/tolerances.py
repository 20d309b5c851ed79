"""Conformance tolerances: one (rtol, atol) table per dtype and op family.

Tests never write their own magic numbers; they name the kind of computation
(``family``) and the dtype, and compare with :func:`assert_close`. An element
passes when ``|actual - desired| <= atol + rtol * |desired|``.

Unit roundoff (half an ulp at 1.0) of each dtype, which the table is built on:

=========  =========  ==============
dtype      mantissa   eps = 2**-mant
=========  =========  ==============
float64    52 bits    2.2e-16
float32    23 bits    1.2e-7
float16    10 bits    9.8e-4
bfloat16    7 bits    7.8e-3
=========  =========  ==============

The numbers assume unit-scale data (|x| ~ 1, as initializers and test
strategies produce) and full float32 arithmetic. On GPUs that use TF32 for
float32 matmuls/convolutions by default, conformance runs must request full
precision (``jax.default_matmul_precision('highest')``); TF32 has float16's
10-bit mantissa and would need the float16 row.

>>> tolerance('float32', 'matmul')
(1e-05, 1e-05)
>>> import numpy as np
>>> assert_close(np.float32([1.0, 2.0]), np.float32([1.0, 2.0000002]), family='elementwise')
"""

from collections.abc import Mapping

import numpy as np

__all__ = ['DTYPES', 'FAMILIES', 'TOLERANCES', 'tolerance', 'assert_close', 'assert_trees_close']

DTYPES = ('float64', 'float32', 'bfloat16', 'float16')
FAMILIES = (
    'exact',
    'elementwise',
    'transcendental',
    'matmul',
    'reduction',
    'normalization',
    'conv',
    'attention',
    'prng_normal',
    'derivative',
)

#: TOLERANCES[family][dtype] = (rtol, atol).
TOLERANCES = {
    # Integer-valued or bit-level results (PRNG keys and bits, argmax,
    # shapes, masks): any difference is a bug.
    'exact': {
        'float64': (0.0, 0.0),
        'float32': (0.0, 0.0),
        'bfloat16': (0.0, 0.0),
        'float16': (0.0, 0.0),
    },
    # One correctly rounded op (+, *, max, relu, where) per output; allow a
    # couple of roundings because a backend may fuse or reorder (a*b+c as
    # an FMA, x/y as x*(1/y)).
    'elementwise': {
        'float64': (1e-15, 1e-15),  # ~4.5 eps64: two roundings plus FMA slack
        'float32': (1e-6, 1e-6),  # ~8 eps32: same reasoning, libm-free ops
        'bfloat16': (1.6e-2, 1.6e-2),  # 2 eps16b: one ulp each side of rounding
        'float16': (2e-3, 2e-3),  # 2 eps16: one ulp each side of rounding
    },
    # exp, log, tanh, erf, sigmoid, gelu, softmax: library implementations
    # differ by a few ulp (XLA uses fast float32 approximations of tanh and
    # exp, NumPy the platform libm), and softmax adds a sum and a division.
    'transcendental': {
        'float64': (1e-14, 1e-14),  # ~45 eps64: few-ulp libm error, compounded
        'float32': (5e-6, 5e-6),  # ~40 eps32: XLA fast tanh/exp reach ~4-5 ulp, x2 ops
        'bfloat16': (2.4e-2, 2.4e-2),  # 3 eps: computed in f32 then rounded, + input rounding
        'float16': (3e-3, 3e-3),  # 3 eps: same reasoning as bfloat16
    },
    # Dot products of length K: rounding error grows ~sqrt(K)*eps in practice
    # (K*eps worst case) and depends on summation order, which BLAS, XLA and
    # NumPy choose differently. Sized for K up to ~1000.
    'matmul': {
        'float64': (1e-12, 1e-12),  # sqrt(1000)*eps64 ~ 7e-15, x100 for order/cancellation
        'float32': (1e-5, 1e-5),  # sqrt(1000)*eps32 ~ 4e-6, x2.5 for near-zero sums
        'bfloat16': (3e-2, 3e-2),  # f32 accumulation, output rounded: ~4 eps16b
        'float16': (5e-3, 5e-3),  # f32 accumulation, output rounded: ~5 eps16
    },
    # sum/mean/var over an axis: pairwise or tree summation error ~log2(N)*eps
    # for N terms, plus cancellation when the result is small next to the
    # terms. Looser than elementwise, tighter than matmul (no products).
    'reduction': {
        'float64': (1e-13, 1e-13),  # log2(1e6)*eps64 ~ 4.4e-15, x20 for cancellation
        'float32': (5e-6, 5e-6),  # log2(1e6)*eps32 ~ 2.4e-6, x2 for cancellation
        'bfloat16': (2.4e-2, 2.4e-2),  # f32 accumulation, output rounded: 3 eps16b
        'float16': (3e-3, 3e-3),  # f32 accumulation, output rounded: 3 eps16
    },
    # LayerNorm/BatchNorm/GroupNorm/RMSNorm: two reductions, then
    # (x - mean) * rsqrt(var + eps). The seed computes var as E[x^2] - E[x]^2,
    # which loses ~log2(mean^2/var) bits where the mean is large next to the
    # spread; a backend computing var directly differs by that much.
    'normalization': {
        'float64': (1e-12, 1e-12),  # reduction row x10 for the E[x^2]-E[x]^2 cancellation
        'float32': (2e-5, 2e-5),  # reduction row x4: cancellation plus rsqrt's own ulps
        'bfloat16': (3e-2, 3e-2),  # stats in f32, output rounded to bf16: ~4 eps16b
        'float16': (4e-3, 4e-3),  # stats in f32, output rounded to f16: ~4 eps16
    },
    # Convolutions are dot products of length K = prod(kernel_size) * C_in,
    # evaluated by im2col, direct loops, Winograd or FFT depending on the
    # backend; those change the summation order and (Winograd/FFT) add a few
    # roundings per output.
    'conv': {
        'float64': (1e-12, 1e-12),  # as matmul float64
        'float32': (2e-5, 2e-5),  # matmul float32 x2 for algorithm-dependent roundings
        'bfloat16': (3e-2, 3e-2),  # as matmul bfloat16: output rounding dominates
        'float16': (5e-3, 5e-3),  # as matmul float16
    },
    # Attention = matmul (logits) -> softmax -> matmul. Softmax turns an
    # absolute logit error d into a relative weight error ~d, and the second
    # matmul adds its own; roughly matmul + transcendental, with margin.
    'attention': {
        'float64': (1e-11, 1e-11),  # 10x the float64 matmul row: three stages
        'float32': (5e-5, 5e-5),  # matmul 1e-5 twice + softmax 5e-6, x2 margin
        'bfloat16': (5e-2, 5e-2),  # ~6 eps16b: three rounded stages
        'float16': (1e-2, 1e-2),  # ~10 eps16: three rounded stages
    },
    # Normal draws (normal, truncated_normal, variance-scaling initializers):
    # sqrt(2)*erfinv(u) from identical uniform bits. notes/linen-compat.md
    # measured a float32 erfinv port within 3 ulp of XLA; truncated_normal
    # adds an erf round trip and initializers one scaling multiply.
    'prng_normal': {
        'float64': (1e-13, 1e-13),  # f64 erfinv approximations agree to ~1e-15; x100 margin
        'float32': (
            2e-6,
            1e-6,
        ),  # 3 ulp = 3.6e-7 relative, x5 for erf + scaling; atol covers |z|<1 tails of 1 ulp-steps
        'bfloat16': (2.4e-2, 2.4e-2),  # 3 eps16b: bf16 uniform has 7 bits, rounding of the result
        'float16': (3e-3, 3e-3),  # 3 eps16: same reasoning
    },
    # Central differences (f(x+h) - f(x-h)) / 2h against autodiff: truncation
    # error ~h^2 |f'''| plus rounding ~eps |f| / h; the best h ~ eps^(1/3)
    # leaves ~eps^(2/3), times a problem-dependent constant (up to ~100).
    'derivative': {
        'float64': (1e-6, 1e-6),  # eps64^(2/3) ~ 3.7e-11, x100 constant, x250 margin
        'float32': (2e-3, 2e-3),  # eps32^(2/3) ~ 2.4e-5, x100 constant
        'bfloat16': (1e-1, 1e-1),  # eps16b^(2/3) ~ 3.9e-2, x2.5: only sanity checks
        'float16': (2e-2, 2e-2),  # eps16^(2/3) ~ 9.8e-3, x2
    },
}

# Complex numbers use the tolerance of their component type.
_ALIASES = {'complex128': 'float64', 'complex64': 'float32'}


def _dtype_name(dtype):
    """The canonical name of a dtype-like (str, NumPy dtype, JAX scalar type)."""
    if isinstance(dtype, str):
        return dtype
    return np.dtype(dtype).name


def _is_exact_dtype(name):
    return name == 'bool' or name.startswith(('int', 'uint'))


def tolerance(dtype, family):
    """``(rtol, atol)`` for ``dtype`` and op ``family``.

    Integer and bool dtypes are always exact; complex dtypes use the row of
    their component type.

    >>> tolerance('bfloat16', 'elementwise')
    (0.016, 0.016)
    >>> tolerance('int32', 'matmul')
    (0.0, 0.0)
    """
    if family not in TOLERANCES:
        raise ValueError(f'Unknown op family {family!r}; known: {FAMILIES}.')
    name = _dtype_name(dtype)
    if _is_exact_dtype(name):
        return (0.0, 0.0)
    name = _ALIASES.get(name, name)
    if name not in DTYPES:
        raise ValueError(f'No tolerance for dtype {name!r}; known: {DTYPES} (plus complex, integer and bool dtypes).')
    return TOLERANCES[family][name]


def _kind(dtype):
    """Dtype kind, treating extension floats (bfloat16: kind 'V') as 'f'."""
    if dtype.name in DTYPES:
        return 'f'
    return dtype.kind


def assert_close(actual, desired, *, family, dtype=None, err_msg=''):
    """Assert ``actual`` matches ``desired`` within the table's tolerance.

    ``dtype`` (default: ``desired``'s dtype) picks the row. Shapes must match
    exactly (no broadcasting). For family ``'exact'`` and for integer or bool
    dtypes, values must be equal and of the same dtype kind (an int result
    must not come back as float). NaNs must sit in the same places.
    Anything with ``__array__`` (JAX arrays) is accepted.

    >>> import numpy as np
    >>> assert_close(np.ones(3), np.ones(3) + 1e-3, family='matmul')
    Traceback (most recent call last):
    ...
    AssertionError: not close (family='matmul', dtype=float64, rtol=1e-12, atol=1e-12): 3 of 3 elements differ; max abs diff 0.001 at index (0,), actual 1.0, desired 1.001
    """
    actual = np.asarray(actual)
    desired = np.asarray(desired)
    name = _dtype_name(desired.dtype if dtype is None else dtype)
    rtol, atol = tolerance(name, family)
    prefix = f'{err_msg}: ' if err_msg else ''
    if actual.shape != desired.shape:
        raise AssertionError(f'{prefix}shape mismatch: actual {actual.shape}, desired {desired.shape}')
    exact = family == 'exact' or _is_exact_dtype(name)
    if exact and _kind(actual.dtype) != _kind(desired.dtype):
        raise AssertionError(
            f'{prefix}dtype kind mismatch: actual {actual.dtype}, desired {desired.dtype} (family={family!r})'
        )
    # Compare in the widest type so the check itself adds no rounding;
    # extension floats (bfloat16) do not support NumPy arithmetic reliably.
    wide = np.complex128 if np.iscomplexobj(actual) or np.iscomplexobj(desired) else np.float64
    if exact and actual.dtype.kind in 'iub' and desired.dtype.kind in 'iub':
        a, d = actual, desired  # big integers would lose bits as float64
        bad = a != d
    else:
        a, d = actual.astype(wide), desired.astype(wide)
        both_nan = np.isnan(a) & np.isnan(d)
        with np.errstate(invalid='ignore', over='ignore'):
            if exact:
                bad = ~((a == d) | both_nan)
            else:
                diff = np.abs(a - d)
                # a == d covers equal infinities; an infinite desired value
                # must not pass through the "inf <= inf" tolerance bound.
                close = np.isfinite(d) & (diff <= atol + rtol * np.abs(d))
                ok = close | (a == d) | both_nan
                bad = ~ok
    bad = np.asarray(bad)
    if not bad.any():
        return
    count = int(bad.sum())
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    with np.errstate(invalid='ignore', over='ignore'):
        diffs = np.where(bad, np.abs(np.asarray(a, wide) - np.asarray(d, wide)), 0)
    raise AssertionError(
        f'{prefix}not close (family={family!r}, dtype={name}, rtol={rtol}, '
        f'atol={atol}): {count} of {bad.size} elements differ; max abs diff '
        f'{float(np.nanmax(np.abs(diffs))) if diffs.size else 0.0:.3g} at index '
        f'{index}, actual {actual[index]}, desired {desired[index]}'
    )


_EMPTY = object()  # leaf marker for an empty container, so {} vs missing differ


def _flatten_tree(tree, prefix=(), out=None):
    """``{path tuple: leaf}`` for nested Mapping/list/tuple trees."""
    out = {} if out is None else out
    if isinstance(tree, Mapping):
        items = [(str(k), v) for k, v in tree.items()]
    elif isinstance(tree, (list, tuple)):
        items = [(str(i), v) for i, v in enumerate(tree)]
    else:
        out[prefix] = tree
        return out
    if not items:
        out[prefix] = _EMPTY
    for key, value in items:
        _flatten_tree(value, prefix + (key,), out)
    return out


def _path_name(path):
    return '/'.join(path) if path else '<root>'


def assert_trees_close(actual, desired, *, family, err_msg=''):
    """Assert two nested dict/list/tuple/FrozenDict trees match leaf by leaf.

    First the trees must have the same paths (missing and extra paths are
    listed by ``'/'``-joined name); then every leaf goes through
    :func:`assert_close`, with its dtype taken from the ``desired`` leaf.
    All failing leaves are reported together. ``None`` leaves must be
    ``None`` on both sides.

    >>> import numpy as np
    >>> assert_trees_close({'params': {'w': np.ones(2)}}, {'params': {}},
    ...                    family='elementwise')
    Traceback (most recent call last):
    ...
    AssertionError: trees differ in structure: extra paths (only in actual): ['params/w']; paths that are empty containers on one side only: ['params']
    """
    prefix = f'{err_msg}: ' if err_msg else ''
    flat_a = _flatten_tree(actual)
    flat_d = _flatten_tree(desired)
    empty_a = {p for p, v in flat_a.items() if v is _EMPTY}
    empty_d = {p for p, v in flat_d.items() if v is _EMPTY}
    missing = sorted(_path_name(p) for p in flat_d.keys() - flat_a.keys() if p not in empty_d)
    extra = sorted(_path_name(p) for p in flat_a.keys() - flat_d.keys() if p not in empty_a)
    empties = sorted(_path_name(p) for p in empty_a ^ empty_d)
    if missing or extra or empties:
        parts = []
        if missing:
            parts.append(f'missing paths (only in desired): {missing}')
        if extra:
            parts.append(f'extra paths (only in actual): {extra}')
        if empties:
            parts.append(f'paths that are empty containers on one side only: {empties}')
        raise AssertionError(f'{prefix}trees differ in structure: ' + '; '.join(parts))
    failures = []
    for path in sorted(flat_d):
        a, d = flat_a[path], flat_d[path]
        if d is _EMPTY:
            continue
        name = _path_name(path)
        if a is None or d is None:
            if not (a is None and d is None):
                failures.append(f'{name}: actual {a!r}, desired {d!r}')
            continue
        try:
            assert_close(a, d, family=family, err_msg=name)
        except AssertionError as e:
            failures.append(str(e))
    if failures:
        raise AssertionError(f'{prefix}{len(failures)} of {len(flat_d)} leaves differ:\n' + '\n'.join(failures))
