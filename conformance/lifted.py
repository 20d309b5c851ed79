"""The driver shared by the lifted-transform properties (``test_transforms_*.py``).

A case is backend-neutral model code, ``build(nn) -> module``, plus NumPy
call arguments and what to expect. :func:`check_init_apply` runs it on
``nnref`` and ``nnjax``:

1. ``init_with_output`` on both: the same outcome (both return, or both raise
   the same exception class); variable trees with identical paths, container
   kinds, dtypes and shapes, values within the tolerance table ('prng_normal'
   for 'params', drawn by initializers; 'matmul' for collections and outputs
   computed by the forward pass), and equal outputs;
2. ``apply`` on both with the *same* variables (nnref's init result, copied
   into each backend's arrays, so a difference in apply never hides behind
   one in init) and the drawn ``mutable=``: outputs and mutated collections.

The expected error of each phase is computed from the draw, so a property
also fails when both backends wrongly accept a misuse (or both wrongly
reject a valid program). Lifted transforms raise the exception classes JAX
raises (``ValueError`` for inconsistent axis sizes, ``TypeError`` for a
changing carry, ...) as the seed system does; those are not catalogue
errors, so classes are compared exactly, whichever they are.

Some misuses only a tracer can see (an output declared unmapped that depends
on the mapped axis, Python control flow on a traced value): nnref runs over
concrete values and cannot detect them. A case marks them with
``nnref_detects=False``: nnjax must raise the expected class and nnref's
result is not compared. (A broadcast variable computed from the loop's
values is one nnref does detect, under ``nn.scan``'s
``check_constancy_invariants=True``, by running the first pass again on
shifted values; a dependency that changes no value escapes it.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

import nnjax
import nnref
from conformance.compare import Outcome, attempt, skeleton, to_numpy
from shared_spec.tolerances import assert_trees_close

#: Families of the tolerance table (shared_spec.tolerances) used here.
PARAMS_FAMILY = 'prng_normal'  # 'params' come from initializers' normal draws
FORWARD_FAMILY = 'matmul'  # outputs and collections computed by Dense layers
DERIVATIVE_FAMILY = 'derivative'  # nnjax autodiff vs nnref central differences
INIT_DRAWN = ('params',)


# ------------------------------------------------------------------ inputs


def data(seed: int, shape) -> np.ndarray:
    """Uniform(-1, 1) float32 data of ``shape`` (unit scale, as the tolerance table assumes)."""
    return np.random.RandomState(seed % 2**32).uniform(-1.0, 1.0, size=shape).astype(np.float32)


def backend_args(nn, tree):
    """NumPy arrays in ``tree`` as ``nn``'s arrays; Python values (static arguments) kept."""
    if isinstance(tree, np.ndarray):
        return nn.numpy.asarray(tree)
    if isinstance(tree, tuple):
        return tuple(backend_args(nn, x) for x in tree)
    if isinstance(tree, list):
        return [backend_args(nn, x) for x in tree]
    if isinstance(tree, dict):
        return {k: backend_args(nn, v) for k, v in tree.items()}
    return tree


def rngs(nn, streams: dict):
    """``{stream: PRNGKey(seed)}`` for a dict ``{stream: seed}``."""
    return {s: nn.random.PRNGKey(seed) for s, seed in streams.items()}


# ------------------------------------------------------------------ comparison


def _detail(ref: Outcome, jax: Outcome) -> str:
    return f'\n--- nnref ---\n{ref.tb or repr(ref.value)[:800]}\n--- nnjax ---\n{jax.tb or repr(jax.value)[:800]}'


def _compare_values(ref, jax, what, family):
    """``family`` is a family name, or a dict ``top-level key -> family`` for dict values."""
    if isinstance(family, dict):
        assert isinstance(ref, dict) and set(ref) == set(family), (what, sorted(ref), sorted(family))
        for key, fam in family.items():
            _compare_values(ref[key], jax[key], f'{what}[{key!r}]', fam)
        return
    assert_trees_close({'v': jax}, {'v': ref}, family=family, err_msg=f'{what} (nnjax vs nnref)')


def _compare_variables(ref: dict, jax: dict, what: str):
    for col in ref:
        family = PARAMS_FAMILY if col in INIT_DRAWN else FORWARD_FAMILY
        assert_trees_close(jax[col], ref[col], family=family, err_msg=f'{what}[{col!r}] (nnjax vs nnref)')


def compare(
    ref: Outcome,
    jax: Outcome,
    what: str,
    *,
    expect=None,
    nnref_detects=True,
    with_variables=False,
    output_family=FORWARD_FAMILY,
):
    """Both outcomes are ``expect`` (an exception class, or None: success) and agree.

    ``with_variables``: the value is ``(output, variables)``; each collection
    is compared with its own family. ``output_family``: a family, or a dict
    ``key -> family`` for dict outputs (derivatives next to values).
    """
    if expect is None:
        assert not ref.raised and not jax.raised, (
            f'{what}: expected success; nnref '
            f'{type(ref.error).__name__ if ref.raised else "returned"}, nnjax '
            f'{type(jax.error).__name__ if jax.raised else "returned"}{_detail(ref, jax)}'
        )
    else:
        assert isinstance(jax.error, expect), (
            f'{what}: nnjax should raise {expect.__name__}, got '
            f'{type(jax.error).__name__ if jax.raised else "a result"}{_detail(ref, jax)}'
        )
        if not nnref_detects:
            return
        assert type(ref.error) is type(jax.error), (
            f'{what}: different errors: nnref '
            f'{type(ref.error).__name__ if ref.raised else "returned"}, nnjax '
            f'{type(jax.error).__name__}{_detail(ref, jax)}'
        )
        return
    assert skeleton(jax.value) == skeleton(ref.value), (
        f'{what}: structure/dtypes/shapes differ\n  nnref: {skeleton(ref.value)}\n  nnjax: {skeleton(jax.value)}'
    )
    if with_variables:
        out_r, vars_r = ref.value
        out_j, vars_j = jax.value
        _compare_values(out_r, out_j, f'{what} output', output_family)
        _compare_variables(vars_r, vars_j, f'{what} variables')
    else:
        _compare_values(ref.value, jax.value, f'{what} output', output_family)


# ------------------------------------------------------------------ driver


@dataclass
class Result:
    """What both backends did; ``variables`` is nnref's init result (None if init raised)."""

    init_ref: Outcome
    init_jax: Outcome
    apply_ref: Optional[Outcome] = None
    apply_jax: Optional[Outcome] = None

    @property
    def variables(self):
        return None if self.init_ref.raised else self.init_ref.value[1]


def check_init_apply(
    build: Callable,
    args: tuple,
    *,
    init_rngs: dict,
    apply_rngs: Optional[dict] = None,
    mutable: Any = False,
    expect_init=None,
    expect_apply=None,
    nnref_detects=True,
    output_family=FORWARD_FAMILY,
    method=None,
) -> Result:
    """Runs ``build(nn).init_with_output`` then ``apply`` on both backends and compares (module docstring).

    ``init_rngs``/``apply_rngs``: ``{stream: seed}``; ``mutable`` is passed to
    apply as is (a list is copied per backend); ``method``: a method name for
    both calls. Apply is skipped when init raised.
    """

    def init(nn):
        module = build(nn)
        kwargs = {} if method is None else {'method': method}
        return attempt(lambda: module.init_with_output(rngs(nn, init_rngs), *backend_args(nn, args), **kwargs))

    result = Result(init(nnref), init(nnjax))
    compare(
        result.init_ref,
        result.init_jax,
        'init_with_output',
        expect=expect_init,
        nnref_detects=nnref_detects,
        with_variables=True,
        output_family=output_family,
    )
    if result.init_ref.raised or result.init_jax.raised:
        return result
    variables = result.variables

    def apply(nn):
        module = build(nn)
        kwargs = {'mutable': list(mutable) if isinstance(mutable, list) else mutable}
        if method is not None:
            kwargs['method'] = method
        return attempt(
            lambda: module.apply(
                backend_args(nn, _as_arrays(variables)),
                *backend_args(nn, args),
                rngs=rngs(nn, apply_rngs or {}),
                **kwargs,
            )
        )

    result.apply_ref, result.apply_jax = apply(nnref), apply(nnjax)
    compare(
        result.apply_ref,
        result.apply_jax,
        f'apply(mutable={mutable!r})',
        expect=expect_apply,
        nnref_detects=nnref_detects,
        with_variables=mutable is not False,
        output_family=output_family,
    )
    return result


def _as_arrays(tree):
    """A variables tree with every leaf an ndarray (so :func:`backend_args` converts all of them)."""
    if isinstance(tree, dict):
        return {k: _as_arrays(v) for k, v in tree.items()}
    return np.asarray(tree)


def shapes(tree) -> dict:
    """``{'/'-joined path: shape}`` of a NumPy tree (for checks against shapes derived from a draw)."""
    out = {}

    def walk(node, prefix):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, prefix + (str(k),))
        else:
            out['/'.join(prefix)] = np.shape(node)

    walk(to_numpy(tree), ())
    return out
