"""The known-answer cases of ``../shared/kat/cases.json`` as backend-neutral model code.

Each runner takes a backend namespace ``nn`` (``nnref`` or ``nnjax``) and the
loaded case, builds the model the case text describes with that backend's
own API, and returns what the case records: the variables ``init`` gave, the
leaves of what ``apply`` returned, and the mutated collections.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class KatRun:
    variables: dict
    outputs: list
    mutated: dict = field(default_factory=dict)


def dense(nn, case):
    x = case.inputs[0]
    model = nn.Dense(features=3)
    variables = model.init(nn.random.PRNGKey(0), x)
    return KatRun(variables, [model.apply(variables, x)])


def mlp_compact_autonames(nn, case):
    class MLP(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.relu(nn.Dense(5)(x))
            x = nn.relu(nn.Dense(4)(x))
            return nn.Dense(3)(x)

    x = case.inputs[0]
    variables = MLP().init(nn.random.PRNGKey(0), x)
    return KatRun(variables, [MLP().apply(variables, x)])


def mlp_setup_list(nn, case):
    class MLP(nn.Module):
        def setup(self):
            self.layers = [nn.Dense(4), nn.Dense(2)]
            self.out = nn.Dense(1)

        def __call__(self, x):
            for layer in self.layers:
                x = nn.relu(layer(x))
            return self.out(x)

    x = case.inputs[0]
    variables = MLP().init(nn.random.PRNGKey(5), x)
    return KatRun(variables, [MLP().apply(variables, x)])


def nested_paths(nn, case):
    class MLP(nn.Module):
        features: tuple

        @nn.compact
        def __call__(self, x):
            for i, f in enumerate(self.features):
                x = nn.Dense(f)(x)
                if i != len(self.features) - 1:
                    x = nn.relu(x)
            return x

    class Nested(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = MLP(features=(3,), name="inner")(x)
            return MLP(features=(2,))(x)

    x = case.inputs[0]
    variables = Nested().init(nn.random.PRNGKey(6), x)
    return KatRun(variables, [Nested().apply(variables, x)])


def make_rng_counter(nn, case):
    class Noisy(nn.Module):
        @nn.compact
        def __call__(self, x):
            k1 = self.make_rng("noise")
            k2 = self.make_rng("noise")
            return x + nn.random.normal(k1, x.shape) + 2 * nn.random.uniform(k2, x.shape)

    x = case.inputs[0]
    variables = Noisy().init({"params": nn.random.PRNGKey(0), "noise": nn.random.PRNGKey(7)}, x)
    y = Noisy().apply(variables, x, rngs={"noise": nn.random.PRNGKey(8)})
    return KatRun(variables, [y])


def variables_sow(nn, case):
    class Stateful(nn.Module):
        @nn.compact
        def __call__(self, x):
            count = self.variable("counter", "count", lambda: nn.numpy.zeros((), nn.numpy.int32))
            total = self.variable("stats", "sum", lambda: nn.numpy.zeros(x.shape[1:], x.dtype))
            if not self.is_initializing():
                count.value = count.value + 1
                total.value = total.value + x.sum(0)
            self.sow("intermediates", "h", 2 * x)
            return x

    x = case.inputs[0]
    variables = Stateful().init(nn.random.PRNGKey(0), x)
    y, mutated = Stateful().apply(variables, x, mutable=["counter", "stats", "intermediates"])
    return KatRun(variables, [y], mutated)


# Cases this module can build now, by name (the layer and transform cases
# join as their backends grow them).
RUNNERS = {
    "dense": dense,
    "mlp_compact_autonames": mlp_compact_autonames,
    "mlp_setup_list": mlp_setup_list,
    "nested_paths": nested_paths,
    "make_rng_counter": make_rng_counter,
    "variables_sow": variables_sow,
}
