"""The dashboard's HTTP server (``_dashboard.py`` holds the rest).

It answers ``/`` with the page (``_dashboard_page.page``) and ``/events``
with server-sent events: a ``batch`` of what a browser has not seen yet, at
most every ``BATCH`` seconds, on one stream per page (:class:`Stream`).
Every request needs the dashboard's token and a local ``Host`` header (see
``_dashboard.py``).
"""

from __future__ import annotations

import secrets
import selectors
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from webber._dashboard_page import Seen, batch_event, batch_parts, run_event, shown

if TYPE_CHECKING:
    from webber._dashboard import Dashboard
    from webber._dashboard_board import Board

__all__ = ["AWAKE", "BATCH", "KEEP_ALIVE", "Handler", "Server", "Server6", "Stream"]

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
        current, board = dashboard.board, stream.board
        if current is not board:
            graph = board.nodes_json if board is not None else None
            stream.board, stream.running, stream.done, stream.later = current, {}, False, False
            board = current
            stream.shown_at = time.monotonic()
            if board is not None and not (str(board.number) == stream.run
                                          and _fits(stream.seen, board)):
                # Sent with the run's first batch, after BATCH or at its end:
                # one write (and one wake-up of the page) for a short run.
                stream.starting = "same" if board.graph() is graph else "graph"
                stream.seen = (0, 0, 0, 0)
        if board is not None and (not stream.done or stream.later) and (
                stream.starting or board.finished or board.running != stream.running
                or stream.seen != board.lengths()):
            if stream.starting and not board.finished:
                _look(dashboard)  # wait for something to show
            if stream.starting == "same" and board.whole is not None:
                # Made at the run's end (see Board); attempts it left go at the next look.
                stream.seen, message = board.whole
                stream.done, stream.later = True, board.later
            else:
                header = b""
                if stream.starting:
                    data, nodes = shown(board)
                    header = run_event(data, '"same"' if stream.starting == "same" else nodes)
                stream.running = board.running.copy()
                stream.seen, stream.done, news = batch_parts(board, stream.seen)
                stream.later = False
                message = batch_event(board.number, stream.seen, news, header)
            self.wfile.write(message)
            stream.starting, stream.wrote = "", time.monotonic()
            stream.shown_at = stream.wrote
        elif time.monotonic() - stream.wrote >= KEEP_ALIVE:
            self.wfile.write(b": keep-alive\n\n")  # find out if the page left
            stream.wrote = time.monotonic()
        return board is None or (stream.done and not stream.later)


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
        #: its end was sent without the attempts (``Board.later``): its thread
        #: sends them at its next look, unless another run is shown by then
        self.later = False
        #: what a write of the engine's thread left unsent (its thread sends it first)
        self.rest = b""
        #: the last write; when a run was last going on
        self.wrote = self.shown_at = time.monotonic()

    def hand(self, board: Board) -> bool:
        """(In the engine's thread at the end of ``board``'s run, its end
        made: ``board.whole``.) Write that end to this page if it is idle
        after another run of the same graph and its thread is not writing;
        never blocks (what the socket does not take at once, its thread
        sends). Whether the page has it (else its thread must be woken); an
        end that leaves the attempts for later (``board.later``) leaves them
        to its thread's next look."""
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
            self.board, self.running, self.seen = board, {}, whole[0]
            self.done, self.later = True, board.later
            self.rest, self.starting = whole[1][sent:], ""
            self.wrote = self.shown_at = time.monotonic()
            return not self.rest
        finally:
            self.lock.release()

    def finish(self) -> None:
        """(At the server's stop: the program's end, or ``webber.shutdown()``.)
        Write what this page's next look would have sent of the finished run
        it shows (the attempts an end left for later), as far as the socket
        takes it at once: a page that outlives the program keeps the whole
        run. Never blocks for long: the page's thread may be writing."""
        if not _DONTWAIT or not self.lock.acquire(timeout=1.0):
            return
        try:
            board = self.board
            if board is None or (self.done and not self.later) or not board.finished:
                return
            rest, self.rest = self.rest, b""
            self.seen, self.done, news = batch_parts(board, self.seen)
            self.later = False
            self.sock.send(rest + batch_event(board.number, self.seen, news), _DONTWAIT)
        except OSError:
            pass  # the page left, or does not read: nothing to wait for at the end
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
