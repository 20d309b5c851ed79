"""Invalid uses raise the same catalogue error on both backends.

Two sources of misuse:

* every case of :data:`conformance.misuse_cases.MISUSES` (one real misuse per
  catalogue error, written once as backend-neutral code);
* misuses planted in random architectures (:mod:`conformance.strategies`):
  a wrong input shape at apply, a write to an immutable collection, a missing
  RNG stream, two children with one name, a param and a child with one name,
  a missing param, variables nested one 'params' level too deep.

Both backends must raise exactly the expected class (the catalogue classes
are shared objects), and a failed ``apply`` must leave the variables the
caller passed untouched.
"""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance import strategies as cst
from conformance.compare import attempt, skeleton, to_backend, to_numpy
from conformance.misuse_cases import MISUSES
from conformance.model_builder import build
from shared_spec import errors as catalogue
from shared_spec.tolerances import assert_trees_close

nnref = pytest.importorskip("nnref")
nnjax = pytest.importorskip("nnjax")
BACKENDS = (nnref, nnjax)
ALL_STREAMS = cst.STREAMS


def _raised(nn, fn):
    try:
        fn(nn)
    except Exception as e:  # noqa: BLE001
        return e
    return None


@pytest.mark.parametrize("error_name, description, fn", MISUSES, ids=[f"{e}:{d}" for e, d, _ in MISUSES])
def test_misuse_case_same_error_on_both(error_name, description, fn):
    expected = getattr(catalogue, error_name)
    got = {nn.BACKEND: _raised(nn, fn) for nn in BACKENDS}
    for backend, err in got.items():
        assert isinstance(err, expected), f"{backend}: {description}: expected {error_name}, got {err!r}"
    assert type(got["nnref"]) is type(got["nnjax"]), got


# ------------------------------------------------------------ planted misuses


def _rngs(nn, streams=ALL_STREAMS, seed=0):
    root = nn.random.PRNGKey(seed)
    return {s: nn.random.fold_in(root, i) for i, s in enumerate(streams)}


def _input(nn, shape, seed=0):
    rs = np.random.RandomState(seed)
    return nn.numpy.asarray(rs.uniform(-1, 1, size=shape).astype("float32"))


def _init(nn, arch, features, batch=(2,)):
    model = build(nn, arch).module
    return model, model.init(_rngs(nn), _input(nn, batch + (features,)))


def _expect_both(expected, run, what):
    """``run(nn)`` must raise ``expected`` on both backends and not touch its inputs."""
    for nn in BACKENDS:
        outcome, before, after = run(nn)
        assert outcome.raised and isinstance(outcome.error, expected), (
            f"{nn.BACKEND}: {what}: expected {expected.__name__}, got "
            f"{type(outcome.error).__name__ if outcome.raised else 'a result'}\n{outcome.tb}"
        )
        if before is not None:
            assert skeleton(after) == skeleton(before), f"{nn.BACKEND}: {what}: variables changed"
            assert_trees_close(
                after,
                before,
                family="exact",
                err_msg=f"{nn.BACKEND}: {what}: a failed apply changed the caller's variables",
            )


def _failing_apply(arch, features, make_variables, *, x_features=None, rngs=ALL_STREAMS, **apply_kwargs):
    def run(nn):
        model, variables = _init(nn, arch, features)
        variables = to_backend(nn, make_variables(to_numpy(variables)))
        before = to_numpy(variables)
        x = _input(nn, (2, x_features or features), seed=1)
        outcome = attempt(lambda: model.apply(variables, x, rngs=_rngs(nn, rngs, 1), **apply_kwargs))
        return outcome, before, to_numpy(variables)

    return run


def _failing_init(arch, features):
    def run(nn):
        model = build(nn, arch).module
        return attempt(lambda: model.init(_rngs(nn), _input(nn, (2, features)))), None, None

    return run


features = st.integers(1, 3)


@settings()
@given(cst.architectures(max_depth=2, max_features=3), features, st.integers(1, 2))
def test_wrong_input_shape_at_apply(arch, f, delta):
    _expect_both(
        catalogue.ScopeParamShapeError,
        _failing_apply(arch, f, lambda v: v, x_features=f + delta),
        "apply on another number of input features",
    )


@settings()
@given(cst.edited_architectures(lambda n: replace(n, stats="always")), features)
def test_immutable_write(arch, f):
    _expect_both(
        catalogue.ModifyScopeVariableError,
        _failing_apply(arch, f, lambda v: v),
        "a node writes 'stats' during an immutable apply",
    )


@settings()
@given(
    cst.edited_architectures(lambda n: replace(n, rng_stream="noise")), features, st.sampled_from([(), ("dropout",)])
)
def test_missing_rng_stream(arch, f, given_streams):
    _expect_both(
        catalogue.InvalidRngError,
        _failing_apply(arch, f, lambda v: v, rngs=given_streams),
        f"make_rng('noise') with rngs for {given_streams} only",
    )


@settings()
@given(cst.edited_architectures(cst.with_duplicate_names), features)
def test_duplicate_child_names(arch, f):
    _expect_both(catalogue.NameInUseError, _failing_init(arch, f), "two children named 'dup'")


def _param_clashes_with_child(node):
    """A compact node declaring param 'w' and naming its first child 'w'."""
    kids = (replace(node.children[0], name="w"),) + tuple(node.children[1:])
    return replace(node, style="compact", container="attrs", extra_param=True, children=kids)


@settings()
@given(cst.edited_architectures(_param_clashes_with_child), features)
def test_param_and_child_same_name(arch, f):
    _expect_both(catalogue.NameInUseError, _failing_init(arch, f), "param 'w' and a child named 'w' in one node")


def _drop_leaf(index):
    def edit(variables):
        params = variables["params"]
        paths = []

        def walk(tree, prefix):
            for k, v in tree.items():
                if isinstance(v, dict):
                    walk(v, prefix + (k,))
                else:
                    paths.append(prefix + (k,))

        walk(params, ())
        path = paths[index % len(paths)]

        def without(tree, p):
            if len(p) == 1:
                return {k: v for k, v in tree.items() if k != p[0]}
            return {k: (without(v, p[1:]) if k == p[0] else v) for k, v in tree.items()}

        return dict(variables, params=without(params, path))

    return edit


@settings()
@given(cst.architectures(max_depth=2, max_features=3), features, st.integers(0, 50))
def test_missing_param_at_apply(arch, f, index):
    _expect_both(
        catalogue.ScopeParamNotFoundError,
        _failing_apply(arch, f, _drop_leaf(index)),
        "apply without one of the params init made",
    )


@settings()
@given(cst.architectures(max_depth=2, max_features=3), features)
def test_params_nested_twice(arch, f):
    _expect_both(
        catalogue.ApplyScopeInvalidVariablesStructureError,
        _failing_apply(arch, f, lambda v: {"params": v}),
        "apply({'params': variables})",
    )
