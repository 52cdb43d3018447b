"""uvicorn's h11 protocol with two guards it lacks: a connection cap and a request read deadline.

uvicorn bounds keep-alive idle time (``timeout_keep_alive``) and the size of a
request head (``h11_max_incomplete_event_size``), but a client that opens a
connection and sends its headers one byte at a time (slowloris) is kept
forever, and nothing bounds how many such connections are open.  The
subclass made by :func:`guarded_protocol` adds:

* a **request deadline**: the request line and headers must arrive within
  ``header_seconds`` of the connection becoming ready for a request, and the
  whole request (body included) within ``body_seconds``; otherwise the
  connection is answered ``408`` (when something was received) and closed;
* a **connection cap**: at most ``max_connections`` are open.  A new
  connection over the cap evicts the oldest one that has not yet sent a
  complete request head (a slow or idle client); when every connection is
  busy with a real request, the new one is answered ``503`` with
  ``Retry-After`` and closed.

All of it runs on the event loop with timer handles: an idle connection
costs no thread.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["guarded_protocol"]


def _raw_response(status: int, reason: str, text: str, extra: str = "") -> bytes:
    body = text.encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n{extra}\r\n"
    ).encode() + body


_TIMEOUT = _raw_response(408, "Request Timeout", "the request took too long to arrive\n")
_BUSY = _raw_response(
    503, "Service Unavailable", "too many open connections; try again\n", "retry-after: 1\r\n"
)


class _GuardedH11(H11Protocol):
    max_connections: int = 1024
    header_seconds: float = 10.0
    body_seconds: float = 30.0
    #: Connections waiting for a complete request head, oldest first (shared per server).
    waiting: dict[_GuardedH11, None] = {}

    # ------------------------------------------------------------ connection
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._received = False
        if len(self.connections) > self.max_connections:
            oldest = next((p for p in self.waiting if p is not self), None)
            if oldest is None:  # every connection is busy with a request: refuse this one
                self.connections.discard(self)
                transport.write(_BUSY)
                transport.close()
                return
            oldest._drop(timeout=False)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._received = True
        super().data_received(data)

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:
            self.waiting.pop(self, None)  # the head is complete: no longer evictable

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._received = False
            self._arm()

    # -------------------------------------------------------------- deadline
    def _arm(self) -> None:
        self._disarm()
        if self.conn.their_state is h11.IDLE:
            self.waiting[self] = None
        self._deadline = self.loop.call_later(self.header_seconds, self._check, False)

    def _disarm(self) -> None:
        self.waiting.pop(self, None)
        if getattr(self, "_deadline", None) is not None:
            self._deadline.cancel()  # type: ignore[union-attr]
            self._deadline = None

    def _check(self, body_phase: bool) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        state = self.conn.their_state
        if state is h11.IDLE and not body_phase:
            self._drop(timeout=True)
        elif state is h11.SEND_BODY:
            if body_phase:
                self._drop(timeout=False)
            else:
                left = max(self.body_seconds - self.header_seconds, 0.0)
                self._deadline = self.loop.call_later(left, self._check, True)

    def _drop(self, timeout: bool) -> None:
        """Close the connection (with a 408 when it sent part of a request)."""
        self._disarm()
        if self.transport.is_closing():
            return
        if timeout and self._received and self.conn.our_state is h11.IDLE:
            self.transport.write(_TIMEOUT)
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.close()


def guarded_protocol(max_connections: int, header_seconds: float, body_seconds: float) -> type[Any]:
    """A protocol class for ``uvicorn.Config(http=...)`` with these bounds.

    Each call makes a new class with its own table of waiting connections,
    so two servers in one process do not share it.

    Examples
    --------
    >>> cls = guarded_protocol(100, 5.0, 20.0)
    >>> cls.max_connections, cls.header_seconds, cls.body_seconds
    (100, 5.0, 20.0)
    """
    if max_connections < 1:
        raise ValueError(f"max_connections must be at least 1, got {max_connections}")
    if not 0 < header_seconds <= body_seconds:
        raise ValueError(
            f"need 0 < header_seconds <= body_seconds, got {header_seconds} and {body_seconds}"
        )
    return type(
        "RelusumH11Protocol",
        (_GuardedH11,),
        {
            "max_connections": int(max_connections),
            "header_seconds": float(header_seconds),
            "body_seconds": float(body_seconds),
            "waiting": {},
        },
    )
