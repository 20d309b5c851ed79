"""``nnjax.errors``: the shared error catalogue (the same classes nnref raises).

Re-exported from ``shared_spec.errors`` so that ``except
nnjax.errors.ScopeParamShapeError`` also catches what nnref raises, and a
conformance test can demand one class of both backends.

>>> import shared_spec.errors
>>> ScopeParamShapeError is shared_spec.errors.ScopeParamShapeError
True
>>> issubclass(ScopeParamShapeError, NNError)
True
"""

from shared_spec.errors import *  # noqa: F401,F403
from shared_spec.errors import __all__  # noqa: F401
