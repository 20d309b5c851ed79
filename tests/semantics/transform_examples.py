"""The seed's lifted-transform examples, run on both backends with only their imports changed.

This module is the machinery; the examples are in the
``test_transform_examples_<topic>.py`` files next to it (vmap and scan, remat,
map_variables and the derivative transforms, control flow, the design note).
Each registers its examples with :func:`example` and takes the per-example
tests from :func:`example_tests`.

Source: seed ``003_ed3e6eab6dbd452e.txt``: the "Transformations" part of the
API reference (``nn.vmap`` ... ``nn.switch``, lines ~9177-9890) and the design
note "Lifted transformations" (lines ~6856-7140).

Each :class:`Example` is a list of the seed's code blocks (``Seed``), run in
seed order in one namespace per backend after :func:`tests.seed_code.
rewrite_imports` (the import table is in ``tests/seed_code.py``). The blocks
are the seed text with its doctest prompts stripped and the PDF extraction
repaired (page-break lines dropped, indentation lost at a page break
restored, lines wrapped with ``↪``/``→`` joined);
``test_example_code_is_the_seed_text`` checks that every line is a seed
line, in seed order, inside the example's line range. The only other changes
are in ``DEVIATIONS``, and each is needed on the seed system too (flax 0.12.8
with jax 0.10):

* ``CausalDense``: ``jax.tree_map`` is ``jax.tree_util.tree_map`` (jax has
  removed ``jax.tree_map``; flax's own docstring now spells it this way), and
  the docstring's typeset ``$\\leq i$`` is ``<= i``;
* ``LearnScale`` (``nn.jvp``): ``nn.initializers._init()`` does not exist (in
  the seed system either); it is ``zeros_init()``, as in the functional
  version of the same docstring. The example's tangent does not depend on the
  parameter's value.

Snippets that the seed shows without imports get ``HEADER``, the imports the
seed's other examples use. Everything that is not the seed's (inputs,
``init``/``apply`` calls of classes the seed only defines, a ``Foo`` for the
shared-parameter ``vmap`` snippet, reference computations) is test code in the
``drive_*`` functions and ``prelude`` strings.

What runs where:

* every block runs on both backends, except the few marked ``only='nnjax'``,
  which need ``jax.grad`` or ``jax.vmap`` (nnref has neither, by design: it
  differentiates numerically inside ``nn.jvp``/``nn.vjp`` only): the
  ``jax.grad(Foo().apply)`` line of the ``custom_vjp`` example and the
  ``ManualVmapMLP`` init of the design note (``jax.vmap(mlp.init)``);
* each driver returns the example's variables and outputs, and
  ``test_backends_agree`` compares them across backends with
  ``shared_spec.tolerances`` (initializer draws: ``prng_normal``; forward
  passes: ``matmul``; ``nn.jvp``/``nn.vjp`` results: ``derivative``, since
  nnref's derivatives are central differences; counters: ``exact``);
* ``nn.custom_vjp`` on nnref runs forward only (its backward rule needs
  autodiff); the rule itself is checked on nnjax with ``jax.grad``.

Not covered: the design note's ``lift.pack`` example and the functional
``lift.jvp`` example need the functional core (``flax.core.lift``,
``flax.core.init``), which neither backend has (it is not in the API table).
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pytest

from conformance.compare import to_numpy
from shared_spec.tolerances import assert_close, assert_trees_close
from tests.seed_code import imports_for, rewrite_imports

SEED_PATH = Path(__file__).resolve().parents[2].parent / 'shared' / 'seeds' / '003_ed3e6eab6dbd452e.txt'

HEADER = '\n'.join(
    [
        'import jax',
        'import jax.numpy as jnp',
        'from jax import random',
        'import seed_linen as nn',
    ]
)

#: The seed's Linen imports (whitespace removed) -> the placeholders the examples use instead.
SEED_IMPORT_PLACEHOLDERS = {
    'import' + 'flax.linen' + 'asnn': 'importseed_linenasnn',
    'from' + 'flax' + 'import' + 'linen' + 'asnn': 'fromseedimportlinenasnn',
}

#: {line as run: line as the seed prints it} for the three non-import edits (see the module docstring).
DEVIATIONS = {
    "    causal, i.e. output i only depends on input <= i.": "... causal, i.e. output i only depends on input  $\\leq i$ .",
    "        return (jax.tree_util.tree_map(jnp.triu, variables)": "...     return (jax.tree_map(jnp.triu, variables)",
    "        p = self.param('test', nn.initializers.zeros_init(), ())": "    p = self.param('test', nn.initializers._init(), ())",
}


def _code(text):
    return textwrap.dedent(text).strip('\n')


@dataclass(frozen=True)
class Seed:
    """One code block of the seed. ``only``: the one backend it can run on; ``raises``: it fails there too."""

    code: str
    only: Optional[str] = None
    raises: Optional[type] = None


@dataclass
class Example:
    name: str
    lines: tuple  # (first, last) line of the seed holding the blocks
    blocks: list
    driver: Callable
    prelude: str = ''  # test code run before the blocks


@dataclass
class Run:
    """What running an example's blocks left: the final namespace, and a snapshot and stdout per block."""

    ns: dict
    after: list = field(default_factory=list)
    stdout: list = field(default_factory=list)


EXAMPLES = {}


def example(name, lines, *blocks, prelude=''):
    def register(driver):
        EXAMPLES[name] = Example(
            name,
            lines,
            [Seed(_code(b)) if isinstance(b, str) else Seed(_code(b.code), b.only, b.raises) for b in blocks],
            driver,
            _code(prelude),
        )
        return driver

    return register


# --- running ---------------------------------------------------------------------

_RUNS = {}


def run_example(name, backend):
    """The example's blocks executed for ``backend`` (cached: drivers only read the namespace)."""
    key = (name, backend)
    if key not in _RUNS:
        ex = EXAMPLES[name]
        ns = {'__name__': f'seed_example_{name}'}
        run = Run(ns)
        with imports_for(backend):
            exec(compile(rewrite_imports(HEADER, backend), '<header>', 'exec', dont_inherit=True), ns)
            if ex.prelude:
                exec(compile(ex.prelude, '<prelude>', 'exec', dont_inherit=True), ns)
            for i, block in enumerate(ex.blocks):
                out = io.StringIO()
                if block.only in (None, backend):
                    code = compile(
                        rewrite_imports(block.code, backend), f'<{name} block {i}>', 'exec', dont_inherit=True
                    )
                    with contextlib.redirect_stdout(out):
                        if block.raises is None:
                            exec(code, ns)
                        else:
                            with pytest.raises(block.raises):
                                exec(code, ns)
                run.after.append(dict(ns))
                run.stdout.append(out.getvalue())
        _RUNS[key] = run
    return _RUNS[key]


_RESULTS = {}


def results(name, backend):
    """The driver's ``{label: (family, tree)}`` for ``backend`` (asserts the example's behaviour)."""
    key = (name, backend)
    if key not in _RESULTS:
        _RESULTS[key] = EXAMPLES[name].driver(run_example(name, backend), backend)
    return _RESULTS[key]


# --- helpers for drivers ---------------------------------------------------------


def shapes(tree):
    tree = to_numpy(dict(tree) if hasattr(tree, 'items') else tree)
    if isinstance(tree, dict):
        return {k: shapes(v) for k, v in tree.items()}
    return np.shape(tree)


def close(actual, desired, family='matmul', msg=''):
    """``actual`` (a backend result) against a float64 reference, at the float32 row."""
    assert_close(np.asarray(actual), np.asarray(desired), family=family, dtype='float32', err_msg=msg)


def p64(tree):
    """Parameters as float64 NumPy for reference computations."""
    return {k: p64(v) for k, v in tree.items()} if hasattr(tree, 'items') else np.asarray(tree, np.float64)


def dense(x, p):
    y = np.asarray(x, np.float64) @ p['kernel']
    return y + p['bias'] if 'bias' in p else y


def relu(x):
    return np.maximum(x, 0)


def printed_tree(stdout):
    return ast.literal_eval(stdout.strip())


# --- the tests every example gets --------------------------------------------------

#: Both LSTM examples build the cell without ``features`` (``ScanLSTMCell()``,
#: ``nn.LSTMCell()``): the seed's older LSTMCell took its size from the carry.
#: Both backends (and the seed system today) require ``features``, so the
#: examples stop with a TypeError before anything is checked. Strict: once the
#: cell accepts that form, these XPASS and fail until the marker is removed.
LEGACY_LSTM = pytest.mark.xfail(
    raises=TypeError, strict=True, reason='LSTMCell() without features (size from the carry) is not supported'
)
LEGACY_LSTM_EXAMPLES = ('scan_lstm_module', 'scan_lstm_function')


def _marked(names):
    return [pytest.param(n, marks=LEGACY_LSTM) if n in LEGACY_LSTM_EXAMPLES else n for n in names]


def names_in(module_name):
    """The names of the examples whose drivers module ``module_name`` defines, in order."""
    return [name for name, ex in EXAMPLES.items() if ex.driver.__module__ == module_name]


def example_tests(module_name):
    """The three tests of every example of ``module_name``, for that module to bind at top level.

    ``test_example, test_backends_agree, test_example_code_is_the_seed_text = example_tests(__name__)``
    """
    names = names_in(module_name)

    @pytest.mark.parametrize('name', _marked(names))
    def test_example(nn, name):
        """The example's code runs on the backend and behaves as its text says (asserted by its driver)."""
        results(name, nn.__name__)

    @pytest.mark.parametrize('name', _marked(names))
    def test_backends_agree(name):
        pytest.importorskip('jax')
        ours, ref = results(name, 'nnjax'), results(name, 'nnref')
        assert ours.keys() == ref.keys()
        for label, (family, tree) in ref.items():
            assert_trees_close(
                to_numpy(ours[label][1]), to_numpy(tree), family=family, err_msg=f'{name}: {label}, nnjax vs nnref'
            )

    @pytest.mark.skipif(not SEED_PATH.is_file(), reason=f'seed not found at {SEED_PATH}')
    @pytest.mark.parametrize('name', names)
    def test_example_code_is_the_seed_text(name):
        """Every line of the example's blocks is a line of its seed range, in seed order."""
        ex = EXAMPLES[name]
        seed = _normalized_seed_lines(*ex.lines)
        position = 0
        for block in ex.blocks:
            for line in block.code.split('\n'):
                want = _normalize(DEVIATIONS.get(line, line))
                if not want:
                    continue
                assert want in seed[position:], (
                    f'{name}: {line.strip()!r} is not a seed line after the previous one (lines {ex.lines})'
                )
                position = seed.index(want, position) + 1

    return test_example, test_backends_agree, test_example_code_is_the_seed_text


# --- the examples are the seed's text ----------------------------------------------


def _normalized_seed_lines(first, last):
    """Seed lines ``first..last`` (1-based) as code: prompts and whitespace gone, wrapped lines joined."""
    lines = SEED_PATH.read_text(encoding='utf-8').split('\n')[first - 1 : last]
    out = []
    for line in lines:
        text = _normalize(line)
        if line.strip().startswith(('↪', '→')) and out:
            out[-1] += text.lstrip('↪→')
        elif text:
            out.append(text)
    return out


def _normalize(line):
    line = re.sub(r'^\s*(>>>|\.\.\.)( |$)', '', line)
    line = re.sub(r'\s+', '', line)
    # the examples spell the seed system's import with a placeholder (tests never name it)
    return SEED_IMPORT_PLACEHOLDERS.get(line, line)
