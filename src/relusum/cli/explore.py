"""``relusum explore``: start the local explorer page and print its address."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

EXAMPLES = """examples:
  relusum explore                 # http://127.0.0.1:8765/
  relusum explore --port 0 --open # a free port, opened in the web browser
"""


def _port(text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text.strip()!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0...65535 (0 = a free port), got {value}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explore",
        help="open a local web page to build and fit sums of shifted ReLUs",
        description="Serve the relusum explorer on this machine and print its URL. "
        "It binds to 127.0.0.1 unless --host says otherwise.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1; anything else is reachable by other machines)",
    )
    p.add_argument(
        "--port",
        type=_port,
        default=8765,
        metavar="P",
        help="TCP port (default 8765; 0 picks a free port)",
    )
    p.add_argument("--open", action="store_true", help="open the page in the web browser")
    p.add_argument(
        "--workers", type=int, default=2, metavar="N", help="worker processes for fits (default 2)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from relusum.explore.server import LOOPBACK_HOSTS, make_server

    host = args.host.strip().strip("[]")
    if not 1 <= args.workers <= 16:
        raise ValueError(f"--workers must be 1...16, got {args.workers}")
    if host not in LOOPBACK_HOSTS:
        print(
            f"relusum: warning: binding to {host!r}, not loopback: other machines on the network "
            "can use this server (it has no login)",
            file=sys.stderr,
        )
    try:
        server = make_server(host, args.port, workers=args.workers)
    except OSError as exc:
        raise ValueError(f"cannot listen on {host}:{args.port}: {exc.strerror or exc}") from None
    print(f"relusum explorer: {server.url}  (Ctrl+C to stop)", flush=True)
    if args.open:
        import webbrowser

        webbrowser.open(server.url)
    # uvicorn stops gracefully on SIGINT/SIGTERM and then re-raises the signal: make SIGTERM,
    # like Ctrl+C, end here, so the worker processes are always stopped below.
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        print("relusum explorer: stopped", file=sys.stderr)
        server.server_close()
        server.api.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
