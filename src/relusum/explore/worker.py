"""Worker processes with a real time limit: a run over its time is killed, not abandoned.

:class:`WorkerPool` keeps a few long-lived processes (started with the
``spawn`` context, so they share nothing with the server's threads) that run
the functions named in :data:`relusum.explore.tasks.TASKS`.  A call that runs
past its ``timeout`` kills its process, starts a replacement in the
background and raises :class:`WorkTimeout`.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

__all__ = ["WorkerPool", "InlinePool", "WorkTimeout", "WorkBusy", "WorkFailed", "WorkError"]


class WorkTimeout(Exception):
    """The work ran over its time limit; its process was killed."""


class WorkBusy(Exception):
    """Every worker stayed busy for longer than the wait allowed."""


class WorkFailed(Exception):
    """The worker process died or raised an unexpected error; ``details`` has its traceback."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


class WorkError(ValueError):
    """A user error raised inside the worker (``ValueError``), carried back.

    ``kind`` is ``"formula"`` for a :class:`relusum.formula.FormulaError`
    (``column`` then says where), else ``"value"``.
    """

    def __init__(self, message: str, kind: str = "value", column: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.column = column


def _worker_main(conn: Any) -> None:  # pragma: no cover - runs in the child process
    """Loop of a worker process: receive ``(name, kwargs)``, run, send the outcome."""
    import os
    import sys

    # A worker has no terminal: progress bars and stray output go nowhere.
    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    sys.stdout = sys.stderr = devnull
    # tqdm's default lock is a multiprocessing semaphore: a worker killed at its time limit
    # would leave it registered, and the resource tracker would report it leaked at shutdown.
    import threading

    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())
    import relusum.fitting  # noqa: F401 - warm the imports before the first request

    # Compile (first run after an install) or load the fitting kernels now, before the
    # worker says it is ready: inside a request they would count against its time limit.
    try:
        from relusum.fitting.warm import warm_kernels

        warm_kernels()
    except Exception:  # noqa: BLE001 - a failed warm-up only means the first fit compiles
        pass
    from relusum.explore.tasks import TASKS
    from relusum.formula import FormulaError

    conn.send(("ready", os.getpid()))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        name, kwargs = msg
        if kwargs.pop("_progress", False):

            def progress(fraction: float, what: str = "") -> None:
                conn.send(("progress", float(fraction), str(what)))

            kwargs["progress"] = progress
        try:
            out = TASKS[name](**kwargs)
        except FormulaError as exc:
            conn.send(("error", "formula", str(exc), exc.column))
        except ValueError as exc:
            conn.send(("error", "value", str(exc), None))
        except Exception as exc:  # noqa: BLE001 - reported to the server, which answers 500
            tb = traceback.format_exc(limit=20)
            conn.send(("failed", f"{type(exc).__name__}: {exc}", tb))
        else:
            conn.send(("ok", out))


class _Worker:
    def __init__(self, ctx: Any) -> None:
        parent, child = ctx.Pipe()
        self.conn = parent
        self.process = ctx.Process(
            target=_worker_main, args=(child,), daemon=True, name="relusum-explore-worker"
        )
        self.process.start()
        child.close()
        self.pid: int | None = None

    def wait_ready(self, timeout: float) -> bool:
        if self.pid is not None:
            return True
        if not self.conn.poll(timeout):
            return False
        tag, pid = self.conn.recv()
        self.pid = int(pid)
        return tag == "ready"

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.join(5)
        finally:
            self.conn.close()


class WorkerPool:
    """A few worker processes that run :data:`~relusum.explore.tasks.TASKS` with a time limit.

    Parameters
    ----------
    size : int
        Number of processes.
    context : {"spawn", "forkserver"}
        The multiprocessing start method (never ``fork``: the server has threads).

    Examples
    --------
    >>> pool = WorkerPool(size=1)
    >>> pool.call("sleep", {"seconds": 0.0}, timeout=30)["slept"]
    0.0
    >>> pool.close()
    """

    def __init__(self, size: int = 2, context: str = "spawn") -> None:
        if context not in ("spawn", "forkserver"):
            raise ValueError(f"context must be 'spawn' or 'forkserver', got {context!r}")
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self.size = size
        self._ctx = mp.get_context(context)
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._lock = threading.Lock()
        self._closed = False
        self._all: set[_Worker] = set()
        self._adding: set[threading.Thread] = set()
        self.kills = 0
        for _ in range(size):
            self._add()

    def _add(self) -> None:
        with self._lock:
            if self._closed:
                return
        w = _Worker(self._ctx)
        with self._lock:
            if self._closed:
                w.kill()
                return
            self._all.add(w)
        self._idle.put(w)

    def _replace(self, w: _Worker) -> None:
        with self._lock:
            self._all.discard(w)
        w.kill()

        def add() -> None:
            try:
                self._add()
            finally:
                with self._lock:
                    self._adding.discard(thread)

        thread = threading.Thread(target=add, daemon=True, name="relusum-explore-add-worker")
        with self._lock:
            if self._closed:
                return
            self._adding.add(thread)
        thread.start()

    def pids(self) -> list[int]:
        """Process ids of the live workers (for tests and diagnostics)."""
        with self._lock:
            return [w.process.pid for w in self._all if w.process.pid is not None]

    def call(
        self,
        name: str,
        kwargs: dict[str, Any],
        timeout: float,
        wait: float = 30.0,
        on_progress: Callable[[float, str], None] | None = None,
        on_start: Callable[[int], None] | None = None,
    ) -> Any:
        """Run ``TASKS[name](**kwargs)`` in a worker and return its result.

        Raises :class:`WorkTimeout` (the process is killed) after ``timeout``
        seconds, :class:`WorkBusy` when no worker is free within ``wait``
        seconds, :class:`WorkError` for a ``ValueError`` in the task and
        :class:`WorkFailed` for anything else.
        """
        if self._closed:
            raise WorkFailed("the worker pool is closed")
        deadline_wait = time.monotonic() + wait
        while True:
            try:
                w = self._idle.get(timeout=max(deadline_wait - time.monotonic(), 0.001))
            except queue.Empty:
                raise WorkBusy("all workers are busy; try again in a moment") from None
            if w.process.is_alive() and w.wait_ready(max(deadline_wait - time.monotonic(), 1.0)):
                break
            self._replace(w)
        kwargs = dict(kwargs)
        if on_progress is not None:
            kwargs["_progress"] = True
        if on_start is not None:
            on_start(w.process.pid or 0)
        try:
            w.conn.send((name, kwargs))
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not w.conn.poll(left):
                    self.kills += 1
                    self._replace(w)
                    raise WorkTimeout(
                        f"the work ran over its time limit of {timeout:g} s and was stopped"
                    )
                msg = w.conn.recv()
                if msg[0] == "progress":
                    if on_progress is not None:
                        try:
                            on_progress(msg[1], msg[2])
                        except Exception:  # noqa: BLE001 - a progress display must not stop work
                            pass
                    continue
                break
        except (EOFError, OSError, BrokenPipeError) as exc:
            self._replace(w)
            raise WorkFailed(f"the worker process stopped unexpectedly ({exc})") from None
        self._idle.put(w)
        if msg[0] == "ok":
            return msg[1]
        if msg[0] == "error":
            raise WorkError(msg[2], kind=msg[1], column=msg[3])
        raise WorkFailed(msg[1], msg[2] if len(msg) > 2 else "")

    def close(self) -> None:
        """Stop every worker process (waiting for replacements being started, so that none
        is cut off half-way through its start)."""
        with self._lock:
            self._closed = True
            adding = list(self._adding)
        for thread in adding:
            thread.join(30)
        with self._lock:
            workers = list(self._all)
            self._all.clear()
        for w in workers:
            try:
                w.conn.send(None)
            except (OSError, BrokenPipeError):
                pass
            w.process.join(1)
            if w.process.is_alive():
                w.kill()
            else:
                w.conn.close()


class InlinePool:
    """Runs :data:`~relusum.explore.tasks.TASKS` in the calling thread: no process, no time limit.

    The notebook widget uses it to run fits in the kernel itself (the size limits of
    :class:`~relusum.explore.api.Limits` still apply).  Errors are raised as by
    :meth:`WorkerPool.call`.

    Examples
    --------
    >>> InlinePool().call("sleep", {"seconds": 0.0}, timeout=30)["slept"]
    0.0
    """

    size = 1
    kills = 0

    def call(
        self,
        name: str,
        kwargs: dict[str, Any],
        timeout: float,
        wait: float = 30.0,
        on_progress: Callable[[float, str], None] | None = None,
        on_start: Callable[[int], None] | None = None,
    ) -> Any:
        """Run ``TASKS[name](**kwargs)`` here; ``timeout`` and ``wait`` are not enforced."""
        from relusum.explore.tasks import TASKS
        from relusum.formula import FormulaError

        if name not in TASKS:
            raise WorkFailed(f"no such task {name!r}")
        kwargs = dict(kwargs)
        if on_progress is not None:

            def progress(fraction: float, what: str = "") -> None:
                try:
                    on_progress(float(fraction), str(what))
                except Exception:  # noqa: BLE001 - a progress display must not stop work
                    pass

            kwargs["progress"] = progress
        try:
            return TASKS[name](**kwargs)
        except FormulaError as exc:
            raise WorkError(str(exc), kind="formula", column=exc.column) from None
        except ValueError as exc:
            raise WorkError(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - reported like a worker's failure (a 500)
            tb = traceback.format_exc(limit=20)
            raise WorkFailed(f"{type(exc).__name__}: {exc}", tb) from None

    def pids(self) -> list[int]:
        """No processes of its own."""
        return []

    def close(self) -> None:
        """Nothing to stop."""
