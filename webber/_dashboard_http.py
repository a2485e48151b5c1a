"""The dashboard's page and its HTTP server (``_dashboard.py`` holds the rest).

``page(data)`` is the one HTML file (script and style inline, the run's log
embedded as JSON); the server answers ``/`` with it and ``/events`` with
server-sent events: the entries of the shown run's log that a browser has not
seen yet, batched at most every ``BATCH`` seconds. Every request needs the
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
    from webber._dashboard import Dashboard

__all__ = ["BATCH", "Handler", "Server", "Server6", "page"]

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


def page(data: dict[str, Any]) -> str:
    """The page with ``data`` embedded, its script and style inline: one file
    that needs no network. The JSON is made safe to sit in a <script> element."""
    payload = (json.dumps(data, separators=(",", ":"), allow_nan=False)
               .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))
    parts = {
        "csp": _csp(_script_digest()),
        "style": _asset("dashboard.css"),
        "data": payload,
        "script": _asset("dashboard.js"),
    }
    # One pass: text put in is never searched for placeholders again.
    return _PLACEHOLDER.sub(lambda m: parts[m.group(1)], _asset("dashboard.html"))


def _csp(script_digest: str) -> str:
    return (f"default-src 'none'; script-src 'sha256-{script_digest}'; "
            f"style-src 'unsafe-inline'; connect-src 'self'; img-src data:")


def _slim(chunk: list[list[Any]]) -> list[list[Any]]:
    """``chunk`` without the starts of attempts that end in it too: the page
    draws the attempt; the start would only be overwritten (a third less to send
    for short tasks)."""
    ended = {(e[1], e[2], e[3]) for e in chunk if e[0] == "attempt"}
    if not ended:
        return chunk
    return [e for e in chunk if e[0] != "start" or (e[1], e[2], e[3]) not in ended]


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
        """Server-sent events: ``{"at": i, "to": j, "log": [...]}``, entries i to j
        of the log of run number ``run`` (the one the page shows), at most every
        BATCH seconds; ``reload`` when the dashboard shows another run."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self._common_headers()
        self.end_headers()
        board, quiet = dashboard.board, 0.0
        resume = self.headers.get("Last-Event-ID", "")
        sent = int(resume) if resume.isdigit() and board and int(resume) <= len(board.log) else 0
        shown = str(board.number if board is not None else 0)
        try:
            while not dashboard._stopped.is_set():
                if dashboard.board is not board or shown != run:
                    self.wfile.write(b"event: reload\ndata: {}\n\n")
                    return
                if board is not None and len(board.log) > sent:
                    finished = board.finished
                    chunk = board.log[sent:]
                    end = sent + len(chunk)
                    body = json.dumps({"at": sent, "to": end, "log": _slim(chunk)},
                                      separators=(",", ":"))
                    # id: a reconnecting EventSource sends it back as Last-Event-ID
                    self.wfile.write(f"id: {end}\ndata: ".encode() + body.encode() + b"\n\n")
                    sent = end
                    quiet = 0.0
                    if finished and len(board.log) == sent:
                        return  # the page has it all: it is a report now
                elif quiet >= 15:
                    self.wfile.write(b": keep-alive\n\n")  # find out if the page left
                    quiet = 0.0
                dashboard._stopped.wait(BATCH)
                quiet += BATCH
        except (BrokenPipeError, ConnectionResetError):
            return  # the page was closed
