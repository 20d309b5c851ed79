"""The seed's lifted-transform examples, run on both backends with only their imports changed.

Source: seed ``003_ed3e6eab6dbd452e.txt``: the "Transformations" part of the
API reference (``nn.vmap`` ... ``nn.switch``, lines ~9177-9890) and the design
note "Lifted transformations" (lines ~6856-7140).

Each :class:`Example` is a list of the seed's code blocks (``Seed``), run in
seed order in one namespace per backend after :func:`tests.seed_code.
rewrite_imports` (the import table is in ``tests/seed_code.py``). The blocks
are the seed text with its doctest prompts stripped and the PDF extraction
repaired (page-break lines dropped, indentation lost at a page break
restored, lines wrapped with ``↪``/``→`` joined);
:func:`test_example_code_is_the_seed_text` checks that every line is a seed
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
  :func:`test_backends_agree` compares them across backends with
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
from tests.seed_code import imports_for, lstm_shapes, lstm_step, rewrite_imports

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


# --- nn.vmap ---------------------------------------------------------------------


@example(
    'vmap_batch_dense',
    (9205, 9216),
    """
    BatchDense = nn.vmap(
        nn.Dense,
        in_axes=0, out_axes=0,
        variable_axes={'params': 0},
        split_rngs={'params': True})
""",
)
def drive_vmap_batch_dense(run, backend):
    ns = run.ns
    random = ns['random']
    x = random.uniform(random.PRNGKey(1), (4, 2, 5))  # 4 mapped items of a (2, 5) batch
    variables = ns['BatchDense'](3).init(random.PRNGKey(0), x)
    # variable_axes={'params': 0}: one Dense(3) per item, stacked on axis 0
    assert shapes(variables) == {'params': {'kernel': (4, 5, 3), 'bias': (4, 3)}}
    kernel = p64(variables['params'])['kernel']
    # split_rngs={'params': True}: each item's kernel is its own draw
    assert all(not np.allclose(kernel[0], kernel[i]) for i in range(1, 4))
    y = ns['BatchDense'](3).apply(variables, x)
    p = p64(variables['params'])
    close(y, np.stack([dense(x[i], {'kernel': p['kernel'][i], 'bias': p['bias'][i]}) for i in range(4)]))
    return {'variables': ('prng_normal', variables), 'y': ('matmul', y)}


@example(
    'vmap_shared_params',
    (9217, 9230),
    """
    BatchFoo = nn.vmap(
        Foo,
        in_axes=0, out_axes=0,
        variable_axes={'params': None},
        split_rngs={'params': False})
""",
    prelude="""
    class Foo(nn.Module):  # the seed leaves Foo undefined; any Module with params will do
        @nn.compact
        def __call__(self, x):
            return nn.Dense(3)(x)
""",
)
def drive_vmap_shared_params(run, backend):
    ns = run.ns
    random, Foo = ns['random'], ns['Foo']
    x = random.uniform(random.PRNGKey(1), (4, 2, 5))
    variables = ns['BatchFoo']().init(random.PRNGKey(0), x)
    # variable_axes={'params': None}: one Foo's parameters, no mapped axis
    assert shapes(variables) == {'params': {'Dense_0': {'kernel': (5, 3), 'bias': (3,)}}}
    # ... and split_rngs={'params': False}: drawn with the unsplit key, as an unbatched Foo draws them
    assert_trees_close(to_numpy(variables), to_numpy(Foo().init(random.PRNGKey(0), x[0])), family='exact')
    y = ns['BatchFoo']().apply(variables, x)
    for i in range(4):
        assert_close(np.asarray(y[i]), np.asarray(Foo().apply(variables, x[i])), family='matmul')
    return {'variables': ('prng_normal', variables), 'y': ('matmul', y)}


# --- nn.scan ---------------------------------------------------------------------


@example(
    'scan_lstm_module',
    (9270, 9303),
    """
    import seed_linen as nn
    import jax
    import jax.numpy as jnp

    class LSTM(nn.Module):
        features: int

        @nn.compact
        def __call__(self, x):
            batch_size = x.shape[0]
            ScanLSTMCell = nn.scan(
                nn.LSTMCell, variable_broadcast="params",
                split_rngs={"params": False}, in_axes=1, out_axes=1)

            carry = nn.LSTMCell.initialize_carry(
                jax.random.PRNGKey(0), (batch_size,), self.features)
            carry, x = ScanLSTMCell()(carry, x)
            return x

    x = jnp.ones((4, 12, 7))
    module = LSTM(features=32)
    y, variables = module.init_with_output(jax.random.PRNGKey(0), x)
""",
)
def drive_scan_lstm_module(run, backend):
    return _check_scan_lstm(run, 'ScanLSTMCell_0', run.ns['y'])


@example(
    'scan_lstm_function',
    (9306, 9332),
    """
    class LSTM(nn.Module):
        features: int

        @nn.compact
        def __call__(self, x):
            batch_size = x.shape[0]

            cell = nn.LSTMCell()
            def body_fn(cell, carry, x):
                carry, y = cell(carry, x)
                return carry, y
            scan = nn.scan(
                body_fn, variable_broadcast="params",
                split_rngs={"params": False}, in_axes=1, out_axes=1)

            carry = nn.LSTMCell.initialize_carry(
                jax.random.PRNGKey(0), (batch_size,), self.features)
            carry, x = scan(cell, carry, x)
            return x

    module = LSTM(features=32)
    variables = module.init(jax.random.PRNGKey(0), jnp.ones((4, 12, 7)))
""",
)
def drive_scan_lstm_function(run, backend):
    return _check_scan_lstm(run, 'LSTMCell_0', None)


def _check_scan_lstm(run, cell_name, y_init):
    ns = run.ns
    jnp, random = ns['jnp'], ns['random']
    variables = ns['variables']
    # variable_broadcast='params': one cell's parameters, shared by the 12 steps
    assert shapes(variables) == {'params': {cell_name: lstm_shapes(7, 32)}}
    x = random.uniform(random.PRNGKey(1), (4, 12, 7))
    y = ns['module'].apply(variables, x)
    assert y.shape == (4, 12, 32)  # out_axes=1: the steps' outputs stacked on the time axis
    # the legacy initialize_carry gives zeros of (batch, features); then one cell step per time index
    p = p64(variables['params'][cell_name])
    carry, ys = (np.zeros((4, 32)), np.zeros((4, 32))), []
    for t in range(12):
        carry, h = lstm_step(p, carry, np.asarray(x[:, t], np.float64))
        ys.append(h)
    close(y, np.stack(ys, axis=1))
    if y_init is not None:  # init_with_output's output: the same scan over jnp.ones
        assert_close(
            np.asarray(y_init), np.asarray(ns['module'].apply(variables, jnp.ones((4, 12, 7)))), family='exact'
        )
    # the recurrent kernels are orthogonal draws: a QR in each backend's LAPACK, so
    # compared at the matmul row (as conformance compares the orthogonal initializer)
    return {'variables': ('matmul', variables), 'y': ('matmul', y)}


@example(
    'scan_residual_mlp',
    (9336, 9369),
    """
    class ResidualMLPBlock(nn.Module):
        @nn.compact
        def __call__(self, x, _):
            h = nn.Dense(features=2)(x)
            h = nn.relu(h)
            return x + h, None

    class ResidualMLP(nn.Module):
        n_layers: int = 4

        @nn.compact
        def __call__(self, x):
            ScanMLP = nn.scan(
                ResidualMLPBlock, variable_axes={'params': 0},
                variable_broadcast=False, split_rngs={'params': True},
                length=self.n_layers)
            x, _ = ScanMLP()(x, None)
            return x

    model = ResidualMLP(n_layers=4)
    variables = model.init(jax.random.PRNGKey(42), jnp.ones((1, 2)))
""",
)
def drive_scan_residual_mlp(run, backend):
    ns = run.ns
    random, variables = ns['random'], ns['variables']
    # variable_axes={'params': 0}, length=4: one Dense(2) per layer, stacked on axis 0
    assert shapes(variables) == {
        'params': {'ScanResidualMLPBlock_0': {'Dense_0': {'kernel': (4, 2, 2), 'bias': (4, 2)}}}
    }
    p = p64(variables['params']['ScanResidualMLPBlock_0']['Dense_0'])
    assert all(not np.allclose(p['kernel'][0], p['kernel'][i]) for i in range(1, 4))  # split rngs
    x = random.uniform(random.PRNGKey(1), (3, 2), minval=-1.0, maxval=1.0)
    y = ns['model'].apply(variables, x)
    h = np.asarray(x, np.float64)
    for i in range(4):  # the carry goes through the layers in order
        h = h + relu(dense(h, {'kernel': p['kernel'][i], 'bias': p['bias'][i]}))
    close(y, h)
    return {'variables': ('prng_normal', variables), 'y': ('matmul', y)}


# --- nn.remat / nn.checkpoint, nn.remat_scan -------------------------------------


@example(
    'remat_checkpointed_mlp',
    (9425, 9449),
    """
    import jax
    import jax.numpy as jnp
    import seed_linen as nn

    class CheckpointedMLP(nn.Module):
        @nn.compact
        def __call__(self, x):
            CheckpointDense = nn.checkpoint(nn.Dense)
            x = CheckpointDense(128)(x)
            x = nn.relu(x)
            x = CheckpointDense(1)(x)
            return x

    model = CheckpointedMLP()
    variables = model.init(jax.random.PRNGKey(0), jnp.ones((1, 16)))
""",
)
def drive_remat_checkpointed_mlp(run, backend):
    ns = run.ns
    random, variables = ns['random'], ns['variables']
    # the transformed class is named CheckpointDense, and auto-named per class
    assert shapes(variables) == {
        'params': {
            'CheckpointDense_0': {'kernel': (16, 128), 'bias': (128,)},
            'CheckpointDense_1': {'kernel': (128, 1), 'bias': (1,)},
        }
    }
    x = random.normal(random.PRNGKey(1), (3, 16))
    y = ns['model'].apply(variables, x)
    p = p64(variables['params'])
    close(y, dense(relu(dense(x, p['CheckpointDense_0'])), p['CheckpointDense_1']))
    return {'variables': ('prng_normal', variables), 'y': ('matmul', y)}


# remat_scan runs the seed's 100 Dense layers (lengths=(10, 10), unchanged: fast enough).
@example(
    'remat_scan_big_model',
    (9480, 9489),
    """
    class BigModel(nn.Module):
        @nn.compact
        def __call__(self, x):
            DenseStack = nn.remat_scan(nn.Dense, lengths=(10, 10))
            # 100x dense with O(sqrt(N)) memory for gradient computation
            return DenseStack(8, name="dense_stack")(x)
""",
)
def drive_remat_scan_big_model(run, backend):
    ns = run.ns
    random = ns['random']
    x = random.uniform(random.PRNGKey(1), (2, 8))
    variables = ns['BigModel']().init(random.PRNGKey(0), x)
    # lengths=(10, 10): the Dense(8) parameters of 10 x 10 steps, one scanned axis per level
    assert shapes(variables) == {'params': {'dense_stack': {'kernel': (10, 10, 8, 8), 'bias': (10, 10, 8)}}}
    p = p64(variables['params']['dense_stack'])
    assert len({float(p['kernel'][i, j, 0, 0]) for i in range(10) for j in range(10)}) == 100  # split rngs
    y = ns['BigModel']().apply(variables, x)
    h = np.asarray(x, np.float64)
    for i in range(10):  # the outer level is axis 0
        for j in range(10):
            h = dense(h, {'kernel': p['kernel'][i, j], 'bias': p['bias'][i, j]})
    # 100 matmuls compound rounding: compare relative to the output's scale
    scale = np.abs(h).max()
    y = (np.asarray(y) / scale).astype(np.float32)
    close(y, h / scale)
    return {'variables': ('prng_normal', variables), 'y': ('matmul', y)}


# --- nn.map_variables ------------------------------------------------------------


@example(
    'map_variables_causal_dense',
    (9515, 9546),
    """
    import jax
    import jax.numpy as jnp
    import seed_linen as nn

    class CausalDense(nn.Module):
        \"\"\"A dense layer that masks the weights such that the output is
        causal, i.e. output i only depends on input <= i.
        \"\"\"
        features: int

        def apply_mask(self, variables):
            return (jax.tree_util.tree_map(jnp.triu, variables)
                    if not self.is_initializing() else variables)

        def setup(self):
            # temporary class
            _CausalDense = nn.map_variables(
                nn.Dense, 'params', self.apply_mask, init=self.is_initializing())
            self.dense = _CausalDense(features=self.features, use_bias=False)

        def __call__(self, x):
            return self.dense(x)

    module = CausalDense(features=5)
    variables = module.init(jax.random.PRNGKey(0), jnp.ones((1, 5)))
""",
)
def drive_map_variables_causal_dense(run, backend):
    ns = run.ns
    random, variables, module = ns['random'], ns['variables'], ns['module']
    assert shapes(variables) == {'params': {'dense': {'kernel': (5, 5)}}}
    kernel = p64(variables['params']['dense'])['kernel']
    # the stored kernel is the unmasked draw (apply_mask passes variables through at init) ...
    assert np.any(np.tril(kernel, -1) != 0)
    x = random.normal(random.PRNGKey(1), (3, 5))
    y = module.apply(variables, x)
    # ... and apply sees it masked: output i only depends on inputs <= i
    close(y, dense(x, {'kernel': np.triu(kernel)}))
    for j in range(5):
        bumped = np.array(x)
        bumped[:, j] += 1.0
        y2 = np.asarray(module.apply(variables, ns['jnp'].asarray(bumped)))
        np.testing.assert_array_equal(y2[:, :j], np.asarray(y)[:, :j])
        assert np.all(y2[:, j:] != np.asarray(y)[:, j:])
    return {'variables': ('prng_normal', variables), 'y': ('matmul', y)}


# --- nn.jvp, nn.vjp, nn.custom_vjp -----------------------------------------------


@example(
    'jvp_learn_scale',
    (9574, 9593),
    """
    class LearnScale(nn.Module):
        @nn.compact
        def __call__(self, x):
            p = self.param('test', nn.initializers.zeros_init(), ())
            return p * x

    class Foo(nn.Module):
        @nn.compact
        def __call__(self, x):
            scale = LearnScale()
            vars_t = jax.tree_util.tree_map(jnp.ones_like,
                                           scale.variables.get('params', {}))

            _, out_t = nn.jvp(
                lambda mdl, x: mdl(x), scale, (x,), (jnp.zeros_like(x),),
                variable_tangents={'params': vars_t})
            return out_t
""",
)
def drive_jvp_learn_scale(run, backend):
    ns = run.ns
    jnp, random, Foo = ns['jnp'], ns['random'], ns['Foo']
    x = jnp.asarray([0.5, -1.0, 2.0], jnp.float32)
    out_init, variables = Foo().init_with_output(random.PRNGKey(0), x)
    assert shapes(variables) == {'params': {'LearnScale_0': {'test': ()}}}
    # at init the child has no params yet when vars_t is built: no tangent, so out_t = p * 0 = 0
    close(out_init, np.zeros(3), family='derivative')
    # d(p * x) along (dp, dx) = (1, 0) is x, whatever p is
    variables = {'params': {'LearnScale_0': {'test': jnp.asarray(0.75, jnp.float32)}}}
    out_t = Foo().apply(variables, x)
    close(out_t, np.asarray(x), family='derivative')
    return {'init_out': ('derivative', out_init), 'out_t': ('derivative', out_t)}


@example(
    'vjp_foo',
    (9637, 9651),
    """
    class LearnScale(nn.Module):
        @nn.compact
        def __call__(self, x, y):
            p = self.param('scale', nn.initializers.zeros_init(), ())
            return p * x * y

    class Foo(nn.Module):
        @nn.compact
        def __call__(self, x, y):
            z, bwd = nn.vjp(lambda mdl, x, y: mdl(x, y), LearnScale(), x, y)
            params_grad, x_grad, y_grad = bwd(jnp.ones(z.shape))
            return z, params_grad, x_grad, y_grad
""",
)
def drive_vjp_foo(run, backend):
    ns = run.ns
    jnp, random, Foo = ns['jnp'], ns['random'], ns['Foo']
    x = jnp.asarray([0.5, -1.0, 2.0], jnp.float32)
    y = jnp.asarray([3.0, 0.25, -1.5], jnp.float32)
    out_init, variables = Foo().init_with_output(random.PRNGKey(0), x, y)
    assert shapes(variables) == {'params': {'LearnScale_0': {'scale': ()}}}
    z, params_grad, x_grad, y_grad = out_init
    # at init the params do not exist before the call, so there is nothing to differentiate
    assert to_numpy(params_grad) == {}
    close(z, np.zeros(3), family='exact')
    variables = {'params': {'LearnScale_0': {'scale': jnp.asarray(0.5, jnp.float32)}}}
    z, params_grad, x_grad, y_grad = Foo().apply(variables, x, y)
    xs, ys = np.asarray(x, np.float64), np.asarray(y, np.float64)
    close(z, 0.5 * xs * ys, family='elementwise')
    # cotangent ones: d/dp sum(p x y) = sum(x y); d/dx = p y; d/dy = p x.
    # The gradient tree is the lifted module's own scope: no 'LearnScale_0' level.
    assert shapes(params_grad) == {'params': {'scale': ()}}
    close(params_grad['params']['scale'], np.sum(xs * ys), family='derivative')
    close(x_grad, 0.5 * ys, family='derivative')
    close(y_grad, 0.5 * xs, family='derivative')
    return {'z': ('elementwise', z), 'grads': ('derivative', (params_grad, x_grad, y_grad))}


@example(
    'custom_vjp_foo',
    (9684, 9715),
    """
    class Foo(nn.Module):
        @nn.compact
        def __call__(self, x):
            def f(mdl, x):
                return mdl(x)

            def fwd(mdl, x):
                return nn.vjp(f, mdl, x)

            def bwd(vjp_fn, y_t):
                params_t, *inputs_t = vjp_fn(y_t)
                params_t = jax.tree_util.tree_map(jnp.sign, params_t)
                return (params_t, *inputs_t)

            sign_grad = nn.custom_vjp(
                f, forward_fn=fwd, backward_fn=bwd)
            return sign_grad(nn.Dense(1), x).reshape(())

    x = jnp.ones((2,))
    variables = Foo().init(random.PRNGKey(0), x)
""",
    Seed(
        """
    grad = jax.grad(Foo().apply)(variables, x)
""",
        only='nnjax',
    ),
)
def drive_custom_vjp_foo(run, backend):
    ns = run.ns
    jnp, variables, Foo = ns['jnp'], ns['variables'], ns['Foo']
    assert shapes(variables) == {'params': {'Dense_0': {'kernel': (2, 1), 'bias': (1,)}}}
    # forward: fn itself runs
    x = jnp.asarray([2.0, -3.0], jnp.float32)
    y = Foo().apply(variables, x)
    assert np.shape(y) == ()
    close(y, dense(x, p64(variables['params']['Dense_0']))[0])
    return {'variables': ('prng_normal', variables), 'y': ('matmul', y)}


# --- nn.while_loop, nn.cond, nn.switch -------------------------------------------


@example(
    'while_loop',
    (9745, 9776),
    """
    class WhileLoopExample(nn.Module):
        @nn.compact
        def __call__(self, x):
            def cond_fn(mdl, c):
                return mdl.variables['state']['acc'] < 10
            def body_fn(mdl, c):
                acc = mdl.variable('state', 'acc', lambda: jnp.array(0))
                acc.value += 1
                y = nn.Dense(c.shape[-1])(c)
                return y
            c = x
            if self.is_mutable_collection('params'):
                return body_fn(self, c)
            else:
                return nn.while_loop(cond_fn, body_fn, self, c,
                                    carry_variables='state')

    k = random.PRNGKey(0)
    x = jnp.ones((2, 2))
    initial_vars = WhileLoopExample().init(k, x)
    result, state = WhileLoopExample().apply(initial_vars, x, mutable=['state'])
""",
)
def drive_while_loop(run, backend):
    ns = run.ns
    initial_vars, state, result = ns['initial_vars'], ns['state'], ns['result']
    # init runs the body once by hand: acc 1 and the body's Dense
    assert shapes(initial_vars) == {'state': {'acc': ()}, 'params': {'Dense_0': {'kernel': (2, 2), 'bias': (2,)}}}
    assert int(initial_vars['state']['acc']) == 1
    # apply loops while acc < 10: 9 iterations, each applying the same Dense (broadcast params)
    assert to_numpy(state).keys() == {'state'} and int(state['state']['acc']) == 10
    p = p64(initial_vars['params']['Dense_0'])
    h = np.asarray(ns['x'], np.float64)
    for _ in range(9):
        h = dense(h, p)
    close(result, h)
    return {'variables': ('prng_normal', initial_vars), 'state': ('exact', state), 'result': ('matmul', result)}


@example(
    'cond',
    (9801, 9816),
    """
    class CondExample(nn.Module):
        @nn.compact
        def __call__(self, x, pred):
            self.variable('state', 'true_count', lambda: 0)
            self.variable('state', 'false_count', lambda: 0)
            def true_fn(mdl, x):
                mdl.variable('state', 'true_count').value += 1
                return nn.Dense(2, name='dense')(x)
            def false_fn(mdl, x):
                mdl.variable('state', 'false_count').value += 1
                return -nn.Dense(2, name='dense')(x)
            return nn.cond(pred, true_fn, false_fn, self, x)
""",
)
def drive_cond(run, backend):
    ns = run.ns
    random, jnp, CondExample = ns['random'], ns['jnp'], ns['CondExample']
    x = random.normal(random.PRNGKey(1), (1, 3))
    variables = CondExample().init(random.PRNGKey(0), x, True)
    # both branches name their Dense 'dense': one parameter set
    assert shapes(variables) == {
        'params': {'dense': {'kernel': (3, 2), 'bias': (2,)}},
        'state': {'true_count': (), 'false_count': ()},
    }
    assert _counts(variables, 'true_count', 'false_count') == (1, 0)
    assert _counts(CondExample().init(random.PRNGKey(0), x, False), 'true_count', 'false_count') == (0, 1)
    p = p64(variables['params']['dense'])
    out = {}
    for pred, sign, counts in ((True, 1, (2, 0)), (False, -1, (1, 1))):
        y, state = CondExample().apply(variables, x, jnp.asarray(pred), mutable=['state'])
        close(y, sign * dense(x, p))
        assert _counts(state, 'true_count', 'false_count') == counts
        out[f'y_{pred}'], out[f'state_{pred}'] = ('matmul', y), ('exact', state)
    return {'variables': ('prng_normal', variables), **out}


def _counts(variables, *names):
    return tuple(int(variables['state'][n]) for n in names)


@example(
    'switch',
    (9841, 9860),
    """
    class SwitchExample(nn.Module):
        @nn.compact
        def __call__(self, x, index):
            self.variable('state', 'a_count', lambda: 0)
            self.variable('state', 'b_count', lambda: 0)
            self.variable('state', 'c_count', lambda: 0)
            def a_fn(mdl, x):
                mdl.variable('state', 'a_count').value += 1
                return nn.Dense(2, name='dense')(x)
            def b_fn(mdl, x):
                mdl.variable('state', 'b_count').value += 1
                return -nn.Dense(2, name='dense')(x)
            def c_fn(mdl, x):
                mdl.variable('state', 'c_count').value += 1
                return nn.Dense(2, name='dense')(x)
            return nn.switch(index, [a_fn, b_fn, c_fn], self, x)
""",
)
def drive_switch(run, backend):
    ns = run.ns
    random, jnp, SwitchExample = ns['random'], ns['jnp'], ns['SwitchExample']
    x = random.normal(random.PRNGKey(1), (1, 3))
    variables = SwitchExample().init(random.PRNGKey(0), x, 1)
    assert shapes(variables) == {
        'params': {'dense': {'kernel': (3, 2), 'bias': (2,)}},
        'state': {'a_count': (), 'b_count': (), 'c_count': ()},
    }
    names = ('a_count', 'b_count', 'c_count')
    assert _counts(variables, *names) == (0, 1, 0)
    p = p64(variables['params']['dense'])
    out = {}
    for index, sign, counts in ((0, 1, (1, 1, 0)), (1, -1, (0, 2, 0)), (2, 1, (0, 1, 1))):
        y, state = SwitchExample().apply(variables, x, jnp.asarray(index), mutable=['state'])
        close(y, sign * dense(x, p))
        assert _counts(state, *names) == counts
        out[f'y_{index}'], out[f'state_{index}'] = ('matmul', y), ('exact', state)
    return {'variables': ('prng_normal', variables), **out}


@example(
    'switch_multi_head',
    (9862, 9891),
    """
    class MultiHeadSwitchExample(nn.Module):
        def setup(self) -> None:
            self.heads = [
                nn.Sequential([nn.Dense(10), nn.Dense(7), nn.Dense(5)]),
                nn.Sequential([nn.Dense(11), nn.Dense(5)]),
                nn.Dense(5),
            ]

        @nn.compact
        def __call__(self, x, index):
            def head_fn(i):
                return lambda mdl, x: mdl.heads[i](x)
            branches = [head_fn(i) for i in range(len(self.heads))]

            # run all branches on init
            if self.is_mutable_collection('params'):
                for branch in branches:
                    _ = branch(self, x)

            return nn.switch(index, branches, self, x)
""",
)
def drive_switch_multi_head(run, backend):
    ns = run.ns
    random, jnp, Model = ns['random'], ns['jnp'], ns['MultiHeadSwitchExample']
    x = random.normal(random.PRNGKey(1), (2, 3))
    variables = Model().init(random.PRNGKey(0), x, 1)
    # every head is initialized, whichever index init saw
    assert shapes(variables) == {
        'params': {
            'heads_0': {
                'layers_0': {'kernel': (3, 10), 'bias': (10,)},
                'layers_1': {'kernel': (10, 7), 'bias': (7,)},
                'layers_2': {'kernel': (7, 5), 'bias': (5,)},
            },
            'heads_1': {'layers_0': {'kernel': (3, 11), 'bias': (11,)}, 'layers_1': {'kernel': (11, 5), 'bias': (5,)}},
            'heads_2': {'kernel': (3, 5), 'bias': (5,)},
        }
    }
    p = p64(variables['params'])
    heads = [
        lambda h: dense(dense(dense(h, p['heads_0']['layers_0']), p['heads_0']['layers_1']), p['heads_0']['layers_2']),
        lambda h: dense(dense(h, p['heads_1']['layers_0']), p['heads_1']['layers_1']),
        lambda h: dense(h, p['heads_2']),
    ]
    out = {'variables': ('prng_normal', variables)}
    for index in range(3):
        y = Model().apply(variables, x, jnp.asarray(index))
        close(y, heads[index](x))
        out[f'y_{index}'] = ('matmul', y)
    return out


# --- the design note "Lifted transformations" ------------------------------------

NAIVE_VMAP_MLP = 1  # block indices, for the nnjax-only checks below
MANUAL_INIT = 3


@example(
    'lifted_transformations_note',
    (6880, 7138),
    """
    import jax
    from jax import random, numpy as jnp
    from seed import linen as nn

    class MLP(nn.Module):
        @nn.compact
        def __call__(self, xs):
            h = nn.Dense(4, name='hidden')(xs)
            h = nn.relu(h)
            return nn.Dense(1, name='out')(h)
""",
    """
    class NaiveVmapMLP(nn.Module):
        @nn.compact
        def __call__(self, xs):
            mlp = MLP()
            return jax.vmap(lambda mlp, x: mlp(x))(mlp, xs) # fails
""",
    """
    class ManualVmapMLP(nn.Module):
        @nn.compact
        def __call__(self, xs):
            mlp = MLP(parent=None)
            init_fn = lambda rng, xs: jax.vmap(mlp.init, in_axes=0)(random.split(rng, xs.shape[0]), xs)['params']
            apply_fn = jax.vmap(mlp.apply, in_axes=0)
            mlp_params = self.param('mlp', init_fn, xs)
            return apply_fn({'params': mlp_params}, xs)

    xs = jnp.ones((3, 4))
""",
    Seed(
        """
    variables = ManualVmapMLP().init(random.PRNGKey(0), xs)
    print(jax.tree_util.tree_map(jnp.shape, variables['params']))
""",
        only='nnjax',
    ),
    """
    class LinenVmapMLP(nn.Module):
        @nn.compact
        def __call__(self, xs):
            VmapMLP = nn.vmap(MLP, variable_axes={'params': 0}, split_rngs={'params': True}, in_axes=0)
            return VmapMLP(name='mlp')(xs)

    variables = LinenVmapMLP().init(random.PRNGKey(0), xs)
    print(jax.tree_util.tree_map(jnp.shape, variables['params']))
""",
    """
    class StatefulMLP(nn.Module):
        @nn.compact
        def __call__(self, x, *, train):
            h = nn.Dense(4, name='hidden')(x)
            h = nn.BatchNorm(axis_name='batch')(h, use_running_average=not train)
            h = nn.relu(h)
            return nn.Dense(1, name='out')(h)

    class LinenStatefulVmapMLP(nn.Module):
        @nn.compact
        def __call__(self, xs, *, train):
            VmapMLP = nn.vmap(StatefulMLP, variable_axes={'params': 0, 'batch_stats': 0}, split_rngs={'params': True}, in_axes=0)
            return VmapMLP(name='mlp')(xs, train=train)
""",
    Seed(
        """
    variables = LinenStatefulVmapMLP().init(random.PRNGKey(0), xs)
""",
        raises=TypeError,
    ),
)
def drive_lifted_transformations_note(run, backend):
    ns = run.ns
    random, jnp = ns['random'], ns['jnp']
    linen_block = MANUAL_INIT + 1
    variables = run.after[linen_block]['variables']
    # variable_axes={'params': 0} over xs (3, 4): one MLP per row of xs, stacked on axis 0
    expected = {'mlp': {'hidden': {'bias': (3, 4), 'kernel': (3, 4, 4)}, 'out': {'bias': (3, 1), 'kernel': (3, 4, 1)}}}
    assert shapes(variables['params']) == expected
    assert printed_tree(run.stdout[linen_block]) == expected
    p = p64(variables['params']['mlp'])
    assert all(not np.allclose(p['hidden']['kernel'][0], p['hidden']['kernel'][i]) for i in (1, 2))
    xs = random.normal(random.PRNGKey(1), (3, 4))
    y = ns['LinenVmapMLP']().apply(variables, xs)
    row = lambda i: {k: {n: v[i] for n, v in p[k].items()} for k in p}
    close(y, np.stack([dense(relu(dense(xs[i], row(i)['hidden'])), row(i)['out']) for i in range(3)]))
    # The seed's last line calls init without the keyword-only `train`: a TypeError
    # (the block's `raises`), as on the seed system. Given `train`, nn.vmap still cannot
    # pass it on: the seed system drops keyword arguments of vmap (with a warning) and
    # StatefulMLP then lacks `train`; both backends refuse them. A TypeError either way.
    with pytest.raises(TypeError, match='train'):
        ns['LinenStatefulVmapMLP']().init(random.PRNGKey(0), ns['xs'], train=False)
    return {'variables': ('prng_normal', variables), 'y': ('matmul', y)}


# --- tests -----------------------------------------------------------------------

NAMES = list(EXAMPLES)

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


@pytest.mark.parametrize('name', _marked(NAMES))
def test_example(nn, name):
    """The example's code runs on the backend and behaves as its text says (asserted by its driver)."""
    results(name, nn.__name__)


@pytest.mark.parametrize('name', _marked(NAMES))
def test_backends_agree(name):
    pytest.importorskip('jax')
    ours, ref = results(name, 'nnjax'), results(name, 'nnref')
    assert ours.keys() == ref.keys()
    for label, (family, tree) in ref.items():
        assert_trees_close(
            to_numpy(ours[label][1]), to_numpy(tree), family=family, err_msg=f'{name}: {label}, nnjax vs nnref'
        )


# nnjax only: these need jax.grad or jax.vmap, which nnref does not have.


def test_custom_vjp_backward_rule_nnjax():
    """``jax.grad(Foo().apply)`` (the seed's last line) goes through the custom sign-gradient rule."""
    pytest.importorskip('jax')
    import jax

    run = run_example('custom_vjp_foo', 'nnjax')
    grad, variables, Foo = run.ns['grad'], run.ns['variables'], run.ns['Foo']
    # the plain gradient of x @ k + b at x = ones would be (ones, 1): its sign is the same
    assert_trees_close(
        to_numpy(grad),
        {'params': {'Dense_0': {'kernel': np.ones((2, 1), np.float32), 'bias': np.ones(1, np.float32)}}},
        family='exact',
    )
    # at x = (2, -3) the plain kernel gradient is x; the rule returns its sign
    x = np.asarray([2.0, -3.0], np.float32)
    grad = jax.grad(Foo().apply)(variables, x)
    assert_close(
        np.asarray(grad['params']['Dense_0']['kernel']), np.asarray([[1.0], [-1.0]], np.float32), family='exact'
    )
    assert_close(np.asarray(grad['params']['Dense_0']['bias']), np.ones(1, np.float32), family='exact')


def test_remat_gradients_nnjax():
    """``nn.checkpoint`` changes memory, not derivatives: gradients equal the plain MLP's."""
    pytest.importorskip('jax')
    import jax
    import jax.numpy as jnp

    run = run_example('remat_checkpointed_mlp', 'nnjax')
    variables, model = run.ns['variables'], run.ns['model']
    x = jax.random.normal(jax.random.PRNGKey(1), (3, 16))

    def plain(params, x):
        h = jax.nn.relu(x @ params['CheckpointDense_0']['kernel'] + params['CheckpointDense_0']['bias'])
        return jnp.sum(h @ params['CheckpointDense_1']['kernel'] + params['CheckpointDense_1']['bias'])

    got = jax.grad(lambda v: jnp.sum(model.apply(v, x)))(variables)['params']
    want = jax.grad(plain)(variables['params'], x)
    assert_trees_close(to_numpy(got), to_numpy(want), family='matmul')


def test_design_note_manual_vmap_nnjax():
    """``ManualVmapMLP``: ``jax.vmap`` over ``MLP.init``/``apply`` inside ``self.param``."""
    pytest.importorskip('jax')
    run = run_example('lifted_transformations_note', 'nnjax')
    variables = run.after[MANUAL_INIT]['variables']
    expected = {'mlp': {'hidden': {'bias': (3, 4), 'kernel': (3, 4, 4)}, 'out': {'bias': (3, 1), 'kernel': (3, 4, 1)}}}
    assert shapes(variables['params']) == expected
    assert printed_tree(run.stdout[MANUAL_INIT]) == expected
    ns = run.ns
    xs = ns['random'].normal(ns['random'].PRNGKey(1), (3, 4))
    y = ns['ManualVmapMLP']().apply(variables, xs)
    params = variables['params']['mlp']
    for i in range(3):
        row = {k: {n: v[i] for n, v in params[k].items()} for k in params}
        assert_close(np.asarray(y[i]), np.asarray(ns['MLP']().apply({'params': row}, xs[i])), family='matmul')


def test_design_note_naive_vmap_fails_nnjax():
    """``jax.vmap`` over a Module argument fails ("# fails" in the seed): a Module is not a JAX type."""
    pytest.importorskip('jax')
    ns = run_example('lifted_transformations_note', 'nnjax').after[NAIVE_VMAP_MLP]
    with pytest.raises(TypeError, match='not a valid JAX type'):
        ns['NaiveVmapMLP']().init(ns['random'].PRNGKey(0), ns['jnp'].ones((3, 4)))


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


@pytest.mark.skipif(not SEED_PATH.is_file(), reason=f'seed not found at {SEED_PATH}')
@pytest.mark.parametrize('name', NAMES)
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


def test_every_deviation_is_used():
    """``DEVIATIONS`` lists only lines the examples contain (and so only edits actually made)."""
    lines = {line for ex in EXAMPLES.values() for block in ex.blocks for line in block.code.split('\n')}
    assert set(DEVIATIONS) <= lines
