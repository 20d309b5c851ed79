"""Debugging an nnjax model against the NumPy reference (nnref).

nnref is an independent implementation of the same Module system; running a
model on both and pairing every submodule call answers "which submodule is
wrong?", "where is precision lost?" and "are the gradients right?":

* :func:`compare`: the first submodule call whose own computation differs
  from the float64 reference beyond tolerance, and a table of every call's
  error (:class:`DivergenceReport`).
* :func:`find_nonfinite`: the first submodule call that turns finite inputs
  into NaN or Inf.
* :func:`check_grads`: nnjax's gradient against float64 central differences
  of the reference, per parameter leaf.
* ``python -m nnjax.debug FILE.py:FACTORY``: the same from a shell.

The model is not rewritten: nnjax.debug runs the model's own class source
again with ``nn``, ``jnp``, ``jax.nn``, ``jax.lax`` and ``jax.random`` bound
to nnref (see :mod:`nnjax.debug.rebuild`). See ``docs/debugging.md``.
"""

from nnjax.debug.compare import compare  # noqa: F401
from nnjax.debug.grads import GradCheckReport, check_grads  # noqa: F401
from nnjax.debug.nonfinite import NonFiniteReport, find_nonfinite  # noqa: F401
from nnjax.debug.rebuild import RebuildError  # noqa: F401
from nnjax.debug.reference import ReferenceRunError  # noqa: F401
from nnjax.debug.report import DivergenceReport, Row, StateRow  # noqa: F401
