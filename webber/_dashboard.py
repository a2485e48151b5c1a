"""``run(dashboard=True)``: one page, served from the caller's process, that
shows a run live -- and ``run.to_html()``, the same page as one file.

How the pieces fit::

    engine --on_batch--> Board (a Listener) --> board.running, and the record: board.rows, .states
                          a page's look, or the run's end with a page open: --pack--> board.columns
    logger "webber" --printed lines, tracebacks--> Capture (one) --> board.lines, ...
    browser <--SSE: what is new, at most every 100 ms-- Handler (one thread per page,
                                                       in _dashboard_http.py)

Printed lines reach the Board as the ``"webber"`` logger's records, so the
page has the lines the log has (none when that logger is set above INFO).
The Board hears a run through ``on_batch``, once per wake-up of the engine
rather than several times per task, keeps the attempts going on now in a
dict and is handed the run record itself (its attempt rows and final
states, and how far they go: nothing copied). What it was told is packed
into the page's columns (``_dashboard_columns.Columns``: arrays of numbers,
a column at a time, in one call each) when a page looks, and at the run's
end with a page open, when the record is let go (it dies with the Run). No
serialising, no I/O, and no wake-up of a page's thread per event: a page
looks every 100 ms; the run's end, as the usual page takes it, is made in
the engine's thread (``Board._whole``), which also writes it to each page
waiting for it (``Stream.hand``: no wake-up at all); a page that is not
(it is sending, or needs the run's graph) is woken for it, as is one asleep
after 10 s without runs when a run is shown. Each browser's handler thread
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
import itertools
import json
import secrets
import sys
import threading
import time
import weakref
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from webber._dashboard_capture import Capture, traceback_of
from webber._dashboard_columns import Columns, Layout, settle
from webber._dashboard_http import (
    NO_GRAPH,
    Handler,
    Seen,
    Server,
    Server6,
    Stream,
    batch,
    batch_event,
    batch_parts,
    graph,
    page,
    run_event,
)
from webber._events import AttemptRow, Listener

if TYPE_CHECKING:
    from webber._plan import Plan
    from webber._run import Run, State

__all__ = ["Board", "Dashboard", "page", "report", "show_run", "stop_all", "watch"]

#: printed lines kept per task, and in all; the rest are only in the log
LINES_PER_TASK = 1000
LINES_PER_RUN = 100_000
#: the host names a browser on this machine sends
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

_running: weakref.WeakSet[Dashboard] = weakref.WeakSet()
#: the Board that watched a Run live (its printed lines go into to_html)
_watched: weakref.WeakKeyDictionary[Run, Board] = weakref.WeakKeyDictionary()
_exit_hook = False
#: the Dashboard of ``run(dashboard=True)``, made on first use
_default: Dashboard | None = None
#: each Board's number: a page asks for the events of the run it shows
_numbers = itertools.count(1)


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
        self.host = host
        self.port = port
        self.allow_hosts = frozenset(h.lower() for h in allow_hosts)
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
        if previous is not None and previous is not board and not previous.finished \
                and previous.thread is threading.current_thread():
            previous.cut()  # this thread starts another run: that one was cut short
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
        server = (Server6 if ":" in self.host else Server)((self.host, self.port), Handler)
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
        return page(*self.shown(self.board))

    @staticmethod
    def shown(board: Board | None) -> tuple[dict[str, Any], str]:
        """The page's data for ``board`` (None: waiting for a run) and its graph's JSON."""
        if board is None:
            return {"name": "webber", "live": True, "waiting": True, "run": 0}, NO_GRAPH
        return {**board.head(), "live": True, "run": board.number}, board.graph()


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


class Board(Listener):
    """What one run's page shows, collected as the run goes: ``on_batch``
    keeps the run record it is handed (and a dict of the attempts running),
    in the engine's thread; :meth:`pack` puts what it was told into
    ``columns``, and a page's batches are slices of those
    (``_dashboard_http.batch``).

    ``rows`` (the run's attempts as rows: :class:`~webber.Attempt`'s fields)
    and ``states`` (node -> final state), ``lines``
    (``(node, stream, text)``), ``tracebacks`` (``(node, text)``), ``running``
    (``(node, index) -> (attempt, worker, started)`` of the attempts going on
    now) and ``outcome`` (``(duration, ok)`` once finished; ``(None, None)``:
    the run was cut short).
    """

    def __init__(self, dashboard: Dashboard | None = None) -> None:
        self.dashboard = dashboard
        self.number = next(_numbers)
        self.plan: Plan | None = None
        self.started = time.time()
        self.finished = False
        self.thread: threading.Thread | None = None
        #: the run record's attempt rows and final states (the engine's own: both only
        #: grow), how far on_batch was told they go, and how far they are packed;
        #: let go once all is packed at the run's end (they die with the Run)
        self.rows: list[AttemptRow] | None = None
        self.states: dict[str, str] | None = None
        self.told = self.ended = 0
        self.lines: list[tuple[str, str, str]] = []
        self.tracebacks: list[tuple[str, str]] = []
        self.running: dict[tuple[str, int | None], tuple[int, str, float]] = {}
        self.outcome: tuple[float | None, bool | None] = (None, None)
        #: once finished: where a page is after it, and the run's events for a page
        #: that saw none of it and has its graph (see ``_whole``)
        self.whole: tuple[Seen, bytes] | None = None
        #: the graph as the page's JSON, made once (and reused by the next run of the same plan)
        self.nodes_json: str | None = None
        self._layout: Layout | None = None
        self._lines: dict[str, int] = {}
        self._total = 0
        self._capture: Capture | None = None
        #: the attempts and ends as a page takes them (see pack)
        self.columns = Columns()
        self._packing = threading.Lock()

    @classmethod
    def of_run(cls, run: Run, dashboard: Dashboard | None = None) -> Board:
        """A finished Board rebuilt from ``run`` (a run no dashboard watched)."""
        board = cls(dashboard)
        board.plan, board.started, board.finished = run.plan, run.started, True
        board.rows = [
            (a.node, a.number, a.index, a.ok, a.started, a.duration, a.worker, a.error)
            for tries in run.attempts.values() for a in tries
        ]
        board.states = dict(run.states)
        board.told, board.ended = len(board.rows), len(board.states)
        board.tracebacks = [(n, traceback_of(run.error(n))) for n in run.failed]
        board.outcome = (run.duration, run.ok)
        return board

    def head(self) -> dict[str, Any]:
        """The page's data apart from what happened: the run's name and start."""
        assert self.plan is not None
        return {"name": self.plan.name, "started": self.started}

    def graph(self) -> str:
        """The graph, as JSON for the page (see :func:`graph`), made once."""
        if self.nodes_json is None:
            assert self.plan is not None
            self.nodes_json = json.dumps(graph(self.plan), separators=(",", ":"))
        return self.nodes_json

    def layout(self) -> Layout:
        """Where each node is in the graph's ``id`` (how a batch names a node)."""
        if self._layout is None:
            assert self.plan is not None
            self._layout = Layout.of(self.plan)
        return self._layout

    def on_run_start(self, plan: Plan) -> None:
        self.plan = plan
        self.started = time.time()
        self.thread = threading.current_thread()
        self._capture = Capture.watch(self)
        if self.dashboard is not None:
            self.dashboard.show(self)

    def on_batch(
        self,
        started: Sequence[tuple[str, int, int | None, str, float]],
        attempts: Sequence[AttemptRow],
        ended: Sequence[tuple[str, State]],
    ) -> None:
        rows = self.rows if self.rows is not None else []
        states = self.states if self.states is not None else {}
        rows.extend(attempts)
        states.update(ended)
        self.on_batch_columns(started, rows, len(rows), states, len(states))

    def on_batch_columns(
        self,
        started: Sequence[tuple[str, int, int | None, str, float]],
        rows: list[AttemptRow],
        told: int,
        states: dict[str, str],
        ended: int,
    ) -> None:
        """on_batch, handed the run record itself (how the engine calls it:
        see ``Hooks.batch``): ``rows[:told]`` and the first ``ended`` of
        ``states`` are what happened so far; kept, not copied."""
        if self.running or started:
            # Gone from running before it is in the columns: a page never misses it.
            # (The engine's thread: ``states`` has the first ``ended`` only.)
            settle(self.running, started, rows, states, self.told)
        with self._packing:
            self.rows, self.states, self.told, self.ended = rows, states, told, ended

    def pack(self) -> Columns:
        """Put what the record has that ``columns`` have not into them: in a
        page's thread as it looks (every BATCH seconds, while a run goes on),
        and in the engine's thread at a run's end with a page open (see
        ``_whole``)."""
        with self._packing:
            if self.rows is not None and self.states is not None:
                self.columns.catch_up(self.rows, self.told, self.states, self.ended,
                                      self.layout(), whole=self.finished)
        return self.columns

    def lengths(self) -> tuple[int, int, int, int]:
        """How many ends, attempts, printed lines and tracebacks it has so far."""
        return self.ended, self.told, len(self.lines), len(self.tracebacks)

    def on_run_end(self, run: Run) -> None:
        self.detach()
        self.running.clear()
        ok = run.ok
        if not ok:  # a scan of every state: only when there is something to find
            # (the log's capture told most as they failed: the rest, once each)
            told = {n for n, _ in self.tracebacks}
            self.tracebacks.extend((n, traceback_of(run.error(n))) for n in run.failed
                                   if n not in told)
        self.outcome = (run.duration, ok)
        self.finished = True  # last: a page that sees it has all the rest
        _watched[run] = self
        if self.dashboard is not None and self.dashboard.pages:
            self._whole()
            with self._packing:  # all packed: let the record go (it dies with the Run)
                self.rows = self.states = None
        self._ended()

    def _whole(self) -> None:
        """The finished run as a page that saw none of it and keeps its graph
        is sent it (the usual page of a short run), made once, here: the
        page's thread, woken at the run's end, only writes it."""
        to, _, news = batch_parts(self)
        data, _ = Dashboard.shown(self)
        self.whole = (to, batch_event(self.number, to, news, run_event(data, '"same"')))

    def _ended(self) -> None:
        """The end goes out now: written to the pages waiting for it, or they are woken."""
        dashboard = self.dashboard
        if dashboard is None:
            return
        streams = dashboard.streams
        if streams and self.whole is not None and dashboard.board is self \
                and all([stream.hand(self) for stream in streams]):
            return
        with dashboard.changed:
            dashboard.changed.notify_all()

    def line(self, node: str, stream: str, text: str) -> None:
        """One printed line of ``node`` (called from any thread)."""
        count = self._lines.get(node, 0) + 1
        self._lines[node] = count
        self._total += 1
        if self._total > LINES_PER_RUN:
            limit = LINES_PER_RUN if self._total == LINES_PER_RUN + 1 else 0
        else:
            limit = LINES_PER_TASK if count == LINES_PER_TASK + 1 else 0
            if count <= LINES_PER_TASK:
                self.lines.append((node, stream, text))
        if limit:  # said once per task, and once for the run
            self.lines.append((node, "note", f"(more than {limit:,} lines: the rest "
                                             f"are in the log only)"))

    def cut(self) -> None:
        """The run ended without its on_run_end (Ctrl-C, an error in the engine)."""
        self.detach()
        self.running.clear()
        self.outcome = (None, None)
        self.finished = True
        self._ended()

    def detach(self) -> None:
        """Stop collecting printed lines (at the run's end, or when it was cut short)."""
        if self._capture is not None:
            self._capture.forget(self)
            self._capture = None


def report(run: Run) -> str:
    """The page of a finished run as one file: its live record if a dashboard
    watched it (printed lines included), else one rebuilt from the Run."""
    board = _watched.get(run) or Board.of_run(run)
    return page({**board.head(), "live": False}, board.graph(), batch(board)[2].decode())


def show_run(run: Run, dashboard: Dashboard | None) -> Dashboard:
    """``run.dashboard()``: the page that watched it if still served, else a new one."""
    board = _watched.get(run)
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


def _in_jupyter() -> bool:
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return shell is not None and hasattr(shell, "kernel")
