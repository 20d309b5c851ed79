"""The module-system context (module stack, interceptors, captures) is per thread, in both backends.

Each test runs two threads whose module calls are forced to overlap: a
``threading.Barrier`` inside a module method makes each thread wait, mid-call,
until the other one is mid-call too. With one shared module stack the module
built after the barrier would get the other thread's module as its parent;
with shared interceptors or capture filters one thread's ``with`` block
would reach the other's calls. Each thread must get what it gets alone.
"""

import threading

import numpy as np
import pytest

TIMEOUT = 60  # seconds; a barrier that times out fails the test instead of hanging it


def run_concurrently(*fns):
    """Runs each ``fn()`` on its own thread; their results in order (a thread's exception is re-raised)."""
    results, errors = [None] * len(fns), [None] * len(fns)

    def target(i):
        try:
            results[i] = fns[i]()
        except BaseException as e:  # noqa: BLE001 (re-raised in the main thread below)
            errors[i] = e

    threads = [threading.Thread(target=target, args=(i,), name=f"t{i}") for i in range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
        assert not t.is_alive(), "a thread did not finish"
    for e in errors:
        if e is not None:
            raise e
    return results


def as_numpy(tree):
    if isinstance(tree, dict) or hasattr(tree, "items"):
        return {k: as_numpy(v) for k, v in tree.items()}
    if isinstance(tree, tuple):
        return tuple(as_numpy(v) for v in tree)
    return np.asarray(tree)


def assert_same(a, b):
    a, b = as_numpy(a), as_numpy(b)
    if isinstance(a, dict):
        assert isinstance(b, dict) and sorted(a) == sorted(b), (sorted(a), b)
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    else:
        np.testing.assert_array_equal(a, b)


def model_classes(nn, barrier):
    """An outer module that waits on ``barrier`` between its submodules, and inside a nested call."""

    class Inner(nn.Module):
        features: int

        @nn.compact
        def __call__(self, x):
            barrier.wait()  # both threads are two module calls deep here
            return nn.Dense(self.features)(x)

    class Outer(nn.Module):
        features: int

        @nn.compact
        def __call__(self, x):
            x = nn.Dense(self.features)(x)
            barrier.wait()  # both threads are mid-call: each has its own Outer running
            x = Inner(self.features)(x)  # its parent must be this thread's Outer
            self.sow("intermediates", "h", x)
            return nn.Dense(2)(x)

    return Outer


def init_and_apply(nn, barrier, features, seed):
    model = model_classes(nn, barrier)(features)
    x = nn.numpy.ones((1, 3))
    variables = model.init(nn.random.PRNGKey(seed), x)
    y, state = model.apply(variables, x, mutable=["intermediates"])
    return variables, y, state


def test_two_threads_initialize_and_apply_as_they_would_alone(nn):
    alone = [init_and_apply(nn, threading.Barrier(1), features, seed) for features, seed in ((3, 0), (5, 1))]
    barrier = threading.Barrier(2, timeout=TIMEOUT)
    together = run_concurrently(
        lambda: init_and_apply(nn, barrier, 3, 0),
        lambda: init_and_apply(nn, barrier, 5, 1),
    )
    for got, want in zip(together, alone):
        assert_same(got, want)
    variables = together[0][0]
    assert sorted(variables["params"]) == ["Dense_0", "Dense_1", "Inner_0"]
    assert variables["params"]["Inner_0"]["Dense_0"]["kernel"].shape == (3, 3)


def test_a_module_built_on_another_thread_has_no_running_parent(nn):
    barrier = threading.Barrier(2, timeout=TIMEOUT)

    class Waits(nn.Module):
        @nn.compact
        def __call__(self, x):
            barrier.wait()  # this thread's module is running ...
            barrier.wait()  # ... while the other thread builds a module
            return x

    def build_while_other_runs():
        barrier.wait()
        dense = nn.Dense(2)
        barrier.wait()
        return dense.parent, dense.name

    _, (parent, name) = run_concurrently(lambda: Waits().apply({}, 1), build_while_other_runs)
    assert parent is None and name is None


def test_interceptors_reach_only_their_own_thread(nn):
    entered = threading.Barrier(2, timeout=TIMEOUT)
    midcall = threading.Barrier(2, timeout=TIMEOUT)

    class AddOne(nn.Module):
        def __call__(self, x):
            midcall.wait()  # the other thread's with-block is open while this call runs
            return x + 1

    intercepted_on = []

    def double(next_fun, args, kwargs, context):
        intercepted_on.append(threading.current_thread().name)
        return 2 * next_fun(*args, **kwargs)

    def with_interceptor():
        with nn.intercept_methods(double):
            entered.wait()
            return AddOne()(1)

    def without_interceptor():
        entered.wait()  # starts its call after the other thread entered its with-block
        return AddOne()(1)

    assert run_concurrently(with_interceptor, without_interceptor) == [4, 2]
    assert intercepted_on == ["t0"]
    assert nn.interception.active_interceptors() == ()


@pytest.mark.parametrize("capture_on_thread", [0, 1])
def test_capture_intermediates_stays_on_its_thread(nn, capture_on_thread):
    barrier = threading.Barrier(2, timeout=TIMEOUT)

    class Double(nn.Module):
        def __call__(self, x):
            return 2 * x

    class Leaf(nn.Module):
        @nn.compact
        def __call__(self, x):
            barrier.wait()  # both applies have set their filters ...
            y = Double()(x)  # ... when each decides whether to capture this call
            barrier.wait()
            return y

    class Root(nn.Module):
        @nn.compact
        def __call__(self, x):
            return Leaf()(x) + 1

    def run(capture):
        return Root().apply({}, 1, mutable=["intermediates"], capture_intermediates=capture)

    fns = [lambda: run(False), lambda: run(False)]
    fns[capture_on_thread] = lambda: run(True)
    results = run_concurrently(*fns)
    captured, plain = results[capture_on_thread], results[1 - capture_on_thread]
    leaf = {"__call__": (2,), "Double_0": {"__call__": (2,)}}
    assert captured == (3, {"intermediates": {"__call__": (3,), "Leaf_0": leaf}})
    assert plain == (3, {})
