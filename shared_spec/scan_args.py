"""``nn.scan``: how many steps a scan runs, and the texts of its argument errors.

Both backends resolve the number of steps from the same rule and explain a
misfit axis, an unchecked broadcast output or a loop-dependent broadcast
variable with the same words; this module holds those rules and texts once.
The checks themselves stay in each backend (they look at arrays), and call
these functions to build the error they raise (all ``ValueError``).
"""

from __future__ import annotations

from shared_spec.errors import format_path

#: Raised when a broadcast variable or output depends on the loop's values
#: (the first sentence is the seed system's text).
DATA_DEPENDENCY = (
    "broadcasted variable has a data dependency on the scan body. "
    "nn.scan: a broadcast variable (variable_broadcast) or broadcast output has a data dependency on "
    "the loop (the carry or the scanned inputs). Broadcast variables are created once for all steps; "
    "make them independent of the loop's values, or scan them with variable_axes instead."
)


def step_count(length, sizes: set) -> int:
    """The number of steps: ``length`` when given, else the one size of the scanned input axes.

    ``sizes`` holds the sizes of every scanned axis of the inputs after the
    carry. A given ``length`` wins (whether it agrees with ``sizes`` is
    checked where the loop runs: by ``lax.scan`` in nnjax, by hand in nnref).

    >>> step_count(None, {5})
    5
    >>> step_count(3, set())
    3
    >>> step_count(None, {2, 3})
    Traceback (most recent call last):
    ValueError: nn.scan: inconsistent lengths [2, 3] of the scanned axes of the inputs.
    """
    if length is not None:
        return length
    if len(sizes) == 1:
        (n,) = sizes
        return n
    if sizes:
        raise ValueError(f"nn.scan: inconsistent lengths {sorted(sizes)} of the scanned axes of the inputs.")
    raise ValueError("nn.scan: nothing is scanned over, so the number of steps is unknown; pass length=.")


def unchecked_broadcast_outputs(out_axes, path) -> str:
    """The error text for ``nn.broadcast`` outputs when ``check_constancy_invariants=False``.

    Without the first pass there is no single step whose output could be
    returned unstacked, so the seed system refuses these outputs.

    >>> unchecked_broadcast_outputs(0, ('cell',))[:60]
    'nn.scan run with check_constancy_invariants=False does not s'
    """
    return (
        f"nn.scan run with check_constancy_invariants=False does not support broadcast non-carry function "
        f"outputs. out_axes was given as {out_axes!r} (module {format_path(path)}); mark no output "
        "nn.broadcast, or pass check_constancy_invariants=True."
    )


def variable_axes_misfit(variable_axes, path, error) -> str:
    """The error text when a ``variable_axes`` axis is out of range for the variables it slices.

    >>> variable_axes_misfit({'params': 3}, ('scan',), 'axis 3 is out of bounds')[:40]
    "nn.scan(variable_axes={'params': 3}) at "
    """
    return (
        f"nn.scan(variable_axes={dict(variable_axes)!r}) at module {format_path(path)}: an "
        f"axis does not fit the variables it describes ({error}); expected an axis in "
        "[-ndim, ndim) of each variable of the collection."
    )


def output_axes_misfit(out_axes, variable_axes, path, error) -> str:
    """The error text when an ``out_axes`` or ``variable_axes`` axis cannot stack what the steps returned.

    >>> output_axes_misfit(2, {}, ('scan',), 'axis 2 is out of bounds').startswith('nn.scan(out_axes=2, variable_axes={})')
    True
    """
    return (
        f"nn.scan(out_axes={out_axes!r}, variable_axes={dict(variable_axes)!r}) at module "
        f"{format_path(path)}: an output or variable axis does not fit the value it describes "
        f"({error}); expected axes in [-ndim-1, ndim] of each stacked output (one per "
        "output, or a single int/nn.broadcast for all)."
    )
