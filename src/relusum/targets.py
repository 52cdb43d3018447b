"""Targets: what a fit approximates.

A target is a function of one variable on a domain ``[A, B]`` (a formula
string in ``x`` or a vectorised Python callable) or data: ``(x, y)`` arrays,
or columns of a CSV file.  :func:`make_target` turns any of these into a
:class:`Target` that holds the fit samples (sorted by x) and, for a function,
a verification grid separate from them.

Samples of a function
    ``samples`` uniform points on ``[A, B]`` including both ends (default
    :data:`DEFAULT_SAMPLES` = 2,000).
Verification grid of a function
    ``max(100_000, 20 * samples)`` uniform points offset from the samples
    (cell midpoints shifted by a fixed irrational fraction), plus both ends;
    fits add their knots.  Every error relusum reports for a function is
    measured there.
Data
    May come in any order and with repeated x (it is regression); it is
    sorted by x (stably) here.  Errors on data are measured on the data.
"""

from __future__ import annotations

import csv
import itertools
import math
import os
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np
from numpy.typing import ArrayLike

from relusum._validate import as_float_vector, real
from relusum.formula import Formula, evaluate_constant, parse_formula

__all__ = [
    "DEFAULT_SAMPLES",
    "MAX_SAMPLES",
    "MAX_MAGNITUDE",
    "Data",
    "Target",
    "make_target",
    "read_csv",
    "parse_domain",
    "verification_grid",
]

#: Default number of uniform samples of a function target.
DEFAULT_SAMPLES = 2000
#: Upper bound on samples of a function (data is not limited).  The verification
#: grid has 20 points per sample, and a fit with 2,000,000 samples peaks at about
#: 1.4 GB, so this keeps a function fit within ~2 GB of memory.
MAX_SAMPLES = 2_000_000
#: Largest magnitude of x, y and domain ends relusum fits: beyond it, squared errors
#: and slopes overflow double precision (1e308), so such targets are refused up front.
MAX_MAGNITUDE = 1e100
#: Longest line of a CSV file read by :func:`read_csv` (characters).
MAX_CSV_LINE = 1 << 20
#: Minimum size of a function's verification grid.
MIN_VERIFY = 100_000
_OFFSET = (math.sqrt(5.0) - 1.0) / 2.0  # irrational shift away from the sample grid

TargetLike = Union[str, Callable[[np.ndarray], Any], "Data", tuple]


@dataclass(frozen=True)
class Data:
    """Data points ``(x, y)`` with optional non-negative weights, for regression.

    Examples
    --------
    >>> import numpy as np
    >>> from relusum import Data
    >>> d = Data([2.0, 0.0, 1.0], [4.0, 0.0, 1.0])
    >>> d.x, d.y
    (array([0., 1., 2.]), array([0., 1., 4.]))
    """

    x: np.ndarray
    y: np.ndarray
    weight: np.ndarray | None = None
    name: str = "data"
    #: Names of the x and y quantities (e.g. CSV column headers), for axis labels.
    x_name: str = "x"
    y_name: str = "y"

    def __post_init__(self) -> None:
        x = as_float_vector("x", self.x, finite=False, scalar_ok=False)
        y = as_float_vector("y", self.y, finite=False, scalar_ok=False)
        if x.shape != y.shape:
            raise ValueError(f"x and y must have the same length, got {x.size} and {y.size}")
        if x.size == 0:
            raise ValueError("data is empty: no points")
        _check_finite("x", x)
        _check_finite("y", y)
        _check_magnitude("data x", x, x)
        _check_magnitude("data y", y, x)
        w = None
        if self.weight is not None:
            w = as_float_vector("sample_weight", self.weight, finite=False, scalar_ok=False)
            if w.shape != x.shape:
                raise ValueError(
                    f"sample_weight must have one value per point, got {w.size} for {x.size}"
                )
            _check_finite("sample_weight", w)
            if np.any(w < 0):
                raise ValueError("sample_weight must be non-negative")
            if not np.any(w > 0):
                raise ValueError("sample_weight is zero everywhere")
        order = np.argsort(x, kind="stable")
        object.__setattr__(self, "x", x[order])
        object.__setattr__(self, "y", y[order])
        object.__setattr__(self, "weight", None if w is None else w[order])

    @property
    def n_distinct(self) -> int:
        """The number of distinct x values."""
        return int(np.unique(self.x).size)


def _check_finite(name: str, values: np.ndarray) -> None:
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise ValueError(
            f"{name} contains {values[bad[0]]} at position {bad[0]} "
            f"({bad.size} non-finite value{'s' if bad.size > 1 else ''}); remove or fix it"
        )


def read_csv(path: str | os.PathLike[str], x: str | int = 0, y: str | int = 1) -> Data:
    """Read two columns of a CSV file as :class:`Data`.

    Columns are chosen by header name or by 0-based index.  A first row that
    is not numeric is taken as the header.

    Parameters
    ----------
    path : path-like
        The CSV file.
    x, y : str or int
        Column of the inputs and of the outputs.

    Examples
    --------
    >>> import tempfile, os
    >>> from relusum import read_csv
    >>> p = os.path.join(tempfile.mkdtemp(), "d.csv")
    >>> _ = open(p, "w").write("t,v\\n0,1\\n1,3\\n")
    >>> read_csv(p, x="t", y="v").y
    array([1., 3.])
    """
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:
            return _read_csv_stream(csv.reader(_bounded_lines(fh, p)), p, x, y)
    except OSError as exc:
        raise ValueError(f"cannot read CSV file {str(p)!r}: {exc.strerror}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{str(p)!r} is not a readable CSV file: {exc}") from None


def _bounded_lines(fh: Any, p: Path) -> Any:
    """The lines of ``fh``, refusing any longer than :data:`MAX_CSV_LINE` characters.

    A file without newlines (``/dev/zero``, a binary file) is refused after one
    megabyte instead of being read whole into memory.
    """
    while True:
        line = fh.readline(MAX_CSV_LINE + 1)
        if not line:
            return
        if len(line) > MAX_CSV_LINE:
            raise ValueError(
                f"{str(p)!r} is not a CSV file of numbers: a line is longer than "
                f"{MAX_CSV_LINE:,} characters"
            )
        if "\x00" in line:
            raise ValueError(f"{str(p)!r} is not a CSV text file: it contains NUL bytes")
        yield line


def _read_csv_stream(reader: Any, p: Path, x: str | int, y: str | int) -> Data:
    """Columns ``x`` and ``y`` of the CSV rows of ``reader``, converted row by row."""
    rows = (r for r in reader if r and any(c.strip() for c in r))
    first = next(rows, None)
    if first is None:
        raise ValueError(f"CSV file {str(p)!r} is empty")

    def numeric(cell: str) -> bool:
        try:
            float(cell)
        except ValueError:
            return False
        return True

    header: list[str] | None = None
    if not all(numeric(c) for c in first):
        header = [c.strip() for c in first]
        first = next(rows, None)
    if first is None:
        raise ValueError(f"CSV file {str(p)!r} has a header but no data rows")

    def column(spec: str | int, role: str) -> int:
        if (
            isinstance(spec, str)
            and spec.strip().lstrip("-").isdigit()
            and (header is None or spec.strip() not in header)
        ):
            spec = int(spec)
        if isinstance(spec, int):
            ncol = len(header) if header else len(first)
            if not 0 <= spec < ncol:
                raise ValueError(
                    f"{role} column {spec} does not exist in {str(p)!r} "
                    f"(it has {ncol} columns, numbered from 0)"
                )
            return spec
        if header is None:
            raise ValueError(
                f"{str(p)!r} has no header row, so {role} column {spec!r} cannot be found; "
                "use a column number"
            )
        if spec not in header:
            raise ValueError(f"no column {spec!r} in {str(p)!r}; columns are: {', '.join(header)}")
        return header.index(spec)

    ix, iy = column(x, "x"), column(y, "y")
    xs, ys = array("d"), array("d")  # 8 bytes a value, not a Python list of rows
    lineno = 2 if header else 1
    for row in itertools.chain([first], rows):
        try:
            xs.append(float(row[ix]))
            ys.append(float(row[iy]))
        except (IndexError, ValueError):
            raise ValueError(
                f"{str(p)!r} row {lineno}: cannot read a number in columns {ix} and {iy}: "
                f"{row!r:.200}"
            ) from None
        lineno += 1
    name_x = header[ix] if header else f"column {ix}"
    name_y = header[iy] if header else f"column {iy}"
    try:
        return Data(
            np.frombuffer(xs, dtype=float),
            np.frombuffer(ys, dtype=float),
            name=f"{p.name} ({name_y} vs {name_x})",
            x_name=(header[ix] or f"column {ix}") if header else "x",
            y_name=(header[iy] or f"column {iy}") if header else "y",
        )
    except ValueError as exc:
        raise ValueError(f"{str(p)!r}: {exc}") from None


def parse_domain(domain: Sequence[Any] | None) -> tuple[float, float] | None:
    """Turn ``(A, B)`` (numbers or constant formulas like ``"-pi"``) into floats.

    Raises ``ValueError`` for a domain that is not finite, empty or reversed.

    Examples
    --------
    >>> from relusum.targets import parse_domain
    >>> parse_domain(["-pi", "pi"])
    (-3.141592653589793, 3.141592653589793)
    """
    if domain is None:
        return None
    if isinstance(domain, (str, bytes)) or len(domain) != 2:
        raise ValueError(f"domain must be two numbers A B, got {domain!r}")
    ends = []
    for v in domain:
        if isinstance(v, str):
            ends.append(evaluate_constant(v))
        else:
            try:
                ends.append(real("domain end", v))
            except TypeError:
                raise ValueError(f"domain end {v!r:.40} is not a number") from None
    a, b = ends
    if not (math.isfinite(a) and math.isfinite(b)):
        raise ValueError(f"domain ends must be finite, got [{a}, {b}]")
    if max(abs(a), abs(b)) > MAX_MAGNITUDE:
        raise ValueError(
            f"domain [{a:.6g}, {b:.6g}] is too wide: beyond ±{MAX_MAGNITUDE:.0e} its width, "
            "slopes and squared errors overflow double precision; rescale x"
        )
    if a == b:
        raise ValueError(f"domain [{a}, {b}] is empty: need A < B")
    if a > b:
        raise ValueError(f"domain [{a}, {b}] is reversed: need A < B")
    return (a, b)


#: Verification grids up to this many points keep their target values with the target.
_CACHE_GRID = 2_000_000


def verification_grid(
    domain: tuple[float, float], samples: int, extra: ArrayLike = ()
) -> np.ndarray:
    """The sorted verification grid for a function fitted with ``samples`` samples.

    ``max(100_000, 20 * samples)`` uniform points offset from the sample grid,
    both ends of the domain, and the points ``extra`` (e.g. the knots) that
    lie in the domain.
    """
    a, b = domain
    m = max(MIN_VERIFY, 20 * int(samples))
    grid = a + (np.arange(m) + _OFFSET) * ((b - a) / m)
    ex = np.asarray(extra, dtype=float).ravel()
    ex = ex[(ex >= a) & (ex <= b)]
    if not np.all(grid[1:] > grid[:-1]):  # (rounding on an extreme domain)
        return np.unique(np.concatenate((grid, [a, b], ex)))
    # The same sorted set as np.unique of everything, without sorting the grid:
    # the few other points are inserted where they belong.
    few = np.unique(np.concatenate(([a, b], ex)))
    pos = np.searchsorted(grid, few)
    new = grid[np.minimum(pos, m - 1)] != few
    return np.insert(grid, pos[new], few[new])


def _call_vectorised(fn: Callable[[np.ndarray], Any], x: np.ndarray, label: str) -> np.ndarray:
    try:
        with np.errstate(all="ignore"):
            out = fn(x)
        y = np.asarray(out, dtype=float)
        if y.shape != x.shape:
            y = np.broadcast_to(y, x.shape).copy()
        return y
    except (TypeError, ValueError) as first:
        # Not vectorised (e.g. math.sin): call it point by point.
        try:
            with np.errstate(all="ignore"):
                return np.array([float(fn(float(v))) for v in x], dtype=float)
        except Exception as exc:  # noqa: BLE001 - report the user's error, not ours
            raise ValueError(f"the target {label} cannot be evaluated: {exc or first}") from None
    except Exception as exc:  # noqa: BLE001
        raise ValueError(f"the target {label} raised {type(exc).__name__}: {exc}") from None


@dataclass(frozen=True)
class Target:
    """A target ready for fitting: samples sorted by x, and how to verify.

    Attributes
    ----------
    kind : {"function", "data"}
    label : str
        A short description (the formula text, a callable's name, the file).
    domain : (float, float)
    x, y : ndarray
        The fit samples, sorted by x.
    weight : ndarray or None
        Sample weights, or None for equal weights.
    fn : callable or None
        The function (float64 array in, array out) for function targets.
    x_name, y_name : str
        Names of the two quantities, for axis labels (CSV column headers for data).
    """

    kind: str
    label: str
    domain: tuple[float, float]
    x: np.ndarray
    y: np.ndarray
    weight: np.ndarray | None = None
    fn: Callable[[np.ndarray], np.ndarray] | None = field(default=None, repr=False)
    x_name: str = "x"
    y_name: str = "y"

    @property
    def is_function(self) -> bool:
        return self.kind == "function"

    def evaluate(self, x: ArrayLike) -> np.ndarray:
        """The target's values at ``x`` (functions only), checked to be finite."""
        if self.fn is None:
            raise ValueError("data targets cannot be evaluated between their points")
        xa = np.asarray(x, dtype=float)
        y = self.fn(xa.ravel()).reshape(xa.shape)
        _require_finite_values(self.label, xa.ravel(), y.ravel())
        return y

    def finite_value(self, x: float) -> float | None:
        """The target's value at one point, or None where it is not finite or fails there.

        For the optional checks at a single point (``x = 0``), where a target
        such as ``sin(x)/x`` may be undefined although the fit is not.
        """
        if self.fn is None:
            return None
        try:
            v = np.asarray(self.fn(np.array([float(x)])), dtype=float).ravel()
        except (ValueError, ArithmeticError, TypeError):
            return None
        return float(v[0]) if v.size == 1 and np.isfinite(v[0]) else None

    def verification(self, extra: ArrayLike = ()) -> tuple[np.ndarray, np.ndarray]:
        """Points and target values where errors are measured.

        For a function: :func:`verification_grid` plus ``extra``; for data: the
        data.  An extra point where the target is not finite (or fails) is
        replaced by the nearest floats on either side: the grid is finite, so
        it is an isolated point where the target is undefined, such as
        ``sin(x)/x`` at a knot on 0, and the error's supremum there is its
        limit from the sides.  Beside a pole (values far outside the grid's
        range, or not finite) the point is refused as any other.
        """
        if self.fn is None:
            return self.x, self.y
        base = self.__dict__.get("_verification")
        if base is None:
            g = verification_grid(self.domain, self.x.size)
            base = (g, self.evaluate(g))
            for arr in base:
                arr.setflags(write=False)
            if g.size <= _CACHE_GRID:
                # Frozen, so kept beside the fields (not one of them): every
                # measure of a fit of this target reuses the grid's values.
                object.__setattr__(self, "_verification", base)
        g, v = base
        a, b = self.domain
        ex = np.asarray(extra, dtype=float).ravel()
        ex = _off_grid(g, np.unique(ex[(ex >= a) & (ex <= b)]))
        if ex.size == 0:
            return g, v
        ev = self._extra_values(ex)
        bad = ~np.isfinite(ev)
        if np.any(bad):
            # Undefined there: the nearest floats on either side instead (real
            # points of the domain), where a removable singularity such as
            # sin(x)/x at 0 has its limit, so an error peaking there is seen.
            near = np.concatenate((np.nextafter(ex[bad], -np.inf), np.nextafter(ex[bad], np.inf)))
            near = _off_grid(g, np.setdiff1d(near[(near >= a) & (near <= b)], ex))
            nv = self._extra_values(near)
            # Beside a pole (1/(x - 0.5) at a knot on 0.5) the values leave the
            # grid's range by orders of magnitude: that point is refused as before.
            lo, hi = float(np.min(v)), float(np.max(v))
            span = hi - lo + abs(lo) + abs(hi)
            if not np.all((nv >= lo - span) & (nv <= hi + span)):
                self.evaluate(ex[bad][:1])  # raises: not finite (or fails) there
                raise ValueError(f"the target {self.label} is not finite at x = {ex[bad][0]:.10g}")
            ex = np.concatenate((ex[~bad], near))
            ev = np.concatenate((ev[~bad], nv))
            order = np.argsort(ex, kind="stable")
            ex, ev = ex[order], ev[order]
        # The same sorted set as the grid of verification_grid(..., extra).
        pos = np.searchsorted(g, ex)
        return np.insert(g, pos, ex), np.insert(v, pos, ev)

    def _extra_values(self, ex: np.ndarray) -> np.ndarray:
        """Values at extra points of the verification set; nan where not finite or failing.

        Values beyond :data:`MAX_MAGNITUDE` are refused as on the grid.
        """
        try:
            with np.errstate(all="ignore"):
                ev = np.asarray(self.fn(ex), dtype=float).reshape(ex.shape)
        except (ValueError, ArithmeticError, TypeError):
            ev = np.array([np.nan if (f := self.finite_value(t)) is None else f for t in ex])
        ev = np.where(np.isfinite(ev), ev, np.nan)
        ok = np.isfinite(ev)
        _check_magnitude(f"the target {self.label}", ev[ok], ex[ok])
        return ev


def _off_grid(g: np.ndarray, ex: np.ndarray) -> np.ndarray:
    """The points of sorted ``ex`` that are not on the sorted grid ``g``."""
    if ex.size == 0:
        return ex
    pos = np.searchsorted(g, ex)
    return ex[g[np.minimum(pos, g.size - 1)] != ex]


def _require_finite_values(label: str, x: np.ndarray, y: np.ndarray) -> None:
    bad = np.flatnonzero(~np.isfinite(y))
    if bad.size:
        i = bad[0]
        big = math.isinf(y[i]) and np.all(np.isfinite(y[np.isfinite(y)]))
        raise ValueError(
            f"the target {label} is not finite at x = {x[i]:.10g} (value {y[i]}"
            + ("; its values overflow double precision" if big else "")
            + "); choose a domain where it is finite"
        )
    _check_magnitude(f"the target {label}", y, x)


def _check_magnitude(what: str, values: np.ndarray, x: np.ndarray) -> None:
    """Refuse values beyond :data:`MAX_MAGNITUDE`, naming the overflow they would cause."""
    if values.size == 0:
        return
    i = int(np.argmax(np.abs(values)))
    v = float(values[i])
    if abs(v) > MAX_MAGNITUDE:
        at = "" if values is x else f" at x = {float(x[i]):.6g}"
        raise ValueError(
            f"{what} reaches {v:.3g}{at}: beyond ±{MAX_MAGNITUDE:.0e} squared errors and "
            f"slopes overflow double precision; rescale it (e.g. divide by {abs(v):.0e})"
        )


def make_target(
    target: TargetLike,
    domain: Sequence[Any] | None = None,
    samples: int | None = None,
    sample_weight: ArrayLike | None = None,
) -> Target:
    """Turn a formula, a callable or data into a :class:`Target`.

    Parameters
    ----------
    target : str, callable, Data or (x, y)
        A formula in ``x`` (parsed by the whitelist parser, never evaluated as
        Python), a vectorised callable, a :class:`Data`, or a pair of arrays.
    domain : (A, B), optional
        Required for functions; for data it defaults to ``[min x, max x]``
        and, when given, must contain every point.
    samples : int, optional
        Number of uniform samples of a function (default 2,000).  Not used for data.
    sample_weight : array_like, optional
        Weights of the samples (of the data points, or of the function samples).

    Examples
    --------
    >>> from relusum.targets import make_target
    >>> t = make_target("x**2", (0, 1), samples=5)
    >>> t.x, t.y
    (array([0.  , 0.25, 0.5 , 0.75, 1.  ]), array([0.    , 0.0625, 0.25  , 0.5625, 1.    ]))
    """
    if isinstance(target, (np.ndarray, list)) and not isinstance(domain, (str, bytes, type(None))):
        if np.ndim(domain) == 1 and len(domain) != 2:
            raise ValueError(
                "the second argument is the domain (A, B), not y: pass data as one "
                "pair, e.g. relusum.fit((x, y), n_units=8)"
            )
    dom = parse_domain(domain)
    if isinstance(target, tuple) and len(target) == 2:
        target = Data(target[0], target[1], sample_weight)
    elif isinstance(target, Data) and sample_weight is not None:
        raise ValueError("pass the weights of a Data object as Data(x, y, weight=...)")
    if isinstance(target, Data):
        if samples is not None:
            raise ValueError("samples= applies to functions; data is fitted on its own points")
        data = target
        if dom is None:
            lo, hi = float(data.x[0]), float(data.x[-1])
            if lo == hi:
                raise ValueError(
                    f"all data points have the same x = {lo}; a domain needs two distinct x"
                )
            dom = (lo, hi)
        elif data.x[0] < dom[0] or data.x[-1] > dom[1]:
            raise ValueError(
                f"data x range [{data.x[0]:.6g}, {data.x[-1]:.6g}] is not inside "
                f"the domain [{dom[0]:.6g}, {dom[1]:.6g}]"
            )
        return Target(
            "data", data.name, dom, data.x, data.y, data.weight, None, data.x_name, data.y_name
        )

    if isinstance(target, str):
        formula: Callable[[np.ndarray], Any] = parse_formula(target)
        label = target.strip()
    elif isinstance(target, Formula):
        formula, label = target, target.text
    elif callable(target):
        formula = target
        label = getattr(target, "__name__", type(target).__name__)
    else:
        raise ValueError(
            "target must be a formula string, a callable, Data or an (x, y) pair, "
            f"got {type(target).__name__}"
        )
    if dom is None:
        raise ValueError("a function target needs a domain (A, B)")
    n = DEFAULT_SAMPLES if samples is None else samples
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ValueError(f"samples must be an integer, got {samples!r}")
    n = int(n)
    if n < 2:
        raise ValueError(f"samples must be at least 2, got {n}")
    if n > MAX_SAMPLES:
        raise ValueError(f"samples must be at most {MAX_SAMPLES:,}, got {n:,}")

    def fn(x: np.ndarray) -> np.ndarray:
        return _call_vectorised(formula, np.asarray(x, dtype=float), label)

    x = np.linspace(dom[0], dom[1], n)
    y = fn(x)
    _require_finite_values(label, x, y)
    w = None
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=float).ravel()
        if w.shape != x.shape:
            raise ValueError(f"sample_weight must have {n} values (one per sample), got {w.size}")
        _check_finite("sample_weight", w)
        if np.any(w < 0) or not np.any(w > 0):
            raise ValueError("sample_weight must be non-negative and not all zero")
    return Target("function", label, dom, x, y, w, fn)
