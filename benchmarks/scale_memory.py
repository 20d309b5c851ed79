"""Per-device memory of parameters + Adam state under replicated, FSDP and tensor-parallel rules.

A model annotated with logical axis names (``nn.with_logical_partitioning``
on every kernel and bias, ``nn.with_logical_constraint`` on activations) is
initialised, together with its Adam optimizer state in a ``TrainState``,
by ``jax.jit(init_fn, out_shardings=...)`` on 8 CPU devices, as the seed's
pjit guide does it: ``jax.eval_shape`` of ``init_fn``, then
``nn.get_partition_spec`` and ``nn.logical_to_mesh_sharding`` under each
set of rules. The model code is the same for every rule set; only the rules
(and the mesh) change:

``replicated``   ``embed`` and ``mlp`` unmapped: every device holds everything
                 (plain data parallel); mesh ``(8,)`` named ``data``.
``fsdp``         ``embed -> data``: every kernel (and the ``embed`` biases)
                 split 8 ways over the data axis; mesh ``(8,)``.
``tensor``       ``mlp -> model``: kernels split 8 ways over the model axis,
                 the ``embed`` biases replicated; mesh ``(8,)`` named ``model``.
``fsdp+tensor``  ``embed -> data``, ``mlp -> model`` on a ``(2, 4)`` mesh.

Two figures per rule set, both bytes on one device:

``compiled``  ``output_size_in_bytes`` of ``jax.jit(init_fn,
              out_shardings=...).lower(key, x).compile().memory_analysis()``:
              XLA's size of the program's outputs per device (the state).
``device 0``  the compiled function is run and ``.data.nbytes`` is summed over
              every leaf's ``addressable_shards`` that live on
              ``jax.devices()[0]``: what the state really occupies there.

The two should agree, and ``fsdp`` should be about 1/8 of ``replicated``
(the small ``mlp`` biases and the two scalars stay replicated).

8 devices on a CPU need ``XLA_FLAGS=--xla_force_host_platform_device_count=8``
before JAX starts, and the benchmark process has JAX running already, so
:func:`run` measures in a subprocess (``python -m benchmarks.scale_memory``,
which prints JSON rows). The seed system (``flax.linen`` with
``flax.training.train_state``) runs the same code in the same subprocess when
it is installed; ``nnref`` has no devices and is skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

LAYERS = 4
EMBED = 512
MLP = 2048
BATCH = 16
DEVICES = 8
MiB = 2**20

# name -> (mesh shape, mesh axis names, logical axis rules); 'batch' always
# goes to the data axis where there is one (it only matters for the
# activation constraints).
RULES = {
    "replicated": ((DEVICES,), ("data",), (("batch", "data"),)),
    "fsdp": ((DEVICES,), ("data",), (("batch", "data"), ("embed", "data"))),
    "tensor": ((DEVICES,), ("model",), (("mlp", "model"),)),
    "fsdp+tensor": ((2, DEVICES // 2), ("data", "model"), (("batch", "data"), ("embed", "data"), ("mlp", "model"))),
}
TRAIN_STATE = {"nnjax": "nnjax.training.train_state", "seed": "flax.training.train_state"}
TIMEOUT_S = 600


def model(nn, layers: int = LAYERS, embed: int = EMBED, mlp: int = MLP):
    """``layers`` residual MLP blocks ``x + Dense(embed)(relu(Dense(mlp)(x)))``, every axis named."""

    def logical(init, names):
        return nn.with_logical_partitioning(init, names)

    class Block(nn.Module):
        @nn.compact
        def __call__(self, x):
            h = nn.Dense(
                mlp,
                kernel_init=logical(nn.initializers.lecun_normal(), ("embed", "mlp")),
                bias_init=logical(nn.initializers.zeros_init(), ("mlp",)),
            )(x)
            h = nn.with_logical_constraint(nn.relu(h), ("batch", "mlp"))
            y = nn.Dense(
                embed,
                kernel_init=logical(nn.initializers.lecun_normal(), ("mlp", "embed")),
                bias_init=logical(nn.initializers.zeros_init(), ("embed",)),
            )(h)
            return nn.with_logical_constraint(x + y, ("batch", "embed"))

    class Model(nn.Module):
        @nn.compact
        def __call__(self, x):
            for _ in range(layers):
                x = Block()(x)
            return x

    return Model()


def _device0_bytes(tree) -> int:
    """Bytes of every shard of every array leaf of ``tree`` that lives on the first device."""
    import jax

    device0 = jax.devices()[0]
    return sum(
        shard.data.nbytes
        for leaf in jax.tree_util.tree_leaves(tree)
        for shard in leaf.addressable_shards
        if shard.device == device0
    )


def measure(name: str, nn, rules_name: str, layers: int = LAYERS, embed: int = EMBED, mlp: int = MLP) -> dict:
    """One row: the compiled and the real per-device bytes of the ``TrainState`` under ``rules_name``."""
    import importlib

    import jax
    import numpy as np
    import optax

    train_state = importlib.import_module(TRAIN_STATE[name])
    shape, axes, rules = RULES[rules_name]
    mesh = jax.sharding.Mesh(np.asarray(jax.devices()[:DEVICES]).reshape(shape), axes)
    net = model(nn, layers, embed, mlp)
    tx = optax.adam(1e-3)

    def init_fn(key, x):
        variables = net.init(key, x)
        return train_state.TrainState.create(apply_fn=net.apply, params=variables["params"], tx=tx)

    key = jax.random.PRNGKey(0)
    x = jax.numpy.ones((BATCH, embed), jax.numpy.float32)
    with jax.set_mesh(mesh), nn.logical_axis_rules(rules):
        abstract = jax.eval_shape(init_fn, key, x)
        shardings = nn.logical_to_mesh_sharding(nn.get_partition_spec(abstract), mesh, rules)
        compiled = jax.jit(init_fn, out_shardings=shardings).lower(key, x).compile()
        state = compiled(key, x)
    jax.block_until_ready(state)
    total = sum(leaf.size * leaf.dtype.itemsize for leaf in jax.tree_util.tree_leaves(abstract))
    analysis = compiled.memory_analysis()
    params = sum(leaf.size * leaf.dtype.itemsize for leaf in jax.tree_util.tree_leaves(abstract.params))
    row = {
        "backend": name,
        "rules": rules_name,
        "mesh": dict(zip(axes, shape)),
        "logical_rules": [list(rule) for rule in rules],
        "state_bytes": int(total),
        "param_bytes": int(params),
        "compiled_out": int(analysis.output_size_in_bytes),
        "compiled_temp": int(analysis.temp_size_in_bytes),
        "device0": int(_device0_bytes(state)),
        "layers": layers,
        "embed": embed,
        "mlp": mlp,
    }
    return row


def _worker(names: list[str]) -> list[dict]:
    """Runs in the subprocess: every row for every backend in ``names`` (8 devices expected)."""
    import jax

    from benchmarks import backends

    if jax.device_count() < DEVICES:
        raise RuntimeError(
            f"scale_memory needs {DEVICES} devices, found {jax.device_count()}: "
            f"set XLA_FLAGS=--xla_force_host_platform_device_count={DEVICES} before JAX starts"
        )
    found = backends.available()
    rows = []
    for rules_name in RULES:
        for name in names:
            if name in found and name in TRAIN_STATE:
                print(f"  scale_memory: {name} {rules_name}", file=sys.stderr, flush=True)
                rows.append(measure(name, found[name], rules_name))
    return rows


def run(backends: dict, timeout: float = TIMEOUT_S, **_ignored) -> list[dict]:
    """Rows ``{"backend", "rules", "compiled_out", "device0", "state_bytes", ...}``, measured in a subprocess.

    The subprocess gets ``XLA_FLAGS`` with 8 host devices (added to any flags
    already set), runs :func:`_worker` for the backends given here that have
    a ``TrainState`` (nnjax, the seed system), and is killed after
    ``timeout`` seconds. The timing options of the other benchmarks are
    ignored (these are sizes, not times).
    """
    names = [name for name in backends if name in TRAIN_STATE]
    if not names:
        return []  # nnref only: no devices, no TrainState
    if "seed" not in backends:
        print("  (scale_memory: the seed system is not installed, so no flax peer in this run)", file=sys.stderr)
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={DEVICES}").strip()
    env.setdefault("JAX_PLATFORMS", "cpu")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.scale_memory", *names],
        env=env,
        cwd=root,
        stdout=subprocess.PIPE,
        timeout=timeout,
        check=False,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"scale_memory subprocess failed with exit status {proc.returncode} (its stderr is above)")
    rows = json.loads(proc.stdout.strip().splitlines()[-1])
    for row in rows:
        if row["device0"] != row["compiled_out"] and abs(row["device0"] - row["compiled_out"]) > 0.01 * row["device0"]:
            print(
                f"  (scale_memory: {row['backend']} {row['rules']}: compiled {row['compiled_out']} B vs "
                f"{row['device0']} B on device 0)",
                file=sys.stderr,
            )
    return rows


CAPTION = (
    f"per-device bytes of params + Adam state (TrainState), {LAYERS} x MLP block "
    f"({EMBED} -> {MLP} -> {EMBED}), {DEVICES} CPU devices; compiled memory analysis and device 0's shards"
)


def table(rows: list[dict]) -> list[str]:
    """One line per backend and rule set: MiB per device (compiled, device 0), ratio to replicated and to the seed."""
    replicated = {row["backend"]: row for row in rows if row["rules"] == "replicated"}
    seed = {row["rules"]: row for row in rows if row["backend"] == "seed"}
    head = (
        f"  {'backend':<7} {'rules':<12}{'mesh':>16}{'state':>11}{'compiled':>12}{'device 0':>12}"
        f"{'/replicated':>13}{'vs seed':>9}"
    )
    lines = [head] if rows else ["  (no backend with devices in this run)"]
    for row in rows:
        base = replicated.get(row["backend"])
        peer = seed.get(row["rules"])
        mesh = ",".join(f"{axis}:{n}" for axis, n in row["mesh"].items())
        ratio = f"{row['compiled_out'] / base['compiled_out']:.3f}x" if base else "-"
        vs_seed = f"{row['compiled_out'] / peer['compiled_out']:.2f}x" if peer and row["backend"] != "seed" else "-"
        lines.append(
            f"  {row['backend']:<7} {row['rules']:<12}{mesh:>16}{row['state_bytes'] / MiB:>7.2f} MiB"
            f"{row['compiled_out'] / MiB:>8.2f} MiB{row['device0'] / MiB:>8.2f} MiB{ratio:>13}{vs_seed:>9}"
        )
    if not seed:
        lines.append("  (no seed system in this run: `pip install -e '.[bench]'` adds flax.linen as the peer)")
    return lines


if __name__ == "__main__":
    print(json.dumps(_worker(sys.argv[1:] or list(TRAIN_STATE))))
