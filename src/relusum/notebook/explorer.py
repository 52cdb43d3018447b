"""The explorer's anywidget: traitlets for the view, requests answered by :class:`ExploreApi`.

The front end (``explore/static/widget.js`` with the shared ``explorer.js``, joined
by :mod:`relusum.notebook.bundle` when this module is imported) sends each API
request of the page as a custom message ``{type: "request", id, method, path,
body}``; :meth:`ExplorerWidget.answer` runs it through the same
:meth:`ExploreApi.handle <relusum.explore.api.ExploreApi.handle>` as the web
server and replies ``{type: "response", id, status, payload}`` (a file such as
an ONNX export travels as a buffer).  Requests run on two kernel threads, one
for error sweeps and one for everything else, so a long sweep never holds up
the slider; a sweep overtaken by a newer one is answered ``409`` unrun.

Each fit or measure the front end asks for becomes :attr:`ExplorerWidget.model`
(the newest request wins), so ``w.model`` is the sum on screen.
"""

from __future__ import annotations

import json
import numbers
import threading
import traceback
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import anywidget
import traitlets

from relusum.explore.api import METHOD_LABELS, ApiError, ExploreApi, Limits, log_to_stderr
from relusum.explore.worker import InlinePool, WorkerPool
from relusum.model import ReluSum
from relusum.notebook.bundle import esm

__all__ = ["ExplorerWidget"]

_FRONT_END_TRAITS = ("formula", "domain", "units", "method")


def _domain_text(value: Any) -> str:
    """A domain end as the page's text field shows it: ``-3``, ``0.5``, ``-pi``."""
    if isinstance(value, bool):
        raise ValueError(f"a domain end must be a number or a constant expression, got {value!r}")
    if isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):  # NumPy scalars too
        return repr(float(value))
    raise ValueError(f"a domain end must be a number or a constant expression, got {value!r}")


class ExplorerWidget(anywidget.AnyWidget):
    """The explorer in a notebook; make one with :func:`relusum.widget`.

    Attributes
    ----------
    formula, domain, units, method, hand, show_terms : traitlets
        The view's settings, synced both ways with the front end.
    model_json : str
        The current model as ``relusum/1`` JSON (see :attr:`model`).
    report : dict
        Its errors as the page shows them (RMSE, max error, where measured).
    """

    _esm = esm()

    formula = traitlets.Unicode("sin(x)").tag(sync=True)
    domain = traitlets.List(traitlets.Unicode(), default_value=["-3", "3"]).tag(sync=True)
    units = traitlets.Int(8).tag(sync=True)
    method = traitlets.Unicode("lstsq").tag(sync=True)
    hand = traitlets.Bool(False).tag(sync=True)
    show_terms = traitlets.Bool(True).tag(sync=True)
    model_json = traitlets.Unicode("").tag(sync=True)
    report = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        target: str = "sin(x)",
        domain: tuple[Any, Any] = (-3, 3),
        units: int = 8,
        method: str = "lstsq",
        *,
        show_terms: bool = True,
        workers: int = 0,
        limits: Limits | None = None,
    ) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
            raise ValueError(f"workers must be a whole number >= 0, got {workers!r}")
        if not isinstance(target, str):
            raise TypeError(f"target must be a formula (text), got {type(target).__name__}")
        if not isinstance(domain, (tuple, list)) or len(domain) != 2:
            raise ValueError(f"domain must be (A, B), got {domain!r}")
        self._api = ExploreApi(limits, pool=InlinePool() if workers == 0 else WorkerPool(workers))
        self._lock = threading.Lock()
        # Requests are numbered as they arrive (views number theirs each from 1): the model
        # is set by the newest fit, and only the newest sweep runs.
        self._arrivals = 0
        self._model_request = -1
        self._latest_sweep = -1
        self._futures: list[Future[Any]] = []
        self._lanes = {
            "fit": ThreadPoolExecutor(1, thread_name_prefix="relusum-widget-fit"),
            "sweep": ThreadPoolExecutor(1, thread_name_prefix="relusum-widget-sweep"),
        }
        ends = [_domain_text(v) for v in domain]
        try:
            self._check(target, ends, units, method)
        except ValueError:
            self._shutdown()
            raise
        super().__init__(
            formula=target, domain=ends, units=units, method=method, show_terms=bool(show_terms)
        )
        self.on_msg(self._on_msg)
        self.observe(self._changed_in_python, names=list(_FRONT_END_TRAITS))
        if method != "train":
            self._refit()

    # ----------------------------------------------------------------- model
    @property
    def model(self) -> ReluSum | None:
        """The :class:`~relusum.ReluSum` on screen (``None`` before the first fit)."""
        text = self.model_json
        return ReluSum.from_dict(json.loads(text)) if text else None

    # ------------------------------------------------------------ validation
    def _check(self, formula: str, domain: list[str], units: Any, method: Any) -> None:
        """Refuse what the explorer would refuse, with its message (a ValueError)."""
        api = self._api
        try:
            api.target_spec({"target": {"formula": formula, "domain": list(domain)}})
            if isinstance(units, bool) or not isinstance(units, int):
                raise ApiError(400, f"units must be a whole number, got {units!r}")
            if not 1 <= units <= api.limits.max_units:
                raise ApiError(422, f"units must be between 1 and {api.limits.max_units}")
            if method not in METHOD_LABELS:
                raise ApiError(
                    400, f"unknown method {method!r}; use one of {', '.join(METHOD_LABELS)}"
                )
            if method != "train":
                api.method({"method": method})
        except ApiError as exc:
            raise ValueError(exc.message) from None

    @traitlets.validate(*_FRONT_END_TRAITS)
    def _validate(self, proposal: Any) -> Any:
        name, value = proposal["trait"].name, proposal["value"]
        if name in self._property_lock:  # from the front end, which shows its own errors
            return value
        now = {k: getattr(self, k) for k in _FRONT_END_TRAITS}
        now[name] = value
        try:
            self._check(now["formula"], now["domain"], now["units"], now["method"])
        except ValueError as exc:
            raise traitlets.TraitError(str(exc)) from None
        return value

    def _changed_in_python(self, change: Any) -> None:
        """A setting changed in Python (not by the front end): refit here, so ``model`` follows."""
        if change["name"] in self._property_lock or self.hand or self.method == "train":
            return
        self._refit()

    def _refit(self) -> None:
        body = {
            "target": {"formula": self.formula, "domain": list(self.domain)},
            "method": self.method,
            "units": self.units,
        }
        seq = self._arrive()
        try:
            _, payload, _ = self._api.handle("POST", "/api/fit", body)
        except ApiError as exc:
            raise ValueError(exc.message) from None
        self._set_model(payload["model"], payload.get("report"), seq)

    def _arrive(self) -> int:
        with self._lock:
            self._arrivals += 1
            return self._arrivals

    def _set_model(self, model: dict[str, Any], report: dict[str, Any] | None, seq: int) -> None:
        """Make ``model`` the current one, unless a request that came later already set one."""
        with self._lock:
            if seq < self._model_request:
                return
            self._model_request = seq
            text = ReluSum.from_dict(model).to_json()
            with self.hold_sync():  # one update message for both
                self.model_json = text
                if report is not None:
                    self.report = report

    # -------------------------------------------------------------- requests
    def _on_msg(self, _widget: Any, content: Any, buffers: Any) -> None:
        if not isinstance(content, dict) or content.get("type") != "request":
            return
        seq = self._arrive()
        lane = "sweep" if content.get("path") == "/api/sweep" else "fit"
        if lane == "sweep":
            self._latest_sweep = seq
        future = self._lanes[lane].submit(self._serve, content, seq)
        with self._lock:
            self._futures = [f for f in self._futures if not f.done()] + [future]

    def _serve(self, content: dict[str, Any], seq: int) -> None:
        try:
            reply, buffers = self.answer(content, seq)
            self.send(reply, buffers or None)
        except Exception:  # noqa: BLE001 - a failed send must not kill the lane
            log_to_stderr(f"relusum widget: internal error\n{traceback.format_exc()}")

    def answer(
        self, content: dict[str, Any], seq: int | None = None
    ) -> tuple[dict[str, Any], list[bytes]]:
        """The reply to one request message from the front end (and the buffers it carries).

        ``seq`` numbers the request in order of arrival (default: it arrives now).

        Examples
        --------
        >>> w = ExplorerWidget("x**2", domain=(0, 1), units=4)
        >>> reply, _ = w.answer({"type": "request", "id": 7, "method": "POST",
        ...                      "path": "/api/fit", "body": {"units": 0}})
        >>> reply["id"], reply["status"]
        (7, 400)
        >>> w.close()
        """
        if seq is None:
            seq = self._arrive()
        rid = content.get("id")
        path = content.get("path")
        method = content.get("method")
        body = content.get("body")
        out: dict[str, Any] = {"type": "response", "id": rid}
        if not isinstance(path, str) or method not in ("GET", "POST"):
            return {
                **out,
                "status": 400,
                "payload": {"error": "a request needs a method and a path"},
            }, []
        if path == "/api/sweep" and seq < self._latest_sweep:
            return {**out, "status": 409, "payload": {"error": "a newer sweep was asked for"}}, []
        try:
            status, payload, ctype = self._api.handle(method, path, body)
        except ApiError as exc:
            return {**out, "status": exc.status, "payload": exc.payload()}, []
        except Exception as exc:  # noqa: BLE001 - one line to the page, traceback to the log
            log_to_stderr(
                f"relusum widget: internal error on {path[:80]}\n{traceback.format_exc()}"
            )
            error = f"internal error ({type(exc).__name__})"
            return {**out, "status": 500, "payload": {"error": error}}, []
        self._record(seq, path, body, payload)
        out["status"] = status
        out["ctype"] = ctype
        if isinstance(payload, bytes):
            return {**out, "binary": True, "payload": None}, [payload]
        if ctype == "application/json":
            return {**out, "payload": json.loads(json.dumps(payload))}, []
        return {**out, "text": True, "payload": str(payload)}, []

    def _record(self, seq: int, path: str, body: Any, payload: Any) -> None:
        """The model the front end shows: a fit's, a measured hand-made one or a trained one."""
        if path == "/api/fit":
            self._set_model(payload["model"], payload.get("report"), seq)
        elif path == "/api/measure":
            model = self._api.model_spec(body)
            spec = self._api.target_spec(body)
            if spec.get("domain") is not None:
                model["domain"] = spec["domain"]
            else:
                xs = spec["data"]["x"]
                model["domain"] = [min(xs), max(xs)]
            self._set_model(model, payload, seq)
        elif path.startswith("/api/jobs/") and payload.get("state") == "done":
            result = payload["result"]
            self._set_model(result["model"], result.get("report"), seq)

    def _wait(self, timeout: float = 60.0) -> None:
        """Wait until every request received so far is answered (for tests and scripts)."""
        with self._lock:
            pending = list(self._futures)
        wait(pending, timeout=timeout)

    # ---------------------------------------------------------------- closing
    def _shutdown(self) -> None:
        for lane in getattr(self, "_lanes", {}).values():
            lane.shutdown(wait=False, cancel_futures=True)
        if getattr(self, "_api", None) is not None:
            self._api.close()

    def close(self) -> None:
        """Close the widget (its views disappear) and stop its threads and workers."""
        self._shutdown()
        super().close()

    def __repr__(self) -> str:
        m = self.model
        what = f"{m.n_units} units" if m is not None else "no model yet"
        return (
            f"ExplorerWidget({self.formula!r}, domain=({self.domain[0]}, {self.domain[1]}), "
            f"method={self.method!r}, {what})"
        )
