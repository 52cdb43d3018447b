"""The explorer's HTTP server: uvicorn serving the Starlette app, loopback by default.

uvicorn (asyncio, h11) holds every connection on one event loop, so an idle
or slow client costs a timer and a socket, never a thread.  On top of
uvicorn's own bounds (keep-alive idle time, size of a request head, listen
backlog, concurrency limit) the protocol of :mod:`relusum.explore.protocol`
caps the open connections and gives each request a deadline for its head and
its body.  The checks on every request (Host, Origin, body limits) and the
bounded queue in front of the worker processes are in
:mod:`relusum.explore.app`; the work runs in :mod:`relusum.explore.worker`
processes that are killed at their time limit.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

from relusum.explore.api import ExploreApi, Limits, log_to_stderr

__all__ = ["ExploreServer", "make_server", "static_files", "LOOPBACK_HOSTS"]

#: Host names that mean this machine.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

#: Pending connections the kernel queues before the server accepts them.
BACKLOG = 2048

#: Seconds an idle keep-alive connection stays open between requests.
KEEP_ALIVE_SECONDS = 5

#: Bytes of a request line and headers (h11's limit; more is answered 400).
MAX_HEAD_BYTES = 16 * 1024


def static_files() -> dict[str, tuple[bytes, str]]:
    """URL path -> (content, content type) of the page's files (see :mod:`relusum.explore.app`).

    Examples
    --------
    >>> "/" in static_files()
    True
    """
    from relusum.explore.app import static_files as files

    return files()


def _own_names() -> set[str]:
    """This machine's host name and addresses (for a server bound to every interface)."""
    names = {socket.gethostname().lower()}
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            names.add(str(info[4][0]).lower())
    except OSError:
        pass
    return names


def _raise_fd_limit(want: int) -> int:
    """Raise the soft limit of open files towards ``want`` (within the hard limit); return it."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Unix
        return want
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            soft = new
        except (ValueError, OSError):
            pass
    return want if soft == resource.RLIM_INFINITY else int(soft)


class ExploreServer:
    """The explorer's server; ``url`` is where the page is.

    Create it with :func:`make_server`; run it with :meth:`serve_forever`
    (or :meth:`start` for a background thread) and stop it with :meth:`close`.

    Attributes
    ----------
    max_connections : int
        Open connections allowed at once (the limit of open files permitting).
    """

    def __init__(
        self, host: str, port: int, api: ExploreApi, log: Any = None, error_log: Any = None
    ) -> None:
        import uvicorn

        from relusum.explore.app import build_app
        from relusum.explore.protocol import guarded_protocol

        self.api = api
        self.log = log
        self.log_error = error_log or log_to_stderr
        api.error_log = self.log_error
        limits = api.limits
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(BACKLOG)  # connections queue from now on, before the loop runs
        except BaseException:
            sock.close()
            raise
        self.socket = sock
        self.host = host
        self.port = int(sock.getsockname()[1])
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
        fds = _raise_fd_limit(limits.max_connections + 256)
        self.max_connections = max(16, min(limits.max_connections, fds - 128))
        self.app = build_app(self)
        protocol = guarded_protocol(
            self.max_connections, limits.header_seconds, limits.body_seconds
        )
        self.config = uvicorn.Config(
            self.app,
            http=protocol,
            ws="none",
            lifespan="off",
            loop="asyncio",
            log_config=None,
            log_level="warning",
            access_log=False,
            server_header=False,
            backlog=BACKLOG,
            limit_concurrency=2 * self.max_connections,  # a backstop: the protocol caps first
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
            timeout_graceful_shutdown=3,
            h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        )
        logging.getLogger("uvicorn.error").setLevel(logging.ERROR)
        self._uv = uvicorn.Server(self.config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The page's address, e.g. ``http://127.0.0.1:8765/``."""
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}/"

    @property
    def connections(self) -> int:
        """Connections open now."""
        return len(self._uv.server_state.connections)

    def serve_forever(self) -> None:
        """Serve until :meth:`shutdown` (or, in the main thread, SIGINT/SIGTERM)."""
        self._uv.run(sockets=[self.socket])

    def start(self, timeout: float = 30.0) -> ExploreServer:
        """Serve in a background (daemon) thread; returns ``self`` once it is serving."""
        self._thread = threading.Thread(
            target=self.serve_forever, daemon=True, name="relusum-explore-server"
        )
        self._thread.start()
        end = time.monotonic() + timeout
        while not self._uv.started:
            if not self._thread.is_alive() or time.monotonic() > end:
                raise RuntimeError("the explorer's server did not start")
            time.sleep(0.01)
        return self

    def shutdown(self) -> None:
        """Stop serving (from another thread)."""
        self._uv.should_exit = True
        if self._thread is not None:
            self._thread.join(10)

    def server_close(self) -> None:
        """Close the listening socket."""
        self.socket.close()

    def close(self) -> None:
        """Stop serving, close the socket and stop the worker processes."""
        self.shutdown()
        self.server_close()
        self.api.close()


def make_server(
    host: str = "127.0.0.1",
    port: int = 8765,
    limits: Limits | None = None,
    workers: int = 2,
    log: Any = None,
    error_log: Any = None,
) -> ExploreServer:
    """Create the explorer's server (not yet serving); ``port=0`` picks a free port.

    Parameters
    ----------
    host : str
        Address to bind; loopback by default.
    port : int
        TCP port; 0 for a free one (see ``server.port``).
    limits : Limits, optional
        Request bounds, time limits, connection and queue bounds.
    workers : int
        Worker processes for fits.
    log : callable, optional
        Kept for compatibility (requests are not logged).
    error_log : callable, optional
        Called with the text (traceback included) of every internal error;
        default: printed to stderr.

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
        return ExploreServer(host, port, api, log=log, error_log=error_log)
    except BaseException:
        api.close()
        raise
