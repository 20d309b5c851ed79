"""``nn.scan``'s constancy check follows data flow into nested transforms.

A broadcast variable created inside ``nn.jit``, ``nn.remat`` or
``nn.cond`` in the scan body is accepted when it does not depend on the
loop's values, and refused when it does, on both backends. On nnjax the
check walks the jaxpr of the first pass (``_dependent_outputs``); its
answers for JAX's control-flow and call primitives are pinned below.
"""

import numpy as np
import pytest

DATA_DEPENDENCY = r'^broadcasted variable has a data dependency on the scan body\.'


def body(nn, wrap, dependent):
    np_ = nn.numpy

    class Inner(nn.Module):
        @nn.compact
        def __call__(self, c):
            init = (lambda: c * 2.0) if dependent else (lambda: np_.ones(2, np_.float32))
            s = self.variable('state', 's', init)
            return c + s.value

    class Cell(nn.Module):
        @nn.compact
        def __call__(self, c, x):
            if wrap == 'cond':
                c = nn.cond(True, lambda mdl, c: mdl(c), lambda mdl, c: mdl(c), Inner(), c)
            else:
                c = {'jit': nn.jit, 'remat': nn.remat, 'plain': lambda m: m}[wrap](Inner)()(c)
            return c + x, c

    return Cell


@pytest.mark.parametrize('wrap', ['plain', 'jit', 'remat', 'cond'])
@pytest.mark.parametrize('dependent', [False, True])
def test_broadcast_state_created_in_a_nested_transform(nn, wrap, dependent):
    Scanned = nn.scan(body(nn, wrap, dependent), variable_broadcast='state', split_rngs={'params': False})
    c, xs = np.full(2, 0.5, np.float32), np.ones((3, 2), np.float32)
    if dependent:
        with pytest.raises(ValueError, match=DATA_DEPENDENCY):
            Scanned().init(nn.random.PRNGKey(0), c, xs)
        return
    variables = Scanned().init(nn.random.PRNGKey(0), c, xs)
    leaf = variables['state']
    while isinstance(leaf, dict) or hasattr(leaf, 'items'):
        (leaf,) = leaf.values()
    np.testing.assert_allclose(leaf, [1.0, 1.0])


def _outputs(fn, *marked):
    import jax
    import jax.numpy as jnp

    from nnjax.transforms.scan import _dependent_outputs

    closed = jax.make_jaxpr(fn)(jnp.ones(2), jnp.ones(2))
    return _dependent_outputs(closed.jaxpr, list(marked))


def test_dependency_walk_known_answers():
    pytest.importorskip('jax')
    import jax
    import jax.numpy as jnp
    from jax import lax

    ones = jnp.ones(2)
    # jit: per output, not per call
    assert _outputs(lambda a, b: jax.jit(lambda u, v: (u * 2, ones + 5, v))(a, b), True, False) == [True, False, False]
    # remat (checkpoint)
    assert _outputs(lambda a, b: jax.checkpoint(lambda u: (jnp.sin(u), jnp.cos(ones)))(a), True, True) == [True, False]
    # cond: a known index looks into the branches; a dependent index taints everything
    assert _outputs(lambda a, b: lax.cond(True, lambda u, v: (u, v), lambda u, v: (-u, v), a, ones), True, False) == [
        True,
        False,
    ]
    assert _outputs(
        lambda a, b: lax.cond(a[0] > 0, lambda u: (u, jnp.ones(2)), lambda u: (-u, jnp.zeros(2)), ones), True, False
    ) == [
        True,
        True,
    ]

    # while: the dependency reaches a carry entry through another one (fixed point)
    def loop(a, b):
        return lax.while_loop(lambda s: s[0] < 3, lambda s: (s[0] + 1, s[2], s[1], s[3]), (0, ones, a, ones))

    assert _outputs(loop, True, False) == [False, True, True, False]
    # while: a dependent condition taints every output
    assert _outputs(
        lambda a, b: lax.while_loop(lambda s: s[0] < a[0], lambda s: (s[0] + 1, s[1] * 2), (0.0, ones)), True, False
    ) == [
        True,
        True,
    ]
    # scan: a carry replaced by a constant still counts as dependent (as JAX's partial evaluation has it)
    assert _outputs(lambda a, b: lax.scan(lambda c, x: (ones, c), a, jnp.ones((3, 2))), True, False) == [True, True]
    assert _outputs(lambda a, b: lax.scan(lambda c, x: (c + x, c), ones, jnp.ones((3, 2))), True, True) == [
        False,
        False,
    ]
    # an input returned as it is, and a literal
    assert _outputs(lambda a, b: (b, 1.0), False, True) == [True, False]
