"""The Linen introduction notebook (seed ``000_931db3ab41729921.txt``) run on both backends.

Issue 2 asked that the cells of this seed that use only nnref's features run
on nnref after changing only their imports; issue 5 (lifted transforms) adds
the JIT, Remat, Vmap and Scan cells, and every runnable cell now runs on
nnjax as well. The cells are read verbatim from the seed
(``linen_intro_cells.py`` names them). Each runnable cell is executed with its
import lines rewritten by the per-backend table of ``tests/seed_code.py``
(``from flax import linen as nn`` becomes ``import nnref as nn`` /
``import nnjax as nn``; on nnref, ``jax`` names come from a test-only stand-in
built on nnref's own ``random``, ``numpy`` and ``tree_util``, with a NumPy
``lax.dot_general`` and nnref's ``softmax`` as ``jax.nn.softmax``) and nothing
else changed; all cells of one backend share one namespace and run in seed
order, as in a notebook. A cell's last bare expression is evaluated and kept
as its displayed value, as Jupyter would show it.

Each cell's check asserts what the cell is about on each backend;
``test_backends_agree`` then compares what the cells computed (variables and
outputs) across the backends with ``shared_spec.tolerances``.

Cells that cannot run are listed in ``NOT_RUNNABLE`` with the reason, and are
reported as skipped.
"""

import contextlib
import io

import numpy as np
import pytest

from conformance.compare import to_numpy
from shared_spec.tolerances import assert_close, assert_trees_close
from tests.nnref.linen_intro_cells import SEED_PATH, TITLES, load_cells, seed_code_cells
from tests.seed_code import BACKENDS, imports_for, is_import_line, lstm_shapes, lstm_step, rewrite_imports, run_cell

if not SEED_PATH.is_file():
    pytest.skip(f'seed not found at {SEED_PATH}', allow_module_level=True)
CELLS = load_cells()

# --- which cells run -----------------------------------------------------------

NOT_RUNNABLE = {
    'HgRZ_G8wGcoB Install and Import: pip install': 'IPython shell cell (`!pip install` of jax and flax), tagged '
    'skip-execution in the seed: nothing to run on any backend',
    'BBrbcEdCnQ4o Another Mutability and RNGs Example: Block': 'written for the seed\'s older FrozenDict-returning init: '
    '`_, init_params = init_variables.pop(\'params\')` expects a (rest, value) '
    'pair, but init now returns a plain dict (notes/linen-compat.md), whose pop '
    'returns the value alone; the cell fails the same way on the seed system',
}

JIT_CELL = 'UEUTO8bf0Kf2 JIT: MLP with nn.jit'
REMAT_CELL = 'sogMxDQpyMZE Remat: RematMLP'
VMAP_CELL = 'PIGiriD0yFXo Vmap: MultiHeadDotProductAttention'
SCAN_CELL = 'oxA_lWm7tH2B Scan: SimpleScan'
SIMPLE_MLP_CELL = 'UPNGIr6wcGaw Composing submodules: SimpleMLP (compact)'


# --- running the notebook ------------------------------------------------------


class CellRun:
    """What one cell left behind: namespace snapshot, stdout, displayed value, error."""

    def __init__(self, backend, namespace, stdout, displayed, error):
        self.backend = backend
        self.nn = namespace.get('nn')
        self.ns = namespace
        self.stdout = stdout
        self.displayed = displayed
        self.error = error


_NOTEBOOKS = {}


def run_notebook(backend):
    """Every runnable cell run once for ``backend``, in seed order, in one shared namespace (cached)."""
    if backend not in _NOTEBOOKS:
        namespace = {'__name__': 'linen_intro'}
        runs = {}
        with imports_for(backend):
            for title, source in CELLS:
                if title in NOT_RUNNABLE:
                    continue
                out = io.StringIO()
                displayed = error = None
                try:
                    with contextlib.redirect_stdout(out):
                        displayed = run_cell(rewrite_imports(source, backend), namespace)
                except Exception as exc:  # reported by the cell's own test
                    error = exc
                runs[title] = CellRun(backend, dict(namespace), out.getvalue(), displayed, error)
        _NOTEBOOKS[backend] = runs
    return _NOTEBOOKS[backend]


@pytest.fixture(params=BACKENDS)
def notebook(request):
    if request.param == 'nnjax':
        pytest.importorskip('jax')
    return run_notebook(request.param)


# --- checks, per cell ----------------------------------------------------------


def _shapes(tree):
    if hasattr(tree, 'items'):
        return {k: _shapes(v) for k, v in tree.items()}
    return np.shape(tree)


def _assert_same_tree(actual, desired, family):
    assert _shapes(actual) == _shapes(desired)
    assert_trees_close(to_numpy(actual), to_numpy(desired), family=family)


def _mlp_shapes(features_in, features):
    shapes, prev = {}, features_in
    for i, feat in enumerate(features):
        shapes[f'layers_{i}'] = {'bias': (feat,), 'kernel': (prev, feat)}
        prev = feat
    return {'params': shapes}


def _mlp_by_hand(x, params, n_layers):
    """Dense, relu, ..., Dense in float64 from the cell's parameters."""
    h = np.asarray(x, np.float64)
    for i in range(n_layers):
        layer = params[f'layers_{i}']
        h = h @ np.asarray(layer['kernel'], np.float64) + np.asarray(layer['bias'], np.float64)
        h = np.maximum(h, 0) if i < n_layers - 1 else h
    return h


def _sorted(tree):
    """``tree`` with every dict's keys sorted, as the cells' ``tree_map`` prints them."""
    return {k: _sorted(tree[k]) for k in sorted(tree)} if isinstance(tree, dict) else tree


def _printed(stdout, label):
    """The text a cell printed after ``label`` (print puts a space after the newline)."""
    text = stdout.split(label + '\n ', 1)[1]
    return text.split('\n')[0]


def check_imports(run, runs):
    ns, nn = run.ns, run.nn
    assert nn.__name__ == run.backend
    assert ns['jnp'] is nn.numpy and ns['random'] is nn.random
    assert ns['jax'].tree_util is nn.tree_util and ns['lax'] is ns['jax'].lax
    assert ns['freeze'] is nn.core.freeze and ns['unfreeze'] is nn.core.unfreeze


def check_construct_dense(run, runs):
    model = run.ns['model']
    assert isinstance(model, run.nn.Dense) and model.features == 3


def check_init(run, runs):
    ns = run.ns
    x = np.asarray(ns['x'])
    assert x.shape == (4, 4) and x.dtype == np.float32
    assert np.all((x >= 0) & (x < 1))
    # the seed system's init returns a plain dict of collections
    assert type(run.displayed) is dict and run.displayed is ns['init_variables']
    assert _shapes(run.displayed) == {'params': {'bias': (3,), 'kernel': (4, 3)}}
    params = to_numpy(run.displayed['params'])
    assert params['kernel'].dtype == np.float32
    assert np.all(params['bias'] == 0) and np.any(params['kernel'] != 0)
    # init is a pure function of the key
    again = ns['model'].init(ns['key2'], ns['x'])
    _assert_same_tree(again, run.displayed, family='exact')


def check_apply(run, runs):
    ns = run.ns
    y, x, params = ns['y'], np.asarray(ns['x']), to_numpy(ns['init_variables']['params'])
    assert run.displayed is y
    assert np.shape(y) == (4, 3) and y.dtype == np.float32
    assert_close(np.asarray(y), x @ params['kernel'] + params['bias'], family='matmul')


def check_explicit_mlp(run, runs):
    ns = run.ns
    expected = _mlp_shapes(4, [3, 4, 5])
    assert _shapes(ns['init_variables']) == expected
    assert np.shape(ns['y']) == (4, 5)
    # the printed shape tree is backend independent: tree_map's dicts have sorted keys
    assert _printed(run.stdout, 'initialized parameter shapes:') == str(expected)
    assert 'output:\n' in run.stdout
    # the setup-declared list reproduces by hand: Dense, relu, Dense, relu, Dense
    want = _mlp_by_hand(ns['x'], ns['init_variables']['params'], 3)
    assert_close(np.asarray(ns['y']), want, family='matmul', dtype='float32')


def check_simple_mlp(run, runs):
    ns = run.ns
    expected = _mlp_shapes(4, [3, 4, 5])
    assert _shapes(ns['init_variables']) == expected
    assert _printed(run.stdout, 'initialized parameter shapes:') == str(expected)
    # Same key, same paths (layers_0.. named in compact = attribute names in
    # setup), so the compact MLP has exactly the setup MLP's variables.
    explicit = runs['qB6l-9EabOwH Composing submodules: ExplicitMLP (setup)'].ns
    _assert_same_tree(ns['init_variables'], explicit['init_variables'], family='exact')
    assert_close(np.asarray(ns['y']), np.asarray(explicit['y']), family='exact')


def check_simple_dense(run, runs):
    ns = run.ns
    variables = ns['init_variables']
    assert _shapes(variables) == {'params': {'bias': (3,), 'kernel': (4, 3)}}
    assert variables['params']['kernel'].dtype == np.float32
    assert np.shape(ns['y']) == (4, 3)
    assert 'initialized parameters:\n' in run.stdout and 'output:\n' in run.stdout
    # Same initializers, same param order at the root scope: nn.Dense's variables.
    dense = run.nn.Dense(features=3)
    want = dense.init(ns['key2'], ns['x'])
    _assert_same_tree(variables, want, family='exact')
    assert_close(np.asarray(ns['y']), np.asarray(dense.apply(want, ns['x'])), family='matmul')


def check_explicit_dense(run, runs):
    ns = run.ns
    assert _shapes(ns['init_variables']) == {'params': {'bias': (3,), 'kernel': (4, 3)}}
    # params declared in setup draw the same keys as params declared in compact
    compact = runs['7OACbTFHjMvl Declaring and using variables: SimpleDense (compact param)'].ns
    _assert_same_tree(ns['init_variables'], compact['init_variables'], family='exact')
    assert_close(np.asarray(ns['y']), np.asarray(compact['y']), family='matmul')


def check_counter(run, runs):
    ns = run.ns
    init_variables, mutated, y = ns['init_variables'], ns['mutated_variables'], ns['y']
    # init sees no variable yet, so it does not count; apply counts once
    fresh = ns['model'].init(ns['key1'])
    assert to_numpy(fresh) == {'counter': {'count': 0}}
    # apply returns the new count and leaves the caller's variables as they
    # were: `counter.value += 1` must not update the caller's array in place
    assert to_numpy(init_variables) == {'counter': {'count': 0}}, 'apply changed the variables it was given'
    assert to_numpy(mutated) == {'counter': {'count': 1}}
    assert np.asarray(init_variables['counter']['count']).dtype == np.int32
    assert np.asarray(mutated['counter']['count']).dtype == np.int32
    assert y == 1
    assert 'initialized variables:\n' in run.stdout and 'mutated variables:\n' in run.stdout


def _check_transformed_mlp(run):
    """The JIT and Remat cells: an MLP of features [3, 4, 5] on x (4, 4), each layer transformed."""
    ns = run.ns
    expected = _mlp_shapes(4, [3, 4, 5])
    assert _shapes(ns['init_variables']) == expected
    assert _printed(run.stdout, 'initialized parameter shapes:') == str(expected)
    assert np.shape(ns['y']) == (4, 5) and 'output:\n' in run.stdout
    want = _mlp_by_hand(ns['x'], ns['init_variables']['params'], 3)
    assert_close(np.asarray(ns['y']), want, family='matmul', dtype='float32')
    # the untransformed MLP of the SimpleMLP cell, with this cell's key and input
    simple = ns['SimpleMLP'](features=[3, 4, 5])
    return to_numpy(simple.init(ns['key2'], ns['x'])['params'])


def check_jit(run, runs):
    plain = _check_transformed_mlp(run)
    got = to_numpy(run.ns['init_variables']['params'])
    # The seed's "Known Gotcha": nn.jit changes the RNG stream, so the jitted
    # layers do not draw the untransformed MLP's parameters (the seed system
    # still behaves so); biases are zeros either way.
    for layer in plain:
        assert not np.array_equal(got[layer]['kernel'], plain[layer]['kernel']), layer


def check_remat(run, runs):
    plain = _check_transformed_mlp(run)
    # The seed notes the same gotcha for remat, but the seed system no longer
    # has it: remat keeps the stream, so the parameters are the plain MLP's.
    assert_trees_close(to_numpy(run.ns['init_variables']['params']), plain, family='exact')


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def check_vmap(run, runs):
    ns = run.ns
    x = np.asarray(ns['x'], np.float64)
    batch, length, features = x.shape
    heads = ns['model'].keywords['num_heads']
    per_head = features // heads  # qkv_features // num_heads
    # heads: vmap with variable_axes={'params': 0}, axis_size=num_heads, so every
    # kernel has a leading heads axis; batch: vmap with params broadcast (no axis)
    expected = {
        'params': {
            'attention': {
                'query': {'kernel': (heads, features, per_head)},
                'key': {'kernel': (heads, features, per_head)},
                'value': {'kernel': (heads, features, per_head)},
                'out': {'kernel': (heads, per_head, features), 'bias': (heads, features)},
            }
        }
    }
    variables = ns['init_variables']
    assert _shapes(variables) == expected
    assert _printed(run.stdout, 'initialized parameter shapes:') == str(_sorted(expected))
    # out_axes=2 puts heads after (length, features); the cell averages the features away
    y = ns['y']
    assert np.shape(y) == (batch, length, heads) and y.dtype == np.float32
    assert _printed(run.stdout, 'output:') == str((batch, length, heads))
    # deterministic (train=False) by hand: single-head unscaled dot-product attention per head
    p = to_numpy(variables['params']['attention'])
    want = np.zeros((batch, length, heads))
    for b in range(batch):
        for h in range(heads):
            q, k, v = (x[b] @ p[n]['kernel'][h].astype(np.float64) for n in ('query', 'key', 'value'))
            out = _softmax(q @ k.T) @ v @ p['out']['kernel'][h] + p['out']['bias'][h]
            want[b, :, h] = out.mean(axis=-1)
    y_eval = ns['model'](train=False).apply(variables, ns['x'], ns['x'])
    assert_close(np.asarray(y_eval), want, family='attention', dtype='float32')
    # the cell's train=True apply drops attention weights (rate 0.1): not the deterministic output
    assert not np.allclose(np.asarray(y), want, rtol=1e-3, atol=1e-3)


def check_scan(run, runs):
    ns = run.ns
    xs = np.asarray(ns['xs'], np.float64)
    batch, steps, features = xs.shape
    # the carry is initialize_carry(rng, xs.shape[:1], xs.shape[-1]): zeros of
    # (batch, features), so the cell has `features` hidden units; its params are
    # broadcast (one set for every step)
    expected = {'params': {'lstm_cell': lstm_shapes(features, features)}}
    variables = ns['init_variables']
    assert _shapes(variables) == expected
    assert _printed(run.stdout, 'initialized parameter shapes:') == str(_sorted(expected))
    (c, h), ys = ns['y']
    assert np.shape(c) == np.shape(h) == (batch, features)
    assert np.shape(ys) == (batch, steps, features)  # in_axes=1, out_axes=1: time is axis 1
    params = to_numpy(variables['params']['lstm_cell'])
    carry, want = (np.zeros((batch, features)), np.zeros((batch, features))), []
    for t in range(steps):
        carry, out = lstm_step(params, carry, xs[:, t])
        want.append(out)
    assert_close(np.asarray(ys), np.stack(want, axis=1), family='matmul', dtype='float32')
    assert_close(np.asarray(c), carry[0], family='matmul', dtype='float32')
    assert_close(np.asarray(h), carry[1], family='matmul', dtype='float32')


CHECKS = {
    'Kvx7GmavHZbD Install and Import: imports': check_imports,
    'EcDH20Uufc-v Invoking Modules: construct Dense': check_construct_dense,
    'Vjx0HWNcfa8h Invoking Modules: init': check_init,
    'R9QZ6EOBg5X8 Invoking Modules: apply': check_apply,
    'qB6l-9EabOwH Composing submodules: ExplicitMLP (setup)': check_explicit_mlp,
    SIMPLE_MLP_CELL: check_simple_mlp,
    '7OACbTFHjMvl Declaring and using variables: SimpleDense (compact param)': check_simple_dense,
    'CE0CTLVvZ8Yn Declaring and using variables: ExplicitDense (setup param)': check_explicit_dense,
    'u6_fbrW2XT5t General Variables: Counter': check_counter,
    JIT_CELL: check_jit,
    REMAT_CELL: check_remat,
    VMAP_CELL: check_vmap,
    SCAN_CELL: check_scan,
}

#: What each cell computed, compared across backends: {cell: {name in the namespace: family}}.
#: Parameters are initializer draws; outputs are forward passes of their kind.
AGREE = {
    'Vjx0HWNcfa8h Invoking Modules: init': {'x': 'exact', 'init_variables': 'prng_normal'},
    'R9QZ6EOBg5X8 Invoking Modules: apply': {'y': 'matmul'},
    'qB6l-9EabOwH Composing submodules: ExplicitMLP (setup)': {'init_variables': 'prng_normal', 'y': 'matmul'},
    SIMPLE_MLP_CELL: {'init_variables': 'prng_normal', 'y': 'matmul'},
    '7OACbTFHjMvl Declaring and using variables: SimpleDense (compact param)': {
        'init_variables': 'prng_normal',
        'y': 'matmul',
    },
    'CE0CTLVvZ8Yn Declaring and using variables: ExplicitDense (setup param)': {
        'init_variables': 'prng_normal',
        'y': 'matmul',
    },
    'u6_fbrW2XT5t General Variables: Counter': {'init_variables': 'exact', 'mutated_variables': 'exact', 'y': 'exact'},
    JIT_CELL: {'x': 'exact', 'init_variables': 'prng_normal', 'y': 'matmul'},
    REMAT_CELL: {'init_variables': 'prng_normal', 'y': 'matmul'},
    # dropout masks are PRNG bits: the same on both backends, or the outputs differ by far more
    VMAP_CELL: {'x': 'exact', 'init_variables': 'prng_normal', 'y': 'attention'},
    # the LSTM's recurrent kernels are orthogonal draws: a QR in each backend's LAPACK,
    # so compared at the matmul row (as conformance compares the orthogonal initializer)
    SCAN_CELL: {'xs': 'exact', 'init_variables': 'matmul', 'y': 'matmul'},
}


# --- tests ---------------------------------------------------------------------


def test_every_cell_is_either_checked_or_not_runnable():
    titles = [title for title, _ in CELLS]
    assert len(set(titles)) == len(titles)
    assert set(CHECKS).isdisjoint(NOT_RUNNABLE)
    assert set(CHECKS) | set(NOT_RUNNABLE) == set(titles)
    assert set(AGREE) <= set(CHECKS)


def test_cells_are_the_seed_cells_verbatim():
    seed_cells = seed_code_cells(SEED_PATH.read_text(encoding='utf-8'))
    assert [cid for cid, _ in seed_cells] == [title.split(' ', 1)[0] for title in TITLES]
    assert [source for _, source in seed_cells] == [source for _, source in CELLS]


@pytest.mark.parametrize('backend', BACKENDS)
def test_rewrite_changes_only_import_lines(backend):
    for title, source in CELLS:
        if title in NOT_RUNNABLE:
            continue
        old, new = source.split('\n'), rewrite_imports(source, backend).split('\n')
        assert len(old) == len(new)
        for a, b in zip(old, new):
            assert a == b or is_import_line(a), (title, a)


#: The Scan cell builds its cell as ``nn.scan(nn.LSTMCell, ...)(name=...)``
#: without ``features``: the seed's older LSTMCell took its size from the
#: carry. Both backends (and the seed system today) require ``features``, so
#: the cell stops with a TypeError before anything is checked. Strict: once
#: the cell accepts that form, these XPASS and fail until the marker is removed.
LEGACY_LSTM = pytest.mark.xfail(
    raises=TypeError, strict=True, reason='LSTMCell() without features (size from the carry) is not supported'
)


def _marked(titles):
    return [pytest.param(t, marks=LEGACY_LSTM) if t == SCAN_CELL else t for t in titles]


@pytest.mark.parametrize('title', _marked([title for title, _ in CELLS]))
def test_cell(title, notebook):
    if title in NOT_RUNNABLE:
        pytest.skip(NOT_RUNNABLE[title])
    run = notebook[title]
    if run.error is not None:
        raise run.error
    CHECKS[title](run, notebook)


@pytest.mark.parametrize('title', _marked(AGREE))
def test_backends_agree(title):
    pytest.importorskip('jax')
    ours, ref = run_notebook('nnjax')[title], run_notebook('nnref')[title]
    for run in (ours, ref):
        if run.error is not None:  # the cell fails on this backend (test_cell reports it too)
            raise run.error
    for name, family in AGREE[title].items():
        assert_trees_close(
            to_numpy(ours.ns[name]), to_numpy(ref.ns[name]), family=family, err_msg=f'{name}, nnjax vs nnref'
        )
