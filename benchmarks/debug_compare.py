"""How long ``nnjax.debug.compare`` makes a user wait, on the demo's CNN and on a ~10M-parameter model.

``compare`` runs the call once on nnjax and twice on nnref in float64 (on
its own, and forced onto nnjax's values), recording every submodule call.
Its peer is therefore the reference itself: the figures are the time of one
nnjax ``apply``, of one nnref ``apply`` of the same model in float64 (the
rebuilt twin, variables already converted), and of the whole ``compare``
(rebuilding the twin included), with ``compare`` over one nnref ``apply``:
about 2 plus the cost of recording.

Models: the digits CNN of ``make demo`` (``examples/digits/model.py``) on a
batch of 64 images, and a pre-LayerNorm transformer of width 512, MLP width
2048, 3 blocks and a 1000-token vocabulary (~10.5M parameters) on 4
sequences of 64 tokens. nnjax only; the seed system has no such tool.
"""

from __future__ import annotations

import time

CAPTION = "seconds per call, best of a few runs; compare/nnref: compare over one float64 nnref apply"


def _transformer(nn, jnp):
    class Block(nn.Module):
        width: int
        hidden: int
        heads: int

        @nn.compact
        def __call__(self, x):
            mask = nn.make_causal_mask(jnp.ones(x.shape[:2]))
            x = x + nn.MultiHeadDotProductAttention(num_heads=self.heads)(nn.LayerNorm()(x), mask=mask)
            h = nn.Dense(self.hidden)(nn.LayerNorm()(x))
            return x + nn.Dense(self.width)(nn.gelu(h))

    class Transformer(nn.Module):
        vocab: int = 1000
        width: int = 512
        hidden: int = 2048
        depth: int = 3
        heads: int = 8

        @nn.compact
        def __call__(self, tokens):
            x = nn.Embed(self.vocab, self.width)(tokens)
            for _ in range(self.depth):
                x = Block(self.width, self.hidden, self.heads)(x)
            return nn.Dense(self.vocab)(nn.LayerNorm()(x))

    return Transformer()


def _cases():
    import jax
    import jax.numpy as jnp

    import nnjax
    from examples.digits.model import make_cnn

    cnn = make_cnn(nnjax)
    images = jax.random.normal(jax.random.key(1), (64, 8, 8, 1))
    yield (
        'digits CNN, batch 64',
        cnn,
        jax.jit(cnn.init, static_argnames='train')(jax.random.key(0), images, train=False),
        (images,),
        {'train': False},
    )
    lm = _transformer(nnjax, jnp)
    tokens = jax.random.randint(jax.random.key(1), (4, 64), 0, 1000)
    yield 'transformer ~10M params, 4x64', lm, jax.jit(lm.init)(jax.random.key(0), tokens), (tokens,), {}


def _best(fn, repeat: int) -> float:
    fn()  # warm-up: compilation, first-call caches
    best = float('inf')
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def run(backends: dict, repeat: int = 3, min_seconds: float = 0.0) -> list[dict]:
    if 'nnjax' not in backends:
        return []
    import jax

    from nnjax.debug import compare
    from nnjax.debug.reference import Twin

    repeat = max(1, min(repeat, 3))  # each compare of the large model takes seconds
    rows = []
    for name, model, variables, args, kwargs in _cases():
        params = sum(x.size for x in jax.tree_util.tree_leaves(variables))
        twin = Twin(model, variables, args, kwargs, rngs=None, method=None)

        # Defaults bind this case's values (the functions must not see a later case's).
        def apply_nnjax(model=model, variables=variables, args=args, kwargs=kwargs):
            return jax.block_until_ready(model.apply(variables, *args, **kwargs))

        def compare_case(model=model, variables=variables, args=args, kwargs=kwargs):
            return compare(model, variables, *args, **kwargs)

        times = {
            'nnjax apply': _best(apply_nnjax, repeat),
            'nnref apply': _best(twin.apply, repeat),
            'compare': _best(compare_case, repeat),
        }
        rows.append({'figure': name, 'params': int(params), **times})
    return rows


def table(rows: list[dict]) -> list[str]:
    lines = [f"  {'model':<32}{'params':>12}{'nnjax apply':>14}{'nnref apply':>14}{'compare':>12}{'compare/nnref':>15}"]
    for row in rows:
        lines.append(
            f"  {row['figure']:<32}{row['params']:>12,}{row['nnjax apply']:>13.3f}s"
            f"{row['nnref apply']:>13.3f}s{row['compare']:>11.2f}s"
            f"{row['compare'] / row['nnref apply']:>14.1f}x"
        )
    return lines
