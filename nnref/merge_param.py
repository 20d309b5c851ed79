"""Where nnref's modules find ``merge_param`` (the rule itself is :mod:`shared_spec.merge_param`).

A layer setting like Dropout's ``deterministic`` may come from two places:
the field set when the layer was built, or an argument of the call. Reading
the rule as a table, with ``a`` the field and ``b`` the argument:

* ``a`` set, ``b`` None: use ``a``;
* ``a`` None, ``b`` set: use ``b``;
* both None, or both set: a ``ValueError`` that names the setting.

There is no tie-breaking default on purpose: a forgotten ``deterministic``
would otherwise silently pick training or evaluation behaviour.

>>> merge_param('deterministic', None, False)
False
"""

from shared_spec.merge_param import merge_param  # noqa: F401
