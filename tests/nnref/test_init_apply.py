"""Entry points of nnref: init/apply variants, functional forms, lazy_init, interceptors."""

import subprocess
import sys

import numpy as np
import pytest

import nnref as nn
from shared_spec import errors

KEY = nn.random.PRNGKey(0)
X = np.ones((2, 3), np.float32)


class Transformer(nn.Module):
    def setup(self):
        self.enc = nn.Dense(4)
        self.dec = nn.Dense(3)

    def encode(self, x):
        return self.enc(x)

    def __call__(self, x):
        return self.dec(self.encode(x))


def test_method_as_function_name_bound_method_and_outside_function():
    model = Transformer()
    variables = model.init(KEY, X)
    expected = model.apply(variables, X, method=Transformer.encode)
    assert expected.shape == (2, 4)
    np.testing.assert_array_equal(model.apply(variables, X, method=model.encode), expected)
    np.testing.assert_array_equal(model.apply(variables, X, method="encode"), expected)

    def other_fn(instance, x):
        return instance.encode(x) * 2

    np.testing.assert_array_equal(model.apply(variables, X, method=other_fn), 2 * expected)
    enc_only = model.init(KEY, X, method="encode")
    assert set(enc_only["params"]) == {"enc"}


def test_init_with_output_matches_init_and_apply():
    y, variables = Transformer().init_with_output(KEY, X)
    np.testing.assert_array_equal(y, Transformer().apply(variables, X))


def test_functional_init_apply():
    def f(module, x):
        return module.encode(x)

    variables = nn.init(f, Transformer())(KEY, X)
    y, same = nn.init_with_output(f, Transformer())(KEY, X)
    nn.tree_util.tree_map(np.testing.assert_array_equal, variables, same)
    np.testing.assert_array_equal(nn.apply(f, Transformer())(variables, X), y)
    out, state = nn.apply(f, Transformer(), mutable=True)(variables, X)
    assert set(state) == {"params"}


def test_lazy_init_from_shapes():
    variables = nn.Dense(5).lazy_init(KEY, nn.ShapeDtypeStruct((1, 7), np.float32))
    eager = nn.Dense(5).init(KEY, np.zeros((1, 7), np.float32))
    nn.tree_util.tree_map(np.testing.assert_array_equal, variables, eager)


def test_intercept_methods_order_and_orig_method():
    log = []

    class Foo(nn.Module):
        def __call__(self, x):
            return x

    def make(tag, skip=False):
        def interceptor(next_fun, args, kwargs, context):
            log.append((tag, context.method_name, type(context.module).__name__))
            if skip:
                return context.orig_method(*args, **kwargs)
            return next_fun(*args, **kwargs)

        return interceptor

    with nn.intercept_methods(make(1)), nn.intercept_methods(make(2)):
        assert Foo()(5) == 5
    assert log == [(1, "__call__", "Foo"), (2, "__call__", "Foo")]
    log.clear()
    with nn.intercept_methods(make(3, skip=True)), nn.intercept_methods(make(1)):
        Foo()(5)
    assert log == [(3, "__call__", "Foo")]


def test_interceptor_sees_submodule_calls_and_can_change_results():
    def zero_dense(next_fun, args, kwargs, context):
        y = next_fun(*args, **kwargs)
        return y * 0 if isinstance(context.module, nn.Dense) else y

    variables = Transformer().init(KEY, X)
    with nn.intercept_methods(zero_dense):
        y = Transformer().apply(variables, X)
    np.testing.assert_array_equal(y, np.zeros((2, 3), np.float32))


def test_rngs_passed_to_apply_do_not_change_params():
    variables = Transformer().init(KEY, X)
    a = Transformer().apply(variables, X, rngs={"params": nn.random.PRNGKey(1)})
    np.testing.assert_array_equal(a, Transformer().apply(variables, X))


def test_nnref_imports_with_jax_unimportable():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'jax' or name.startswith('jax.') or name.startswith('jaxlib'):\n"
        "            raise ImportError('jax is blocked in this test')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import nnref as nn\n"
        "import nnref.random, nnref.numpy, nnref.initializers, nnref.activation\n"
        "v = nn.Dense(2).init(nn.random.PRNGKey(0), nn.numpy.ones((1, 3)))\n"
        "assert v['params']['kernel'].shape == (3, 2)\n"
        "assert not any(m == 'jax' or m.startswith('jax.') for m in sys.modules)\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=_repo_root())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def _repo_root():
    import pathlib

    return str(pathlib.Path(nn.__file__).resolve().parent.parent)
