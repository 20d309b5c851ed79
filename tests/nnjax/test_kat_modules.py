"""The seed system's known answers for the Module system, reproduced on nnjax, eagerly and under jit."""

import jax
import pytest

import nnjax
from conformance.kat_check import assert_matches_kat, run_case
from conformance.kat_models import RUNNERS


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_kat_case_reproduces_on_nnjax(name):
    case, run = run_case(RUNNERS, name, nnjax)
    assert_matches_kat(run, case, name)


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
    # Layers built by the case are nnjax's own classes: route their entry points through jit too.
    for cls in (nnjax.Dense,):
        monkeypatch.setattr(cls, "init", _JitBackend.Module.init, raising=False)
        monkeypatch.setattr(cls, "apply", _JitBackend.Module.apply, raising=False)
    case, run = run_case(RUNNERS, name, _JitBackend())
    assert_matches_kat(run, case, f"{name} under jit")
