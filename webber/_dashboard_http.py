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
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from webber._dashboard import Board, Dashboard

__all__ = ["BATCH", "Handler", "Seen", "Server", "Server6", "batch", "page"]

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
    payload = _safe(json.dumps(data, separators=(",", ":"), allow_nan=False)[:-1]
                    + ',"nodes":' + nodes + "}")
    parts = {
        "csp": _csp(_script_digest()),
        "style": _asset("dashboard.css"),
        "data": payload,
        "script": _asset("dashboard.js"),
    }
    # One pass: text put in is never searched for placeholders again.
    return _PLACEHOLDER.sub(lambda m: parts[m.group(1)], _asset("dashboard.html"))


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
         "att": [[node, index, number, ok, started_us, duration_us, worker, error], ...],
         "end": [[node, state], ...], "line": [[node, stream, text], ...],
         "tb": [[node, text], ...],
         "run": [[node, index, number, worker, started_us], ...],  (all running now)
         "done": [duration, ok] or null}

    Times are whole microseconds from the run's start (ints: a fraction of the
    cost of floats to encode). Read in the order the engine writes backwards
    (an end after its attempts, an attempt after it left ``running``), so what
    is sent is whole: a task's end never comes before its attempts.
    """
    finished = board.finished
    to = (len(board.ends), len(board.attempts), len(board.lines), len(board.tracebacks))
    running = board.running.copy()
    t0 = board.started
    return {
        "from": since, "to": to,
        "att": [[a.node, a.index, a.number, a.ok, round((a.started - t0) * 1e6),
                 round(a.duration * 1e6), a.worker, a.error]
                for a in board.attempts[since[1]:to[1]]],
        "end": board.ends[since[0]:to[0]],
        "line": board.lines[since[2]:to[2]],
        "tb": board.tracebacks[since[3]:to[3]],
        "run": [[n, i, number, worker, round((at - t0) * 1e6)]
                for (n, i), (number, worker, at) in running.items()],
        "done": board.outcome if finished else None,
    }


# -- the server ---------------------------------------------------------------------------
class Server(ThreadingHTTPServer):
    daemon_threads = True
    dashboard: Dashboard


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
        """Server-sent events: a :func:`batch` of the run number ``run`` (the one
        the page shows) when something changed, at most every BATCH seconds;
        ``reload`` when the dashboard shows another run."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self._common_headers()
        self.end_headers()
        board, quiet = dashboard.board, 0.0
        seen = _resumed(self.headers.get("Last-Event-ID", ""), board)
        running: dict[Any, Any] = {}
        shown = str(board.number if board is not None else 0)
        try:
            while not dashboard._stopped.is_set():
                if dashboard.board is not board or shown != run:
                    self.wfile.write(b"event: reload\ndata: {}\n\n")
                    return
                if board is not None and (board.finished or board.running != running or seen != (
                        len(board.ends), len(board.attempts), len(board.lines),
                        len(board.tracebacks))):
                    running = board.running.copy()
                    news = batch(board, seen)
                    seen = news["to"]
                    body = json.dumps(news, separators=(",", ":"))
                    # id: a reconnecting EventSource sends it back as Last-Event-ID
                    self.wfile.write(b"id: %s\ndata: %s\n\n" % (
                        ".".join(map(str, seen)).encode(), body.encode()))
                    quiet = 0.0
                    if news["done"] is not None:
                        return  # the page has it all: it is a report now
                elif quiet >= 15:
                    self.wfile.write(b": keep-alive\n\n")  # find out if the page left
                    quiet = 0.0
                dashboard._stopped.wait(BATCH)
                quiet += BATCH
        except (BrokenPipeError, ConnectionResetError):
            return  # the page was closed


def _resumed(last: str, board: Board | None) -> Seen:
    """Where a reconnecting page was (its Last-Event-ID), if it fits ``board``."""
    parts = last.split(".")
    if board is None or len(parts) != 4 or not all(p.isdigit() for p in parts):
        return (0, 0, 0, 0)
    seen = (int(parts[0]), int(parts[1]), int(parts[2]), int(parts[3]))
    have = (len(board.ends), len(board.attempts), len(board.lines), len(board.tracebacks))
    return seen if all(s <= h for s, h in zip(seen, have, strict=True)) else (0, 0, 0, 0)
