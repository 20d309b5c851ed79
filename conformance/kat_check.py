"""One check of a known-answer run against the vectors the seed system recorded.

Every known-answer test (``tests/layers/test_kat_*.py``, ``tests/nnref`` and
``tests/nnjax`` ``test_kat_modules.py``, :mod:`conformance.test_kat_both`)
runs a runner of :mod:`conformance.kat_registry` and compares its
:class:`~conformance.kat_models.KatRun` with the case through
:func:`assert_matches_kat`; only the tolerance families differ per layer family.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from shared_spec import kat
from shared_spec.tolerances import assert_close, assert_trees_close


def run_case(runners, name, nn):
    """Load case ``name`` and run its runner on backend ``nn``: ``(case, run)``."""
    case = kat.load_case(name)
    return case, runners[name](nn, case)


def as_recorded(tree):
    """A variables tree in the archive's form: NumPy leaves, sown tuples stacked.

    ``sow`` keeps a tuple of values; the archive stores it as one stacked array.

    >>> as_recorded({'intermediates': {'h': (np.zeros(2), np.ones(2))}})['intermediates']['h'].shape
    (2, 2)
    """
    if isinstance(tree, Mapping):
        return {k: as_recorded(v) for k, v in tree.items()}
    if isinstance(tree, tuple):
        return np.stack([np.asarray(v) for v in tree])
    return np.asarray(tree)


def output_leaves(outputs):
    """The leaves of what ``apply`` returned, in the archive's (``jax.tree_util``) order.

    Dict keys are taken in sorted order, tuples and lists in order.

    >>> [int(x) for x in output_leaves([np.int32(1), ({'b': np.int32(3), 'a': np.int32(2)},)])]
    [1, 2, 3]
    """
    if isinstance(outputs, Mapping):
        return [leaf for k in sorted(outputs) for leaf in output_leaves(outputs[k])]
    if isinstance(outputs, (tuple, list)):
        return [leaf for v in outputs for leaf in output_leaves(v)]
    return [np.asarray(outputs)]


def assert_matches_kat(run, case, label, *, variables="matmul", outputs="matmul", mutated="matmul"):
    """Assert a :class:`~conformance.kat_models.KatRun` reproduces ``case``.

    Variables, each output leaf (same number, same dtype) and the mutated
    collections are compared with the tolerance family given for each
    (``shared_spec.tolerances``): initializer draws are usually
    ``'prng_normal'``, computed values the family of their arithmetic.
    """
    assert_trees_close(as_recorded(run.variables), case.variables, family=variables, err_msg=f"{label}: variables")
    leaves = output_leaves(run.outputs)
    assert len(leaves) == len(case.outputs), f"{label}: {len(leaves)} outputs, the case has {len(case.outputs)}"
    for i, (got, want) in enumerate(zip(leaves, case.outputs)):
        assert got.dtype == want.dtype, f"{label}: output {i} is {got.dtype}, the case has {want.dtype}"
        assert_close(got, want, family=outputs, err_msg=f"{label}: output {i}")
    assert_trees_close(as_recorded(run.mutated), case.mutated, family=mutated, err_msg=f"{label}: mutated")
