"""``nn.jit``'s trace cache: the lift filters (``variables=``, ``rngs=``) are part of its key.

Two ``nn.jit`` forms of one module class with the same compile options
share one ``jax.jit`` in nnjax. If the key left out the ``variables=``
filter, the second form would replay the first one's trace, with its
collections and writes; nnref, which runs every call afresh, gives the
answer a correct cache must give. Each case runs both forms in both orders.
"""

import numpy as np
import pytest


def counting(nn):
    np_ = nn.numpy

    class Counting(nn.Module):
        @nn.compact
        def __call__(self, x):
            count = self.variable('stats', 'count', lambda: np_.zeros((), np_.float32))
            count.value = count.value + 1
            return nn.Dense(2)(x)

    return Counting


def outcome(nn, Module):
    try:
        variables = Module().init(nn.random.PRNGKey(0), np.ones((1, 2), np.float32))
    except Exception as error:
        return type(error).__name__
    return sorted(variables)


@pytest.mark.parametrize('first', ['all', 'params'])
def test_variables_filter_is_part_of_the_key(nn, first):
    Counting = counting(nn)
    forms = {'all': nn.jit(Counting), 'params': nn.jit(Counting, variables='params')}
    expected = {'all': ['params', 'stats'], 'params': 'ScopeCollectionNotFound'}
    for name in (first, 'params' if first == 'all' else 'all'):
        assert outcome(nn, forms[name]) == expected[name], name
