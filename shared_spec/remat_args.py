"""``nn.remat`` / ``nn.remat_scan``: the arguments both backends refuse, with one text each.

``concrete=True`` (tracing with concrete values so that Python control flow
may branch on them) left ``jax.checkpoint``; both backends refuse it and
point at ``static_argnums``. ``nn.remat_scan`` needs at least one loop
length. The backends call these checks when the transform is built.
"""

from __future__ import annotations


def check_concrete(concrete: bool) -> None:
    """Refuse ``nn.remat(concrete=True)`` (``NotImplementedError``, as the seed system's JAX does).

    >>> check_concrete(False)
    >>> check_concrete(True)
    Traceback (most recent call last):
    NotImplementedError: nn.remat(concrete=True) is gone from JAX's checkpoint; mark the arguments that drive Python control flow with static_argnums instead.
    """
    if concrete:
        raise NotImplementedError(
            "nn.remat(concrete=True) is gone from JAX's checkpoint; mark the arguments that drive Python "
            "control flow with static_argnums instead."
        )


def check_lengths(lengths) -> None:
    """``nn.remat_scan(lengths=...)`` names at least one loop (``ValueError`` otherwise).

    >>> check_lengths((4, 2))
    >>> check_lengths(())
    Traceback (most recent call last):
    ValueError: nn.remat_scan needs at least one loop length, e.g. lengths=(10,).
    """
    if not lengths:
        raise ValueError("nn.remat_scan needs at least one loop length, e.g. lengths=(10,).")
