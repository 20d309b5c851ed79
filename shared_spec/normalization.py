"""The normalization layers' contract: which axes each layer reduces, group counts, and the wrappers' names.

A normalization layer computes statistics over its *reduction axes* and
learns ``scale``/``bias`` over its *feature axes*. Which axes those are, and
which field values are refused with which message, is decided here once;
each backend only computes the statistics and the arithmetic.

>>> canonicalize_axes(3, -1), canonicalize_axes(4, (2, -1, 2))
((2,), (2, 3))
>>> batch_norm_axes(4, -1)  # (feature axes, reduction axes)
((3,), (0, 1, 2))
>>> feature_shapes((8, 5, 3), (2,))  # (broadcast shape, parameter shape)
((1, 1, 3), (3,))
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    'canonicalize_axes',
    'batch_norm_axes',
    'instance_norm_axes',
    'group_norm_axes',
    'group_count',
    'feature_shapes',
    'weight_norm_axes',
    'variable_stem',
    'selected',
    'check_matrix',
]


def canonicalize_axes(rank: int, axes) -> tuple:
    """``axes`` (an int or an iterable of ints, negatives counted from the end) as a sorted tuple of distinct axes >= 0.

    >>> canonicalize_axes(2, [-1, 1, 0])
    (0, 1)
    """
    if not isinstance(axes, Iterable):
        axes = (axes,)
    return tuple(sorted({rank + axis if axis < 0 else axis for axis in axes}))


def batch_norm_axes(ndim: int, axis) -> tuple:
    """BatchNorm: ``axis`` holds the features; every other axis is reduced. Returns ``(feature, reduction)``.

    >>> batch_norm_axes(3, (0, 2))
    ((0, 2), (1,))
    """
    features = canonicalize_axes(ndim, axis)
    return features, tuple(i for i in range(ndim) if i not in features)


def instance_norm_axes(ndim: int, feature_axes) -> tuple:
    """InstanceNorm: reduce every axis but the batch (axis 0) and the features. Returns ``(feature, reduction)``.

    >>> instance_norm_axes(4, -1)
    ((3,), (1, 2))
    >>> instance_norm_axes(3, 0)
    Traceback (most recent call last):
    ...
    ValueError: InstanceNorm: feature_axes=0 includes axis 0, which is the batch axis. Fix: name feature axes among 1..ndim-1 (default -1).
    """
    features = canonicalize_axes(ndim, feature_axes)
    if 0 in features:
        raise ValueError(
            f'InstanceNorm: feature_axes={feature_axes!r} includes axis 0, which is the batch axis. '
            'Fix: name feature axes among 1..ndim-1 (default -1).'
        )
    return features, tuple(i for i in range(1, ndim) if i not in features)


def group_norm_axes(ndim: int, reduction_axes) -> tuple:
    """GroupNorm's reduction axes: the field (default: all but the batch axis), which must include the last axis.

    >>> group_norm_axes(4, None)
    (1, 2, 3)
    >>> group_norm_axes(3, (1,))
    Traceback (most recent call last):
    ...
    ValueError: GroupNorm: reduction_axes=(1,) must include the last axis (the channels, which the groups split). Fix: add -1 to reduction_axes.
    """
    given = list(range(1, ndim - 1)) + [-1] if reduction_axes is None else reduction_axes
    axes = canonicalize_axes(ndim, given)
    if not axes or axes[-1] != ndim - 1:
        raise ValueError(
            f'GroupNorm: reduction_axes={reduction_axes!r} must include the last axis (the channels, '
            'which the groups split). Fix: add -1 to reduction_axes.'
        )
    return axes


def group_count(layer: str, num_groups, group_size, channels: int) -> int:
    """The number of channel groups from exactly one of ``num_groups`` / ``group_size``.

    >>> group_count('GroupNorm', None, 4, 12), group_count('GroupNorm', 3, None, 12)
    (3, 3)
    >>> group_count('GroupNorm', 32, None, 12)
    Traceback (most recent call last):
    ...
    ValueError: GroupNorm: num_groups=32 does not divide the 12 channels of the last axis. Fix: pick num_groups dividing the channel count (the default is 32), or pass num_groups=None and a group_size.
    """
    if (num_groups is None) == (group_size is None):
        raise ValueError(
            f'{layer}: give exactly one of num_groups and group_size (got num_groups={num_groups!r}, '
            f'group_size={group_size!r}). Fix: to set group_size, also pass num_groups=None, which '
            'overrides the default num_groups=32.'
        )
    if group_size is not None:
        if group_size <= 0 or channels % group_size != 0:
            raise ValueError(
                f'{layer}: group_size={group_size} does not divide the {channels} channels of the last axis. '
                'Fix: pick a group_size that divides the channel count.'
            )
        return channels // group_size
    if num_groups <= 0 or channels % num_groups != 0:
        raise ValueError(
            f'{layer}: num_groups={num_groups} does not divide the {channels} channels of the last axis. '
            'Fix: pick num_groups dividing the channel count (the default is 32), or pass '
            'num_groups=None and a group_size.'
        )
    return num_groups


def feature_shapes(shape, feature_axes) -> tuple:
    """``(broadcast, param)``: ``scale``/``bias`` are declared in ``param`` shape and reshaped to ``broadcast``.

    ``param`` holds the sizes of ``feature_axes`` (already canonical);
    ``broadcast`` is ``shape`` with every other axis set to 1.

    >>> feature_shapes((2, 3, 4), (1, 2))
    ((1, 3, 4), (3, 4))
    """
    broadcast = tuple(n if i in feature_axes else 1 for i, n in enumerate(shape))
    return broadcast, tuple(shape[i] for i in feature_axes)


def weight_norm_axes(ndim: int, feature_axes) -> tuple:
    """WeightNorm: the axes kept per feature (None: none, one norm for the whole weight) and those normed over.

    >>> weight_norm_axes(2, -1), weight_norm_axes(2, None)
    (((1,), (0,)), ((), (0, 1)))
    """
    features = () if feature_axes is None else canonicalize_axes(ndim, feature_axes)
    return features, tuple(i for i in range(ndim) if i not in features)


def variable_stem(layer_name: str, keys) -> str:
    """``'<layer>/<keys below the collection>'``: the name stem of a wrapper's variables for one weight.

    ``keys`` is the weight's path in the wrapped layer's variables, starting
    with the collection (``('params', 'kernel')``), which is left out.

    >>> variable_stem('layer_instance', ('params', 'Dense_0', 'kernel'))
    'layer_instance/Dense_0/kernel'
    """
    return layer_name + '/' + '/'.join(str(k) for k in tuple(keys)[1:])


def selected(stem: str, variable_filter) -> bool:
    """WeightNorm's filter: every weight when it is empty or None, else those whose stem contains one of its strings.

    >>> selected('layer/kernel', {'kernel'}), selected('layer/bias', {'kernel'}), selected('layer/bias', None)
    (True, False, True)
    """
    return not variable_filter or any(name in stem for name in variable_filter)


def check_matrix(stem: str, ndim: int, error_on_non_matrix: bool) -> None:
    """SpectralNorm: a weight of rank > 2 is flattened to ``(-1, last_dim)`` unless the layer asked for an error.

    >>> check_matrix('layer_instance/kernel', 4, True)
    Traceback (most recent call last):
    ...
    ValueError: SpectralNorm: weight 'layer_instance/kernel' is 4-D but error_on_non_matrix=True. Fix: set error_on_non_matrix=False to normalize it as a (-1, last_dim) matrix.
    """
    if ndim > 2 and error_on_non_matrix:
        raise ValueError(
            f"SpectralNorm: weight '{stem}' is {ndim}-D but error_on_non_matrix=True. Fix: set "
            'error_on_non_matrix=False to normalize it as a (-1, last_dim) matrix.'
        )
