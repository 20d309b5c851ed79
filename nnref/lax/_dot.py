"""Contractions: ``dot``, ``dot_general``, ``batch_matmul`` and the ``precision`` arguments.

The contraction itself is :func:`nnref.layers._contract.dot_general`:
narrow floats multiply-accumulate in float32 and round once, as XLA does,
and mixed operand dtypes promote by JAX's lattice (``dot_general`` is the
one lax op that promotes). ``precision`` values (``Precision``, their
strings, ``DotAlgorithmPreset``) are checked as lax checks them and
otherwise ignored: NumPy always computes at the full precision of the
operands, which is what a reference should do.

>>> import numpy as np
>>> a = np.arange(6, dtype=np.float32).reshape(2, 3)
>>> dot(a, np.ones(3, np.float32), precision=Precision.HIGHEST)
array([ 3., 12.], dtype=float32)
>>> dot_general(a, a, (((1,), (1,)), ((0,), (0,))))
array([ 5., 50.], dtype=float32)
"""

from __future__ import annotations

import enum

import numpy as np

from nnref.lax import _dtype_rules as rules
from nnref.layers import _contract


class Precision(enum.Enum):
    """lax's matmul/convolution precision; strings such as ``'highest'`` name the same members."""

    DEFAULT = 0
    HIGH = 1
    HIGHEST = 2

    @classmethod
    def _missing_(cls, value):
        names = {
            'default': cls.DEFAULT,
            'bfloat16': cls.DEFAULT,
            'fastest': cls.DEFAULT,
            'high': cls.HIGH,
            'bfloat16_3x': cls.HIGH,
            'tensorfloat32': cls.HIGH,
            'highest': cls.HIGHEST,
            'float32': cls.HIGHEST,
        }
        return names.get(value) if isinstance(value, str) else None

    def __str__(self):
        return self.name


# The member names of jax.lax.DotAlgorithmPreset (inputs_inputs_accumulation types).
DotAlgorithmPreset = enum.Enum(
    'DotAlgorithmPreset',
    [
        'DEFAULT',
        'ANY_F8_ANY_F8_F32',
        'ANY_F8_ANY_F8_F32_FAST_ACCUM',
        'ANY_F8_ANY_F8_ANY',
        'ANY_F8_ANY_F8_ANY_FAST_ACCUM',
        'F16_F16_F16',
        'F16_F16_F32',
        'BF16_BF16_BF16',
        'BF16_BF16_F32',
        'BF16_BF16_F32_X3',
        'BF16_BF16_F32_X6',
        'BF16_BF16_F32_X9',
        'TF32_TF32_F32',
        'TF32_TF32_F32_X3',
        'F32_F32_F32',
        'F64_F64_F64',
    ],
)
DotAlgorithmPreset.__doc__ = (
    'The names of lax\'s dot algorithm presets, accepted as ``precision``; '
    'nnref computes at full precision whatever the preset.'
)


def check_precision(op: str, precision) -> None:
    """ValueError unless ``precision`` is something lax accepts as a precision."""

    def one(p):
        if p is None or isinstance(p, (Precision, DotAlgorithmPreset)):
            return True
        return isinstance(p, str) and Precision._missing_(p) is not None

    ok = one(precision) or (
        isinstance(precision, (tuple, list))
        and len(precision) == 2
        and all(p is not None and one(p) and not isinstance(p, DotAlgorithmPreset) for p in precision)
    )
    if not ok:
        raise ValueError(
            f'nnref.lax.{op}: precision must be None, a lax.Precision, one of its strings (\'default\', '
            f"'high', 'highest', 'bfloat16', 'tensorfloat32', 'float32', ...), a pair of those, or a "
            f'lax.DotAlgorithmPreset; got {precision!r}.'
        )


def dot_general(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None, *, out_sharding=None):
    """Contract ``lhs`` and ``rhs`` as ``((lhs_contract, rhs_contract), (lhs_batch, rhs_batch))`` say.

    The result's axes are the batch axes, then ``lhs``'s free axes, then
    ``rhs``'s, each in their original order; its dtype is
    ``preferred_element_type`` when given.

    >>> import numpy as np
    >>> x, w = np.ones((2, 5, 3), np.float32), np.ones((2, 3, 4), np.float32)
    >>> dot_general(x, w, (((2,), (1,)), ((0,), (0,)))).shape
    (2, 5, 4)
    """
    del out_sharding  # one host array: nothing to shard
    check_precision('dot_general', precision)
    a, b = rules.operand(lhs), rules.operand(rhs)
    if preferred_element_type is not None:
        preferred_element_type = rules.requested_dtype(preferred_element_type, like=np.result_type(a, b))
    return np.asarray(_contract.dot_general(a, b, dimension_numbers, preferred_element_type=preferred_element_type))


def dot(lhs, rhs, *, dimension_numbers=None, precision=None, preferred_element_type=None, out_sharding=None):
    """Vector/matrix products (``dot_general`` with ``dimension_numbers``).

    Without ``dimension_numbers`` both operands have rank 1 or 2 and the last
    axis of ``lhs`` meets the first of ``rhs``.

    >>> import numpy as np
    >>> dot(np.ones(3, np.float32), np.ones(3, np.float32))
    array(3., dtype=float32)
    """
    a, b = rules.operand(lhs), rules.operand(rhs)
    if dimension_numbers is None:
        if a.ndim not in (1, 2) or b.ndim not in (1, 2):
            raise ValueError(
                'nnref.lax.dot: dimension_numbers must be given unless both operands are vectors or '
                f'matrices, as in jax.lax; got shapes {a.shape} and {b.shape}.'
            )
        dimension_numbers = (((a.ndim - 1,), (0,)), ((), ()))
    return dot_general(
        a,
        b,
        dimension_numbers,
        precision=precision,
        preferred_element_type=preferred_element_type,
        out_sharding=out_sharding,
    )


def batch_matmul(lhs, rhs, precision=None):
    """Matrix products over matching leading batch axes: ``(..., m, k) @ (..., k, n)``.

    >>> import numpy as np
    >>> batch_matmul(np.ones((2, 3, 4), np.float32), np.ones((2, 4, 5), np.float32)).shape
    (2, 3, 5)
    """
    a, b = rules.operand(lhs), rules.operand(rhs)
    if a.ndim < 2 or a.ndim != b.ndim or a.shape[:-2] != b.shape[:-2]:
        raise ValueError(
            f'nnref.lax.batch_matmul: operands need one rank >= 2 and equal batch axes, '
            f'got shapes {a.shape} and {b.shape}.'
        )
    batch = tuple(range(a.ndim - 2))
    return dot_general(a, b, (((a.ndim - 1,), (b.ndim - 2,)), (batch, batch)), precision=precision)
