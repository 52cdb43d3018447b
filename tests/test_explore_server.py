"""The explorer's server under abuse: slow and idle connections (slowloris), many concurrent
requests (a queue, never a reset), strict request lines and JSON types, logged internal errors.

Every test talks to a server of its own on 127.0.0.1 only, with bounded counts and times.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import relusum
from relusum.explore import Limits, make_server
from relusum.explore.api import TORCH_NEEDED

SIN = {"formula": "sin(x)", "domain": ["-pi", "pi"]}


def _request(port, method, path, body=None, headers=None, timeout=60.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    hdrs = {"Host": f"127.0.0.1:{port}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    try:
        conn.request(method, path, body=data, headers=hdrs)
        res = conn.getresponse()
        payload = res.read()
    finally:
        conn.close()
    out = (
        json.loads(payload)
        if res.getheader("Content-Type", "").startswith("application/json") and payload
        else payload
    )
    return res.status, out, res


def _raw(port, data: bytes, timeout=10.0) -> bytes:
    """Send raw bytes; return everything the server sends until it closes (or the timeout)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except TimeoutError:
            pass
    return b"".join(chunks)


@pytest.fixture(scope="module")
def server():
    errors: list[str] = []
    srv = make_server(port=0, workers=2, error_log=errors.append).start()
    srv.errors = errors
    yield srv
    srv.close()


# ------------------------------------------------------------------ request line and Host
def test_absolute_form_request_line_is_refused(server):
    host = f"127.0.0.1:{server.port}"
    for target in ("http://evil.example/", f"http://{host}/api/info", "*"):
        answer = _raw(server.port, f"GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        assert answer.startswith(b"HTTP/1.1 400 "), (target, answer[:200])
        assert b"origin form" in answer


def test_two_host_headers_are_refused(server):
    host = f"127.0.0.1:{server.port}"
    for second in (host, "evil.example"):
        answer = _raw(
            server.port,
            f"GET /api/info HTTP/1.1\r\nHost: {host}\r\nHost: {second}\r\n\r\n".encode(),
        )
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]  # h11 or the app refuses
    # One Host header is fine.
    answer = _raw(
        server.port, f"GET /api/info HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    )
    assert answer.startswith(b"HTTP/1.1 200 ")


# ------------------------------------------------------------------ JSON types
WRONG = [{}, [], "text", 1.5, True, None, [1, [2]], {"a": {}}]

FIELDS = {
    # endpoint, body builder, field name the message must name
    "method": ("/api/fit", lambda v: {"target": SIN, "units": 4, "method": v}, "method"),
    "units": ("/api/fit", lambda v: {"target": SIN, "units": v}, "units"),
    "knots": ("/api/fit", lambda v: {"target": SIN, "units": 2, "knots": v}, "knots"),
    "target": ("/api/fit", lambda v: {"target": v, "units": 4}, "target"),
    "formula": ("/api/target", lambda v: {"target": {"formula": v, "domain": [0, 1]}}, "formula"),
    "domain": ("/api/target", lambda v: {"target": {"formula": "x", "domain": v}}, "domain"),
    "domain end": (
        "/api/target",
        lambda v: {"target": {"formula": "x", "domain": [v, 1]}},
        "domain",
    ),
    "samples": ("/api/target", lambda v: {"target": {**SIN, "samples": v}}, "samples"),
    "data": ("/api/target", lambda v: {"target": {"data": v}}, "data"),
    "data x": ("/api/target", lambda v: {"target": {"data": {"x": v, "y": [0, 1]}}}, "data x"),
    "sweep units": ("/api/sweep", lambda v: {"target": SIN, "units": v}, "units"),
    "model": ("/api/measure", lambda v: {"target": SIN, "model": v}, "model"),
    "model bias": (
        "/api/measure",
        lambda v: {"target": SIN, "model": {"bias": v, "knots": [0.0], "weights": [1.0]}},
        "bias",
    ),
    "model domain": (
        "/api/export",
        lambda v: {
            "format": "json",
            "model": {"bias": 0.0, "knots": [0.0], "weights": [1.0], "domain": v},
        },
        "domain",
    ),
    "format": (
        "/api/export",
        lambda v: {"model": {"bias": 0.0, "knots": [0.0], "weights": [1.0]}, "format": v},
        "format",
    ),
    "steps": ("/api/train", lambda v: {"target": SIN, "units": 2, "steps": v}, "steps"),
}


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_every_field_of_the_wrong_json_type_is_a_400_naming_it(server, field, monkeypatch):
    import relusum.explore.api as api_module

    if field == "steps":  # checked after the torch check: let it pass (no job can start)
        monkeypatch.setattr(api_module, "torch_available", lambda: True)
    path, build, name = FIELDS[field]
    for value in WRONG:
        if value is None and field in (
            "knots",
            "samples",
            "domain",
            "model domain",
            "steps",
            "data",
            "method",
        ):
            continue  # null means "not given" for optional fields
        if value == 1.5 and value is not True and field in ("model bias", "domain end"):
            continue  # a number is the right type there
        status, out, _ = _request(server.port, "POST", path, build(value))
        assert status != 500, (field, value, out)
        assert 400 <= status < 500, (field, value, status, out)
        if status == 400:
            assert name in out["error"], (field, value, out)
        assert len(out["error"].splitlines()) == 1
    assert server.errors == []


# ------------------------------------------------------------------ internal errors
def test_an_internal_error_is_one_line_to_the_client_and_a_traceback_in_the_log(monkeypatch):
    errors: list[str] = []
    srv = make_server(port=0, workers=1, error_log=errors.append).start()
    try:

        def broken():
            raise TypeError("injected bug")

        monkeypatch.setattr(srv.api, "info", broken)
        status, out, _ = _request(srv.port, "GET", "/api/info")
        assert status == 500
        assert out == {"error": "internal error (TypeError)", "status": 500}
        assert len(errors) == 1
        assert "Traceback (most recent call last)" in errors[0]
        assert "injected bug" in errors[0] and "broken" in errors[0]
    finally:
        srv.close()


def test_internal_errors_go_to_stderr_by_default(capfd, monkeypatch):
    srv = make_server(port=0, workers=1).start()
    try:

        def broken():
            raise KeyError("injected")

        monkeypatch.setattr(srv.api, "info", broken)
        status, out, _ = _request(srv.port, "GET", "/api/info")
    finally:
        srv.close()
    assert status == 500 and out["error"] == "internal error (KeyError)"
    err = capfd.readouterr().err
    assert "Traceback (most recent call last)" in err and "injected" in err


# ------------------------------------------------------------------ many at once
def _hammer(port, n, method, path, body, timeout):
    """``n`` requests at once (a barrier releases them together): (status, retry, error)."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def one(i):
        try:
            barrier.wait(timeout=30)
            start = time.monotonic()
            status, _, res = _request(port, method, path, body, timeout=timeout)
            results[i] = (status, res.getheader("Retry-After"), None, time.monotonic() - start)
        except Exception as exc:  # noqa: BLE001 - every failure is counted by the test
            results[i] = (None, None, f"{type(exc).__name__}: {exc}", None)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 60)
    return results


def test_200_concurrent_info_requests_are_all_answered(server):
    results = _hammer(server.port, 200, "GET", "/api/info", None, timeout=30)
    errors = [r[2] for r in results if r[2]]
    assert errors == [], errors[:5]
    assert all(r[0] == 200 for r in results)


def test_200_concurrent_fits_get_an_answer_each_within_the_time_limit(server):
    limit = server.api.limits.fit_seconds
    body = {"target": SIN, "units": 8, "method": "lstsq"}
    results = _hammer(server.port, 200, "POST", "/api/fit", body, timeout=limit + 10)
    errors = [r[2] for r in results if r[2]]
    assert errors == [], errors[:5]  # no reset, no timeout: an HTTP answer for everyone
    statuses = [r[0] for r in results]
    assert set(statuses) <= {200, 429, 503}, statuses
    assert statuses.count(200) >= 40
    for status, retry, _, _ in results:
        if status != 200:
            assert retry is not None and int(retry) >= 1
    assert max(r[3] for r in results) < limit


def test_a_full_queue_answers_503_with_retry_after_at_once():
    # One worker, a queue of 2: of 8 slow fits at once, 3 are taken and 5 refused at once.
    term = "sin(" * 20 + "x" + ")" * 20
    slow = {
        "target": {"formula": " + ".join([term] * 10), "domain": [0, 1], "samples": 20_000},
        "units": 200,
    }
    srv = make_server(port=0, workers=1, limits=Limits(max_queue=2)).start()
    try:
        results = _hammer(srv.port, 8, "POST", "/api/fit", slow, timeout=60)
        assert [r[2] for r in results if r[2]] == []
        busy = [r for r in results if r[0] == 503]
        assert len(busy) >= 5, results
        assert all(r[1] == "2" and r[3] < 2.0 for r in busy)
        assert sum(r[0] == 200 for r in results) >= 1
    finally:
        srv.close()


# ------------------------------------------------------------------ slow and idle clients
def test_a_slow_request_head_or_body_is_cut_off():
    limits = Limits(header_seconds=0.5, body_seconds=1.0)
    srv = make_server(port=0, workers=1, limits=limits).start()
    try:
        host = f"127.0.0.1:{srv.port}"
        start = time.monotonic()
        answer = _raw(srv.port, f"GET / HTTP/1.1\r\nHost: {host}\r\nX-Slow: ".encode())
        took = time.monotonic() - start
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:100]
        assert 0.4 < took < 3
        start = time.monotonic()
        answer = _raw(
            srv.port,
            f"POST /api/fit HTTP/1.1\r\nHost: {host}\r\nContent-Type: "
            'application/json\r\nContent-Length: 100\r\n\r\n{"units"'.encode(),
        )
        took = time.monotonic() - start
        assert answer == b"" or answer.startswith(b"HTTP/1.1 408 "), answer[:100]
        assert 0.8 < took < 4
        # Trickling one byte at a time does not extend the deadline.
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            start = time.monotonic()
            head = f"GET / HTTP/1.1\r\nHost: {host}\r\nX-Slow: {'a' * 100}".encode()
            closed = False
            for byte in head:
                try:
                    s.sendall(bytes([byte]))
                except OSError:
                    closed = True
                    break
                time.sleep(0.05)
                if time.monotonic() - start > 3:
                    break
            if not closed:
                s.settimeout(3)
                try:
                    data = s.recv(65536)
                    closed = data == b"" or data.startswith(b"HTTP/1.1 408")
                except OSError:
                    closed = True
            assert closed and time.monotonic() - start < 4
        assert _request(srv.port, "GET", "/api/info")[0] == 200
    finally:
        srv.close()


def test_connections_over_the_cap_push_out_the_idle_ones():
    srv = make_server(port=0, workers=1, limits=Limits(max_connections=64)).start()
    socks = []
    try:
        for _ in range(150):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            s.sendall(b"GET / HTTP/1.1\r\n")
            socks.append(s)
        time.sleep(0.3)
        assert srv.connections <= 64 + 2
        start = time.monotonic()
        assert _request(srv.port, "GET", "/api/info", timeout=5)[0] == 200
        assert time.monotonic() - start < 1.0
    finally:
        for s in socks:
            s.close()
        srv.close()


def _threads_and_sockets(pid):
    threads = len(os.listdir(f"/proc/{pid}/task"))
    sockets = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                sockets += 1
        except OSError:
            pass
    return threads, sockets


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs Linux /proc")
def test_slowloris_1000_idle_connections_then_recovery():
    """1,000 slow clients: a plain GET within 1 s; all back to baseline within 10 s after."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < 4096:  # this process holds the 1,000 clients
        want = 4096 if hard == resource.RLIM_INFINITY else min(4096, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    proc = subprocess.Popen(
        [sys.executable, "-m", "relusum", "explore", "--port", "0", "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    socks = []
    try:
        line = proc.stdout.readline()
        port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
        assert _request(port, "GET", "/api/info")[0] == 200
        time.sleep(0.5)
        base_threads, base_sockets = _threads_and_sockets(proc.pid)
        host = f"127.0.0.1:{port}"
        for i in range(1000):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(f"GET /?{i} HTTP/1.1\r\nHost: {host}\r\nX-a: ".encode())
            socks.append(s)
        time.sleep(0.5)
        threads, sockets = _threads_and_sockets(proc.pid)
        assert sockets >= base_sockets + 900  # the server really holds them
        assert threads <= base_threads + 2  # and no thread per connection
        for _ in range(3):
            start = time.monotonic()
            status, _, _ = _request(port, "GET", "/api/info", timeout=5)
            assert status == 200
            assert time.monotonic() - start < 1.0
        start = time.monotonic()
        assert _request(port, "GET", "/")[0] == 200
        assert time.monotonic() - start < 1.0
        for s in socks:
            s.close()
        socks.clear()
        end = time.monotonic() + 10
        while time.monotonic() < end:
            threads, sockets = _threads_and_sockets(proc.pid)
            if threads <= base_threads and sockets <= base_sockets:
                break
            time.sleep(0.2)
        assert threads <= base_threads and sockets <= base_sockets, (
            threads,
            sockets,
            base_threads,
            base_sockets,
        )
        assert _request(port, "GET", "/api/info", timeout=5)[0] == 200
    finally:
        for s in socks:
            s.close()
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "Traceback" not in err and "leaked" not in err


# ------------------------------------------------------------------ without torch
def test_without_torch_the_train_method_says_one_line(server, monkeypatch):
    import relusum.explore.api as api_module

    monkeypatch.setattr(api_module, "torch_available", lambda: False)
    info = server.api.methods()["train"]
    assert info["available"] is False and info["reason"] == TORCH_NEEDED
    status, out, _ = _request(server.port, "POST", "/api/train", {"target": SIN, "units": 2})
    assert status == 501 and out["error"] == TORCH_NEEDED


def test_the_training_task_names_the_extra_not_the_import_error(monkeypatch):
    from relusum.explore.tasks import task_train

    monkeypatch.setitem(sys.modules, "relusum.torch_bridge", None)
    # An earlier test may have imported it: `from relusum import torch_bridge` would then
    # find the package attribute and never consult sys.modules.
    monkeypatch.delattr(relusum, "torch_bridge", raising=False)
    with pytest.raises(ValueError) as info:
        task_train(
            {"formula": "x", "domain": [0, 1], "samples": 10}, 2, 1, 0, progress=lambda f, w: None
        )
    assert str(info.value) == TORCH_NEEDED
    assert "No module named" not in str(info.value)


# ------------------------------------------------------------------ shutdown
def test_a_worker_killed_during_a_progress_bar_leaks_no_semaphore():
    """tqdm's default lock is a tracked semaphore under forkserver (newer Pythons' default)."""
    code = """if True:
        import multiprocessing as mp
        from relusum.explore.worker import WorkerPool, WorkTimeout
        mp.set_start_method("forkserver")
        pool = WorkerPool(size=1)
        try:
            pool.call("sleep", {"seconds": 30.0, "bar": True}, timeout=2.0)
        except WorkTimeout:
            print("killed")
        pool.close()
    """
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "killed", out.stderr
    assert "leaked" not in out.stderr and "Traceback" not in out.stderr, out.stderr
