"""Reads ``tests/data/initializer_kat.npz``, the seed's initializer outputs.

Written by ``benchmarks/make_initializer_kat.py`` (the seed ran eagerly on
``PRNGKey(3)``). Each case: the builder name with its arguments, a shape, the
requested dtype, and the seed's result as raw bits.
"""

import json
from pathlib import Path

import ml_dtypes
import numpy as np

PATH = Path(__file__).resolve().parent.parent / "data" / "initializer_kat.npz"
_DTYPES = {"float32": np.float32, "float16": np.float16, "float64": np.float64, "bfloat16": ml_dtypes.bfloat16}


def _load():
    with np.load(PATH, allow_pickle=False) as data:
        meta = json.loads(str(data["cases"]))
        cases = []
        for i, case in enumerate(meta["cases"]):
            expected = data[f"bits/{i}"].view(_DTYPES[case["result_dtype"]])
            expected = expected.reshape(case["shape"])
            expected.setflags(write=False)
            cases.append({**case, "id": _case_id(case), "expected": expected})
    return meta["seed"], cases


def _case_id(case):
    args = "" if case["args"] is None else ",".join(map(str, case["args"]))
    kwargs = ",".join(f"{k}={v}" for k, v in case["kwargs"].items())
    shape = "x".join(map(str, case["shape"]))
    return f"{case['builder']}({args}{';' + kwargs if kwargs else ''})-{shape}-{case['dtype']}"


SEED, CASES = _load()


def _group(case):
    return (case["builder"], repr(case["args"]), repr(case["kwargs"]))


def _first_shapes():
    first = {}
    for case in CASES:
        first.setdefault(_group(case), case["shape"])
    return [case for case in CASES if case["shape"] == first[_group(case)]]


#: Every builder and argument set in every dtype, at its first shape: the
#: tests' working set (all CASES take minutes of eager dispatch on a busy machine).
REPRESENTATIVE = _first_shapes()


def build(module, case):
    """The initializer the case describes, from ``module`` (nnjax or nnref initializers)."""
    fn = getattr(module, case["builder"])
    if case["args"] is None:
        return fn
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in case["kwargs"].items()}
    return fn(*case["args"], **kwargs)


def dtype(case):
    return _DTYPES[case["dtype"]]


def same_bits(actual, expected):
    """Same dtype, same shape, same bits (so -0.0 != 0.0 and NaNs compare by payload)."""
    actual = np.asarray(actual)
    return actual.dtype == expected.dtype and actual.shape == expected.shape and actual.tobytes() == expected.tobytes()
