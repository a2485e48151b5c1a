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
import sys
import threading
import time
from array import array
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from socketserver import TCPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from webber._dashboard import Board, Dashboard
    from webber._dashboard_columns import Columns
    from webber._plan import Plan

__all__ = [
    "AWAKE", "BATCH", "KEEP_ALIVE", "NO_GRAPH", "Handler", "Seen", "Server", "Server6", "Stream",
    "batch", "batch_event", "batch_parts", "column", "graph", "page", "run_event", "with_nodes",
]

#: seconds between two batches sent to one browser (the page redraws per batch)
BATCH = 0.1
#: seconds a page's thread keeps looking for the next run every BATCH after
#: the last one, before it sleeps until one is shown (see ``_idle``)
AWAKE = 10.0
#: seconds of silence after which a page is sent a comment (to find out it left)
KEEP_ALIVE = 15.0
#: send() that never blocks (0 where there is none: Windows; pages' threads write
#: then), nor raises SIGPIPE in a program that restored its default action
_DONTWAIT: int = getattr(socket, "MSG_DONTWAIT", 0) and (
    socket.MSG_DONTWAIT | getattr(socket, "MSG_NOSIGNAL", 0))
#: JSON as the page takes it (no spaces; NaN refused)
_json = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


# -- the page ---------------------------------------------------------------------------
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


@functools.cache
def _asset(name: str) -> str:
    return (resources.files("webber") / "_assets" / name).read_text(encoding="utf-8")


@functools.cache
def _script_digest() -> str:
    """The page script's sha256, which the page's Content-Security-Policy allows."""
    return base64.b64encode(hashlib.sha256(_asset("dashboard.js").encode()).digest()).decode()


def page(data: dict[str, Any], nodes: str, news: str | None = None) -> str:
    """The page with ``data``, the graph ``nodes`` (already JSON, see
    ``Board.graph``) and, in a report, the whole run's ``news`` (a
    :func:`batch`'s JSON) embedded, its script and style inline: one file that
    needs no network. The JSON is made safe to sit in a <script> element."""
    payload = _safe(with_nodes(data, nodes, news))
    parts = {
        "csp": _csp(_script_digest()),
        "style": _asset("dashboard.css"),
        "data": payload,
        "script": _asset("dashboard.js"),
    }
    # One pass: text put in is never searched for placeholders again.
    return _PLACEHOLDER.sub(lambda m: parts[m.group(1)], _asset("dashboard.html"))


def with_nodes(data: dict[str, Any], nodes: str, news: str | None = None) -> str:
    """``data`` as JSON, with the graph ``nodes`` (JSON already) as its
    ``"nodes"``, and ``news`` (JSON too) as its ``"batch"``."""
    text = _json(data)[:-1] + ',"nodes":' + nodes
    return text + (',"batch":' + news + "}" if news is not None else "}")


def run_event(data: dict[str, Any], nodes: str) -> bytes:
    """The ``run`` event that starts a page over with a run (see ``with_nodes``)."""
    return b"event: run\ndata: %s\n\n" % with_nodes(data, nodes).encode()


def batch_event(number: int, seen: Seen, news: list[bytes], before: bytes = b"") -> bytes:
    """A batch of run ``number`` (``news``: :func:`batch_parts`) as an event
    (its id says where the page is), after ``before``: one copy of it all."""
    return b"".join([before, b"id: %d:%d.%d.%d.%d\ndata: " % (number, *seen), *news, b"\n\n"])


def _safe(text: str) -> str:
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _csp(script_digest: str) -> str:
    return (f"default-src 'none'; script-src 'sha256-{script_digest}'; "
            f"style-src 'unsafe-inline'; connect-src 'self'; img-src data:")


# -- what the page is sent -----------------------------------------------------------
#: where a page is in a Board's lists: ends, attempts, lines, tracebacks
Seen = tuple[int, int, int, int]
#: the graph of a page that waits for a run (see graph())
NO_GRAPH = '{"id":[],"name":[],"level":[],"map":[],"parents":{}}'


def batch(board: Board, since: Seen = (0, 0, 0, 0)) -> tuple[Seen, bool, bytes]:
    """What ``board`` has that a page at ``since`` has not, as the page takes
    it: where the page is then, whether that is the run's end, and the JSON::

        {"from": since, "to": [ends, attempts, lines, tracebacks],
         "att": {"n": attempts, "index": C, "number": C, "ok": C, "error": C,
                 "workers": [names]},
         "end": {"n": ends, "state": C, "same": true when the ends' nodes are
                 the attempts' (each task's end right after its one attempt)},
         "line": [[node, stream, text], ...], "tb": [[node, text], ...],
         "run": [[node, index, number, worker, started], ...],  (all running now)
         "done": [duration, ok] or null,
         "size": [bytes of a node's position, of a worker's],
         "bin": base64 of the numbers, little-endian, one column after another:
                the attempts' nodes (unsigned, of "size"), their workers (the
                same), started (doubles) and durations (doubles); the ends'
                nodes (unless "same")}

    A column C whose values are all the same is sent as that value (see
    ``_dashboard_columns.Columns`` for the rest). The attempts and ends are what the
    board's columns have (``Board.pack``), so what is sent is whole: a
    task's end never comes before its attempts.
    """
    to, finished, parts = batch_parts(board, since)
    return to, finished, b"".join(parts)


def batch_parts(board: Board, since: Seen = (0, 0, 0, 0)) -> tuple[Seen, bool, list[bytes]]:
    """:func:`batch`, its JSON in parts (joined once, into what is sent)."""
    finished = board.finished
    columns = board.pack()
    to = (*columns.to, len(board.lines), len(board.tracebacks))
    running = board.running.copy()
    sizes, same, numbers = _numbers(columns, since, to)
    head = _json({
        "from": since, "to": to,
        "att": {"n": to[1] - since[1], "index": columns.index.slice(since[1], to[1]),
                "number": columns.number.slice(since[1], to[1]),
                "ok": columns.ok.slice(since[1], to[1]),
                "error": columns.error.slice(since[1], to[1]), "workers": columns.workers[:]},
        "end": {"n": to[0] - since[0], "state": columns.state.slice(since[0], to[0]),
                "same": same},
        "line": board.lines[since[2]:to[2]],
        "tb": board.tracebacks[since[3]:to[3]],
        "run": [[n, i, number, worker, at] for (n, i), (number, worker, at) in running.items()],
        "done": board.outcome if finished else None,
        "size": sizes,
    })
    # base64 needs no escaping in JSON: put in as it is (json.dumps would scan it).
    return to, finished, [head[:-1].encode(), b',"bin":"', base64.b64encode(numbers), b'"}']


def _numbers(columns: Columns, since: Seen, to: Seen) -> tuple[list[int], bool, bytes]:
    """The sizes, whether the ends' nodes are left out (the attempts' are
    theirs), and the bytes of ``batch``'s ``bin``."""
    # Each column read once: the engine's thread may put a wider one in its place.
    node, worker, end = columns.node, columns.worker, columns.end
    ends, attempts = slice(since[0], to[0]), slice(since[1], to[1])
    nodes, ended = node[attempts], end[ends]
    same = since[0] == since[1] and to[0] == to[1] and nodes == ended
    numbers: list[array[Any]] = [nodes, worker[attempts], columns.started[attempts],
                                 columns.duration[attempts]]
    if not same:
        numbers.append(ended)
    if sys.byteorder == "big":
        for part in numbers:
            part.byteswap()
    return [node.itemsize, worker.itemsize], same, b"".join(numbers)


def graph(plan: Plan) -> dict[str, Any]:
    """The graph for the page, as columns (a column whose values are all the
    same is that value; a few times cheaper to make and encode than a list per
    node)::

        {"id": [...], "name": [...], "level": [...],
         "map": [positions of the fan-out nodes],
         "parents": {position: [[parent, condition, passes_data], ...]}}
    """
    nodes = list(plan.nodes.values())
    return {
        "id": list(plan.nodes),
        "name": column([n.node.options.name for n in nodes]),
        "level": column([n.level for n in nodes]),
        "map": [i for i, n in enumerate(nodes) if n.node.fan_out],
        "parents": {i: [[u, c.name, u in n.deps] for u, c in n.parents.items()]
                    for i, n in enumerate(nodes) if n.parents},
    }


def column(values: Sequence[Any]) -> Any:
    """``values``, or its one value when all are the same (ok: all True, say);
    the page reads either (``col()`` in dashboard.js)."""
    if values and values.count(values[0]) == len(values):
        return values[0]
    return values


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
    #: each event goes out as it is written: with Nagle's algorithm on, a run's
    #: end written while the page has not yet acknowledged the last one waited
    #: for that acknowledgement (a delayed ACK: up to 40 ms on Linux)
    disable_nagle_algorithm = True

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
        stream = Stream(self.connection, *_resumed(self.headers.get("Last-Event-ID", ""), run))
        with dashboard.changed:
            dashboard.pages += 1  # the runs shown fill their columns as they go
            dashboard.streams = (*dashboard.streams, stream)
        try:
            while not dashboard._stopped.is_set():
                with stream.lock:
                    idle = self._step(dashboard, stream)
                if idle:
                    _idle(dashboard, stream.board,
                          asleep=time.monotonic() - stream.shown_at >= AWAKE)
                else:
                    _look(dashboard)
        except (BrokenPipeError, ConnectionResetError):
            return  # the page was closed
        finally:
            with dashboard.changed:
                dashboard.pages -= 1
                dashboard.streams = tuple(s for s in dashboard.streams if s is not stream)

    def _step(self, dashboard: Dashboard, stream: Stream) -> bool:
        """Write what ``stream``'s page has not seen, if anything (under its
        lock); whether it is idle then (no run, or the run's end sent)."""
        if stream.rest:  # what the engine's thread could not write at once
            rest, stream.rest = stream.rest, b""
            self.wfile.write(rest)
        shown, board = dashboard.board, stream.board
        if shown is not board:
            graph = board.nodes_json if board is not None else None
            stream.board, stream.running, stream.done = shown, {}, False
            board = shown
            stream.shown_at = time.monotonic()
            if board is not None and not (str(board.number) == stream.run
                                          and _fits(stream.seen, board)):
                # Sent with the run's first batch, after BATCH or at its end:
                # one write (and one wake-up of the page) for a short run.
                stream.starting = "same" if board.graph() is graph else "graph"
                stream.seen = (0, 0, 0, 0)
        if board is not None and not stream.done and (
                stream.starting or board.finished or board.running != stream.running
                or stream.seen != board.lengths()):
            if stream.starting and not board.finished:
                _look(dashboard)  # wait for something to show
            if stream.starting == "same" and board.whole is not None:
                stream.seen, message = board.whole  # (made at the run's end: see Board)
                stream.done = True
            else:
                header = b""
                if stream.starting:
                    data, nodes = dashboard.shown(board)
                    header = run_event(data, '"same"' if stream.starting == "same" else nodes)
                stream.running = board.running.copy()
                stream.seen, stream.done, news = batch_parts(board, stream.seen)
                message = batch_event(board.number, stream.seen, news, header)
            self.wfile.write(message)
            stream.starting, stream.wrote = "", time.monotonic()
            stream.shown_at = stream.wrote
        elif time.monotonic() - stream.wrote >= KEEP_ALIVE:
            self.wfile.write(b": keep-alive\n\n")  # find out if the page left
            stream.wrote = time.monotonic()
        return board is None or stream.done


class Stream:
    """One open page's event stream: the run it shows (``board``), how far it
    got (``seen``, ``done``: sent the run's end) and its socket. Its handler
    thread writes to it (``Handler._step``), holding ``lock``; at a run's end,
    the engine's thread writes the end itself to a page that waits for the
    next run of the same flow (:meth:`hand`), instead of waking that thread
    to do it (a wake-up and a GIL hand-over cost more than the write)."""

    def __init__(self, sock: socket.socket, run: str, seen: Seen) -> None:
        self.lock = threading.Lock()
        self.sock = sock
        #: the run the page asked for (a reconnecting page: where it was)
        self.run = run
        self.seen = seen
        self.board: Board | None = None
        self.running: dict[Any, Any] = {}
        #: a run event goes before the next batch: "graph", or "same" (the same
        #: flow again: the page keeps its graph); "": none
        self.starting = ""
        self.done = False
        #: what a write of the engine's thread left unsent (its thread sends it first)
        self.rest = b""
        #: the last write; when a run was last going on
        self.wrote = self.shown_at = time.monotonic()

    def hand(self, board: Board) -> bool:
        """(In the engine's thread at the end of ``board``'s run, its end
        made: ``board.whole``.) Write that end to this page if it is idle
        after another run of the same graph and its thread is not writing;
        never blocks (what the socket does not take at once, its thread
        sends). Whether the page has it all (else its thread must be woken)."""
        if not _DONTWAIT or not self.lock.acquire(blocking=False):
            return False
        try:
            before, whole = self.board, board.whole
            if (before is None or before is board or not self.done or self.rest
                    or whole is None or board.nodes_json is None
                    or before.nodes_json is not board.nodes_json):
                return False
            try:
                sent = self.sock.send(whole[1], _DONTWAIT)
            except OSError:  # its buffer is full, or the page left: its thread finds out
                return False
            self.board, self.running, self.seen, self.done = board, {}, whole[0], True
            self.rest, self.starting = whole[1][sent:], ""
            self.wrote = self.shown_at = time.monotonic()
            return not self.rest
        finally:
            self.lock.release()


def _look(dashboard: Dashboard) -> None:
    """Wait for the next look (BATCH seconds), or the run's end."""
    with dashboard.changed:
        dashboard.changed.wait(BATCH)


def _idle(dashboard: Dashboard, board: Board | None, *, asleep: bool) -> None:
    """Wait for another run to be shown, or the server's stop: a look every
    BATCH seconds while runs come one after another (showing a run does not
    wake this thread then: a short run costs its caller no switch to it but
    the one at its end), else ``asleep`` until ``Dashboard.show`` wakes it
    (or KEEP_ALIVE seconds pass)."""
    changed = dashboard.changed
    with changed:
        if not asleep:
            changed.wait_for(lambda: dashboard.board is not board or dashboard._stopped.is_set(),
                             timeout=BATCH)
            return
        dashboard.asleep += 1
        try:
            changed.wait_for(lambda: dashboard.board is not board or dashboard._stopped.is_set(),
                             timeout=KEEP_ALIVE)
        finally:
            dashboard.asleep -= 1


def _fits(seen: Seen, board: Board) -> bool:
    return all(s <= h for s, h in zip(seen, board.lengths(), strict=True))


def _resumed(last: str, run: str) -> tuple[str, Seen]:
    """The run a page shows and how far it got: from a reconnecting page's
    Last-Event-ID, else its ``run`` parameter and nothing seen yet."""
    shown, _, where = last.partition(":")
    parts = where.split(".")
    if not shown.isdigit() or len(parts) != 4 or not all(p.isdigit() for p in parts):
        return run, (0, 0, 0, 0)
    return shown, (int(parts[0]), int(parts[1]), int(parts[2]), int(parts[3]))
