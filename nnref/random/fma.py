"""Fused multiply-add, ``a * b + c`` with a single rounding, in NumPy.

XLA's CPU and GPU backends contract a multiply followed by an add into one
FMA instruction for float32 and float64 (observed: ``uniform`` with bounds
other than [0, 1) matches JAX bit for bit only with a fused rounding); it
rounds float16 and bfloat16 after every operation (observed the same way:
``jax.random.uniform`` in float16 matches multiply-round-add-round on every
one of tens of thousands of draws, and a single rounding misses a third of
them). NumPy has no FMA, so this file emulates one exactly:

* float32: the product of two float32 values is exact in float64; the sum is
  formed in float64 with *round-to-odd*, which makes the final rounding to
  float32 correct (a p+2-bit round-to-odd result rounds to p bits exactly
  like the real number would).
* float64: the emulated FMA of Boldo and Melquiond ("Emulation of FMA and
  correctly rounded sums: proved algorithms using rounding to odd", IEEE
  Trans. Computers 57(4), 2008): an exact product by Dekker/Veltkamp
  splitting, an exact sum, a round-to-odd sum of the two error terms, and a
  final round-to-nearest. Exact barring overflow and underflow of the
  intermediate terms.
* float16, bfloat16 and other narrow types: multiply, round, add, round.

>>> import numpy as np
>>> a = np.float32(1 + 2**-12); c = -np.float32(1 + 2**-11)
>>> float(fma(a, a, c))        # the 2**-24 term survives only when fused
5.960464477539063e-08
>>> float(a * a + c)
0.0
"""

import numpy as np

__all__ = ["fma"]


def _two_sum(a, b):
    """s + e == a + b exactly, s = fl(a + b) (Knuth)."""
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return s, e


def _split(a):
    """Veltkamp split of float64: hi + lo == a, each with <= 26 bits."""
    t = a * 134217729.0  # 2**27 + 1
    hi = t - (t - a)
    return hi, a - hi


def _two_prod(a, b):
    """p + e == a * b exactly for float64 (Dekker)."""
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


def _round_to_odd_sum(a, b):
    """a + b rounded to odd in float64: inexact results get an odd last bit."""
    s, e = _two_sum(a, b)
    even = (s.view(np.uint64) & np.uint64(1)) == 0
    inexact = (e != 0) & np.isfinite(s)
    bump = inexact & even
    toward = np.where(e > 0, np.inf, -np.inf)
    return np.where(bump, np.nextafter(s, toward), s)


def fma(a, b, c):
    """``a * b + c`` rounded once, in the common dtype of the inputs.

    >>> import numpy as np
    >>> fma(np.float64(0.1), np.float64(10.0), np.float64(-1.0))
    np.float64(5.551115123125783e-17)
    """
    a, b, c = (np.asarray(v) for v in (a, b, c))
    dtype = np.result_type(a, b, c)
    shape = np.broadcast_shapes(a.shape, b.shape, c.shape)
    # Work on 1-d arrays: NumPy scalars do not support the .view() below.
    a, b, c = np.broadcast_arrays(*(np.atleast_1d(v).astype(dtype) for v in (a, b, c)))
    with np.errstate(over="ignore", invalid="ignore"):
        if dtype == np.float32:
            p = a.astype(np.float64) * b.astype(np.float64)
            out = _round_to_odd_sum(p, c.astype(np.float64)).astype(np.float32)
            # Inf/NaN and overflow: the plain float64 value rounds the same.
            plain = (p + c.astype(np.float64)).astype(np.float32)
            out = np.where(np.isfinite(out), out, plain)
        elif dtype == np.float64:
            uh, ul = _two_prod(a, b)
            th, tl = _two_sum(c, uh)
            out = th + _round_to_odd_sum(tl, ul)
            plain = a * b + c
            # Non-finite intermediates make the error terms NaN; fall back.
            out = np.where(np.isfinite(out), out, plain)
        else:  # float16, bfloat16 and narrower: XLA rounds after every operation
            out = (a * b).astype(dtype) + c
    out = np.asarray(out, dtype=dtype).reshape(shape)
    return out[()] if out.ndim == 0 else out
