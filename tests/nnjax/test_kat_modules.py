"""The seed system's known answers for the Module system, reproduced on nnjax, eagerly and under jit."""

import jax
import numpy as np
import pytest

import nnjax
from conformance.kat_models import RUNNERS
from shared_spec import kat
from shared_spec.tolerances import assert_close, assert_trees_close


def _stack_sown(tree):
    # sow stores a tuple of values; the KAT stores it stacked as one array
    if isinstance(tree, dict):
        return {k: _stack_sown(v) for k, v in tree.items()}
    if isinstance(tree, tuple):
        return np.stack([np.asarray(v) for v in tree])
    return np.asarray(tree)


def _check(name, run, case):
    assert_trees_close(_stack_sown(run.variables), case.variables, family="matmul", err_msg=f"{name}: variables")
    outputs = [leaf for out in run.outputs for leaf in jax.tree_util.tree_leaves(out)]
    assert len(outputs) == len(case.outputs)
    for i, (got, want) in enumerate(zip(outputs, case.outputs)):
        assert np.shape(got) == want.shape
        assert_close(np.asarray(got), want, family="matmul", err_msg=f"{name}: output {i}")
    assert_trees_close(_stack_sown(run.mutated), case.mutated, family="matmul", err_msg=f"{name}: mutated")


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_kat_case_reproduces_on_nnjax(name):
    case = kat.load_case(name)
    _check(name, RUNNERS[name](nnjax, case), case)


class _JitBackend:
    """nnjax with every Module's init and apply run through jax.jit."""

    def __getattr__(self, name):
        return getattr(nnjax, name)

    class Module(nnjax.Module):
        def init(self, *args, **kwargs):
            return jax.jit(lambda *a: nnjax.Module.init(self, *a, **kwargs))(*args)

        def apply(self, variables, *args, **kwargs):
            return jax.jit(lambda v, *a: nnjax.Module.apply(self, v, *a, **kwargs))(variables, *args)


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_kat_case_reproduces_under_jit(name, monkeypatch):
    case = kat.load_case(name)
    backend = _JitBackend()
    # Layers built by the case are nnjax's own classes: route their entry points through jit too.
    for cls in (nnjax.Dense,):
        monkeypatch.setattr(cls, "init", _JitBackend.Module.init, raising=False)
        monkeypatch.setattr(cls, "apply", _JitBackend.Module.apply, raising=False)
    _check(name, RUNNERS[name](backend, case), case)
