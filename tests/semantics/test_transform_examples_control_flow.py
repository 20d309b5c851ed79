"""The seed's ``nn.while_loop``, ``nn.cond`` and ``nn.switch`` examples on both backends (machinery: ``transform_examples.py``)."""

import numpy as np

from conformance.compare import to_numpy
from tests.semantics.transform_examples import (
    close,
    dense,
    example,
    example_tests,
    p64,
    shapes,
)

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


# Each example above runs on both backends, agrees across them and is the seed's text.
test_example, test_backends_agree, test_example_code_is_the_seed_text = example_tests(__name__)
