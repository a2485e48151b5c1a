"""The dashboard's page and its HTTP server (``_dashboard.py`` holds the rest).

``page(data, nodes)`` is the one HTML file (script and style inline, the graph
and, in a report, a ``batch`` of the whole run embedded as JSON); the server
answers ``/`` with it and ``/events`` with server-sent events: a ``batch`` of
what a browser has not seen yet, at most every ``BATCH`` seconds. Every request needs the
dashboard's token and a local ``Host`` header (see ``_dashboard.py``).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
import secrets
import selectors
import socket
import struct
import sys
import threading
from array import array
from collections.abc import Iterable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from socketserver import TCPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from webber._dashboard import Board, Dashboard

__all__ = [
    "BATCH", "Handler", "Seen", "Server", "Server6", "batch", "column", "page", "with_nodes",
]

#: seconds between two batches sent to one browser (the page redraws per batch)
BATCH = 0.1


# -- the page ---------------------------------------------------------------------------
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


@functools.cache
def _asset(name: str) -> str:
    return (resources.files("webber") / "_assets" / name).read_text(encoding="utf-8")


@functools.cache
def _script_digest() -> str:
    """The page script's sha256, which the page's Content-Security-Policy allows."""
    return base64.b64encode(hashlib.sha256(_asset("dashboard.js").encode()).digest()).decode()


def page(data: dict[str, Any], nodes: str) -> str:
    """The page with ``data`` and the graph ``nodes`` (already JSON, see
    ``Board.graph``) embedded, its script and style inline: one file that needs
    no network. The JSON is made safe to sit in a <script> element."""
    payload = _safe(with_nodes(data, nodes))
    parts = {
        "csp": _csp(_script_digest()),
        "style": _asset("dashboard.css"),
        "data": payload,
        "script": _asset("dashboard.js"),
    }
    # One pass: text put in is never searched for placeholders again.
    return _PLACEHOLDER.sub(lambda m: parts[m.group(1)], _asset("dashboard.html"))


def with_nodes(data: dict[str, Any], nodes: str) -> str:
    """``data`` as JSON, with the graph ``nodes`` (JSON already) as its ``"nodes"``."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False)[:-1] + ',"nodes":' + nodes + "}"


def _safe(text: str) -> str:
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _csp(script_digest: str) -> str:
    return (f"default-src 'none'; script-src 'sha256-{script_digest}'; "
            f"style-src 'unsafe-inline'; connect-src 'self'; img-src data:")


# -- what the page is sent -----------------------------------------------------------
#: where a page is in a Board's lists: ends, attempts, lines, tracebacks
Seen = tuple[int, int, int, int]


def batch(board: Board, since: Seen = (0, 0, 0, 0)) -> dict[str, Any]:
    """What ``board`` has that a page at ``since`` has not, as the page takes it::

        {"from": since, "to": [ends, attempts, lines, tracebacks],
         "att": {"node": I, "index": [...], "number": [...], "ok": [...],
                 "workers": [names], "worker": I (positions in workers),
                 "error": [...], "started": F, "duration": F},
         "end": {"node": I or true (the same as att's), "state": [...]},
         "line": [[node, stream, text], ...], "tb": [[node, text], ...],
         "run": [[node, index, number, worker, started], ...],  (all running now)
         "done": [duration, ok] or null}

    Columns (a third cheaper to make and encode than a list per attempt): a
    column whose values are all the same is sent as that value; F is the
    floats as little-endian doubles in base64 (a float in JSON costs more than
    the rest of its attempt), I whole numbers as little-endian uint32 in
    base64 (a node as its position in the graph's ``id``: three times cheaper
    to encode than its name). Read in the order the engine writes,
    backwards (an end after its attempts, an attempt after it left
    ``running``), so what is sent is whole: a task's end never comes before
    its attempts.
    """
    finished = board.finished
    to = _lengths(board)
    running = board.running.copy()
    rows, ends = board.attempts[since[1]:to[1]], board.ends[since[0]:to[0]]
    # The rows' columns (Attempt's fields in order), transposed in one go.
    node, number, index, ok, started, duration, workers, error = (
        zip(*rows, strict=True) if rows else [()] * 8)
    ended, states = zip(*ends, strict=True) if ends else [(), ()]
    lanes = {w: i for i, w in enumerate(dict.fromkeys(workers))}
    position = board.positions().__getitem__
    return {
        "from": since, "to": to,
        "att": {
            "node": _uint32(map(position, node)),
            "index": column(index),
            "number": column(number),
            "ok": column(ok),
            "workers": list(lanes),
            "worker": 0 if len(lanes) == 1 else _uint32(map(lanes.__getitem__, workers)),
            "error": column(error),
            "started": _doubles(started),
            "duration": _doubles(duration),
        },
        # Each task's end right after its one attempt, the usual case: said in one word.
        "end": {"node": True if ended and ended == node else _uint32(map(position, ended)),
                "state": column(states)},
        "line": board.lines[since[2]:to[2]],
        "tb": board.tracebacks[since[3]:to[3]],
        "run": [[n, i, number, worker, at] for (n, i), (number, worker, at) in running.items()],
        "done": board.outcome if finished else None,
    }


def column(values: Sequence[Any]) -> Any:
    """``values``, or its one value when all are the same (ok: all True, say);
    the page reads either (``col()`` in dashboard.js)."""
    if values and values.count(values[0]) == len(values):
        return values[0]
    return values


def _doubles(values: Sequence[float]) -> str:
    """Little-endian doubles in base64, as the page reads them (``DataView``)."""
    return base64.b64encode(struct.pack(f"<{len(values)}d", *values)).decode("ascii")


def _uint32(values: Iterable[int]) -> str:
    """Little-endian uint32 in base64, as the page reads them (``DataView``)."""
    packed = array("I", values)
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


# -- the server ---------------------------------------------------------------------------
class Server(ThreadingHTTPServer):
    daemon_threads = True
    dashboard: Dashboard

    def server_bind(self) -> None:
        """Bind, without HTTPServer's reverse DNS lookup of the address
        (``socket.getfqdn``: seconds on a machine whose resolver is slow, and
        the name is not used)."""
        TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def start(self) -> None:
        """Answer requests in a thread of its own until :meth:`stop`."""
        self._wake, self._waker = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, name="webber-dashboard", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        # Asleep until a request or stop() (serve_forever would wake up every
        # poll_interval: a few ms of CPU a second, for as long as it serves).
        with selectors.DefaultSelector() as selector:
            selector.register(self, selectors.EVENT_READ)
            selector.register(self._wake, selectors.EVENT_READ)
            try:
                while not any(key.fileobj is self._wake for key, _ in selector.select()):
                    self.handle_request()
            except (OSError, ValueError):
                pass  # closed under it

    def stop(self) -> None:
        """Stop answering (the thread ends at once) and free the port."""
        self._waker.send(b"x")
        self._thread.join(5)
        self.server_close()
        self._wake.close()
        self._waker.close()


class Server6(Server):
    address_family = socket.AF_INET6


class Handler(BaseHTTPRequestHandler):
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the caller's stderr is theirs."""

    def do_GET(self) -> None:
        dashboard = self.server.dashboard
        url = urlsplit(self.path)
        if not dashboard._host_ok(self.headers.get("Host", "")):
            self._send(403, "text/plain", b"webber dashboard: this Host is not allowed "
                                          b"(see Dashboard(allow_hosts=...))\n")
            return
        token = parse_qs(url.query).get("token", [""])[0]
        if not secrets.compare_digest(token.encode(), dashboard.token.encode()):
            self._send(403, "text/plain", b"webber dashboard: wrong or missing token "
                                          b"(use the URL webber printed)\n")
            return
        if url.path == "/":
            self._send(200, "text/html; charset=utf-8", dashboard._page().encode())
        elif url.path == "/events":
            self._events(dashboard, parse_qs(url.query).get("run", [""])[0])
        else:
            self._send(404, "text/plain", b"not found\n")

    def _send(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self._common_headers()
        self.end_headers()
        self.wfile.write(body)

    def _common_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")  # the token is in the URL
        self.send_header("X-Content-Type-Options", "nosniff")

    def _events(self, dashboard: Dashboard, run: str) -> None:
        """Server-sent events, for as long as the page is open: a :func:`batch`
        of the run shown when something changed, at most every BATCH seconds;
        when the dashboard shows another run, a ``run`` event with the page's
        data before that run's first batch (the page starts over with it, on
        this same stream)."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self._common_headers()
        self.end_headers()
        # A reconnecting EventSource says where it was: "run:ends.attempts.lines.tracebacks".
        page_run, seen = _resumed(self.headers.get("Last-Event-ID", ""), run)
        board: Board | None = None
        running: dict[Any, Any] = {}
        done, quiet, header = False, 0.0, b""
        try:
            while not dashboard._stopped.is_set():
                shown = dashboard.board
                if shown is not board:
                    graph = board.nodes_json if board is not None else None
                    board, running, done = shown, {}, False
                    if board is not None and not (str(board.number) == page_run
                                                  and _fits(seen, board)):
                        data, nodes = dashboard.shown(board)
                        if nodes is graph:  # the same flow again: the page keeps its graph
                            nodes = '"same"'
                        # Sent with the run's first batch, after BATCH or at its end:
                        # one write (and one wake-up of the page) for a short run.
                        header = b"event: run\ndata: %s\n\n" % with_nodes(data, nodes).encode()
                        seen = (0, 0, 0, 0)
                if board is not None and not done and (header or board.finished or
                                                       board.running != running or
                                                       seen != _lengths(board)):
                    if header and not board.finished:
                        quiet = _look(dashboard, quiet)  # wait for something to show
                    running = board.running.copy()
                    news = batch(board, seen)
                    seen, done, quiet = news["to"], news["done"] is not None, 0.0
                    self.wfile.write(header + b"id: %d:%d.%d.%d.%d\ndata: %s\n\n" % (
                        board.number, *seen, json.dumps(news, separators=(",", ":")).encode()))
                    header = b""
                elif quiet >= 15:
                    self.wfile.write(b": keep-alive\n\n")  # find out if the page left
                    quiet = 0.0
                if board is None or done:
                    _idle(self, dashboard, board)
                else:
                    quiet = _look(dashboard, quiet)
        except (BrokenPipeError, ConnectionResetError):
            return  # the page was closed


def _look(dashboard: Dashboard, quiet: float) -> float:
    """Wait for the next look (BATCH seconds), or the run's end; how long
    the stream has been quiet then."""
    with dashboard.changed:
        dashboard.changed.wait(BATCH)
    return quiet + BATCH


def _idle(handler: Handler, dashboard: Dashboard, board: Board | None) -> None:
    """Wait for another run to be shown (or the end); a comment now and then
    finds out whether the page is still there."""
    with dashboard.changed:
        if not dashboard.changed.wait_for(
                lambda: dashboard.board is not board or dashboard._stopped.is_set(), timeout=15):
            handler.wfile.write(b": keep-alive\n\n")


def _lengths(board: Board) -> Seen:
    return len(board.ends), len(board.attempts), len(board.lines), len(board.tracebacks)


def _fits(seen: Seen, board: Board) -> bool:
    return all(s <= h for s, h in zip(seen, _lengths(board), strict=True))


def _resumed(last: str, run: str) -> tuple[str, Seen]:
    """The run a page shows and how far it got: from a reconnecting page's
    Last-Event-ID, else its ``run`` parameter and nothing seen yet."""
    shown, _, where = last.partition(":")
    parts = where.split(".")
    if not shown.isdigit() or len(parts) != 4 or not all(p.isdigit() for p in parts):
        return run, (0, 0, 0, 0)
    return shown, (int(parts[0]), int(parts[1]), int(parts[2]), int(parts[3]))
