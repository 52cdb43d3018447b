"""The explorer's web application (Starlette): checks, static files, the JSON API and its queue.

Security model
    The app answers only requests whose one ``Host`` header names the
    address the server is bound to (``127.0.0.1:PORT``, ``localhost:PORT``,
    ``[::1]:PORT``, or the host it was told to bind), so a foreign web site
    cannot reach it by DNS rebinding; two ``Host`` headers, or a request line
    in absolute form (``GET http://evil.example/ HTTP/1.1``), are refused
    with 400.  ``POST`` requests must be ``application/json`` with a
    ``Content-Length`` within the body limit and, when they carry an
    ``Origin``, it must be the server's own.  Static files come from a fixed
    table built at start-up from the package's ``static/`` folder; nothing a
    request sends names a file.

Queue
    Work (every ``POST``) is admitted while fewer than ``workers +
    max_queue`` requests are in progress; beyond that the answer is ``503``
    with ``Retry-After`` at once.  An admitted request waits on the event loop
    (no thread) at most ``queue_seconds`` for a worker process (then ``503``
    with ``Retry-After``) and runs under the work's time limit
    (:mod:`relusum.explore.worker` kills it after that).

Errors
    A bug answers ``500`` with one line (``internal error (TypeError)``);
    its traceback goes to the server's error log (stderr by default).
"""

from __future__ import annotations

import json
import mimetypes
import traceback
from importlib import resources
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from relusum.explore.api import ApiError, ExploreApi

__all__ = ["build_app", "static_files"]

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
}

_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": _CSP,
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}

_DOWNLOAD_NAMES = {"application/octet-stream": "model.onnx", "application/json": "model.json"}

#: Seconds a client is told to wait (``Retry-After``) when the server is busy.
RETRY_AFTER = 2


def static_files() -> dict[str, tuple[bytes, str]]:
    """URL path -> (content, content type) for every file of the package's ``static/`` folder.

    Examples
    --------
    >>> files = static_files()
    >>> "/" in files and "/static/vendor/uPlot.iife.min.js" in files
    True
    """
    root = resources.files("relusum.explore") / "static"
    out: dict[str, tuple[bytes, str]] = {}

    def walk(node: Any, prefix: str) -> None:
        for child in node.iterdir():
            name = child.name
            if name.startswith(".") or name == "__pycache__":
                continue
            if child.is_dir():
                walk(child, f"{prefix}{name}/")
            else:
                suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
                ctype = _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "text/plain"
                if name.endswith("LICENSE"):
                    ctype = "text/plain; charset=utf-8"
                out[f"/static/{prefix}{name}"] = (child.read_bytes(), ctype)

    walk(root, "")
    if "/static/index.html" in out:
        out["/"] = out["/static/index.html"]
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _respond(
    status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None, close: bool = False
) -> Response:
    headers = dict(_SECURITY_HEADERS)
    if status in (429, 503):
        headers["Retry-After"] = str(RETRY_AFTER)
    if close:
        headers["Connection"] = "close"
    headers.update(extra or {})
    return Response(body, status_code=status, headers=headers, media_type=ctype)


def _json(status: int, payload: Any, close: bool = False) -> Response:
    return _respond(
        status, json.dumps(payload, allow_nan=False).encode(), "application/json", close=close
    )


def _error(exc: ApiError, close: bool = False) -> Response:
    return _json(exc.status, exc.payload(), close=close)


class _App:
    """The request handlers; ``server`` gives allowed hosts, the API, limits and the logs."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.api: ExploreApi = server.api
        self.files = static_files()
        limits = self.api.limits
        workers = self.api.pool.size
        self.capacity = workers + limits.max_queue
        self.in_progress = 0
        # Waiting for a worker costs no thread: a request takes a slot (one per worker process)
        # on the event loop first, and only then a thread to talk to its worker.
        self.slots = anyio.Semaphore(workers)
        self.limiter = anyio.CapacityLimiter(workers + 4)

    # ------------------------------------------------------------------ checks
    def check_request(self, request: Request) -> None:
        """Request line and ``Host``: one host header, naming this server; origin-form target."""
        raw = request.scope.get("raw_path") or request.scope["path"].encode()
        if not raw.startswith(b"/"):
            raise ApiError(400, "the request target must be a path (origin form), not a URL")
        hosts = [v for k, v in request.scope["headers"] if k == b"host"]
        if not hosts:
            raise ApiError(400, "the request has no Host header")
        if len(hosts) > 1:
            raise ApiError(400, "the request has more than one Host header")
        host = hosts[0].decode("latin-1")
        if host.strip().lower() not in self.server.allowed_hosts:
            raise ApiError(421, f"this server does not answer for host {host[:80]!r}")

    def check_origin(self, request: Request) -> None:
        origin = request.headers.get("origin")
        if origin is not None and origin.strip().lower() not in self.server.allowed_origins:
            raise ApiError(403, f"requests from origin {origin[:80]!r} are not allowed")
        site = request.headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            raise ApiError(403, f"cross-site requests are not allowed ({site})")

    async def read_body(self, request: Request) -> Any:
        """The JSON body, read within the body limit and time limit."""
        ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise ApiError(415, "send the request body as application/json")
        if request.headers.get("transfer-encoding"):
            raise ApiError(411, "send a Content-Length, not a chunked body")
        length = request.headers.get("content-length")
        if length is None:
            raise ApiError(411, "the request needs a Content-Length")
        try:
            n = int(length)
        except ValueError:
            raise ApiError(400, "Content-Length is not a number") from None
        limit = self.api.limits.max_body
        if n > limit:
            raise ApiError(
                413, f"the request body has {n:,} bytes; the limit is {limit:,}", limit=limit
            )
        chunks = []
        try:
            with anyio.fail_after(self.api.limits.body_seconds):
                async for chunk in request.stream():
                    chunks.append(chunk)
        except TimeoutError:
            raise ApiError(408, "the request body took too long to arrive") from None
        raw = b"".join(chunks)
        try:
            return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
            raise ApiError(400, f"the request body is not valid JSON: {exc}") from None
        except RecursionError:
            raise ApiError(400, "the request body is nested too deeply") from None

    async def drain(self, request: Request) -> None:
        """Read and drop what is left of a body (bounded), so the client can read our answer."""
        budget = 16 * self.api.limits.max_body
        try:
            with anyio.move_on_after(5):
                async for chunk in request.stream():
                    budget -= len(chunk)
                    if budget <= 0:
                        break
        except (ClientDisconnect, RuntimeError):
            pass

    # ---------------------------------------------------------------- handlers
    async def checks(self, scope: Any, receive: Any, send: Any, app: Any) -> None:
        """ASGI middleware: the request-line and ``Host`` checks, before any routing."""
        if scope["type"] == "http":
            request = Request(scope, receive)
            try:
                self.check_request(request)
            except ApiError as exc:
                if request.method not in ("GET", "HEAD"):
                    await self.drain(request)
                await _error(exc, close=True)(scope, receive, send)
                return
        await app(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        method = request.method
        path = request.scope["path"]
        try:
            if method in ("GET", "HEAD"):
                return self.get(path)
            if method != "POST":
                raise ApiError(405, f"method {method} is not allowed")
            self.check_origin(request)
            body = await self.read_body(request)
            return await self.post(path, body)
        except ApiError as exc:
            if method == "POST" or exc.status == 400:
                await self.drain(request)
                return _error(exc, close=True)
            return _error(exc)
        except ClientDisconnect:
            return _respond(400, b"", "text/plain", close=True)
        except Exception as exc:  # noqa: BLE001 - one line to the client, traceback to the log
            self.server.log_error(
                f"internal error on {method} {path[:80]}: "
                f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
            )
            return _error(ApiError(500, f"internal error ({type(exc).__name__})"), close=True)

    def get(self, path: str) -> Response:
        if path.startswith("/api/"):
            status, payload, _ = self.api.handle("GET", path, None)
            return _json(status, payload)
        if path == "/favicon.ico":
            return _respond(204, b"", "text/plain")
        entry = self.files.get(path)
        if entry is None:
            raise ApiError(404, f"not found: {path[:80]}")
        return _respond(200, entry[0], entry[1])

    async def post(self, path: str, body: Any) -> Response:
        if self.in_progress >= self.capacity:
            raise ApiError(
                503,
                f"the server is busy ({self.in_progress} requests in progress); "
                f"try again in {RETRY_AFTER} s",
                retry_after=RETRY_AFTER,
            )
        self.in_progress += 1
        try:
            if path == "/api/train":  # starts a job and answers at once
                status, payload, ctype = await anyio.to_thread.run_sync(
                    self.api.handle, "POST", path, body, limiter=self.limiter
                )
            else:
                with anyio.move_on_after(self.api.limits.queue_seconds) as waited:
                    await self.slots.acquire()
                if waited.cancel_called:
                    raise ApiError(
                        503,
                        "every worker stayed busy; try again in a moment",
                        retry_after=RETRY_AFTER,
                    )
                try:
                    status, payload, ctype = await anyio.to_thread.run_sync(
                        self.api.handle, "POST", path, body, limiter=self.limiter
                    )
                finally:
                    self.slots.release()
        finally:
            self.in_progress -= 1
        if ctype == "application/json" and not isinstance(payload, bytes):
            return _json(status, payload)
        data = payload if isinstance(payload, bytes) else str(payload).encode()
        name = _DOWNLOAD_NAMES.get(ctype, "relusum_model.py")
        return _respond(
            status, data, ctype, {"Content-Disposition": f'attachment; filename="{name}"'}
        )


def build_app(server: Any) -> Starlette:
    """The Starlette application of an :class:`~relusum.explore.server.ExploreServer`.

    ``server`` provides ``api``, ``allowed_hosts``, ``allowed_origins`` and
    ``log_error``.
    """
    handler = _App(server)
    methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"]

    class Checks:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            await handler.checks(scope, receive, send, self.app)

    app = Starlette(
        routes=[Route("/{path:path}", handler.handle, methods=methods)],
        middleware=[Middleware(Checks)],
    )
    app.state.handler = handler
    return app
