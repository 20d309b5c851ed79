"""``nn.fold_rngs`` and ``nn.transforms.fork_rngs``: the keys are the seed system's, bit for bit.

The expected keys below were produced by the seed system (flax 0.12.8) on
the same model code (a scratch script run outside the repository); they
also follow from the forking rule: the stream inside is seeded with one
``make_rng`` of the caller's stream per call.
"""

import inspect

import numpy as np

# Twice().apply({}, x, rngs={'noise': PRNGKey(0)}) in the seed: two calls of a
# fold_rngs method drawing 2 keys each, two calls of fold_rngs(Noise) drawing
# 1 key each, then one draw of the caller.
SEED_FOLD_KEYS = [
    [141877719, 3794923278],
    [3141454254, 904360360],
    [2124174724, 198380170],
    [775654953, 1921302488],
    [2136803268, 1905834705],
    [1068556036, 49782078],
    [1428664606, 3351135085],
]
# M().apply({}, rngs={'r': PRNGKey(3)}): a draw, two draws inside fork_rngs(self), a draw.
SEED_FORK_KEYS = [[1118596564, 1882671556], [2742916041, 517886849], [1301172939, 21893408], [3966628953, 3073366241]]


def _bits(key):
    return np.asarray(key).astype(np.uint32).tolist()


def test_keys_match_the_seed(nn):
    class Noise(nn.Module):
        @nn.compact
        def __call__(self, x):
            return self.make_rng('noise')

    class NoiseF(nn.Module):
        @nn.fold_rngs
        def __call__(self, x):
            return self.make_rng('noise'), self.make_rng('noise')

    class Twice(nn.Module):
        @nn.compact
        def __call__(self, x):
            a, f = NoiseF(), nn.fold_rngs(Noise)()
            return [*a(x), *a(x), f(x), f(x), self.make_rng('noise')]

    keys = Twice().apply({}, np.ones(2, np.float32), rngs={'noise': nn.random.PRNGKey(0)})
    assert [_bits(k) for k in keys] == SEED_FOLD_KEYS


def test_class_form_name_signature_and_variables(nn):
    assert nn.fold_rngs is nn.transforms.fold_rngs
    assert list(inspect.signature(nn.fold_rngs).parameters)[:3] == ['target', 'variables', 'rngs']  # + methods
    Folded = nn.fold_rngs(nn.Dense)
    assert Folded.__name__ == 'Fold_rngsDense'  # the seed's class naming

    class Root(nn.Module):
        @nn.compact
        def __call__(self, x):
            layer = Folded(3)
            return layer(x) + layer(x)

    variables = Root().init(nn.random.PRNGKey(0), np.ones((1, 2), np.float32))
    assert list(variables['params']) == ['Fold_rngsDense_0']
    assert variables['params']['Fold_rngsDense_0']['kernel'].shape == (2, 3)


def test_fork_rngs_matches_the_seed(nn):
    class M(nn.Module):
        @nn.compact
        def __call__(self):
            a = self.make_rng('r')
            with nn.transforms.fork_rngs(self):
                b, c = self.make_rng('r'), self.make_rng('r')
            return [a, b, c, self.make_rng('r')]

    keys = M().apply({}, rngs={'r': nn.random.PRNGKey(3)})
    assert [_bits(k) for k in keys] == SEED_FORK_KEYS
