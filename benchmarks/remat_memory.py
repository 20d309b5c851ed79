"""Memory of a deep MLP's compiled gradient, plain and with ``nn.remat`` / ``nn.remat_scan``.

The same model code (written once against the backend namespace ``nn``)
is built in several variants; for each, ``jax.jit(jax.grad(loss))`` is
lowered and compiled for the same parameters and input, and XLA's
compile-time memory analysis
(``jax.jit(f).lower(*args).compile().memory_analysis()``) is read:

``temp``
    ``temp_size_in_bytes``: the scratch buffers of the compiled program
    (forward activations kept for the backward pass, cotangents, ...), the
    figure that rematerialization is meant to shrink.
``args`` / ``out`` / ``alias``
    the parameters and the input; the gradients; bytes shared between
    them (0 here: nothing is donated).
``peak``
    ``temp + args + out - alias``: an upper estimate of the memory the call
    needs at once (XLA does not report a true high-water mark).

These are facts of the compiled program, the same on every run and with no
timing involved. Every variant's gradient is also computed once and
compared with the plain model's (:func:`max_relative_difference`), so that
each variant is the same computation.

Variants (``DEPTH`` blocks of ``Dense(WIDTH)`` then ``gelu``, each block a
submodule ``layers_i`` defined in ``setup``; every variant but
``remat_scan`` has the same parameter tree):

``plain``            no rematerialization.
``remat(Dense)``     ``nn.remat(nn.Dense)`` inside every block.
``remat(block)``     ``nn.remat(Block)``: every block (Dense + gelu).
``remat(groups)``    ``nn.remat`` of a method that runs ``GROUP``
                     consecutive blocks (``static_argnums`` for the slice
                     bounds): checkpoints every ``GROUP`` blocks.
``remat_scan``       ``nn.remat_scan(Block, lengths=SCAN_LENGTHS)``: the
                     same checkpointing as nested ``scan`` loops over
                     stacked parameters (the inner loop not rematerialized).

What to expect on XLA:CPU (see BENCHMARKS.md for the numbers): the
optimization barriers that ``jax.checkpoint`` puts around the recomputation
are removed early in the CPU pipeline, before a later CSE pass, so a
recomputed matmul in straight-line code is merged back into the forward
one and its output is kept after all. What survives is the recomputation
of elementwise work fused into the backward kernels (gelu's intermediate),
so ``remat(block)`` saves about a third and ``remat(groups)`` little;
``remat(Dense)`` saves next to nothing on any backend, since a Dense
layer's residuals are its input and kernel, which a checkpoint keeps. Inside ``scan`` loops CSE cannot
reach the forward pass, and ``remat_scan`` saves the most. nnjax and the
seed system compile to the same sizes.

``nnref`` has no compiler and is skipped; the seed system (``flax.linen``)
runs the same variants when it is installed.
"""

from __future__ import annotations

import sys

import numpy as np

DEPTH = 32
WIDTH = 256
BATCH = 2048  # activations (2 MiB each) dominate the parameters (0.25 MiB per layer)
GROUP = 4
SCAN_LENGTHS = (8, 4)  # the same 8 x 4 split as the groups, as two nested loops

VARIANTS = ("plain", "remat(Dense)", "remat(block)", "remat(groups)", "remat_scan")
MiB = 2**20


def model(
    nn, variant: str, depth: int = DEPTH, width: int = WIDTH, group: int = GROUP, scan_lengths: tuple = SCAN_LENGTHS
):
    """The MLP of ``variant`` on backend ``nn``: ``depth`` blocks of ``Dense(width)`` + ``gelu``."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {VARIANTS}")

    class Block(nn.Module):
        width: int
        remat_dense: bool = False

        @nn.compact
        def __call__(self, x):
            dense = nn.remat(nn.Dense) if self.remat_dense else nn.Dense
            return nn.gelu(dense(self.width, name="Dense_0")(x))

    class MLP(nn.Module):
        def setup(self):
            if variant == "remat_scan":
                self.stack = nn.remat_scan(Block, lengths=scan_lengths)(width)
            else:
                block = nn.remat(Block) if variant == "remat(block)" else Block
                self.layers = [block(width, remat_dense=variant == "remat(Dense)") for _ in range(depth)]

        def run(self, x, start, stop):
            for layer in self.layers[start:stop]:
                x = layer(x)
            return x

        # self is argument 0: start and stop are arguments 2 and 3.
        run_rematted = nn.remat(run, static_argnums=(2, 3))

        def __call__(self, x):
            if variant == "remat_scan":
                return self.stack(x)
            if variant == "remat(groups)":
                for start in range(0, depth, group):
                    x = self.run_rematted(x, start, min(start + group, depth))
                return x
            return self.run(x, 0, depth)

    return MLP()


def loss_fn(mlp):
    def loss(params, x):
        y = mlp.apply({"params": params}, x)
        return (y**2).mean()

    return loss


def layer_params(rng: np.random.Generator, depth: int = DEPTH, width: int = WIDTH) -> list:
    """``depth`` pairs (kernel, bias) as float32 NumPy arrays (LeCun-normal kernels, small biases)."""
    return [
        (
            rng.standard_normal((width, width), dtype=np.float32) / np.float32(np.sqrt(width)),
            rng.standard_normal((width,), dtype=np.float32) * np.float32(0.1),
        )
        for _ in range(depth)
    ]


def pack(variant: str, layers: list, scan_lengths: tuple = SCAN_LENGTHS) -> dict:
    """The ``params`` tree of ``variant`` holding ``layers``."""
    if variant == "remat_scan":
        kernels = np.stack([k for k, _ in layers]).reshape(*scan_lengths, *layers[0][0].shape)
        biases = np.stack([b for _, b in layers]).reshape(*scan_lengths, *layers[0][1].shape)
        return {"stack": {"Dense_0": {"kernel": kernels, "bias": biases}}}
    return {f"layers_{i}": {"Dense_0": {"kernel": k, "bias": b}} for i, (k, b) in enumerate(layers)}


def unpack(variant: str, params: dict) -> list:
    """The inverse of :func:`pack`: ``[(kernel, bias), ...]`` in layer order, as NumPy arrays."""
    if variant == "remat_scan":
        dense = params["stack"]["Dense_0"]
        kernels, biases = np.asarray(dense["kernel"]), np.asarray(dense["bias"])
        kernels = kernels.reshape(-1, *kernels.shape[-2:])
        biases = biases.reshape(-1, biases.shape[-1])
        return list(zip(kernels, biases))
    dense = [params[f"layers_{i}"]["Dense_0"] for i in range(len(params))]
    return [(np.asarray(d["kernel"]), np.asarray(d["bias"])) for d in dense]


def memory(compiled) -> dict:
    """The compiled program's memory analysis as a dict of byte counts, with ``peak`` added."""
    analysis = compiled.memory_analysis()
    figures = {
        "temp": int(analysis.temp_size_in_bytes),
        "args": int(analysis.argument_size_in_bytes),
        "out": int(analysis.output_size_in_bytes),
        "alias": int(analysis.alias_size_in_bytes),
    }
    figures["peak"] = figures["temp"] + figures["args"] + figures["out"] - figures["alias"]
    return figures


def measure(
    nn, variant: str, layers: list, x, depth: int = DEPTH, group: int = GROUP, scan_lengths: tuple = SCAN_LENGTHS
):
    """``(memory figures, gradient as [(kernel, bias), ...])`` of ``variant`` on backend ``nn``."""
    import jax

    mlp = model(nn, variant, depth=depth, width=x.shape[-1], group=group, scan_lengths=scan_lengths)
    params = jax.tree_util.tree_map(jax.numpy.asarray, pack(variant, layers, scan_lengths))
    compiled = jax.jit(jax.grad(loss_fn(mlp))).lower(params, x).compile()
    grads = compiled(params, x)
    return memory(compiled), unpack(variant, grads)


def max_relative_difference(grads: list, reference: list) -> float:
    """max |a - b| / max |b| over every gradient array (one scale per array)."""
    worst = 0.0
    for pair, ref_pair in zip(grads, reference):
        for a, b in zip(pair, ref_pair):
            worst = max(worst, float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-30)))
    return worst


def grad_rtol() -> float:
    """The float32 matmul rtol of ``shared_spec``'s table, applied to each gradient array's largest entry.

    Recomputation runs the same float32 operations; XLA may fuse or order
    them differently in the backward pass (on this machine every variant
    gives bit-identical gradients).
    """
    from shared_spec.tolerances import tolerance

    return tolerance("float32", "matmul")[0]


def run(
    backends: dict,
    depth: int = DEPTH,
    width: int = WIDTH,
    batch: int = BATCH,
    group: int = GROUP,
    scan_lengths: tuple = SCAN_LENGTHS,
    **_ignored,
) -> list[dict]:
    """Rows ``{"backend", "variant", "temp", "args", "out", "alias", "peak", "grad_rel_diff", ...}``.

    Byte counts from the memory analysis; ``grad_rel_diff`` is
    :func:`max_relative_difference` of the variant's gradient against the
    first backend's ``plain`` gradient (every backend and variant gets the
    same parameters and input); above :func:`grad_rtol` it raises. The
    timing options of the other benchmarks (``repeat``, ...) are ignored.
    """
    import jax.numpy as jnp

    if int(np.prod(scan_lengths)) != depth:
        raise ValueError(f"scan_lengths {scan_lengths} must multiply to depth {depth}")
    if "seed" not in backends:
        print("  (remat_memory: the seed system is not installed, so no flax peer in this run)", file=sys.stderr)
    rng = np.random.default_rng(0)
    layers = layer_params(rng, depth, width)
    x = jnp.asarray(rng.standard_normal((batch, width), dtype=np.float32))
    rows, reference = [], None
    for name, nn in backends.items():
        if name == "nnref":
            continue  # no compiler: no compiled memory analysis
        for variant in VARIANTS:
            print(f"  compiling: {name} {variant}", file=sys.stderr, flush=True)
            figures, grads = measure(nn, variant, layers, x, depth, group, scan_lengths)
            if reference is None:
                reference = grads
            diff = max_relative_difference(grads, reference)
            if diff > grad_rtol():
                raise AssertionError(
                    f"{name} {variant}: gradient differs from the plain model's by {diff:.2e} "
                    f"(relative to each array's largest entry; allowed {grad_rtol():.0e})"
                )
            rows.append(
                {
                    "backend": name,
                    "variant": variant,
                    **figures,
                    "grad_rel_diff": diff,
                    "depth": depth,
                    "width": width,
                    "batch": batch,
                    "group": group,
                    "scan_lengths": list(scan_lengths),
                }
            )
    return rows


CAPTION = (
    f"compiled memory of jax.jit(jax.grad(loss)), {DEPTH} x (Dense({WIDTH}) + gelu), batch {BATCH}, "
    "float32; XLA's compile-time memory analysis, no timing"
)


def table(rows: list[dict]) -> list[str]:
    """One line per backend and variant: MiB figures, ratios to its plain model and to the seed system."""
    plain = {row["backend"]: row for row in rows if row["variant"] == "plain"}
    seed = {row["variant"]: row for row in rows if row["backend"] == "seed"}
    head = (
        f"  {'backend':<7} {'variant':<14}{'temp':>10}{'args':>9}{'out':>9}{'peak':>10}"
        f"{'temp/plain':>12}{'peak/plain':>12}{'temp/seed':>11}{'grad diff':>11}"
    )
    lines = [head]
    for row in rows:
        base = plain[row["backend"]]
        peer = seed.get(row["variant"])
        vs_seed = f"{row['temp'] / peer['temp']:.2f}x" if peer and row["backend"] != "seed" else "-"
        lines.append(
            f"  {row['backend']:<7} {row['variant']:<14}"
            f"{row['temp'] / MiB:>6.1f} MiB{row['args'] / MiB:>5.1f} MiB{row['out'] / MiB:>5.1f} MiB"
            f"{row['peak'] / MiB:>6.1f} MiB{row['temp'] / base['temp']:>11.2f}x{row['peak'] / base['peak']:>11.2f}x"
            f"{vs_seed:>11}{row['grad_rel_diff']:>11.1e}"
        )
    if not seed:
        lines.append("  (no seed system in this run: `pip install -e '.[bench]'` adds flax.linen as the peer)")
    return lines
