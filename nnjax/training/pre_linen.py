"""``convert_pre_linen``: parameter trees from pre-Linen submodule naming to Linen's."""

import re

from shared_spec.frozen_dict import FrozenDict


def convert_pre_linen(params):
    """Renumber submodules from pre-Linen naming to Linen naming.

    Pre-Linen numbered a module's children in one sequence across classes
    (``Conv_0, Dense_1, Conv_2``); Linen numbers each class on its own
    (``Conv_0, Dense_0, Conv_1``). At every level, the keys ``{Class}_{i}``
    of each class are renumbered ``0, 1, ...`` in order of ``i``; other keys
    are kept. Trees already in Linen form come back unchanged, so it is safe
    on any loaded checkpoint. Collections other than ``params`` follow the
    same naming; unflatten pre-Linen flat collections first.

    Args:
      params: a nested dict or FrozenDict of parameters in pre-Linen form.

    Returns:
      The tree with Linen names (a FrozenDict if the input was one).

    >>> convert_pre_linen({'Conv_0': {'kernel': 1}, 'Dense_1': {'kernel': 2},
    ...                    'Conv_2': {'bias': 3}})
    {'Conv_0': {'kernel': 1}, 'Dense_0': {'kernel': 2}, 'Conv_1': {'bias': 3}}
    """
    if isinstance(params, FrozenDict):
        return FrozenDict(convert_pre_linen(dict(params)))
    if not isinstance(params, dict):
        return params
    by_class = {}
    for key in params:
        match = re.fullmatch(r'(.+)_(\d+)', key) if isinstance(key, str) else None
        if match:
            by_class.setdefault(match.group(1), []).append((int(match.group(2)), key))
    renamed = {}
    for cls, numbered in by_class.items():
        for new_index, (_, key) in enumerate(sorted(numbered)):
            renamed[key] = f'{cls}_{new_index}'
    return {renamed.get(key, key): convert_pre_linen(value) for key, value in params.items()}
