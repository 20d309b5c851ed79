"""``repr`` of modules is the seed's, on both backends (strings printed by flax 0.12.8 for the same code)."""

import pytest

import nnjax
import nnref

BACKENDS = pytest.mark.parametrize("nn", [nnref, nnjax], ids=["nnref", "nnjax"])


def models(nn):
    relu = nn.relu

    class Scale(nn.Module):
        n: int = 2
        act: object = relu
        tag: str = 'a'

        @nn.compact
        def __call__(self, x):
            return x * self.param('w', nn.initializers.ones, (self.n,))

    class Pair(nn.Module):
        first: nn.Module
        rest: tuple = ()

        def setup(self):
            self.extra = Scale(3, tag='setup')

        def __call__(self, x):
            return self.extra(self.first(x))

    class Foo(nn.Module):
        @nn.compact_name_scope
        def up(self, x):
            return Scale(tag='up')(x)

        def __call__(self, x):
            return self.up(x)

    return Scale, Pair, Foo


# The seed's strings (flax 0.12.8, same classes).
SEED_SCALE = "Scale(\n    # attributes\n    n = 2\n    act = relu\n    tag = 'a'\n)"
SEED_PAIR_UNBOUND = (
    "Pair(\n    # attributes\n    first = Scale(\n        # attributes\n        n = 3\n"
    "        act = relu\n        tag = 'a'\n    )\n    rest = (Scale(\n        # attributes\n"
    "        n = 1\n        act = relu\n        tag = 'a'\n    ),)\n)"
)
SEED_PAIR_BOUND = (
    "Pair(\n    # attributes\n    first = Scale(\n        # attributes\n        n = 3\n        act = relu\n"
    "        tag = 'a'\n    )\n    rest = (Scale(\n        # attributes\n        n = 1\n        act = relu\n"
    "        tag = 'a'\n    ),)\n    # children\n    first = Scale(\n        # attributes\n        n = 3\n"
    "        act = relu\n        tag = 'a'\n    )\n    rest_0 = Scale(\n        # attributes\n        n = 1\n"
    "        act = relu\n        tag = 'a'\n    )\n    extra = Scale(\n        # attributes\n        n = 3\n"
    "        act = relu\n        tag = 'setup'\n    )\n)"
)
SEED_FOO_BOUND = (
    "Foo(\n    # children\n    up = CompactNameScope(\n        # attributes\n        fn = up\n"
    "        module_fn = <lambda>\n        # children\n        Scale_0 = Scale(\n            # attributes\n"
    "            n = 2\n            act = relu\n            tag = 'up'\n        )\n    )\n)"
)


@BACKENDS
def test_repr_matches_seed(nn):
    Scale, Pair, Foo = models(nn)
    assert repr(Scale()) == SEED_SCALE
    m = Pair(Scale(3, name='kept'), (Scale(1),))
    assert repr(m) == SEED_PAIR_UNBOUND
    x = nn.numpy.ones((1, 3))
    bound = m.bind(m.init(nn.random.PRNGKey(0), x))
    # the seed: before the first call setup has not run: only the adopted fields are children
    assert repr(bound) == SEED_PAIR_BOUND[: SEED_PAIR_BOUND.index("    extra = ")] + ")"
    bound(x)
    assert repr(bound) == SEED_PAIR_BOUND
    x2 = nn.numpy.ones((1, 2))
    foo = Foo().bind(Foo().init(nn.random.PRNGKey(0), x2))
    assert repr(Foo()) == "Foo()"
    foo(x2)
    assert repr(foo) == SEED_FOO_BOUND


@BACKENDS
def test_repr_of_shared_and_deep_graphs_stays_small(nn):
    Scale, _, _ = models(nn)

    class Two(nn.Module):
        a: nn.Module
        b: nn.Module

    m = Scale()
    for _ in range(60):  # 2**60 paths to the leaf
        m = Two(m, m)
    text = repr(m)
    assert text.startswith("Two(\n    # attributes\n    a = Two(\n") and "# shared" in text
    assert len(text) < 2_000_000

    class Wrap(nn.Module):
        inner: nn.Module

    m = Scale()
    for _ in range(600):
        m = Wrap(m)
    lines = repr(m).splitlines()
    assert len(lines) == 3 * 600 + 6  # 'Wrap(', '# attributes', ')' per level, then the Scale
    assert lines[600 * 2 + 4] == " " * 4 * 601 + "tag = 'a'"
