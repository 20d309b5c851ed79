"""``nnjax.merge_param``: the backend's import path of :func:`shared_spec.merge_param.merge_param`.

>>> merge_param('deterministic', True, None)
True
"""

from shared_spec.merge_param import merge_param

__all__ = ["merge_param"]
