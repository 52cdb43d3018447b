"""Strict conversion of user values: real numbers, 1-D float arrays, domains, JSON.

Booleans, strings and complex numbers are refused (``TypeError``); integers
too large for a float, non-finite values and malformed JSON are refused
(``ValueError``), each with a one-line message naming the field.
"""

from __future__ import annotations

import json
import math
import numbers
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "NotANumberError",
    "real",
    "as_float_vector",
    "check_domain",
    "model_fields",
    "parse_json",
]


class NotANumberError(TypeError, ValueError):
    """A value of the wrong type where a number was expected (bool, str, complex, ...).

    A ``TypeError`` by meaning, and a ``ValueError`` too, so that every error
    boundary that reports bad input (the command line, the explorer) reports it.
    """


def real(name: str, value: Any) -> float:
    """``value`` as a float: a real number (not bool, str or complex) representable as a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise NotANumberError(
            f"{name} must be a real number, got {type(value).__name__} {value!r:.40}"
        )
    try:
        return float(value)
    except OverflowError:
        raise ValueError(
            f"{name} = {_short_int(value)} is not representable as a float (beyond ±1.8e308)"
        ) from None


def _short_int(value: Any) -> str:
    digits = len(str(abs(int(value)))) if isinstance(value, (int, np.integer)) else 0
    return f"an integer of {digits} digits" if digits > 20 else repr(value)


def as_float_vector(
    name: str, values: ArrayLike, *, finite: bool = True, scalar_ok: bool = True
) -> np.ndarray:
    try:
        raw = np.asarray(values)
    except (ValueError, TypeError) as exc:  # ragged nesting and the like
        raise ValueError(f"{name} must be a 1-D array of numbers: {exc}") from None
    if raw.dtype.kind in "fiu":
        arr = raw.astype(float)
    elif raw.dtype.kind == "O" and raw.ndim <= 1:  # e.g. Python ints beyond int64
        arr = np.array([real(f"{name}[{i}]", v) for i, v in enumerate(raw.ravel())], dtype=float)
        arr = arr.reshape(raw.shape)
    elif raw.dtype.kind == "c":
        raise NotANumberError(f"{name} must be real numbers, got complex values")
    elif raw.dtype.kind == "b":
        raise NotANumberError(f"{name} must be numbers, got booleans")
    else:
        raise NotANumberError(
            f"{name} must be numbers, got an array of dtype {raw.dtype} ({raw.dtype.kind!r})"
        )
    if arr.ndim == 0 and scalar_ok:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if finite and not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(f"{name} must be finite; {name}[{bad}] is {arr[bad]}")
    return arr


def check_domain(domain: Any) -> tuple[float, float] | None:
    if domain is None:
        return None
    if isinstance(domain, (str, bytes)) or not hasattr(domain, "__len__") or len(domain) != 2:
        raise ValueError(f"domain must be a pair (A, B) of numbers, got {domain!r:.60}")
    a, b = (real("domain end", v) for v in domain)
    if not (math.isfinite(a) and math.isfinite(b)):
        raise ValueError(f"domain ends must be finite, got ({a}, {b})")
    if not a < b:
        what = "empty" if a == b else "reversed"
        raise ValueError(f"domain is {what}: need A < B, got A={a}, B={b}")
    return (a, b)


def parse_json(raw: bytes, where: str) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity, bounded nesting; one-line ValueError otherwise."""

    def no_constants(name: str) -> Any:
        raise ValueError(f"{where!r} is not strict JSON: it contains {name}")

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{where!r} is not a JSON text file (not UTF-8 at byte {exc.start})"
        ) from None
    try:
        return json.loads(text, parse_constant=no_constants)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where!r} is not JSON: {exc.msg} at line {exc.lineno}") from None
    except RecursionError:
        raise ValueError(f"{where!r} is nested too deeply to be a relusum model") from None
    except ValueError as exc:  # e.g. an integer beyond the int conversion limit
        raise ValueError(f"{where!r} is not a readable model: {str(exc).splitlines()[0]}") from None


def model_fields(data: Any, readable: tuple[str, ...]) -> tuple[Any, Any, Any, Any]:
    """``bias, knots, weights, domain`` of a model dict, after checking its shape and format."""
    if not isinstance(data, dict):
        raise ValueError(f"a relusum model must be a JSON object, got {type(data).__name__}")
    missing = [k for k in ("bias", "knots", "weights") if k not in data]
    if missing:
        raise ValueError(f"not a relusum model: missing field(s) {', '.join(missing)}")
    fmt = data.get("format", readable[0])
    if not (isinstance(fmt, str) and fmt.startswith("relusum/")):
        raise ValueError(f"not a relusum model: format is {fmt!r:.60}")
    if fmt not in readable:
        raise ValueError(
            f"model format {fmt!r:.60} is not readable by this release of relusum, "
            f"which reads {', '.join(readable)}; upgrade relusum"
        )
    sequences = (list, tuple, np.ndarray)
    for key in ("knots", "weights"):
        if not isinstance(data[key], sequences):
            raise ValueError(
                f"not a relusum model: {key} must be a list of numbers, "
                f"got {type(data[key]).__name__}"
            )
    domain = data.get("domain")
    if domain is not None and not isinstance(domain, sequences):
        raise ValueError(
            f"not a relusum model: domain must be a list [A, B] or null, "
            f"got {type(domain).__name__}"
        )
    return data["bias"], data["knots"], data["weights"], domain
