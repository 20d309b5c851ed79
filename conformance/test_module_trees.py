"""Random module trees give the same variables, outputs and errors on both backends.

Each example draws an architecture (:func:`conformance.strategies.scenarios`):
a tree of compact and setup-style modules with explicit and automatic names,
shared submodules, ``variable``/``sow``/``perturb``/``make_rng`` on several
streams and an extra method, plus input, keys and the streams given to init
and apply. :func:`conformance.compare.run_scenario` runs it on ``nnref`` and
``nnjax`` and asserts identical variable paths, values within the tolerance
table, equal outputs, mutated collections and captured intermediates for
every ``mutable=``/``capture_intermediates=``/``method=`` variant, and the
same catalogue error wherever one backend raises.

The ``ci`` profile draws 25 trees of depth <= 3; ``make conformance-deep``
(profile ``deep``) draws 2,000.
"""

import pytest
from hypothesis import event, given, settings

from conformance import strategies as cst
from conformance.compare import run_scenario

nnref = pytest.importorskip("nnref")
nnjax = pytest.importorskip("nnjax")


@settings()
@given(cst.scenarios())
def test_random_module_trees_agree(scenario):
    info = run_scenario(nnref, nnjax, scenario)
    arch = scenario.arch
    event(f"depth {arch.depth()}")
    event(f"init: {info['init']}")
    for label, outcome in info.items():
        if outcome != 'ok' and label != 'init':
            event(f"{label} raised {outcome}")


@settings()
@given(cst.scenarios(all_apply_streams=True, max_depth=2))
def test_random_module_trees_agree_with_every_stream(scenario):
    """The success path: every stream a node draws from is given to apply."""
    info = run_scenario(nnref, nnjax, scenario)
    assert info['init'] == 'ok'
    assert all(v == 'ok' for v in info.values()), info


# The seed system's guide ("Capturing all layer intermediates") writes
# ``preds, feats = Model().apply({'params': params}, x, capture_intermediates=True)``:
# capturing makes 'intermediates' mutable even with the default mutable=False.
@pytest.mark.parametrize("nn", [nnref, nnjax], ids=["nnref", "nnjax"])
def test_capture_intermediates_alone_returns_the_captures(nn):
    model = nn.Dense(2)
    x = nn.numpy.ones((1, 3))
    variables = model.init(nn.random.PRNGKey(0), x)
    result = model.apply(variables, x, capture_intermediates=True)
    assert isinstance(result, tuple) and len(result) == 2, type(result)
    assert list(result[1]) == ["intermediates"]
    assert list(result[1]["intermediates"]) == ["__call__"]
