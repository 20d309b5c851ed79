"""An independent NumPy derivation of fp8 rounding and delayed scaling.

The fp8 grids are built from the published format parameters (mantissa
bits, smallest normal exponent, largest finite value) rather than from any
fp8 dtype implementation, and values are rounded to the nearest grid point
with ties to an even mantissa, as IEEE-style casts do. The scaling rules
follow the seed's documented recipe (NVIDIA Transformer Engine's delayed
scaling): new scale = max(amax history) / fp8_max, history rolled one place
towards the front with the newest amax written at index 0.
"""

import numpy as np

#: name -> (mantissa bits, smallest normal exponent, largest finite value).
#: OCP e4m3fn: bias 7, top exponent keeps all but the all-ones mantissa
#: (1.75 * 2**8). e5m2: IEEE-like, bias 15, max 1.75 * 2**15. The NANOO
#: ("fnuz") variants have bias 8 / 16 and use every exponent for numbers:
#: e4m3fnuz max 1.875 * 2**7, e5m2fnuz max 1.75 * 2**15.
FORMATS = {
    'float8_e4m3fn': (3, -6, 1.75 * 2.0**8),
    'float8_e5m2': (2, -14, 1.75 * 2.0**15),
    'float8_e4m3fnuz': (3, -7, 1.875 * 2.0**7),
    'float8_e5m2fnuz': (2, -15, 1.75 * 2.0**15),
}


def grid(name):
    """All finite non-negative values of the format, ascending."""
    mbits, emin, fmax = FORMATS[name]
    step = 2.0 ** (emin - mbits)
    values = [i * step for i in range(2**mbits)]  # zero and subnormals
    e = emin
    while True:
        binade = [(1 + i / 2**mbits) * 2.0**e for i in range(2**mbits)]
        values += [v for v in binade if v <= fmax]
        if binade[-1] >= fmax:
            break
        e += 1
    return np.array(values, np.float64)


def round_to_format(x, name):
    """``x`` (already within range) rounded to the format, as float64.

    The grid index parity equals the mantissa's last bit, so a tie goes to
    the even index.
    """
    g = grid(name)
    mag = np.abs(np.asarray(x, np.float64))
    hi = np.clip(np.searchsorted(g, mag, side='left'), 1, len(g) - 1)
    lo = hi - 1
    d_lo, d_hi = mag - g[lo], g[hi] - mag
    pick_hi = (d_hi < d_lo) | ((d_hi == d_lo) & (hi % 2 == 0))
    out = np.where(pick_hi, g[hi], g[lo])
    out = np.where(mag <= 0.0, 0.0, out)
    return np.sign(x) * out


def fp8_max(name):
    return FORMATS[name][2]


def quantize(x, name, scale):
    """clip(x / scale, -max, max) rounded to the format (float64 values)."""
    scaled = np.asarray(x, np.float32) / np.float32(scale)
    return round_to_format(np.clip(scaled, -fp8_max(name), fp8_max(name)), name)


def qdq(x, name, scale):
    return (quantize(x, name, scale).astype(np.float32) * np.float32(scale)).astype(np.float32)


def new_scale(history, scale, name, margin=0):
    """max(history) * 2**margin / fp8_max; the old scale if that max is 0/inf."""
    amax = np.float32(np.max(history))
    if not (amax > 0 and np.isfinite(amax)):
        return np.float32(scale)
    return np.float32(1.0) / ((np.float32(fp8_max(name)) / amax) / np.float32(2.0**margin))


def new_history(x, history):
    """Roll one place to the front, then put max|x| at index 0."""
    h = np.roll(np.asarray(history, np.float32), -1)
    h[0] = np.max(np.abs(x))
    return h
