"""The explorer's HTTP server: standard library only, loopback by default.

Security model
    The server answers only requests whose ``Host`` header names the address
    it is bound to (``127.0.0.1:PORT``, ``localhost:PORT``, ``[::1]:PORT``, or
    the host it was told to bind), so a foreign web site cannot reach it by
    DNS rebinding.  ``POST`` requests must be ``application/json`` and, when
    they carry an ``Origin``, it must be the server's own.  Static files come
    from a fixed list built at start-up from the package's ``static/`` folder;
    nothing a request sends names a file.  All work runs in worker processes
    with a time limit (:mod:`relusum.explore.worker`).
"""

from __future__ import annotations

import json
import mimetypes
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from relusum.explore.api import ApiError, ExploreApi, Limits

__all__ = ["ExploreServer", "make_server", "static_files", "LOOPBACK_HOSTS"]

#: Host names that mean this machine.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

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


class _Handler(BaseHTTPRequestHandler):
    server: ExploreServer
    server_version = "relusum-explore"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms delayed-ACK wait

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.server.log is not None:
            self.server.log(format % args)

    # ------------------------------------------------------------- answering
    def _send(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None
              ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Content-Security-Policy", _CSP)
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Cache-Control", "no-store")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload, allow_nan=False).encode(), "application/json")

    def _error(self, exc: ApiError) -> None:
        if self.command == "POST":
            self.close_connection = True  # the body may be unread
        self._json(exc.status, exc.payload())

    # ---------------------------------------------------------------- checks
    def _check_host(self) -> None:
        host = self.headers.get("Host")
        if host is None:
            raise ApiError(400, "the request has no Host header")
        if host.strip().lower() not in self.server.allowed_hosts:
            raise ApiError(421, f"this server does not answer for host {host[:80]!r}")

    def _check_origin(self) -> None:
        origin = self.headers.get("Origin")
        if origin is not None and origin.strip().lower() not in self.server.allowed_origins:
            raise ApiError(403, f"requests from origin {origin[:80]!r} are not allowed")
        site = self.headers.get("Sec-Fetch-Site")
        if site is not None and site not in ("same-origin", "none"):
            raise ApiError(403, f"cross-site requests are not allowed ({site})")

    def _read_body(self) -> Any:
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise ApiError(415, "send the request body as application/json")
        if self.headers.get("Transfer-Encoding"):
            raise ApiError(411, "send a Content-Length, not a chunked body")
        length = self.headers.get("Content-Length")
        if length is None:
            raise ApiError(411, "the request needs a Content-Length")
        try:
            n = int(length)
        except ValueError:
            raise ApiError(400, "Content-Length is not a number") from None
        if n < 0:
            raise ApiError(400, "Content-Length is negative")
        limit = self.server.api.limits.max_body
        if n > limit:
            self.close_connection = True
            self._discard(min(n, 16 * limit))  # so the client can read the answer
            raise ApiError(413, f"the request body has {n:,} bytes; the limit is {limit:,}",
                           limit=limit)
        raw = self.rfile.read(n)
        try:
            return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
            raise ApiError(400, f"the request body is not valid JSON: {exc}") from None
        except RecursionError:
            raise ApiError(400, "the request body is nested too deeply") from None

    def _discard(self, n: int) -> None:
        self.connection.settimeout(5)
        try:
            while n > 0:
                chunk = self.rfile.read(min(n, 1 << 16))
                if not chunk:
                    break
                n -= len(chunk)
        except OSError:
            pass

    # --------------------------------------------------------------- methods
    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        try:
            self._check_host()
            path = urlsplit(self.path).path
            if path.startswith("/api/"):
                status, payload, ctype = self.server.api.handle("GET", path, None)
                self._json(status, payload)
                return
            if path == "/favicon.ico":
                self._send(204, b"", "text/plain")
                return
            entry = self.server.files.get(path)
            if entry is None:
                raise ApiError(404, f"not found: {path[:80]}")
            self._send(200, entry[0], entry[1])
        except ApiError as exc:
            self._error(exc)
        except Exception as exc:  # noqa: BLE001 - never a traceback to the client
            self._internal(exc)

    do_HEAD = do_GET

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        try:
            self._check_host()
            self._check_origin()
            body = self._read_body()
            path = urlsplit(self.path).path
            status, payload, ctype = self.server.api.handle("POST", path, body)
            if ctype == "application/json" and not isinstance(payload, bytes):
                self._json(status, payload)
            else:
                data = payload if isinstance(payload, bytes) else str(payload).encode()
                names = {"application/octet-stream": "model.onnx",
                         "application/json": "model.json"}
                name = names.get(ctype, "relusum_model.py")
                self._send(status, data, ctype,
                           {"Content-Disposition": f'attachment; filename="{name}"'})
        except ApiError as exc:
            self._error(exc)
        except Exception as exc:  # noqa: BLE001 - never a traceback to the client
            self._internal(exc)

    def _internal(self, exc: Exception) -> None:
        if self.server.log is not None:
            self.server.log(f"internal error: {type(exc).__name__}: {exc}")
        try:
            self._error(ApiError(500, f"internal error ({type(exc).__name__})"))
        except OSError:
            pass

    def _not_allowed(self) -> None:
        try:
            self._check_host()
            raise ApiError(405, f"method {self.command} is not allowed")
        except ApiError as exc:
            self._error(exc)

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed


def _own_names() -> set[str]:
    """This machine's host name and addresses (for a server bound to every interface)."""
    names = {socket.gethostname().lower()}
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            names.add(str(info[4][0]).lower())
    except OSError:
        pass
    return names


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


class ExploreServer(ThreadingHTTPServer):
    """The explorer's server; ``url`` is where the page is.

    Create it with :func:`make_server`; run it with ``serve_forever()`` (or
    :meth:`start` for a background thread) and stop it with :meth:`close`.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, api: ExploreApi, log: Any = None) -> None:
        self.api = api
        self.log = log
        self.files = static_files()
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _Handler)
        self.host = host
        self.port = int(self.server_address[1])
        names = {host.lower(), *LOOPBACK_HOSTS} if host in LOOPBACK_HOSTS else {host.lower()}
        if host in ("0.0.0.0", "::"):
            names |= set(LOOPBACK_HOSTS) | _own_names()
        hosts = set()
        for name in names:
            shown = f"[{name}]" if ":" in name else name
            hosts.add(f"{shown}:{self.port}")
            if self.port == 80:
                hosts.add(shown)
        self.allowed_hosts = frozenset(hosts)
        self.allowed_origins = frozenset(f"http://{h}" for h in hosts)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The page's address, e.g. ``http://127.0.0.1:8765/``."""
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}/"

    def start(self) -> ExploreServer:
        """Serve in a background (daemon) thread; returns ``self``."""
        self._thread = threading.Thread(target=self.serve_forever, daemon=True,
                                        name="relusum-explore-server")
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, close the socket and stop the worker processes."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join(5)
        self.server_close()
        self.api.close()


def make_server(
    host: str = "127.0.0.1",
    port: int = 8765,
    limits: Limits | None = None,
    workers: int = 2,
    log: Any = None,
) -> ExploreServer:
    """Create the explorer's server (not yet serving); ``port=0`` picks a free port.

    Parameters
    ----------
    host : str
        Address to bind; loopback by default.
    port : int
        TCP port; 0 for a free one (see ``server.port``).
    limits : Limits, optional
        Request bounds and time limits.
    workers : int
        Worker processes for fits.
    log : callable, optional
        Called with one line per request (default: silent).

    Examples
    --------
    >>> srv = make_server(port=0, workers=1).start()
    >>> srv.url.startswith("http://127.0.0.1:")
    True
    >>> srv.close()
    """
    from relusum.explore.worker import WorkerPool

    pool = WorkerPool(size=workers)
    api = ExploreApi(limits=limits, pool=pool)
    try:
        return ExploreServer(host, port, api, log=log)
    except BaseException:
        api.close()
        raise
