"""The two backends mirror each other file by file.

Every module of ``nnref`` (each ``.py`` under the package, as a dotted name
relative to it) has an ``nnjax`` module of the same name, and the reverse,
so that a reader can lay the two implementations of one concept side by
side. The modules that exist in one backend only are listed below, each
with the reason; the list must stay exact (an entry whose module gained its
namesake, or disappeared, is an error too).
"""

import fnmatch
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

# Dotted names (fnmatch patterns) present in nnref only -> why.
ONLY_NNREF = {
    'random': "nnref's own counter-based PRNG (jax.random's threefry in NumPy); nnjax uses jax.random",
    'random.*': "nnref's own counter-based PRNG (jax.random's threefry in NumPy); nnjax uses jax.random",
    'lax': "nnref's array namespace standing in for jax.lax; nnjax uses jax.lax itself",
    'lax.*': "nnref's array namespace standing in for jax.lax; nnjax uses jax.lax itself",
    'numpy': "nnref's array namespace standing in for jax.numpy; nnjax uses jax.numpy itself",
    'tree_util': 'pytree traversal over plain containers; nnjax uses jax.tree_util',
    'shape_dtype': 'ShapeDtypeStruct for lazy_init; nnjax uses jax.ShapeDtypeStruct',
    'jax_nn_attention': 'jax.nn.dot_product_attention in NumPy; nnjax calls jax.nn',
    'convolution': "lax.conv_general_dilated in NumPy; nnjax calls lax's convolution",
    'windows': 'sliding-window arithmetic shared by nnref convolution and pooling (XLA does it for nnjax)',
    'layers._contract': "dot_general/einsum rounded as XLA rounds them; nnjax calls lax's contractions",
    'transforms._axes': "slicing and stacking along mapped axes for nnref's loop vmap/scan; jax.vmap/lax.scan do it",
    'summary_render': "plain-text box table for tabulate; nnjax draws it with rich",
}

# Dotted names present in nnjax only -> why.
ONLY_NNJAX = {
    'training': 'training utilities (checkpoints, train state) exist only in the production backend',
    'training.*': 'training utilities (checkpoints, train state) exist only in the production backend',
    'debug': 'debugging tools that compare nnjax against nnref; production backend only',
    'debug.*': 'debugging tools that compare nnjax against nnref; production backend only',
    'fp8': 'fp8 training (XLA fp8 dot products); production backend only',
    'fp8.*': 'fp8 training (XLA fp8 dot products); production backend only',
    'fp8_ops': "the seed's linen.fp8_ops alias of nnjax.fp8; production backend only",
    'serialization': 'msgpack state dicts for checkpoints; production backend only',
    'struct': 'pytree dataclasses for jax transformations; production backend only',
    'jax_utils': 'pmap/device helpers; production backend only',
    'named_call': 'jax.named_scope around module methods for profiles; nnref has no profiler',
}


def _modules(package: str) -> set:
    base = ROOT / package
    names = set()
    for path in base.rglob('*.py'):
        parts = path.relative_to(base).with_suffix('').parts
        if parts[-1] == '__init__':
            parts = parts[:-1]
        if parts:
            names.add('.'.join(parts))
    return names


def _excused(name: str, exceptions: dict) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in exceptions)


@pytest.mark.parametrize(
    'package,other,exceptions',
    [('nnref', 'nnjax', ONLY_NNREF), ('nnjax', 'nnref', ONLY_NNJAX)],
    ids=['nnref->nnjax', 'nnjax->nnref'],
)
def test_every_module_has_its_namesake(package, other, exceptions):
    missing = sorted(_modules(package) - _modules(other))
    unexplained = [name for name in missing if not _excused(name, exceptions)]
    assert not unexplained, f'{package} modules without an {other} namesake (add one, or list why): {unexplained}'


@pytest.mark.parametrize(
    'package,other,exceptions',
    [('nnref', 'nnjax', ONLY_NNREF), ('nnjax', 'nnref', ONLY_NNJAX)],
    ids=['nnref', 'nnjax'],
)
def test_exception_list_is_exact(package, other, exceptions):
    only_here = _modules(package) - _modules(other)
    stale = sorted(p for p in exceptions if not any(fnmatch.fnmatchcase(n, p) for n in only_here))
    assert not stale, f'listed as {package}-only but not (or no longer) so: {stale}'


def test_reasons_are_one_line():
    for reason in [*ONLY_NNREF.values(), *ONLY_NNJAX.values()]:
        assert reason and '\n' not in reason
