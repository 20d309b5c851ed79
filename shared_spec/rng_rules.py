"""The RNG derivation rule both backends follow (see ``notes/linen-compat.md``).

A scope at path ``p`` that has called ``make_rng(stream)`` ``n`` times gets
``fold_in(root_key, suffix_hash(p + (n,)))``: one fold-in of a 32-bit hash of
the whole suffix. The hash is SHA-1 over the parts in order, a ``str`` as its
UTF-8 bytes and an ``int`` as its big-endian bytes without leading zeros,
read as the first four bytes of the digest, big-endian. Each backend applies
it with its own ``fold_in``.

>>> suffix_hash((1,)) == suffix_hash((1,))
True
>>> suffix_hash(('Dense_0', 1)) != suffix_hash(('Dense_1', 1))
True
>>> import hashlib
>>> suffix_hash(('Dense_0', 1)) == int.from_bytes(hashlib.sha1(b'Dense_0' + bytes([1])).digest()[:4], 'big')
True
"""

import hashlib
import numbers


def suffix_hash(parts):
    """The 32-bit hash of a stream suffix (a tuple of names and counters)."""
    digest = hashlib.sha1()
    for part in parts:
        if isinstance(part, str):
            digest.update(part.encode('utf-8'))
        elif isinstance(part, numbers.Integral):
            part = int(part)
            digest.update(part.to_bytes((part.bit_length() + 7) // 8, 'big'))
        else:
            raise TypeError(f'RNG suffix parts are str or int, got {type(part).__name__}')
    return int.from_bytes(digest.digest()[:4], 'big')
