"""Run one scenario on both backends and compare everything observable.

The unit of comparison is an :class:`Outcome`: a call either returned a value
(converted to a NumPy tree) or raised. Two outcomes agree when both returned
trees with the same paths, the same container kinds, the same leaf dtypes and
values within the shared tolerance table, or when both raised the *same*
exception class (catalogue classes are shared objects, so type equality is
the check).

:func:`run_scenario` is the differential driver for
:class:`~conformance.strategies.Scenario`:

1. ``init_with_output`` on both backends: variable paths and values, output;
2. then every ``apply`` variant (mutability forms, ``capture_intermediates``,
   ``method=`` forms, ``init(method=...)``, ``bind``/``unbind``), each run on
   both backends with the *same* variables: nnref's init result, copied into
   each backend's array type, so a difference in ``apply`` never hides behind
   a difference in ``init``.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from conformance.model_builder import build
from shared_spec.errors import NNError
from shared_spec.tolerances import assert_trees_close

#: Collections whose values come straight from initializers (PRNG normal
#: draws); everything else is computed by the forward pass.
INIT_DRAWN = ('params',)
FORWARD_FAMILY = 'matmul'
PARAMS_FAMILY = 'prng_normal'


# ------------------------------------------------------------------- outcomes


@dataclass
class Outcome:
    value: Any = None
    error: Optional[BaseException] = None
    tb: str = ''

    @property
    def raised(self):
        return self.error is not None


def to_numpy(tree):
    """A backend result as plain NumPy: dicts, tuples and lists kept as such."""
    if isinstance(tree, Mapping):
        return {k: to_numpy(v) for k, v in tree.items()}
    if isinstance(tree, tuple):
        return tuple(to_numpy(v) for v in tree)
    if isinstance(tree, list):
        return [to_numpy(v) for v in tree]
    if tree is None:
        return None
    return np.asarray(tree)


def to_backend(nn, tree):
    """A NumPy tree as backend arrays (``nn.numpy.asarray`` on every leaf)."""
    if isinstance(tree, Mapping):
        return {k: to_backend(nn, v) for k, v in tree.items()}
    if isinstance(tree, (tuple, list)):
        return type(tree)(to_backend(nn, v) for v in tree)
    if tree is None:
        return None
    return nn.numpy.asarray(tree)


def attempt(fn):
    try:
        return Outcome(value=to_numpy(fn()))
    except Exception as e:  # noqa: BLE001 - the outcome records it
        return Outcome(error=e, tb=traceback.format_exc())


def skeleton(tree):
    """Container kinds and leaf dtypes/shapes: what tolerances never excuse."""
    if isinstance(tree, Mapping):
        return {str(k): skeleton(v) for k, v in tree.items()}
    if isinstance(tree, (tuple, list)):
        return (type(tree).__name__, [skeleton(v) for v in tree])
    if tree is None:
        return None
    return (str(tree.dtype), tree.shape)


def _family_tree_compare(ref, jax, what):
    """Per-collection families when ``ref`` looks like a variables dict."""
    assert skeleton(jax) == skeleton(ref), (
        f'{what}: structure/dtypes differ\n  nnref: {skeleton(ref)}\n  nnjax: {skeleton(jax)}'
    )
    if isinstance(ref, Mapping):
        for col in ref:
            family = PARAMS_FAMILY if col in INIT_DRAWN else FORWARD_FAMILY
            assert_trees_close(jax[col], ref[col], family=family, err_msg=f'{what}[{col!r}] (nnjax vs nnref)')
    else:
        assert_trees_close({'v': jax}, {'v': ref}, family=FORWARD_FAMILY, err_msg=f'{what} (nnjax vs nnref)')


def assert_same_outcome(ref: Outcome, jax: Outcome, what: str, *, variables_at=None, allow_foreign_errors=False):
    """Both raised the same class, or both returned matching values.

    ``variables_at``: index of the variables dict inside a returned tuple
    (``(out, variables)``) so its collections get their own families.
    Errors must be catalogue errors unless ``allow_foreign_errors``.
    """
    if ref.raised or jax.raised:
        detail = f'\n--- nnref ---\n{ref.tb or repr(ref.value)[:500]}\n--- nnjax ---\n{jax.tb or repr(jax.value)[:500]}'
        assert ref.raised and jax.raised, (
            f'{what}: only one backend raised '
            f'(nnref: {type(ref.error).__name__ if ref.raised else "returned"}, '
            f'nnjax: {type(jax.error).__name__ if jax.raised else "returned"}){detail}'
        )
        assert type(ref.error) is type(jax.error), (
            f'{what}: different errors: nnref {type(ref.error).__name__}, nnjax {type(jax.error).__name__}{detail}'
        )
        if not allow_foreign_errors:
            assert isinstance(ref.error, NNError), (
                f'{what}: both raised {type(ref.error).__name__}, which is not a catalogue error{detail}'
            )
        return
    if variables_at is None:
        _family_tree_compare(ref.value, jax.value, what)
        return
    assert skeleton(jax.value) == skeleton(ref.value), (
        f'{what}: structure/dtypes differ\n  nnref: {skeleton(ref.value)}\n  nnjax: {skeleton(jax.value)}'
    )
    for i, (r, j) in enumerate(zip(ref.value, jax.value)):
        _family_tree_compare(r, j, f'{what}[{i}]')


# ------------------------------------------------------------------- scenarios

MUTABLE_FORMS = {
    'false': lambda nn: False,
    'true': lambda nn: True,
    'str': lambda nn: 'stats',
    'list': lambda nn: ['stats', 'intermediates', 'probes', 'perturbations'],
    'denylist': lambda nn: nn.DenyList('params'),
}


class Runner:
    """One backend's side of a scenario."""

    def __init__(self, nn, scenario):
        self.nn = nn
        self.sc = scenario
        self.built = build(nn, scenario.arch)
        self.x = scenario.make_input(nn)

    @property
    def module(self):
        return self.built.module

    def init(self):
        return attempt(lambda: self.module.init_with_output(self.sc.init_rngs(self.nn), self.x))

    def init_method(self):
        method = self.built.method(self.sc.method_form)
        return attempt(lambda: self.module.init(self.sc.init_rngs(self.nn), self.x, method=method))

    def apply(self, variables, **kwargs):
        nn = self.nn
        v = to_backend(nn, variables)
        return attempt(lambda: self.module.apply(v, self.x, rngs=self.sc.apply_rngs(nn), **kwargs))

    def bind_call(self, variables):
        nn = self.nn

        def run():
            bound = self.module.bind(to_backend(nn, variables), rngs=self.sc.apply_rngs(nn))
            y = bound(self.x)
            _, unbound_vars = bound.unbind()
            return y, unbound_vars

        return attempt(run)


def apply_variants(sc):
    """``(label, kwargs-factory(runner), variables_at)`` for every apply variant."""
    out = [
        (f'apply(mutable={form})', (lambda r, f=f: {'mutable': f(r.nn)}), None if form == 'false' else 1)
        for form, f in MUTABLE_FORMS.items()
    ]
    out += [
        ('apply(capture_intermediates=True)', lambda r: {'capture_intermediates': True}, 1),
        (
            'apply(capture_intermediates=True, mutable=intermediates)',
            lambda r: {'capture_intermediates': True, 'mutable': 'intermediates'},
            1,
        ),
        (
            f'apply(capture_intermediates={sc.capture_filter!r} filter, mutable=[stats, intermediates])',
            lambda r: {
                'capture_intermediates': r.built.capture_filters[sc.capture_filter],
                'mutable': ['stats', 'intermediates'],
            },
            1,
        ),
        (f'apply(method={sc.method_form})', lambda r: {'method': r.built.method(sc.method_form)}, None),
        (
            f'apply(method={sc.method_form}, mutable=[intermediates, stats], capture)',
            lambda r: {
                'method': r.built.method(sc.method_form),
                'mutable': ['intermediates', 'stats'],
                'capture_intermediates': True,
            },
            1,
        ),
    ]
    return out


def run_scenario(nnref, nnjax, sc):
    """Run ``sc`` on both backends; assert every observable agrees.

    Returns a short dict of what happened (for ``hypothesis.event``/tests).
    """
    ref, jax = Runner(nnref, sc), Runner(nnjax, sc)
    info = {}

    r_init, j_init = ref.init(), jax.init()
    assert_same_outcome(r_init, j_init, 'init_with_output', variables_at=1)
    if r_init.raised:
        info['init'] = type(r_init.error).__name__
        return info
    info['init'] = 'ok'
    variables = r_init.value[1]

    if sc.init_method:
        assert_same_outcome(ref.init_method(), jax.init_method(), f'init(method={sc.method_form})')

    for label, kwargs, at in apply_variants(sc):
        r = ref.apply(variables, **kwargs(ref))
        j = jax.apply(variables, **kwargs(jax))
        assert_same_outcome(r, j, label, variables_at=at)
        info[label] = type(r.error).__name__ if r.raised else 'ok'

    # Only the params: other collections missing (ScopeCollectionNotFound
    # where a node reads stats; perturb becomes a no-op).
    params_only = {'params': variables['params']} if 'params' in variables else {}
    assert_same_outcome(ref.apply(params_only), jax.apply(params_only), 'apply(params only)')

    assert_same_outcome(ref.bind_call(variables), jax.bind_call(variables), 'bind(...)(x) and unbind()')
    return info
