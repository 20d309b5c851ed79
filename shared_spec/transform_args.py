"""Checking the arguments of lifted transforms, and explaining errors raised inside them.

The rules and texts both backends share (nnjax's and nnref's
``transforms/module_forms.py`` import them): which axes, argnums, ``methods=``
and filter options a transform accepts, checked once at decoration or at the
first call, and how a missing stream or collection inside a transform is
explained (the stream or collection exists outside but the transform does
not pass it through). Pure Python: the backends pass in what differs (how a
scope tells whether it holds a collection).
"""

from __future__ import annotations

import copy

import numpy as np

from shared_spec import errors
from shared_spec.collection_filters import in_filter
from shared_spec.in_out_axes import In, Out


def _what(transform: str) -> str:
    return f"nn.{transform}"


def _check_axes_spec(transform: str, argument: str, axes, allowed: tuple, expected: str) -> None:
    """``axes`` is an int, an allowed marker (``None``, ``nn.broadcast``) or a tuple/list/dict of those."""
    stack = [axes]
    while stack:
        spec = stack.pop()
        if isinstance(spec, bool) or not (isinstance(spec, int) or any(spec is a for a in allowed)):
            if isinstance(spec, (list, tuple)):
                stack.extend(spec)
                continue
            if isinstance(spec, dict):
                stack.extend(spec.values())
                continue
            raise TypeError(
                f"{_what(transform)}({argument}={_short(axes)}): {_short(spec)} "
                f"({type(spec).__name__}) is not an axis; expected {expected}."
            )


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_mapping(transform: str, argument: str, value, values_ok, expected: str) -> None:
    if not isinstance(value, dict) and not hasattr(value, "items"):
        raise TypeError(
            f"{_what(transform)}({argument}={_short(value)}): expected a dict from collection or "
            f"stream filter to {expected}; got {type(value).__name__}."
        )
    for key, item in value.items():
        if not values_ok(item):
            raise TypeError(
                f"{_what(transform)}({argument}={_short(value)}): the value for {key!r} is "
                f"{_short(item)} ({type(item).__name__}); expected {expected}."
            )


def _is_axis_or_none(x) -> bool:
    return x is None or (isinstance(x, int) and not isinstance(x, bool))


def _is_variable_axis(x) -> bool:
    """A ``variable_axes`` value: an axis or None, possibly wrapped in ``In``/``Out`` (one side only)."""
    return _is_axis_or_none(x.axis if isinstance(x, (In, Out)) else x)


def _argnums(transform: str, argument: str, value) -> tuple:
    """``static_argnums``-like options as a tuple of ints (the module counts as argument 0)."""
    items = (value,) if isinstance(value, int) else value
    try:
        items = tuple(items)
    except TypeError:
        items = None
    if items is None or any(isinstance(i, bool) or not isinstance(i, int) for i in items):
        raise TypeError(
            f"{_what(transform)}({argument}={_short(value)}): expected an int or a tuple of ints "
            "(argument positions, the module being argument 0)."
        )
    if any(i < 0 for i in items):
        raise ValueError(
            f"{_what(transform)}({argument}={_short(value)}): negative positions are not "
            "supported; count from 0 (the module), so the first argument after it is 1."
        )
    return items


def check_argnums_in_range(transform: str, argument: str, argnums: tuple, n_args: int, path) -> None:
    """At a call: every position in ``argnums`` (counted after the module) names a passed argument."""
    for i in argnums:
        if i >= n_args:
            raise ValueError(
                f"{_what(transform)}({argument}={_short(tuple(j + 1 for j in argnums))}) at module "
                f"{errors.format_path(path)}: position {i + 1} is out of range; the call passes the module "
                f"(position 0) and {n_args} argument(s), so expected positions 1..{n_args}."
            )


def validate_options(transform: str, options: dict, axis_markers: tuple = ()) -> None:
    """Type checks of a transform's arguments, done once when the transform is made."""
    for argument in ("variable_axes", "split_rngs"):
        if argument in options:
            if argument == "variable_axes":
                _check_mapping(
                    transform,
                    argument,
                    options[argument],
                    _is_variable_axis,
                    "an int axis or None, optionally wrapped in In(...) (lifted in only) or Out(...) (lifted out only)",
                )
            else:
                _check_mapping(
                    transform,
                    argument,
                    options[argument],
                    lambda v: isinstance(v, (bool, int)),
                    "True (split) or False (shared)",
                )
    for argument in ("in_axes", "out_axes"):
        if argument in options:
            markers = (None,) + tuple(axis_markers)
            _check_axes_spec(
                transform,
                argument,
                options[argument],
                markers,
                "an int, None" + (", nn.broadcast" if len(markers) > 1 else "") + " or a tuple/list/dict of those",
            )
    for argument in ("length", "axis_size"):
        value = options.get(argument)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise TypeError(
                f"{_what(transform)}({argument}={_short(value)}): expected a positive int or None; "
                f"got {type(value).__name__}."
            )
        if value is not None and value < 1:
            raise ValueError(
                f"{_what(transform)}({argument}={value}): expected a positive int (at least one step/index) or None."
            )


def _method_of(transform: str, cls, method_name):
    if not isinstance(method_name, str):
        raise TypeError(
            f"{_what(transform)}(methods=...): method names must be strings; got "
            f"{_short(method_name)} ({type(method_name).__name__})."
        )
    fn = getattr(cls, method_name, None)
    if fn is None:
        raise ValueError(
            f"{_what(transform)}({cls.__name__}, methods=[{method_name!r}]): {cls.__name__} has no "
            f"method {method_name!r}; expected the name of one of its methods, e.g. '__call__'."
        )
    if not callable(fn):
        raise TypeError(
            f"{_what(transform)}({cls.__name__}, methods=[{method_name!r}]): "
            f"{cls.__name__}.{method_name} is {_short(fn)} ({type(fn).__name__}), not a method."
        )
    return fn


# -- errors from inside a body that the transform's filters caused ------------------------

_VARIABLE_OPTIONS = (
    "variable_axes",
    "variable_broadcast",
    "variable_carry",
    "variables",
    "carry_variables",
    "broadcast_variables",
    "mapped_collections",
)
_RNG_OPTIONS = ("split_rngs", "rngs")


def _explain_hidden(error, transform: str, options: dict, outer, inner, has_collection):
    """A clearer error when ``error`` is about a collection or stream that exists outside the
    transform but that its filters did not pass through; ``None`` otherwise."""
    if getattr(error, "_lift_explained", False) or outer is None or inner is None:
        return None
    path = errors.format_path(outer.path)
    if isinstance(error, errors.InvalidRngError):
        hidden = sorted(set(outer.rngs) - set(inner.rngs))
        named = [s for s in hidden if f"'{s}'" in str(error)]
        if not named:
            return None
        stream = named[0]
        given = ", ".join(f"{k}={_short(options[k])}" for k in _RNG_OPTIONS if k in options) or "its rng filter"
        message = (
            f"Module {path}: random stream '{stream}' was given outside {_what(transform)} but was not "
            f"passed through the transform: {given} selects no stream named '{stream}' (a misspelt "
            f"stream name?). Fix: name '{stream}' there, e.g. split_rngs={{'{stream}': True}} "
            f"(or rngs=['{stream}', ...] for jit/remat/cond)."
        )
        better = errors.InvalidRngError(message)
        better.args = (message,)
        better._lift_explained = True
        return better
    col = getattr(error, "col", None) or getattr(error, "col_name", None)
    if isinstance(error, errors.ScopeParamNotFoundError):
        col = "params"
    if col is None:
        return None
    one_sided = _one_sided(options, col)
    if one_sided is not None:
        return _explain_one_sided(error, transform, path, col, *one_sided)
    if not has_collection(outer, col) or has_collection(inner, col):
        return None
    given = ", ".join(f"{k}={_short(options[k])}" for k in _VARIABLE_OPTIONS if k in options)
    # the same catalogue class (handlers keep working), with the cause named
    better = copy.copy(error)
    better.args = (
        f"{_seed_prefix(error)}Module {path}: collection '{col}' is used inside {_what(transform)} but the "
        f"transform does not pass it through: it is selected by none of its variable filters ({given or 'none given'}). Fix: add "
        f"'{col}' to one of them, e.g. variable_axes={{'{col}': 0}} (one slice per index/step) or "
        f"variable_broadcast='{col}' (shared, read-only) for vmap/scan, variables=[..., '{col}'] for "
        "jit/remat/cond.",
    )
    better._lift_explained = True
    return better


def _seed_prefix(error) -> str:
    """The seed system's wording of ``error`` (catalogue messages start with it), ready to prefix."""
    seed = getattr(error, "seed_message", "")
    return f"{seed} " if seed else ""


def _one_sided(options: dict, col: str):
    """``(filter, marker)`` when ``variable_axes`` lifts ``col`` with ``In(...)``/``Out(...)``; else None.

    The first filter that selects ``col`` decides, as when the transform
    groups collections (scan's broadcast and carry filters come first).
    """
    for argument in ("variable_broadcast", "variable_carry"):
        if in_filter(options.get(argument, False), col):
            return None
    axes = options.get("variable_axes")
    if axes is None or not hasattr(axes, "items"):
        return None
    for key, value in axes.items():
        if in_filter(key, col):
            return (key, value) if isinstance(value, (In, Out)) else None
    return None


def _explain_one_sided(error, transform: str, path: str, col: str, key, marker):
    """An error about ``col`` inside a transform that lifts it one way only: say which way, and the fix."""
    given = f"variable_axes={{{key!r}: {marker!r}}}"
    if isinstance(marker, In):
        why = (
            f"lifts collection '{col}' in only: the body reads the variables it is given but cannot create "
            "or update them there (the collection is immutable inside, and nothing written to it comes "
            "back out)"
        )
    else:
        why = (
            f"lifts collection '{col}' out only: the body starts without it (nothing is passed in), so the "
            "variables it holds outside cannot be read there; what the body creates is returned"
        )
    seed = _seed_prefix(error)
    original = str(error.args[0]) if error.args else ""
    original = original[len(seed) :] if seed and original.startswith(seed) else original
    better = copy.copy(error)
    better.args = (
        f"{seed}Module {path}: {_what(transform)}({given}) {why}. Fix: use a plain axis, "
        f"variable_axes={{{key!r}: {marker.axis!r}}}, to lift '{col}' both in and out. ({original})",
    )
    better._lift_explained = True
    return better


def check_scalar_output(shape, path) -> None:
    """``nn.grad`` / ``nn.value_and_grad`` differentiate a scalar: the output's ``shape`` must be ``()``.

    >>> check_scalar_output((), '/')
    >>> check_scalar_output((2,), '/m')
    Traceback (most recent call last):
    ...
    ValueError: grad can only work on functions with scalar-valued outputs. out shape=(2,) (nn.grad / nn.value_and_grad at module /m); reduce the output to a scalar (e.g. with .sum() or .mean()), or use nn.vjp for non-scalar outputs.
    """
    if shape != ():
        raise ValueError(
            f"grad can only work on functions with scalar-valued outputs. out shape={shape} "
            f"(nn.grad / nn.value_and_grad at module {path}); reduce the output to a scalar "
            "(e.g. with .sum() or .mean()), or use nn.vjp for non-scalar outputs."
        )


# -- control flow: what a condition, a predicate and the branches must be ----------------


def check_loop_condition(type_name: str, shape, dtype, path) -> None:
    """``lax.while_loop``'s rule, with the transform named: ``cond_fn`` returns a boolean scalar.

    The backend passes what it sees of the value: its type name, shape and dtype.

    >>> import numpy as np
    >>> check_loop_condition('bool', (), np.dtype(bool), ())
    >>> check_loop_condition('ndarray', (2,), np.dtype(bool), ('m',))
    Traceback (most recent call last):
    ...
    TypeError: nn.while_loop at module /m: cond_fn must return a boolean scalar; got ndarray of shape (2,) and dtype bool. Fix: reduce it, e.g. jnp.all(...), and compare (x < n).
    """
    if tuple(shape) != () or np.dtype(dtype) != np.dtype(np.bool_):
        raise TypeError(
            f"nn.while_loop at module {errors.format_path(path)}: cond_fn must return a boolean "
            f"scalar; got {type_name} of shape {tuple(shape)} and dtype "
            f"{dtype}. Fix: reduce it, e.g. jnp.all(...), and compare (x < n)."
        )


def check_predicate(transform: str, argument: str, shape, path) -> None:
    """``nn.cond``'s ``pred`` and ``nn.switch``'s ``index`` are scalars (``shape`` is theirs).

    >>> check_predicate('cond', 'pred', (3,), ())
    Traceback (most recent call last):
    ...
    TypeError: nn.cond(pred=...) at module /: pred must be a scalar; got shape (3,).
    """
    if tuple(shape) != ():
        raise TypeError(
            f"nn.{transform}({argument}=...) at module {errors.format_path(path)}: {argument} must be "
            f"a scalar; got shape {tuple(shape)}."
        )


def branch_mismatch_error(transform: str, path, per_branch: list) -> TypeError:
    """The error of ``nn.cond``/``nn.switch`` whose branches disagree; ``per_branch``: what each returned (shapes).

    >>> str(branch_mismatch_error('cond', (), [(2,), (3,)])).split(':')[0]
    'nn.cond at module /'
    """

    def clip(value) -> str:
        text = repr(value)
        return text if len(text) <= 300 else text[:297] + "..."

    return TypeError(
        f"nn.{transform} at module {errors.format_path(path)}: the branches return different output "
        "structures, shapes or dtypes (outputs, then updated variables): "
        + "; ".join(f"branch {i}: {clip(s)}" for i, s in enumerate(per_branch))
        + ". Every branch is traced, so each must return the same shapes and dtypes and create or update "
        "the same variables."
    )
