"""Entry points on both backends: init/apply variants, functional forms, lazy_init, interceptors."""

import numpy as np

X = np.ones((2, 3), np.float32)


def make_transformer(nn):
    class Transformer(nn.Module):
        def setup(self):
            self.enc = nn.Dense(4)
            self.dec = nn.Dense(3)

        def encode(self, x):
            return self.enc(x)

        def __call__(self, x):
            return self.dec(self.encode(x))

    return Transformer


def test_method_as_function_name_bound_method_and_outside_function(nn):
    Transformer = make_transformer(nn)
    key = nn.random.PRNGKey(0)
    model = Transformer()
    variables = model.init(key, X)
    expected = model.apply(variables, X, method=Transformer.encode)
    assert expected.shape == (2, 4)
    np.testing.assert_array_equal(model.apply(variables, X, method=model.encode), expected)
    np.testing.assert_array_equal(model.apply(variables, X, method="encode"), expected)

    def other_fn(instance, x):
        return instance.encode(x) * 2

    np.testing.assert_array_equal(model.apply(variables, X, method=other_fn), 2 * expected)
    enc_only = model.init(key, X, method="encode")
    assert set(enc_only["params"]) == {"enc"}


def test_init_with_output_matches_init_and_apply(nn):
    Transformer = make_transformer(nn)
    y, variables = Transformer().init_with_output(nn.random.PRNGKey(0), X)
    np.testing.assert_array_equal(y, Transformer().apply(variables, X))


def test_functional_init_apply(nn):
    Transformer = make_transformer(nn)
    key = nn.random.PRNGKey(0)

    def f(module, x):
        return module.encode(x)

    variables = nn.init(f, Transformer())(key, X)
    y, same = nn.init_with_output(f, Transformer())(key, X)
    nn.tree_util.tree_map(np.testing.assert_array_equal, variables, same)
    np.testing.assert_array_equal(nn.apply(f, Transformer())(variables, X), y)
    out, state = nn.apply(f, Transformer(), mutable=True)(variables, X)
    assert set(state) == {"params"}


def test_lazy_init_from_shapes(nn):
    key = nn.random.PRNGKey(0)
    variables = nn.Dense(5).lazy_init(key, nn.ShapeDtypeStruct((1, 7), np.float32))
    eager = nn.Dense(5).init(key, np.zeros((1, 7), np.float32))
    nn.tree_util.tree_map(np.testing.assert_array_equal, variables, eager)


def test_intercept_methods_order_and_orig_method(nn):
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


def test_interceptor_sees_submodule_calls_and_can_change_results(nn):
    Transformer = make_transformer(nn)

    def zero_dense(next_fun, args, kwargs, context):
        y = next_fun(*args, **kwargs)
        return y * 0 if isinstance(context.module, nn.Dense) else y

    variables = Transformer().init(nn.random.PRNGKey(0), X)
    with nn.intercept_methods(zero_dense):
        y = Transformer().apply(variables, X)
    np.testing.assert_array_equal(y, np.zeros((2, 3), np.float32))


def test_rngs_passed_to_apply_do_not_change_params(nn):
    Transformer = make_transformer(nn)
    variables = Transformer().init(nn.random.PRNGKey(0), X)
    a = Transformer().apply(variables, X, rngs={"params": nn.random.PRNGKey(1)})
    np.testing.assert_array_equal(a, Transformer().apply(variables, X))
