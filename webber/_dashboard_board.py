"""What one run's dashboard page shows, collected as the run goes: the
:class:`Board` listener (see ``_dashboard.py`` for how it fits with the
server and the page)."""

from __future__ import annotations

import itertools
import json
import threading
import time
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from webber._dashboard_capture import Capture, traceback_of
from webber._dashboard_columns import Columns, Layout, settle
from webber._dashboard_page import (
    Seen,
    batch_event,
    batch_parts,
    end_parts,
    graph,
    run_event,
    shown,
)
from webber._events import AttemptRow, Listener
from webber._output import current_run

if TYPE_CHECKING:
    from webber._dashboard import Dashboard
    from webber._plan import Plan
    from webber._run import Run, Span, State

__all__ = ["LINES_PER_RUN", "LINES_PER_TASK", "Board", "watched"]

#: printed lines kept per task, and in all; the rest are only in the log
LINES_PER_TASK = 1000
LINES_PER_RUN = 100_000
#: the Board that watched a Run live (its printed lines go into to_html)
watched: weakref.WeakKeyDictionary[Run, Board] = weakref.WeakKeyDictionary()
#: each Board's number: a page asks for the events of the run it shows
_numbers = itertools.count(1)


class Board(Listener):
    """What one run's page shows, collected as the run goes: ``on_batch``
    keeps the run record it is handed (and a dict of the attempts running),
    in the engine's thread; :meth:`pack` puts what it was told into
    ``columns``, and a page's batches are slices of those
    (``_dashboard_page.batch``).

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
        #: the number of its run (see _output.this_run): its lines carry it
        self.run: int | None = None
        self.started = time.time()
        self.finished = False
        self.thread: threading.Thread | None = None
        #: the run record (the engine's own: all only grow): attempt rows, spans
        #: (first attempts as columns: Recorder.columns) and final states, and how
        #: far on_batch was told they go (``attempts``: in rows and spans); let go
        #: once all is packed at the run's end (they die with the Run)
        self.rows: list[AttemptRow] | None = None
        self.spans: list[Span] = []
        self.states: dict[str, str] | None = None
        self.told = self.counted = self.ended = self.attempts = 0
        self.lines: list[tuple[str, str, str]] = []
        self.tracebacks: list[tuple[str, str]] = []
        self.running: dict[tuple[str, int | None], tuple[int, str, float]] = {}
        self.outcome: tuple[float | None, bool | None] = (None, None)
        #: once finished: where a page is after it, and the run's events for a page
        #: that saw none of it and has its graph (see ``_whole``); ``later``: the
        #: attempts are not in them (the page's thread sends those at its next look)
        self.whole: tuple[Seen, bytes] | None = None
        self.later = False
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
        board.told = board.attempts = len(board.rows)
        board.ended = len(board.states)
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
        self.run = current_run()  # (told in the engine's context: see _output.this_run)
        self.started = time.time()
        self.thread = threading.current_thread()
        self._capture = Capture.watch(self)
        if self.dashboard is not None:
            self.dashboard.show(self)

    def on_batch(self, started: Sequence[tuple[str, int, int | None, str, float]],
                 attempts: Sequence[AttemptRow], ended: Sequence[tuple[str, State]]) -> None:
        rows = self.rows if self.rows is not None else []
        states = self.states if self.states is not None else {}
        rows.extend(attempts)
        states.update(ended)
        self.on_batch_columns(started, rows, len(rows), states, len(states), [], 0)

    def on_batch_columns(self, started: Sequence[tuple[str, int, int | None, str, float]],
                         rows: list[AttemptRow], told: int, states: dict[str, str],
                         ended: int, spans: list[Span], counted: int) -> None:
        """on_batch, handed the run record itself (how the engine calls it:
        see ``Hooks.batch``): ``rows[:told]``, ``spans[:counted]`` and the
        first ``ended`` of ``states`` are what happened so far; kept, not copied.
        A column's tasks are told as started each when the one before it on
        its worker ended (``Hooks.column_on``; the first when its worker got
        to it): running is the task at the head of each worker's column."""
        if self.running or started:
            # Gone from running before it is in the columns: a page never misses it.
            # (The engine's thread: ``states`` has the first ``ended`` only.)
            settle(self.running, started, rows, states, self.told)
        attempts = self.attempts + told - self.told + sum(
            len(span[1]) for span in spans[self.counted:counted])
        with self._packing:
            self.rows, self.states, self.told, self.ended = rows, states, told, ended
            self.spans, self.counted, self.attempts = spans, counted, attempts

    def pack(self) -> Columns:
        """Put what the record has that ``columns`` have not into them: in a
        page's thread as it looks (every BATCH seconds, while a run goes on),
        and in the engine's thread at a run's end with a page open (see
        ``_whole``)."""
        with self._packing:
            if self.rows is not None and self.states is not None:
                self.columns.catch_up(self.rows, self.told, self.states, self.ended,
                                      self.layout(), whole=self.finished, spans=self.spans,
                                      counted=self.counted)
                if self.finished:  # all packed: let the record go (it dies with the Run)
                    self.rows = self.states = None
                    self.spans = []
        return self.columns

    def lengths(self) -> tuple[int, int, int, int]:
        """How many ends, attempts, printed lines and tracebacks it has so far."""
        return self.ended, self.attempts, len(self.lines), len(self.tracebacks)

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
        watched[run] = self
        if self.dashboard is not None and self.dashboard.pages:
            self._whole()
        self._ended()

    def _whole(self) -> None:
        """The finished run as a page that saw none of it and keeps its graph
        is sent it (the usual page of a short run), made once, here: the
        page's thread, woken at the run's end, only writes it. A run that
        went well is sent without its attempts (``end_parts``: the page
        shows every task's end and the outcome at once, the timeline with
        its next look, at most BATCH later), which is all a page sees of a
        run that another follows at once: what it costs a run is then a
        small write, not a timeline's worth of numbers."""
        end = end_parts(self)
        self.later = end is not None
        if end is None:
            to, _, news = batch_parts(self)
        else:
            to, news = end
        data, _ = shown(self)
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
        if self.finished:
            return
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
