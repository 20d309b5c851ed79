"""Hostile input: each case raises the same exception class on both backends, with a message that says what.

The cases live in ``conformance/hostile_<area>.py`` modules, one per class of
input (layer fields, call inputs, variables, lifted transforms, bytes and
files, train state). Each case is ``(exception_name, description, fn,
must_mention)``: ``fn(nn)`` performs the misuse with backend ``nn``; the
exception must be the catalogue class of that name (or the builtin
``TypeError``/``ValueError`` or a subclass), and its message must contain
every string of ``must_mention`` (the argument, module path, parameter or
file it is about). ``JAX_ONLY_CASES`` run on nnjax alone.
"""

import importlib
import pkgutil

import pytest

import conformance
from conformance.misuse_cases import HOSTILE_AREAS
from shared_spec import errors as catalogue

nnref = pytest.importorskip("nnref")
nnjax = pytest.importorskip("nnjax")

AREAS = sorted(m.name for m in pkgutil.iter_modules(conformance.__path__) if m.name.startswith("hostile_"))


def test_every_area_is_listed_in_the_misuse_catalogue():
    assert sorted(HOSTILE_AREAS) == AREAS


def _cases(kind):
    for area in AREAS:
        module = importlib.import_module(f"conformance.{area}")
        for case in getattr(module, kind, ()):
            yield pytest.param(*case, id=f"{area[len('hostile_') :]}: {case[1]}")


def _expected_class(name):
    return getattr(catalogue, name, None) or {"TypeError": TypeError, "ValueError": ValueError}[name]


def _check(nn, exception_name, fn, must_mention):
    expected = _expected_class(exception_name)
    with pytest.raises(Exception) as info:
        fn(nn)
    raised = info.value
    assert isinstance(raised, expected), (
        f"{nn.__name__} raised {type(raised).__name__}: {raised}; expected {exception_name}"
    )
    message = str(raised)
    for text in must_mention:
        assert text in message, f"{nn.__name__}: {text!r} not in the message: {message}"


@pytest.mark.parametrize("exception_name, description, fn, must_mention", list(_cases("CASES")))
@pytest.mark.parametrize("nn", [nnref, nnjax], ids=["nnref", "nnjax"])
def test_both_backends_raise_the_same_class_and_say_what(nn, exception_name, description, fn, must_mention):
    _check(nn, exception_name, fn, must_mention)


@pytest.mark.parametrize("exception_name, description, fn, must_mention", list(_cases("JAX_ONLY_CASES")))
def test_nnjax_only_cases(exception_name, description, fn, must_mention):
    _check(nnjax, exception_name, fn, must_mention)
