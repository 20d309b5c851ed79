"""``nnjax.jax_utils``: device and tracing helpers around ``jax.pmap``.

* :func:`replicate` / :func:`unreplicate`: copy a pytree to every device
  (a new leading axis, one entry per device) and take one copy back.
* :func:`prefetch_to_device`: move the next few batches of an iterator to
  the devices while the current step runs.
* :func:`pad_shard_unpad`: call a ``pmap``'d function on a batch of any size
  by padding it to a multiple of the device count and cutting the padding
  off the result.
* :func:`pmean`: ``lax.pmean`` over a pytree, inside ``pmap``.
* :func:`partial_eval_by_shape`: like ``jax.eval_shape``, but outputs that
  do not depend on the inputs come back as values.

Arrays laid out for ``pmap`` here are ordinary JAX arrays whose leading
axis is split over the devices, one entry each (``jax.sharding.NamedSharding``
over a one-axis mesh); ``jax.pmap`` takes them as they are.

>>> import jax, jax.numpy as jnp
>>> params = {'w': jnp.arange(3.0)}
>>> replicated = replicate(params)
>>> replicated['w'].shape == (jax.local_device_count(), 3)
True
>>> total = jax.pmap(lambda p: jnp.sum(p['w']))(replicated)
>>> float(unreplicate(total))
3.0
"""

import collections
import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.core import Literal

__all__ = ['partial_eval_by_shape', 'replicate', 'unreplicate', 'prefetch_to_device', 'pmean', 'pad_shard_unpad']


# --- partial evaluation by shape ---------------------------------------------


def _as_shape_struct(spec):
    """A ``jax.ShapeDtypeStruct`` from ``shape`` or ``(shape, dtype)``."""
    if hasattr(spec, 'shape') and hasattr(spec, 'dtype'):
        return jax.ShapeDtypeStruct(spec.shape, spec.dtype)
    if isinstance(spec, (tuple, list)) and len(spec) == 2 and isinstance(spec[0], (tuple, list)):
        shape, dtype = spec
    else:
        shape, dtype = spec, jnp.float32
    try:
        shape = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise ValueError(
            f'partial_eval_by_shape: input spec {spec!r} is neither a shape '
            '(a tuple of ints) nor a (shape, dtype) pair, e.g. (2, 3) or '
            '((2, 3), jnp.int32).'
        ) from None
    return jax.ShapeDtypeStruct(shape, dtype)


_UNKNOWN = object()


def _bind(eqn, values):
    """Run one traced operation on concrete values, as ``jax.core.eval_jaxpr`` does."""
    bind_params = eqn.primitive.get_bind_params(eqn.params)
    if isinstance(bind_params, tuple):  # older JAX: (subfuns, params)
        subfuns, bind_params = bind_params
        return eqn.primitive.bind(*subfuns, *values, **bind_params)
    return eqn.primitive.bind(*values, **bind_params)


def partial_eval_by_shape(fn, input_spec, *args, **kwargs):
    """Evaluate ``fn`` knowing only the shapes of its first inputs.

    ``fn(*inputs, *args, **kwargs)`` is traced with abstract ``inputs`` of
    the given shapes (no input data, no device computation on them). Every
    output that depends on an input comes back as a ``jax.ShapeDtypeStruct``;
    every output that can be computed without the inputs is computed and
    returned as a value. The typical use is initializing a model from input
    shapes alone: the parameters depend on the PRNG key, not on the data.

    The known part is found operation by operation in the traced program; a
    nested ``jit`` call with some unknown inputs counts as unknown as a
    whole.

    Args:
      fn: the function to evaluate.
      input_spec: one entry per abstract input: a shape (dtype float32), a
        ``(shape, dtype)`` pair, or anything with ``.shape`` and ``.dtype``.
      *args: further positional arguments, passed after the inputs.
      **kwargs: keyword arguments for ``fn``.

    Returns:
      ``fn``'s output pytree, with ``ShapeDtypeStruct`` for input-dependent
      leaves.

    >>> import jax, jax.numpy as jnp
    >>> def init_and_apply(x, key):
    ...     w = jax.random.normal(key, (x.shape[-1], 2))
    ...     return w, x @ w
    >>> w, y = partial_eval_by_shape(init_and_apply, [(5, 3)], jax.random.PRNGKey(0))
    >>> w.shape, type(w).__name__, y
    ((3, 2), 'ArrayImpl', ShapeDtypeStruct(shape=(5, 2), dtype=float32))
    """
    structs = [_as_shape_struct(spec) for spec in input_spec]

    def with_inputs(*inputs):
        return fn(*inputs, *args, **kwargs)

    closed, out_shapes = jax.make_jaxpr(with_inputs, return_shape=True)(*structs)
    jaxpr = closed.jaxpr
    known = dict(zip(jaxpr.constvars, closed.consts))

    def read(atom):
        if isinstance(atom, Literal):
            return atom.val
        return known.get(atom, _UNKNOWN)

    for eqn in jaxpr.eqns:
        values = [read(atom) for atom in eqn.invars]
        if any(v is _UNKNOWN for v in values):
            continue
        outs = _bind(eqn, values)
        if not eqn.primitive.multiple_results:
            outs = [outs]
        known.update(zip(eqn.outvars, outs))

    shape_leaves, out_tree = jax.tree_util.tree_flatten(out_shapes)
    leaves = []
    for atom, shape in zip(jaxpr.outvars, shape_leaves):
        value = read(atom)
        leaves.append(shape if value is _UNKNOWN else value)
    return jax.tree_util.tree_unflatten(out_tree, leaves)


# --- placing data on the devices ---------------------------------------------


def _pmap_devices(devices):
    """The devices, in the order ``jax.pmap`` uses by default (local ones)."""
    devices = jax.local_devices() if devices is None else list(devices)
    if not devices:
        raise ValueError('devices is empty; pass at least one device.')
    return devices


def _stacked(per_device, devices):
    """One array whose leading axis holds ``per_device[i]`` (shape (1, ...)) on device i."""
    mesh = jax.sharding.Mesh(np.array(devices), ('devices',))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec('devices'))
    shards = [jax.device_put(x, d) for x, d in zip(per_device, devices)]
    shape = (len(devices),) + tuple(per_device[0].shape[1:])
    return jax.make_array_from_single_device_arrays(shape, sharding, shards)


def _as_array(x):
    return x if isinstance(x, jax.Array) else np.asarray(x)


def replicate(tree, devices=None):
    """A copy of every leaf on each device, stacked along a new leading axis.

    Args:
      tree: a pytree of arrays (or scalars).
      devices: the devices to copy to; by default ``jax.local_devices()``,
        the order ``jax.pmap`` uses.

    Returns:
      The pytree with leaves of shape ``(len(devices), *leaf.shape)``.

    >>> import jax
    >>> replicate({'b': 1.0})['b'].shape == (jax.local_device_count(),)
    True
    """
    devices = _pmap_devices(devices)

    def put(x):
        one = _as_array(x)[None]
        return _stacked([one] * len(devices), devices)

    return jax.tree_util.tree_map(put, tree)


def unreplicate(tree):
    """The first copy of a replicated pytree (entry 0 of each leading axis).

    >>> import jax.numpy as jnp
    >>> unreplicate({'w': jnp.array([[1, 2], [1, 2]])})
    {'w': Array([1, 2], dtype=int32)}
    """
    return jax.tree_util.tree_map(lambda x: x[0], tree)


def _split_over(x, devices, what):
    x = _as_array(x)
    if not x.shape or x.shape[0] != len(devices):
        raise ValueError(
            f'{what}: an array of shape {x.shape} cannot be split over '
            f'{len(devices)} device(s); its leading axis must have length '
            f'{len(devices)}, one entry per device. Shard the batch first '
            '(nnjax.training.common_utils.shard).'
        )
    return _stacked([x[i : i + 1] for i in range(len(devices))], devices)


def prefetch_to_device(iterator, size, devices=None):
    """Iterate over ``iterator`` with the next ``size`` items already on device.

    Each item is a pytree of arrays whose leading axis has one entry per
    device (see ``nnjax.training.common_utils.shard``); entry ``i`` is
    copied to device ``i``. Up to ``size`` items wait in the buffer, so the
    host-to-device copy of the next batch overlaps the current step. Most
    useful on GPUs, where ``size=2`` is usually enough; TPU and CPU
    allocators rarely need it.

    Args:
      iterator: yields pytrees of arrays with a leading device axis.
      size: how many items to hold on device ahead (>= 1).
      devices: the devices; by default ``jax.local_devices()``.

    Returns:
      An iterator over the same items, now on the devices.

    >>> import jax, numpy as np
    >>> n = jax.local_device_count()
    >>> batches = ({'x': np.full((n, 2), i)} for i in range(3))
    >>> [int(b['x'][0, 0]) for b in prefetch_to_device(batches, size=2)]
    [0, 1, 2]
    """
    if not isinstance(size, int) or size < 1:
        raise ValueError(
            f'prefetch_to_device: size must be an int >= 1 (the number of batches held on device), got {size!r}.'
        )
    devices = _pmap_devices(devices)
    source = iter(iterator)

    def put(x):
        return _split_over(x, devices, 'prefetch_to_device')

    def generate():
        queue = collections.deque()
        for item in itertools.islice(source, size):
            queue.append(jax.tree_util.tree_map(put, item))
        while queue:
            yield queue.popleft()
            for item in itertools.islice(source, 1):
                queue.append(jax.tree_util.tree_map(put, item))

    return generate()


def pmean(xs, axis_name):
    """The mean of every leaf of ``xs`` over the named ``pmap`` axis.

    >>> import jax, jax.numpy as jnp
    >>> n = jax.local_device_count()
    >>> out = jax.pmap(lambda x: pmean({'a': x}, 'batch'), axis_name='batch')(jnp.ones(n))
    >>> out['a'].shape == (n,)
    True
    """
    return jax.tree_util.tree_map(lambda x: jax.lax.pmean(x, axis_name), xs)


# --- pad, shard, unpad ---------------------------------------------------------


def pad_shard_unpad(wrapped, static_argnums=(0,), static_argnames=(), static_return=False):
    """Let a ``pmap``'d function take batches of any size.

    The returned function takes the same arguments as ``wrapped``. Every
    array in the non-static arguments must share one leading batch size
    ``b``; they are zero-padded on the host to a multiple of the local device
    count ``d`` and reshaped to ``(d, ceil(b / d), ...)``. The results are
    brought back to host memory, reshaped to ``(d * per_device, ...)`` and
    cut back to ``b`` rows (unless ``static_return``).

    The new function also takes a keyword-only ``min_device_batch``: pad to
    at least that many rows per device, so a smaller last batch reuses the
    compiled shape of the full ones instead of recompiling.

    Args:
      wrapped: the function, e.g. ``jax.pmap(forward)`` with signature
        ``(params, *args, **kwargs)``.
      static_argnums: positions of arguments passed through untouched
        (default ``(0,)``: the parameters, which are usually replicated).
      static_argnames: names of keyword arguments passed through untouched.
      static_return: return ``wrapped``'s output as it is (e.g. metrics
        already reduced inside the function) instead of un-sharding and
        un-padding it.

    >>> import jax, jax.numpy as jnp, numpy as np
    >>> @pad_shard_unpad
    ... @jax.pmap
    ... def scale(w, x):
    ...     return x * w
    >>> w = replicate(jnp.float32(2.0))
    >>> scale(w, np.arange(5, dtype=np.float32), min_device_batch=4)
    array([0., 2., 4., 6., 8.], dtype=float32)
    """
    static_argnums = tuple(static_argnums)
    static_argnames = tuple(static_argnames)

    @functools.wraps(wrapped)
    def wrapper(*args, min_device_batch=None, **kwargs):
        d = jax.local_device_count()

        def is_static(i):
            return i in static_argnums or i - len(args) in static_argnums

        dynamic = [a for i, a in enumerate(args) if not is_static(i)]
        dynamic += [v for k, v in kwargs.items() if k not in static_argnames]
        sizes = set()
        for leaf in jax.tree_util.tree_leaves(dynamic):
            shape = np.shape(leaf)
            if not shape:
                raise ValueError(
                    'pad_shard_unpad: a non-static argument holds a scalar, '
                    'which has no batch axis to pad. Mark the argument static '
                    '(static_argnums / static_argnames).'
                )
            sizes.add(shape[0])
        if len(sizes) != 1:
            raise ValueError(
                'pad_shard_unpad: the non-static arguments must share one '
                f'batch size (leading axis), got {sorted(sizes) or "none"}. '
                'Mark arguments without a batch axis static.'
            )
        b = sizes.pop()
        per_device = -(-b // d)
        if min_device_batch is not None:
            per_device = max(per_device, int(min_device_batch))

        def pad(x):
            x = np.asarray(jax.device_get(x))
            rows = d * per_device - x.shape[0]
            if rows:
                x = np.concatenate([x, np.zeros((rows,) + x.shape[1:], x.dtype)])
            return x.reshape((d, per_device) + x.shape[1:])

        def pad_tree(tree):
            return jax.tree_util.tree_map(pad, tree)

        args = [a if is_static(i) else pad_tree(a) for i, a in enumerate(args)]
        kwargs = {k: v if k in static_argnames else pad_tree(v) for k, v in kwargs.items()}
        out = wrapped(*args, **kwargs)
        if static_return:
            return out

        def unpad(x):
            x = np.asarray(jax.device_get(x))
            if x.ndim < 2:
                raise ValueError(
                    f'pad_shard_unpad: an output of shape {x.shape} has no '
                    '(device, batch) axes to un-shard; pass static_return=True '
                    'if the function returns reduced values.'
                )
            return x.reshape((-1,) + x.shape[2:])[:b]

        return jax.tree_util.tree_map(unpad, out)

    return wrapper
