"""fp8 training helpers, split by concept; the public face is ``nnjax.fp8_ops``.

* ``meta_dtype``: ``fp32_max_grad``, a float32 look-alike whose gradients
  combine by ``max`` instead of ``+``.
* ``scaling``: quantize / dequantize and the delayed-scaling bookkeeping
  (amax history, new scale).
* ``rules``: the ``custom_vjp`` / ``custom_jvp`` functions that put
  quantization into a dot product and hand the updated scales and histories
  back as "gradients".
* ``modules``: the Modules that own those scales and histories and plug into
  ``Dense(dot_general_cls=...)`` or ``Einsum``.

The scales and histories live in the :data:`OVERWRITE_WITH_GRADIENT`
collection. Their "gradient" is their next value, so a train step replaces
them with it instead of feeding it to the optimizer;
``nnjax.training.train_state.TrainState.apply_gradients`` does that.

>>> OVERWRITE_WITH_GRADIENT
'_overwrite_with_gradient'
"""

#: Name of the collection whose variables are replaced by their gradient.
OVERWRITE_WITH_GRADIENT = '_overwrite_with_gradient'
