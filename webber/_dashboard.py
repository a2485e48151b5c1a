"""``run(dashboard=True)``: one page, served from the caller's process, that
shows a run live -- and ``run.to_html()``, the same page as one file.

How the pieces fit::

    engine --on_batch--> Board (a Listener, _dashboard_board.py) --> board.running, and
                          the record: board.rows, .states
                          a page's look (or a run's end, made whole) --pack--> board.columns
    logger "webber" --printed lines, tracebacks--> Capture (one) --> board.lines, ...
    browser <--SSE: what is new, at most every 100 ms-- Handler (one thread per page,
                          in _dashboard_http.py; batches made in _dashboard_page.py)

Printed lines reach the Board as the ``"webber"`` logger's records, so the
page has the lines the log has (none when that logger is set above INFO).
The Board hears a run through ``on_batch``, once per wake-up of the engine
rather than several times per task, keeps the attempts going on now in a
dict and is handed the run record itself (its attempt rows and final
states, and how far they go: nothing copied). What it was told is packed
into the page's columns (``_dashboard_columns.Columns``: arrays of numbers,
a column at a time, in one call each) when a page looks; once all is
packed after the run's end, the record is let go (it dies with the Run). No
serialising, no I/O, and no wake-up of a page's thread per event: a page
looks every 100 ms; the run's end, as the usual page takes it, is made in
the engine's thread (``Board._whole``), which also writes it to each page
waiting for it (``Stream.hand``: no wake-up at all); a page that is not
(it is sending, or needs the run's graph) is woken for it, as is one asleep
after 10 s without runs when a run is shown. The end of a run that went
well says so of every task at once and leaves the attempts (the timeline)
to the page's next look, at most 100 ms later, unless another run is shown
by then: what a page costs runs that follow one another is bounded by how
often it looks, not by how many runs there are (a dashboard's stop, as at
the program's end, sends what was left). Each browser's handler thread
sends one batch of what it has not sent yet (slices of the columns, plus
the attempts running now) as a server-sent event, on one stream that stays
open from run to run (a ``run`` event brings the next run's graph); the
page (``_assets/dashboard.js``) applies the same batches, so a file written
by ``to_html`` is the page with one batch of the whole run embedded.

Safe by default: the server binds 127.0.0.1 on a free port; every request
needs the random token in the URL and a ``Host`` header naming this machine
(so another web page cannot reach it through DNS rebinding); the page builds
its DOM with ``textContent`` only, under a Content-Security-Policy that lets
only its own script run. Threads are daemons; ``webber.shutdown()`` and the
interpreter's exit stop every server. Nothing here is imported unless a
dashboard is asked for.
"""

from __future__ import annotations

import atexit
import secrets
import sys
import threading
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING

from webber._dashboard_board import Board, watched
from webber._dashboard_capture import Capture
from webber._dashboard_http import Handler, Server, Server6, Stream
from webber._dashboard_page import batch, page, shown

if TYPE_CHECKING:
    from webber._run import Run

__all__ = ["Dashboard", "page", "report", "show_run", "stop_all", "watch"]

#: the host names a browser on this machine sends
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

_running: weakref.WeakSet[Dashboard] = weakref.WeakSet()
_exit_hook = False
#: the Dashboard of ``run(dashboard=True)``, made on first use
_default: Dashboard | None = None


class Dashboard:
    """A page in the browser that shows runs: live while they go on, then as a
    report (an open page moves on to the next run shown). ``flow.run(dashboard=True)``
    uses one made for the whole program; make one yourself and pass it as
    ``dashboard=`` to choose where it listens, or to open the browser.

    It binds ``host`` (127.0.0.1: this machine only) on ``port`` (0: a free
    one) and answers only requests carrying its random token (it is in
    ``url``) whose ``Host`` header is this machine or one of ``allow_hosts``
    (``["*"]``: any). ``open_browser=True`` opens ``url`` with the system's
    browser; in Jupyter the object shows the page in the output cell. It stops
    with :meth:`stop`, ``webber.shutdown()`` or the end of the program.

    >>> from webber import DAG, Dashboard
    >>> dag = DAG()
    >>> n = dag.add_node(sum, [1, 2])
    >>> board = Dashboard()
    >>> run = dag.run(executor="inline", dashboard=board)
    >>> board.url.startswith("http://127.0.0.1:")
    True
    >>> board.stop()
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        allow_hosts: Iterable[str] = (),
        open_browser: bool = False,
    ) -> None:
        allowed = _check_address(host, port, allow_hosts)
        if not isinstance(open_browser, bool):  # ("no" is true: it would open it)
            from webber._errors import DashboardError

            raise DashboardError(f"Dashboard(open_browser={open_browser!r}): open_browser is "
                                 f"True or False, e.g. Dashboard(open_browser=True)")
        self.host = host
        self.port = port
        self.allow_hosts = frozenset(h.lower() for h in allowed)
        self.open_browser = open_browser
        self.token = secrets.token_urlsafe(24)
        self.board: Board | None = None
        self._server: Server | None = None
        self._stopped = threading.Event()
        #: notified when a run ends or the server stops, and when another run is
        #: shown while a page sleeps (pages wait on it; see _dashboard_http._idle)
        self.changed = threading.Condition()
        #: the pages open, and those asleep until a run is shown (guarded by ``changed``)
        self.pages = 0
        self.asleep = 0
        #: the open pages' streams (replaced, not changed: read without the lock)
        self.streams: tuple[Stream, ...] = ()
        self._opened = False

    @property
    def url(self) -> str:
        """The page's address, token included (starts the server if needed)."""
        self._start()
        assert self._server is not None
        host, port = self._server.server_address[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else str(host)
        if ":" in shown:
            shown = f"[{shown}]"
        return f"http://{shown}:{port}/?token={self.token}"

    @property
    def serving(self) -> bool:
        """True while the server answers."""
        return self._server is not None

    def __repr__(self) -> str:
        return f"<Dashboard {self.url if self.serving else '(stopped)'}>"

    def _repr_html_(self) -> str:
        """Jupyter shows the page itself, in a frame."""
        from html import escape

        return (f'<iframe src="{escape(self.url)}" width="100%" height="720" '
                f'style="border:1px solid #ddd"></iframe>')

    def show(self, board: Board) -> None:
        """Serve ``board`` from now on (an open page reloads to it)."""
        previous = self.board
        if previous is not None and previous is not board \
                and previous.thread is threading.current_thread():
            previous.cut()  # this thread starts another run: one not ended was cut short
        if previous is not None and previous.plan is board.plan:
            # the same graph: made once
            board.nodes_json, board._layout = previous.nodes_json, previous._layout
        with self.changed:
            self.board = board
            if self.asleep:
                # Pages awake look every BATCH: a short run is not interrupted
                # by them (they take it at its end, in one go).
                self.changed.notify_all()

    def stop(self) -> None:
        """Stop serving: open pages stop updating, the port is freed."""
        for stream in self.streams:
            stream.finish()
        server, self._server = self._server, None
        self._stopped.set()
        with self.changed:
            self.changed.notify_all()
        self._opened = False
        if self.board is not None:
            self.board.detach()
        _running.discard(self)
        if not _running:
            Capture.unhook()
        if server is not None:
            server.stop()

    def _start(self) -> None:
        global _exit_hook
        if self._server is not None:
            return
        self._stopped.clear()
        try:
            server = (Server6 if ":" in self.host else Server)((self.host, self.port), Handler)
        except OSError as e:  # (in use, not this machine's, a name that does not resolve)
            from webber._errors import DashboardError

            raise DashboardError(
                f"Dashboard(host={self.host!r}, port={self.port!r}): cannot serve the page "
                f"there ({type(e).__name__}: {e.strerror or e}); pass another port, port=0 "
                f"for any free one, or a host that is an address of this machine") from e
        server.dashboard = self
        self._server = server
        _running.add(self)
        if not _exit_hook:
            atexit.register(stop_all)
            _exit_hook = True
        server.start()

    def _announce(self) -> None:
        """Say where the page is: on stderr, or in Jupyter's cell; the first time
        after a start, also open the browser when asked."""
        self._start()
        if self.open_browser and not self._opened:
            import webbrowser

            self._opened = True
            webbrowser.open(self.url)
        if _in_jupyter():
            from IPython.display import display

            display(self)  # type: ignore[no-untyped-call]
        elif sys.stderr is not None:
            print(f"webber: dashboard at {self.url}", file=sys.stderr, flush=True)

    def _host_ok(self, header: str) -> bool:
        if "*" in self.allow_hosts:
            return True
        host = header.strip().lower()
        if host.startswith("["):  # [::1]:8000
            host = host[1:].partition("]")[0]
        elif host.count(":") == 1:
            host = host.partition(":")[0]
        return host in LOCAL_HOSTS or host in self.allow_hosts

    def _page(self) -> str:
        return page(*shown(self.board))


def watch(dashboard: bool | Dashboard) -> Board:
    """The listener that ``run(dashboard=...)`` adds: a Board shown on
    ``dashboard``, or for True on the process's default :class:`Dashboard` (one
    server however many runs: an open page moves on to the next run)."""
    global _default
    if isinstance(dashboard, Dashboard):
        chosen = dashboard
    else:
        if _default is None:
            _default = Dashboard()
        chosen = _default
    chosen._announce()
    return Board(chosen)


def report(run: Run, path: str | None = None) -> str:
    """The page of a finished run as one file (``run.to_html(path)``): its live
    record if a dashboard watched it (printed lines included), else one rebuilt
    from the Run; also written to ``path`` when given."""
    from webber._errors import DiagramError

    if path is not None and not str(path).lower().endswith((".html", ".htm")):
        raise DiagramError(f"a run's report is an HTML page: end {str(path)!r} in .html "
                           f"(a browser opens it, offline)")
    board = watched.get(run) or Board.of_run(run)
    text = page({**board.head(), "live": False}, board.graph(), batch(board)[2].decode())
    if path is not None:
        try:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as e:  # (a folder that does not exist, or is not ours)
            raise DiagramError(
                f"cannot write {str(path)!r} ({type(e).__name__}: {e.strerror or e}): "
                f"pass a path in a folder that exists and you may write to") from e
    return text


def show_run(run: Run, dashboard: Dashboard | None) -> Dashboard:
    """``run.dashboard()``: the page that watched it if still served, else a new one."""
    if dashboard is not None and not isinstance(dashboard, Dashboard):
        from webber._errors import DashboardError

        raise DashboardError(
            f"run.dashboard({dashboard!r}): takes a webber.Dashboard, or nothing (a new one "
            f"on a free port); to choose where it listens: "
            f"run.dashboard(webber.Dashboard(port=8000))")
    board = watched.get(run)
    if dashboard is None and board is not None and board.dashboard is not None \
            and board.dashboard.serving and board.dashboard.board is board:
        board.dashboard._announce()
        return board.dashboard
    chosen = dashboard if dashboard is not None else Dashboard()
    chosen.show(board if board is not None else Board.of_run(run, chosen))
    chosen._announce()
    return chosen


def stop_all() -> None:
    """Stop every dashboard (``webber.shutdown()`` and the interpreter's exit)."""
    for dashboard in list(_running):
        dashboard.stop()


def _check_address(host: object, port: object, allow_hosts: object) -> tuple[str, ...]:
    """A Dashboard's address as it is given, not when the server starts: a
    host written as a URL, with its port or spaces failed there as a name that
    does not resolve, told to pass "another port"."""
    from webber._errors import DashboardError

    if not isinstance(host, str) or not host:
        raise DashboardError(f"Dashboard(host={host!r}): the host is a name or an address, "
                             f"e.g. '127.0.0.1' (this machine only) or '0.0.0.0' (any)")
    bare = _bare_host(host)
    if bare != (host, None):
        told = f"host={bare[0]!r}" + (f", port={bare[1]}" if bare[1] is not None else "")
        raise DashboardError(f"Dashboard(host={host!r}): the host is a name or an address "
                             f"alone, without a scheme, port, path or spaces: pass {told}")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise DashboardError(f"Dashboard(port={port!r}): the port is a whole number from 0 "
                             f"to 65535 (0: any free port)")
    if not isinstance(allow_hosts, (str, bytes)) and isinstance(allow_hosts, Iterable):
        allow_hosts = tuple(allow_hosts)  # (a generator is read once: here)
    if not isinstance(allow_hosts, tuple) or not all(isinstance(h, str) for h in allow_hosts):
        raise DashboardError(f"Dashboard(allow_hosts={allow_hosts!r}): allow_hosts is a list "
                             f"of host names, e.g. ['myhost.example'], or ['*'] for any")
    for entry in allow_hosts:
        where = f"Dashboard(allow_hosts=[{entry!r}])"
        if entry != "*" and ("*" in entry or not entry.strip()):
            raise DashboardError(f"{where}: allow_hosts takes exact host names, or '*' alone "
                                 f"for any, e.g. ['box.lan', 'box.lan.example']")
        if _bare_host(entry) != (entry, None):
            raise DashboardError(f"{where}: {entry!r} is not a host name alone (a browser's "
                                 f"Host is compared without its scheme or port): pass "
                                 f"allow_hosts=[{_bare_host(entry)[0]!r}]")
    return allow_hosts


def _bare_host(host: str) -> tuple[str, int | None]:
    """The host (and port) that ``host`` names when written as a URL, with its
    port or with spaces (``"http://localhost:8000/"``: localhost, 8000); an
    IPv6 address has colons of its own (``"::1"``), and in brackets a port
    (``"[::1]:8000"``)."""
    rest = host.strip()
    rest = rest.partition("://")[2] if "://" in rest else rest
    rest, port = rest.split("/")[0], ""
    if rest.startswith("["):
        rest, _, port = rest[1:].partition("]")
        port = port.lstrip(":")
    elif rest.count(":") == 1:
        rest, port = rest.split(":")
    return rest.strip(), int(port) if port.isdigit() else None


def _in_jupyter() -> bool:
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return shell is not None and hasattr(shell, "kernel")
