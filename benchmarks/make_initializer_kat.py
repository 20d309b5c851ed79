"""Writes ``tests/data/initializer_kat.npz``: the seed system's initializer outputs.

Every initializer of the seed's ``linen.initializers``, built with a few
argument sets, is called eagerly (as Linen code calls it: one JAX operation
at a time) on ``PRNGKey(3)`` for a few shapes and dtypes. The file holds, per
case, the raw bits of the result (``uint16``/``uint32``, so bfloat16 needs no
pickling) under ``bits/<i>``, and one JSON table ``cases`` describing case
``i``: builder name, its arguments, shape, requested dtype and result dtype.
``tests/initializers15/test_initializer_kat.py`` checks nnjax (eagerly and
under ``jax.jit``) and nnref against it.

This is the only place that runs the seed system (like every file under
``benchmarks/``); run it again only to regenerate the vectors::

    python -m benchmarks.make_initializer_kat
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "initializer_kat.npz"
SEED = 3
DTYPES = ("float32", "bfloat16", "float16")
SHAPES = ((6, 4), (2, 3, 5))

_MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
_DISTRIBUTIONS = ("truncated_normal", "normal", "uniform")

# (builder, positional args, keyword args, shapes); shapes None = SHAPES.
BUILDERS = [
    ("zeros", None, {}, None),
    ("ones", None, {}, None),
    ("zeros_init", [], {}, None),
    ("ones_init", [], {}, None),
    ("constant", [0.37], {}, None),
    ("constant", [-2], {}, ((5,),)),
    ("uniform", [], {}, None),
    ("uniform", [0.05], {}, ((7,), (6, 4))),
    ("normal", [], {}, None),
    ("normal", [0.02], {}, ((7,), (6, 4), (16, 9))),
    ("normal", [1.0], {}, None),
    ("truncated_normal", [], {}, None),
    ("truncated_normal", [0.02], {}, ((7,), (6, 4))),
    ("truncated_normal", [1.0], {"lower": -1.5, "upper": 2.5}, None),
    *[("variance_scaling", [1.3, m, d], {}, None) for m in _MODES for d in _DISTRIBUTIONS],
    (
        "variance_scaling",
        [2.0, "fan_in", "normal"],
        {"in_axis": [0, 1], "out_axis": -1, "batch_axis": [2]},
        ((2, 3, 4, 5),),
    ),
    *[
        (name, [], {}, None)
        for name in (
            "glorot_uniform",
            "glorot_normal",
            "xavier_uniform",
            "xavier_normal",
            "lecun_uniform",
            "lecun_normal",
            "he_uniform",
            "he_normal",
            "kaiming_uniform",
            "kaiming_normal",
        )
    ],
    ("orthogonal", [], {}, None),
    ("orthogonal", [2.0], {"column_axis": 0}, ((6, 4), (2, 3, 5))),
    ("delta_orthogonal", [], {}, ((3, 4, 4), (3, 3, 2, 5))),
]
# A float64 request with x64 off gives float32: a few of those too.
FLOAT64_BUILDERS = ("uniform", "normal", "truncated_normal")


def build(module, name, args, kwargs):
    """The initializer ``module.<name>(*args, **kwargs)``; ``args=None``: the function itself."""
    fn = getattr(module, name)
    if args is None:
        return fn
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
    return fn(*args, **kwargs)


def cases():
    for name, args, kwargs, shapes in BUILDERS:
        dtypes = DTYPES + (("float64",) if name in FLOAT64_BUILDERS else ())
        if name in ("orthogonal", "delta_orthogonal"):
            dtypes = ("float32",)  # the seed's QR takes no half precision
        for shape in shapes or SHAPES:
            for dtype in dtypes:
                yield {"builder": name, "args": args, "kwargs": kwargs, "shape": list(shape), "dtype": dtype}


def main(argv=None):
    import jax
    import jax.numpy as jnp
    from flax.linen import initializers as seed

    table, arrays = [], {}
    key = jax.random.PRNGKey(SEED)
    for i, case in enumerate(cases()):
        init = build(seed, case["builder"], case["args"], case["kwargs"])
        value = np.asarray(init(key, tuple(case["shape"]), jnp.dtype(case["dtype"])))
        bits = value.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[value.dtype.itemsize])
        arrays[f"bits/{i}"] = bits
        table.append({**case, "result_dtype": str(value.dtype)})
    arrays["cases"] = np.array(json.dumps({"seed": SEED, "jax": jax.__version__, "cases": table}))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    print(f"{len(table)} cases -> {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main(sys.argv[1:])
