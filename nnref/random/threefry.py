"""The Threefry-2x32 block function (Salmon et al., "Parallel random numbers:
as easy as 1, 2, 3", SC 2011), 20 rounds, on NumPy ``uint32`` arrays.

This is the counter-based hash under every random number in nnref: a key of
two 32-bit words scrambles a counter of two 32-bit words into two output
words. Everything else in :mod:`nnref.random` only decides which counters to
feed it and how to turn the outputs into numbers.

>>> import numpy as np
>>> # Known-answer vector from the Random123 distribution (20 rounds,
>>> # key = counter = 0).
>>> y0, y1 = threefry2x32(np.uint32(0), np.uint32(0),
...                      np.uint32(0), np.uint32(0))
>>> hex(int(y0)), hex(int(y1))
('0x6b200159', '0x99ba4efe')
"""

import numpy as np

__all__ = ["threefry2x32"]

# Rotation amounts for the two alternating groups of four rounds.
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
# Parity constant of the key schedule (Skein's C240 truncated to 32 bits).
_PARITY = np.uint32(0x1BD11BDA)


def _rotl(x, r):
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def threefry2x32(k0, k1, x0, x1):
    """Hash counters ``(x0, x1)`` under key ``(k0, k1)``; all uint32.

    The four arguments broadcast against each other; the result is a pair of
    uint32 arrays of the broadcast shape.

    >>> import numpy as np
    >>> a, b = threefry2x32(np.uint32(0), np.uint32(42),
    ...                     np.zeros(3, np.uint32), np.arange(3, dtype=np.uint32))
    >>> a.dtype, a.shape
    (dtype('uint32'), (3,))
    """
    k0, k1, x0, x1 = np.broadcast_arrays(*(np.asarray(v, dtype=np.uint32) for v in (k0, k1, x0, x1)))
    shape = k0.shape
    # Flatten to 1-d: arithmetic on 0-d arrays yields NumPy scalars, which
    # warn on the wrap-around that the cipher relies on.
    k0, k1, x0, x1 = (v.reshape(-1) for v in (k0, k1, x0, x1))
    ks = (k0, k1, k0 ^ k1 ^ _PARITY)
    # Work on copies: the in-place additions below must not touch the inputs,
    # and uint32 array arithmetic wraps modulo 2**32 as the cipher needs.
    a = x0 + ks[0]
    b = x1 + ks[1]
    for group in range(5):
        for r in _ROTATIONS[group % 2]:
            a += b
            b = _rotl(b, r)
            b ^= a
        # Key injection after every four rounds, with the injection counter.
        a += ks[(group + 1) % 3]
        b += ks[(group + 2) % 3]
        b += np.uint32(group + 1)
    return a.reshape(shape), b.reshape(shape)
