"""``nn.fp8_ops``: fp8 matrix products for training, with delayed scaling.

The public names of the seed's ``linen.fp8_ops``, implemented in
``nnjax.fp8`` (one file per concept):

* ``nnjax.fp8.scaling``: :func:`get_fp8_max`, :func:`quantize`,
  :func:`dequantize`, :func:`qdq`, :func:`compute_scale`,
  :func:`compute_amax_history`, :func:`update_fp8_meta`,
  :func:`quantize_dequantize_update`;
* ``nnjax.fp8.rules``: :func:`in_qdq`, :func:`out_qdq`, :func:`in_q`,
  :func:`out_dq`, :func:`quantized_dot`, :func:`fp8_scaled_dot_general`,
  :func:`dot_general_with_precision`;
* ``nnjax.fp8.modules``: :class:`Fp8DotGeneralBase`,
  :class:`Fp8DotGeneralOp`, :class:`Fp8DirectDotGeneralOp`,
  :class:`NANOOFp8DotGeneralOp`, :class:`Fp8Einsum`, ``Fp8DotGeneral``;
* ``nnjax.fp8.meta_dtype``: ``fp32_max_grad`` (alias ``fm32``).

A Dense layer computing in fp8, trained with ``TrainState``:

>>> import functools, jax, jax.numpy as jnp, optax
>>> import nnjax as nn
>>> from nnjax.training.train_state import TrainState
>>> op = functools.partial(nn.Fp8DirectDotGeneralOp, amax_history_length=4)
>>> model = nn.Dense(3, dot_general_cls=op)
>>> x = jnp.ones((2, 5))
>>> variables = model.init(jax.random.PRNGKey(0), x)
>>> sorted(variables)
['_overwrite_with_gradient', 'params']
>>> state = TrainState.create(apply_fn=model.apply, params=variables, tx=optax.sgd(0.1))
>>> grads = jax.grad(lambda v: state.apply_fn(v, x).sum())(state.params)
>>> state = state.apply_gradients(grads=grads)
>>> state.params[OVERWRITE_WITH_GRADIENT]['Fp8DirectDotGeneralOp_0']['input_amax_history']
Array([1., 0., 0., 0.], dtype=float32)
"""

from nnjax.fp8 import OVERWRITE_WITH_GRADIENT
from nnjax.fp8.meta_dtype import fm32, fp8_meta_dtype, fp32_max_grad
from nnjax.fp8.modules import (
    Fp8DirectDotGeneralOp,
    Fp8DotGeneral,
    Fp8DotGeneralBase,
    Fp8DotGeneralOp,
    Fp8Einsum,
    NANOOFp8DotGeneralOp,
)
from nnjax.fp8.rules import (
    dot_general_transpose_lhs,
    dot_general_transpose_rhs,
    dot_general_with_precision,
    fp8_scaled_dot_general,
    in_q,
    in_qdq,
    out_dq,
    out_qdq,
    quantized_dot,
)
from nnjax.fp8.scaling import (
    compute_amax_history,
    compute_scale,
    dequantize,
    get_fp8_max,
    qdq,
    quantize,
    quantize_dequantize_update,
    update_fp8_meta,
)

__all__ = [
    'OVERWRITE_WITH_GRADIENT',
    'fp32_max_grad',
    'fm32',
    'fp8_meta_dtype',
    'get_fp8_max',
    'quantize',
    'dequantize',
    'qdq',
    'compute_scale',
    'compute_amax_history',
    'update_fp8_meta',
    'quantize_dequantize_update',
    'in_qdq',
    'out_qdq',
    'in_q',
    'out_dq',
    'quantized_dot',
    'fp8_scaled_dot_general',
    'dot_general_with_precision',
    'dot_general_transpose_lhs',
    'dot_general_transpose_rhs',
    'Fp8DotGeneralBase',
    'Fp8DotGeneralOp',
    'Fp8DirectDotGeneralOp',
    'NANOOFp8DotGeneralOp',
    'Fp8Einsum',
    'Fp8DotGeneral',
]
