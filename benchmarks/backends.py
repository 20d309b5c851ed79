"""The backends a benchmark can run on, as namespaces with the same names.

``nnref`` is always there; ``nnjax`` once it is installed; the seed system
(``flax.linen`` with ``jax.random``/``jax.numpy`` attached) only with the
optional ``bench`` extra, as the peer every ratio is measured against.
"""

from __future__ import annotations

import importlib
import types


def _seed_system():
    linen = importlib.import_module("flax.linen")
    jax = importlib.import_module("jax")
    namespace = types.SimpleNamespace(**{k: getattr(linen, k) for k in dir(linen) if not k.startswith("_")})
    namespace.random = jax.random
    namespace.numpy = jax.numpy
    namespace.tree_util = jax.tree_util
    namespace.BACKEND = "seed (flax.linen)"
    return namespace


def available() -> dict:
    """name -> namespace for every backend that imports here."""
    found = {}
    for name, load in (
        ("nnref", lambda: importlib.import_module("nnref")),
        ("nnjax", lambda: importlib.import_module("nnjax")),
        ("seed", _seed_system),
    ):
        try:
            found[name] = load()
        except ImportError:
            continue
    return found
