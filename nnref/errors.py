"""``nnref.errors``: the shared error catalogue (the same classes nnjax raises)."""

from shared_spec.errors import *  # noqa: F401,F403
from shared_spec.errors import __all__  # noqa: F401
