"""How far an nnjax array is from the reference, in absolute, relative and tolerance units.

``desired`` is nnref's (float64) value, ``actual`` nnjax's. Errors are
measured in float64. Positions where both are NaN, or both the same
infinity, agree; a non-finite value on one side only is an infinite error.

* ``max_abs``: ``max |actual - desired|``.
* ``max_rel``: ``max_abs / max |desired|``, relative to the array's largest
  magnitude (an elementwise ratio is meaningless at the zeros that ReLU and
  masks produce).
* ``tolerance_ratio``: the largest ``|actual - desired| / (atol * scale + rtol *
  |desired|)`` with ``(rtol, atol)`` from ``shared_spec.tolerances`` for the
  family and nnjax's dtype, and ``scale = max(1, rms(desired))``: the table's
  ``atol`` assumes unit-scale data, so it grows with the data. Above 1 means
  beyond tolerance.

>>> import numpy as np
>>> a, d = np.float32([1.0, 2.0]), np.float64([1.0, 2.0 + 1e-3])
>>> round(max_abs(a, d), 6), round(max_rel(a, d), 6), tolerance_ratio(a, d, 'matmul') > 1
(0.001, 0.0005, True)
"""

from __future__ import annotations

import numpy as np

from shared_spec.tolerances import tolerance

_TINY = np.finfo(np.float64).tiny


def _diff(actual, desired) -> np.ndarray:
    a = np.atleast_1d(np.asarray(actual).astype(np.float64))
    d = np.atleast_1d(np.asarray(desired).astype(np.float64))
    if a.shape != d.shape:
        return np.full((1,), np.inf)
    same = (a == d) | (np.isnan(a) & np.isnan(d))
    diff = np.abs(a - d)
    diff[same] = 0.0
    diff[np.isnan(diff)] = np.inf
    return diff


def max_abs(actual, desired) -> float:
    diff = _diff(actual, desired)
    return float(diff.max()) if diff.size else 0.0


def max_rel(actual, desired) -> float:
    d = np.abs(np.asarray(desired, np.float64))
    d = d[np.isfinite(d)]
    scale = max(float(d.max()) if d.size else 0.0, _TINY)
    return max_abs(actual, desired) / scale


def tolerance_ratio(actual, desired, family: str, dtype=None) -> float:
    """``<= 1`` where every element is within the tolerance table's bound for ``family``."""
    dtype = np.asarray(actual).dtype if dtype is None else dtype
    if np.dtype(dtype).kind in 'biu':
        family = 'exact'
    rtol, atol = tolerance(dtype, family)
    diff = _diff(actual, desired)
    if not diff.size:
        return 0.0
    if np.asarray(desired).shape != np.asarray(actual).shape:
        return float('inf')
    d = np.abs(np.asarray(desired, np.float64))
    finite = d[np.isfinite(d)]
    scale = max(1.0, float(np.sqrt(np.mean(finite**2))) if finite.size else 1.0)
    bound = atol * scale + rtol * np.where(np.isfinite(d), d, 0.0)
    with np.errstate(divide='ignore', invalid='ignore'):
        ratio = np.where(diff == 0, 0.0, diff / bound)
    return float(ratio.max())


def leaves_ratio(actual: list, desired: list, family: str) -> float:
    """The worst :func:`tolerance_ratio` over paired leaves (inf if the counts differ)."""
    if len(actual) != len(desired):
        return float('inf')
    return max((tolerance_ratio(a, d, family) for a, d in zip(actual, desired)), default=0.0)


def leaves_abs_rel(actual: list, desired: list) -> tuple[float, float]:
    if len(actual) != len(desired):
        return float('inf'), float('inf')
    pairs = list(zip(actual, desired))
    return (max((max_abs(a, d) for a, d in pairs), default=0.0), max((max_rel(a, d) for a, d in pairs), default=0.0))
