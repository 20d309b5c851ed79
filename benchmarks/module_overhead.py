"""Python-side cost of the Module system: eager init/apply of a deep MLP, per-call overhead.

The layers are tiny (width 4) so that the time is the module system's own
bookkeeping (naming, scopes, RNG derivation, wrappers), not arithmetic.
"""

from __future__ import annotations

from benchmarks.timing import best_time, block

DEPTH = 100
WIDTH = 4
CALLS = 200


def deep_mlp(nn, depth: int = DEPTH, width: int = WIDTH):
    class DeepMLP(nn.Module):
        @nn.compact
        def __call__(self, x):
            for _ in range(depth):
                x = nn.Dense(width)(x)
            return x

    return DeepMLP()


def many_calls(nn, calls: int = CALLS):
    """One child module called ``calls`` times: the per-submodule-call overhead."""

    class Identity(nn.Module):
        def __call__(self, x):
            return x

    class Caller(nn.Module):
        def setup(self):
            self.child = Identity()

        def __call__(self, x):
            for _ in range(calls):
                x = self.child(x)
            return x

    return Caller()


def run(backends: dict) -> list[dict]:
    rows = []
    for name, nn in backends.items():
        x = nn.numpy.ones((2, WIDTH))
        key = nn.random.PRNGKey(0)
        mlp = deep_mlp(nn)
        variables = mlp.init(key, x)
        caller = many_calls(nn)
        rows.append({"backend": name, "figure": f"init, {DEPTH}-layer Dense MLP", "seconds": best_time(lambda: block(mlp.init(key, x)["params"]["Dense_0"]["kernel"]))})
        rows.append({"backend": name, "figure": f"apply, {DEPTH}-layer Dense MLP", "seconds": best_time(lambda: block(mlp.apply(variables, x)))})
        per_call = best_time(lambda: block(caller.apply({}, x))) / CALLS
        rows.append({"backend": name, "figure": "per submodule call", "seconds": per_call})
    return rows
