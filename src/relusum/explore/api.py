"""The explorer's JSON API, apart from HTTP: validation, limits and the handlers.

Every request body is checked here against :class:`Limits` before any work;
the work itself runs in a :class:`~relusum.explore.worker.WorkerPool` with a
time limit.  A violation raises :class:`ApiError` with a 4xx status and a
message the page shows; formula errors carry the column of the problem.

Endpoints (all JSON; ``POST`` bodies are JSON objects)

=======  ==================  ==================================================
GET      /api/info           version, methods and whether they are available, limits
POST     /api/target         the target's points for drawing (checks the formula)
POST     /api/fit            ``{target, method, units[, knots]}`` -> model and report
POST     /api/sweep          ``{target, method, units: [..]}`` -> errors against units
POST     /api/measure        ``{target, model}`` -> RMSE and max error of a hand-made model
POST     /api/export         ``{model, format: json|pytorch|onnx}`` -> a download
POST     /api/train          ``{target, units, steps, seed}`` -> ``{job}`` (needs torch)
GET      /api/jobs/<id>      state and progress of a training job, its result when done
=======  ==================  ==================================================
"""

from __future__ import annotations

import importlib.util
import json
import math
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from relusum._version import __version__
from relusum.explore.tasks import pytorch_snippet
from relusum.explore.worker import WorkBusy, WorkerPool, WorkError, WorkFailed, WorkTimeout
from relusum.formula import MAX_FORMULA_LENGTH, FormulaError, evaluate_constant, parse_formula

__all__ = ["Limits", "ApiError", "ExploreApi", "PRESETS", "METHOD_LABELS", "TORCH_NEEDED"]

#: Method key -> label shown on the page.
METHOD_LABELS: dict[str, str] = {
    "interp": "uniform interpolation",
    "lstsq": "least squares (uniform knots)",
    "opt-l2": "optimal knots, L2",
    "opt-linf": "optimal knots, max error",
    "train": "trained network (PyTorch)",
}

#: Presets of the page: key -> (label, formula, A, B).
PRESETS: dict[str, tuple[str, str, str, str]] = {
    "sin": ("sin", "sin(x)", "-pi", "pi"),
    "gelu": ("GELU", "gelu(x)", "-4", "4"),
    "tanh": ("tanh", "tanh(x)", "-4", "4"),
    "square": ("x²", "x**2", "-1", "1"),
    "abs": ("|x|", "abs(x)", "-1", "1"),
    "step": ("step", "step(x)", "-1", "1"),
    "runge": ("Runge", "1/(1 + 25*x**2)", "-1", "1"),
    "sqrt": ("sqrt", "sqrt(x)", "0", "1"),
    "exp": ("exp", "exp(x)", "-2", "2"),
    "sigmoid": ("sigmoid", "sigmoid(x)", "-6", "6"),
    "bump": ("Gaussian bump", "gauss(3*x)", "-1", "1"),
    "wave": ("chirp", "sin(x**2)", "0", "4"),
}


@dataclass(frozen=True)
class Limits:
    """Bounds on every request.

    Attributes
    ----------
    max_units : int
        Units of a fit (and of a hand-made model).
    max_samples : int
        Samples of a formula.
    max_points : int
        Data points sent with a request.
    max_body : int
        Bytes of a request body.
    fit_seconds : float
        Time limit of a fit, a measure or a target request (the worker is killed after it).
    sweep_seconds : float
        Time limit of an error-against-units sweep.
    train_seconds : float
        Time limit of a training job.
    max_steps : int
        Training steps.
    max_sweep : int
        Unit counts in one sweep.
    max_domain : float
        Largest absolute domain end.
    max_queue : int
        Requests that may wait for a worker beyond those running; more are
        answered 503 with ``Retry-After`` at once.
    queue_seconds : float
        Longest wait for a worker (then 503 with ``Retry-After``).
    max_connections : int
        Open connections at once (idle ones are dropped first when more come).
    header_seconds : float
        Time for a request's line and headers to arrive (then 408 and closed).
    body_seconds : float
        Time for a whole request, body included, to arrive.
    """

    max_units: int = 200
    max_samples: int = 20_000
    max_points: int = 20_000
    max_body: int = 2_000_000
    fit_seconds: float = 20.0
    sweep_seconds: float = 30.0
    train_seconds: float = 180.0
    max_steps: int = 20_000
    max_sweep: int = 24
    max_domain: float = 1e6
    max_queue: int = 256
    queue_seconds: float = 10.0
    max_connections: int = 4096
    header_seconds: float = 10.0
    body_seconds: float = 30.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["max_formula_length"] = MAX_FORMULA_LENGTH
        return d


#: The one line the page and the API show when PyTorch is missing.
TORCH_NEEDED = "the trained-network curve needs PyTorch: pip install 'relusum[torch]'"


def torch_available() -> bool:
    """Whether PyTorch and the torch bridge can be imported (looked up, not imported)."""
    return (
        importlib.util.find_spec("torch") is not None
        and importlib.util.find_spec("relusum.torch_bridge") is not None
    )


def log_to_stderr(text: str) -> None:
    """The server's error log: one write to stderr (a traceback for a 500, a line otherwise)."""
    sys.stderr.write(text if text.endswith("\n") else text + "\n")
    sys.stderr.flush()


class ApiError(Exception):
    """An answer other than 200: ``status``, a one-line ``message`` and extra JSON fields."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra

    def payload(self) -> dict[str, Any]:
        return {"error": self.message, "status": self.status, **self.extra}


# ----------------------------------------------------------------- validation
def _kind(value: Any) -> str:
    """The JSON type of a value, for messages: ``an object``, ``a list``, ``true``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    return "a number"


def _field(body: dict[str, Any], name: str, where: str = "request") -> Any:
    if name not in body:
        raise ApiError(400, f"the {where} needs a field {name!r}")
    return body[name]


def _int(value: Any, name: str, lo: int, hi: int) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (isinstance(value, float) and not value.is_integer())
    ):
        raise ApiError(400, f"{name} must be a whole number, got {json.dumps(value)[:40]}")
    v = int(value)
    if v < lo:
        raise ApiError(422, f"{name} must be at least {lo}, got {v}")
    if v > hi:
        raise ApiError(422, f"{name} must be at most {hi}, got {v}", limit=hi)
    return v


def _number_list(value: Any, name: str, max_len: int, min_len: int = 0) -> list[float]:
    if not isinstance(value, list):
        raise ApiError(400, f"{name} must be a list of numbers")
    if len(value) > max_len:
        raise ApiError(
            413, f"{name} has {len(value):,} values; the limit is {max_len:,}", limit=max_len
        )
    if len(value) < min_len:
        raise ApiError(422, f"{name} needs at least {min_len} values, got {len(value)}")
    out = []
    for i, v in enumerate(value):
        try:
            f = float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan
        except OverflowError:  # an integer beyond float range
            f = math.inf
        if not math.isfinite(f):
            raise ApiError(400, f"{name}[{i}] must be a finite number, got {json.dumps(v)[:40]}")
        out.append(f)
    return out


class ExploreApi:
    """The handlers behind the explorer's HTTP server.

    Parameters
    ----------
    limits : Limits, optional
    pool : WorkerPool, optional
        Where the work runs (default: two spawned worker processes).

    Examples
    --------
    >>> api = ExploreApi()
    >>> api.handle("GET", "/api/info", None)[1]["limits"]["max_units"]
    200
    >>> api.close()
    """

    def __init__(self, limits: Limits | None = None, pool: WorkerPool | None = None) -> None:
        self.limits = limits or Limits()
        self.pool = pool or WorkerPool(size=2)
        self._jobs: dict[str, dict[str, Any]] = {}
        self._jobs_lock = threading.Lock()
        self._unavailable: dict[str, str] = {}
        #: Called with the text of internal errors (tracebacks); the server sets it.
        self.error_log: Callable[[str], None] = log_to_stderr

    def close(self) -> None:
        """Stop the worker processes."""
        self.pool.close()

    # ------------------------------------------------------------ availability
    def methods(self) -> dict[str, dict[str, Any]]:
        """Each method's label and whether it can run here (with the reason when not)."""
        out = {}
        has_optimal = importlib.util.find_spec("relusum.fitting.optimal") is not None
        has_torch = torch_available()
        for key, label in METHOD_LABELS.items():
            reason = self._unavailable.get(key)
            if reason is None and key.startswith("opt-") and not has_optimal:
                reason = "optimal fitting is not available in this version"
            if reason is None and key == "train" and not has_torch:
                reason = TORCH_NEEDED
            out[key] = {"label": label, "available": reason is None, "reason": reason}
        return out

    def onnx_available(self) -> bool:
        return torch_available()

    # -------------------------------------------------------------- validation
    def target_spec(self, body: dict[str, Any]) -> dict[str, Any]:
        """Check a ``target`` object: ``{formula, domain, samples?}`` or ``{data: {x, y}}``."""
        t = _field(body, "target")
        if not isinstance(t, dict):
            raise ApiError(400, "target must be an object with a formula and a domain, or data")
        lim = self.limits
        domain = t.get("domain")
        dom = None
        if domain is not None:
            if not isinstance(domain, list) or len(domain) != 2:
                raise ApiError(400, "domain must be a list of two numbers [A, B]")
            ends = []
            for i, v in enumerate(domain):
                which = "A" if i == 0 else "B"
                if isinstance(v, str):
                    if len(v) > 100:
                        raise ApiError(
                            413, f"domain end {which} is too long (limit 100 characters)"
                        )
                    try:
                        ends.append(evaluate_constant(v))
                    except FormulaError as exc:
                        raise ApiError(
                            422, f"domain end {which}: {exc}", field=f"domain{i}", column=exc.column
                        ) from None
                elif isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) < 1e300:
                    ends.append(float(v))
                else:
                    raise ApiError(400, f"domain end {which} must be a number")
            a, b = ends
            if not a < b:
                what = "empty" if a == b else "reversed"
                raise ApiError(
                    422, f"the domain [{a:g}, {b:g}] is {what}: need A < B", field="domain1"
                )
            if max(abs(a), abs(b)) > lim.max_domain:
                raise ApiError(
                    422, f"domain ends must lie within ±{lim.max_domain:g}", field="domain1"
                )
            dom = [a, b]
        if t.get("data") is not None:
            d = t["data"]
            if not isinstance(d, dict):
                raise ApiError(400, "data must be an object {x: [...], y: [...]}")
            x = _number_list(_field(d, "x", "data"), "data x", lim.max_points, 2)
            y = _number_list(_field(d, "y", "data"), "data y", lim.max_points, 2)
            if len(x) != len(y):
                raise ApiError(422, f"data x and y differ in length ({len(x)} and {len(y)})")
            if min(x) == max(x):
                raise ApiError(422, "all data points have the same x; need two distinct x")
            if max(map(abs, x + y)) > 1e12:
                raise ApiError(422, "data values must lie within ±1e12")
            if dom is not None and (min(x) < dom[0] or max(x) > dom[1]):
                dom = None  # the page's domain fields follow the data
            return {"data": {"x": x, "y": y}, "domain": dom}
        formula = _field(t, "formula", "target")
        if not isinstance(formula, str):
            raise ApiError(400, "formula must be text")
        if len(formula) > MAX_FORMULA_LENGTH:
            raise ApiError(
                413,
                f"the formula has {len(formula):,} characters; the limit is {MAX_FORMULA_LENGTH:,}",
                field="formula",
                limit=MAX_FORMULA_LENGTH,
            )
        if not formula.strip():
            raise ApiError(422, "type a formula in x, e.g. sin(x)", field="formula", column=1)
        try:
            parse_formula(formula)
        except FormulaError as exc:
            raise ApiError(422, str(exc), field="formula", column=exc.column) from None
        if dom is None:
            raise ApiError(400, "a formula needs a domain [A, B]", field="domain0")
        samples = t.get("samples")
        samples = 2000 if samples is None else _int(samples, "samples", 2, lim.max_samples)
        return {"formula": formula, "domain": dom, "samples": samples}

    def method(self, body: dict[str, Any], allow_train: bool = False) -> str:
        m = body.get("method", "lstsq")
        if not isinstance(m, str):
            raise ApiError(400, f"method must be text, got {_kind(m)}")
        if m not in METHOD_LABELS or (m == "train" and not allow_train):
            known = ", ".join(k for k in METHOD_LABELS if allow_train or k != "train")
            raise ApiError(400, f"unknown method {str(m)[:40]!r}; use one of {known}")
        info = self.methods()[m]
        if not info["available"]:
            reason = info["reason"]
            msg = (
                reason
                if m == "train" and reason == TORCH_NEEDED
                else (f"{info['label']} is not available: {reason}")
            )
            raise ApiError(501, msg, unavailable=m)
        return m

    def model_spec(self, body: dict[str, Any]) -> dict[str, Any]:
        """Check a ``model`` object (bias, knots, weights, domain)."""
        m = _field(body, "model")
        if not isinstance(m, dict):
            raise ApiError(400, "model must be an object {bias, knots, weights}")
        bias = _number_list([_field(m, "bias", "model")], "model bias", 1)[0]
        knots = _number_list(_field(m, "knots", "model"), "model knots", self.limits.max_units)
        weights = _number_list(
            _field(m, "weights", "model"), "model weights", self.limits.max_units
        )
        if len(knots) != len(weights):
            raise ApiError(
                422, f"model knots and weights differ in length ({len(knots)} and {len(weights)})"
            )
        if max(map(abs, knots + weights + [bias])) > 1e12:
            raise ApiError(422, "model values must lie within ±1e12")
        dom = m.get("domain")
        if dom is not None:
            dom = _number_list(dom, "model domain", 2, 2)
            if not dom[0] < dom[1]:
                raise ApiError(422, "model domain must have A < B")
        return {"bias": bias, "knots": knots, "weights": weights, "domain": dom}

    # ----------------------------------------------------------------- running
    def _run(self, name: str, kwargs: dict[str, Any], timeout: float, **kw: Any) -> Any:
        kw.setdefault("wait", self.limits.queue_seconds)
        try:
            return self.pool.call(name, kwargs, timeout=timeout, **kw)
        except WorkTimeout as exc:
            raise ApiError(
                408, f"{exc}; try fewer units, fewer samples or a faster method", timeout=timeout
            ) from None
        except WorkBusy as exc:
            raise ApiError(503, str(exc), retry_after=2) from None
        except WorkError as exc:
            if exc.kind == "formula":
                raise ApiError(422, str(exc), field="formula", column=exc.column) from None
            msg = str(exc)
            if "not available" in msg or "pip install" in msg:
                raise ApiError(501, msg, unavailable=kwargs.get("method")) from None
            raise ApiError(422, msg) from None
        except WorkFailed as exc:
            self.error_log(f"internal error in the worker ({name}): {exc}\n{exc.details}")
            raise ApiError(500, f"internal error: {exc}") from None

    def handle(self, method: str, path: str, body: Any) -> tuple[int, Any, str]:
        """Answer one request: ``(status, payload, content type)``.

        ``payload`` is a JSON-able object for ``application/json``, else bytes
        or text.  Raises :class:`ApiError` for anything but success.
        """
        route = (method, path)
        if method == "GET":
            if path == "/api/info":
                return 200, self.info(), "application/json"
            if path.startswith("/api/jobs/"):
                return 200, self.job(path[len("/api/jobs/") :]), "application/json"
            raise ApiError(404, f"no such endpoint: GET {path[:80]}")
        if method != "POST":
            raise ApiError(405, f"method {method} is not allowed")
        if not isinstance(body, dict):
            raise ApiError(400, "the request body must be a JSON object")
        handlers = {
            "/api/target": self.target,
            "/api/fit": self.fit,
            "/api/sweep": self.sweep,
            "/api/measure": self.measure,
            "/api/export": self.export,
            "/api/train": self.train,
        }
        if path not in handlers:
            raise ApiError(404, f"no such endpoint: POST {route[1][:80]}")
        return handlers[path](body)

    def info(self) -> dict[str, Any]:
        return {
            "version": __version__,
            "methods": self.methods(),
            "onnx": self.onnx_available(),
            "limits": self.limits.to_dict(),
            "presets": {
                k: {"label": v[0], "formula": v[1], "domain": [v[2], v[3]]}
                for k, v in PRESETS.items()
            },
        }

    def target(self, body: dict[str, Any]) -> tuple[int, Any, str]:
        spec = self.target_spec(body)
        out = self._run("target", {"spec": spec}, self.limits.fit_seconds)
        return 200, out, "application/json"

    def fit(self, body: dict[str, Any]) -> tuple[int, Any, str]:
        spec = self.target_spec(body)
        m = self.method(body)
        n = _int(_field(body, "units"), "units", 1, self.limits.max_units)
        kwargs: dict[str, Any] = {"spec": spec, "method": m, "n_units": n}
        if body.get("knots") is not None:
            if m not in ("lstsq", "interp"):
                raise ApiError(400, "given knots work with least squares or interpolation only")
            kwargs["knots"] = _number_list(body["knots"], "knots", self.limits.max_units, 1)
            if len(kwargs["knots"]) != n:
                raise ApiError(422, f"units={n} does not match the {len(kwargs['knots'])} knots")
        try:
            out = self._run("fit", kwargs, self.limits.fit_seconds)
        except ApiError as exc:
            if exc.status == 501 and m.startswith("opt-"):
                self._unavailable[m] = exc.message
            raise
        return 200, out, "application/json"

    def sweep(self, body: dict[str, Any]) -> tuple[int, Any, str]:
        spec = self.target_spec(body)
        m = self.method(body)
        units = body.get("units")
        if not isinstance(units, list) or not units:
            raise ApiError(400, "units must be a non-empty list of unit counts")
        if len(units) > self.limits.max_sweep:
            raise ApiError(
                413,
                f"a sweep takes at most {self.limits.max_sweep} unit counts",
                limit=self.limits.max_sweep,
            )
        ns = sorted({_int(u, "units", 1, self.limits.max_units) for u in units})
        out = self._run(
            "sweep",
            {"spec": spec, "method": m, "units": ns, "budget": self.limits.sweep_seconds / 2},
            self.limits.sweep_seconds,
        )
        return 200, out, "application/json"

    def measure(self, body: dict[str, Any]) -> tuple[int, Any, str]:
        spec = self.target_spec(body)
        model = self.model_spec(body)
        out = self._run("measure", {"spec": spec, "model": model}, self.limits.fit_seconds)
        return 200, out, "application/json"

    def export(self, body: dict[str, Any]) -> tuple[int, Any, str]:
        model = self.model_spec(body)
        fmt = body.get("format")
        if fmt == "json":
            from relusum.model import ReluSum

            s = ReluSum.from_dict(model)
            return 200, s.to_json().encode() + b"\n", "application/json"
        if fmt == "pytorch":
            return 200, pytorch_snippet(model).encode(), "text/x-python; charset=utf-8"
        if fmt == "onnx":
            if not self.onnx_available():
                raise ApiError(
                    501,
                    "ONNX export needs PyTorch: pip install 'relusum[torch]'",
                    unavailable="onnx",
                )
            data = self._run("onnx", {"model": model}, self.limits.fit_seconds)
            return 200, data, "application/octet-stream"
        raise ApiError(400, f"format must be json, pytorch or onnx, got {str(fmt)[:20]!r}")

    # -------------------------------------------------------------- training
    def train(self, body: dict[str, Any]) -> tuple[int, Any, str]:
        spec = self.target_spec(body)
        self.method({"method": "train"}, allow_train=True)
        n = _int(_field(body, "units"), "units", 1, self.limits.max_units)
        steps = _int(body.get("steps", 2000), "steps", 1, self.limits.max_steps)
        seed = _int(body.get("seed", 0), "seed", 0, 2**31 - 1)
        with self._jobs_lock:
            running = [j for j in self._jobs.values() if j["state"] == "running"]
            if running:
                raise ApiError(
                    429, "a training job is already running; wait for it to finish", retry_after=2
                )
            # Forget old finished jobs.
            for key in [k for k, j in self._jobs.items() if time.time() - j["created"] > 3600]:
                del self._jobs[key]
            job_id = secrets.token_urlsafe(12)
            job = {
                "id": job_id,
                "state": "running",
                "progress": 0.0,
                "message": "starting",
                "created": time.time(),
                "result": None,
                "error": None,
            }
            self._jobs[job_id] = job

        def progress(frac: float, what: str) -> None:
            job["progress"] = frac
            job["message"] = what

        def work() -> None:
            try:
                out = self._run(
                    "train",
                    {"spec": spec, "n_units": n, "steps": steps, "seed": seed},
                    self.limits.train_seconds,
                    on_progress=progress,
                    wait=min(5.0, self.limits.queue_seconds),
                )
            except ApiError as exc:
                job["error"] = exc.payload()
                job["state"] = "failed"
            else:
                job["result"] = out
                job["progress"] = 1.0
                job["state"] = "done"

        threading.Thread(target=work, daemon=True, name=f"relusum-train-{job_id}").start()
        return 202, {"job": job_id, "state": "running"}, "application/json"

    def job(self, job_id: str) -> dict[str, Any]:
        with self._jobs_lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise ApiError(404, "no such job (it may have expired)")
        out = {k: job[k] for k in ("id", "state", "progress", "message", "error")}
        out["seconds"] = time.time() - job["created"]
        if job["state"] == "done":
            out["result"] = job["result"]
        return out
