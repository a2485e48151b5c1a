"""Callbacks on a run: what the progress bar, the run record and users build on."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from webber._plan import Plan
    from webber._run import Attempt, Run, Span, State
    from webber.executors._base import Column

__all__ = ["EVENTS", "AttemptRow", "Hooks", "Listener", "check_events", "overrides",
           "rows_with"]

EVENTS = (
    "on_run_start", "on_task_start", "on_attempt_end", "on_task_result", "on_task_end",
    "on_batch", "on_run_end",
)

#: an attempt as ``on_batch`` gives it: Attempt's fields in order (``Attempt(*row)``)
AttemptRow = tuple[str, int, int | None, bool, float, float, str, str | None]


class Listener:
    """Callbacks on a run. Subclass it, override what you need, and pass it to
    ``flow.run(listeners=[...])``.

    Every method is called in the caller's process and thread (the one that
    called ``run()``), whatever the executor, so a listener needs no locks.
    Per task the order is: ``on_task_start`` and ``on_attempt_end`` for each
    attempt (a fan-out node has one per element), then ``on_task_result`` and
    ``on_task_end`` once. A skipped task, or one reused by ``run(resume=...)``
    or loaded from ``run(cache=...)``, only gets ``on_task_result`` and
    ``on_task_end`` (``worker="cache"`` for a cache hit). A listener that
    raises is logged and left out for the rest of the run; the run goes on.

    >>> from webber import DAG, Listener
    >>> class Log(Listener):
    ...     def on_task_end(self, node, state, attempt, duration, worker):
    ...         print(node, state, attempt)
    >>> dag = DAG()
    >>> n = dag.add_node(len, "abc")
    >>> run = dag.run(executor="inline", listeners=[Log()])
    len-1 success 1
    """

    def on_run_start(self, plan: Plan) -> None:
        """Before the first task is submitted; ``len(plan)`` is the number of tasks."""

    def on_task_start(self, node: str, attempt: int, index: int | None, worker: str) -> None:
        """Attempt number ``attempt`` (1 for the first) of ``node`` began on ``worker``;
        ``index`` is the fan-out element, else None. On threads, processes and
        dask it is told up to 0.05 s after the task began, and together with
        its end when the task was shorter than that (inline: before it runs)."""

    def on_attempt_end(self, attempt: Attempt) -> None:
        """One attempt ended (``attempt.ok`` says how); a retry may follow."""

    def on_task_result(self, node: str, state: State, value: Any) -> None:
        """``node`` reached its final ``state``; ``value`` is its result (success),
        its exception (failed) or None (skipped). Called just before ``on_task_end``;
        a result kept remote (dask) is fetched for it."""

    def on_task_end(
        self, node: str, state: State, attempt: int, duration: float, worker: str
    ) -> None:
        """``node`` reached its final ``state`` after ``attempt`` attempts (0 when it
        did not run), ``duration`` seconds from its first start to its last end,
        last run on ``worker`` ("" when it did not run)."""

    def on_batch(
        self,
        started: Sequence[tuple[str, int, int | None, str, float]],
        attempts: Sequence[AttemptRow],
        ended: Sequence[tuple[str, State]],
    ) -> None:
        """What happened since the last call, all at once: for a listener that
        follows every task of big runs (a live view, a log shipper) and would
        rather not be called several times per task. Called each time the
        engine has taken in what arrived (a run of 10,000 short tasks calls it
        a few dozen times, one of long tasks as each ends), and a last time
        before ``on_run_end``; never with three empty lists.

        ``started``: ``(node, attempt, index, worker, at)`` of attempts that
        began (``at`` as ``time.time()``); an attempt that began and ended
        between two calls may be only in ``attempts``. ``attempts``: the
        attempts that ended, in order, each as a tuple of
        :class:`~webber.Attempt`'s fields (``Attempt(*row)`` makes one).
        ``ended``: ``(node, state)`` of the tasks that reached their final
        state, each after its attempts. Every listener gets the same lists:
        keep them, but do not change them."""

    def on_run_end(self, run: Run) -> None:
        """After the last task is final, with the finished :class:`~webber.Run`."""


def overrides(listener: Listener, event: str) -> bool:
    """Whether ``listener`` has its own ``event`` callback (a duck-typed object
    that is no Listener may define only some): only those are called."""
    own = getattr(type(listener), event, None)
    return own is not None and own is not getattr(Listener, event)


def check_events(listener: Listener) -> None:
    """Refuse, before anything runs, an event of ``listener`` that could not
    take the event's arguments (``on_task_end(self, node, state)``), or that
    is ``async def`` (called, never awaited: its body would never run). Else
    the first call raised, and the listener was dropped, heard nothing, with
    only a log line to say so."""
    import inspect

    from webber._errors import ListenerError

    who = type(listener).__name__
    for event in EVENTS:
        if not overrides(listener, event):
            continue
        call = getattr(listener, event)
        wanted = list(inspect.signature(getattr(Listener, event)).parameters)
        if inspect.iscoroutinefunction(call):
            raise ListenerError(
                f"listener {who}: {event} is async def, but events are called, not awaited, "
                f"in the thread that called run(): its body would never run; make it a plain "
                f"def (it may hand the event to a loop of yours: loop.call_soon_threadsafe)")
        try:
            signature = inspect.signature(call)
        except (TypeError, ValueError):  # (a callable whose signature cannot be read)
            continue
        try:
            signature.bind(*[None] * (len(wanted) - 1))
        except TypeError as e:
            plain = signature.replace(
                parameters=[p.replace(annotation=p.empty) for p in signature.parameters.values()],
                return_annotation=signature.empty)
            raise ListenerError(
                f"listener {who}: {event}{plain} cannot take the event's arguments ({e}); "
                f"define it as {event}({', '.join(wanted)})") from None


def rows_with(rows: list[AttemptRow], start: int, end: int,
              spans: Sequence[Span]) -> list[AttemptRow]:
    """``rows[start:end]`` with the first attempts that ``spans`` hold (a
    column's, kept as columns: see ``Recorder.column``) as rows in their
    places: each span goes before the row at its position."""
    merged: list[AttemptRow] = []
    done = start
    for at, nodes, starts, durations, worker in spans:
        merged += rows[done:at]
        merged += zip(nodes, itertools.repeat(1), itertools.repeat(None),
                      itertools.repeat(True), starts, durations, itertools.repeat(worker),
                      itertools.repeat(None))
        done = at
    merged += rows[done:end]
    return merged


class Hooks:
    """The listeners of one run, as the engine calls them: per event, only the
    listeners that override it (an event nobody wants costs the engine one
    test of an empty list); a listener that raises is logged and gets no more
    events in this run, and the run goes on.

    The events of every task have their own methods (no argument packing, no
    lookup by name: a run of 10,000 tasks calls each 10,000 times)."""

    #: per event: (listener, its bound callback) of the listeners that override it
    on_run_start: list[tuple[Listener, Callable[..., None]]]
    on_task_start: list[tuple[Listener, Callable[..., None]]]
    on_attempt_end: list[tuple[Listener, Callable[..., None]]]
    on_task_result: list[tuple[Listener, Callable[..., None]]]
    on_task_end: list[tuple[Listener, Callable[..., None]]]
    on_batch: list[tuple[Listener, Callable[..., None]]]
    on_run_end: list[tuple[Listener, Callable[..., None]]]
    attempts: bool
    finals: bool

    def __init__(self, listeners: Sequence[Listener]) -> None:
        self._listeners = list(listeners)
        self._wire()
        #: for on_batch (filled by the engine only when a listener wants it): the
        #: starts since the last call; the attempt rows and final states told so far
        self.started: list[tuple[str, int, int | None, str, float]] = []
        self._told = self._ended = self._counted = 0

    def _wire(self) -> None:
        calls = {
            event: [(x, getattr(x, event)) for x in self._listeners if overrides(x, event)]
            for event in EVENTS
        }
        self.on_run_start = calls["on_run_start"]
        self.on_task_start = calls["on_task_start"]
        self.on_attempt_end = calls["on_attempt_end"]
        self.on_task_result = calls["on_task_result"]
        self.on_task_end = calls["on_task_end"]
        self.on_batch = calls["on_batch"]
        self.on_run_end = calls["on_run_end"]
        #: whether a listener wants each attempt's end, or each task's final
        #: state (the engine tests one flag per task instead of two or three)
        self.attempts = bool(self.on_task_end or self.on_attempt_end)
        self.finals = bool(self.on_task_result or self.on_task_end)

    def _drop(self, listener: Listener, event: str) -> None:
        """(In the handler of the exception ``listener`` raised.)"""
        logging.getLogger("webber").exception(
            "listener %r raised in %s; it gets no more events in this run", listener, event,
        )
        self._listeners = [x for x in self._listeners if x is not listener]
        self._wire()

    def emit(self, event: str, *args: Any) -> None:
        """Call ``event`` on the listeners that override it."""
        for listener, call in getattr(self, event):
            try:
                call(*args)
            except Exception:
                self._drop(listener, event)

    def task_start(self, node: str, attempt: int, index: int | None, worker: str) -> None:
        for listener, call in self.on_task_start:
            try:
                call(node, attempt, index, worker)
            except Exception:
                self._drop(listener, "on_task_start")

    def attempt_end(self, attempt: Attempt) -> None:
        for listener, call in self.on_attempt_end:
            try:
                call(attempt)
            except Exception:
                self._drop(listener, "on_attempt_end")

    def task_end(self, node: str, state: State, attempt: int, duration: float,
                 worker: str) -> None:
        for listener, call in self.on_task_end:
            try:
                call(node, state, attempt, duration, worker)
            except Exception:
                self._drop(listener, "on_task_end")

    @property
    def columns(self) -> bool:
        """Whether the engine may send plain tasks as columns (no event per
        task): no listener wants each task's events (``on_batch`` ones get a
        column's attempts as rows, made by the batch: see :meth:`batch`)."""
        return not (self.on_task_start or self.attempts or self.finals)

    def column_on(self, column: Column, answered: int, worker: str, at: float) -> None:
        """(for on_batch) ``worker`` answered the first ``answered`` tasks of
        ``column``, the last ending at ``at``: the next one runs there now (a
        worker runs its column in order), told as started at ``at``."""
        if answered < len(column.nodes):
            self.started.append((column.nodes[answered], 1, column.index_of(answered), worker,
                                 at))

    def batch(self, rows: list[AttemptRow], states: dict[str, State],
              spans: list[Span] | None = None) -> None:
        """Tell on_batch what happened since the last call: the starts collected
        in ``started``, and what ``rows`` (the run record's attempt rows),
        ``spans`` (its columns: see ``Recorder.columns``) and ``states`` (the
        final states) got since (all only grow, in order). Nothing when no
        listener overrides on_batch.

        A listener with an ``on_batch_columns(started, rows, told, states,
        ended, spans, counted)`` method (the dashboard's Board, the progress
        bar) is handed the record itself and how far it goes now
        (``rows[:told]``, ``spans[:counted]``, the first ``ended`` of
        ``states``): nothing copied, and no tuple made per task, for it. The
        others get the attempts since the last call as rows, the columns'
        among them in their places (:func:`rows_with`)."""
        if not self.on_batch:
            return
        spans = spans if spans is not None else []
        told, ended, counted = len(rows), len(states), len(spans)
        if (told == self._told and ended == self._ended and counted == self._counted
                and not self.started):
            return
        started, self.started = self.started, []
        since, new, first = self._told, ended - self._ended, self._counted
        self._told, self._ended, self._counted = told, ended, counted
        pairs: tuple[list[AttemptRow], list[tuple[str, State]]] | None = None
        for listener, call in self.on_batch:
            try:
                columns = getattr(listener, "on_batch_columns", None)
                if columns is not None:
                    columns(started, rows, told, states, ended, spans, counted)
                    continue
                if pairs is None:
                    # The last ``new`` entries, read from the end (a dict has no
                    # slices): nothing done per task as it ends.
                    finals = list(itertools.islice(reversed(states.items()), new))
                    finals.reverse()
                    attempts = rows[since:told] if first == counted else rows_with(
                        rows, since, told, spans[first:counted])
                    pairs = (attempts, finals)
                call(started, *pairs)
            except Exception:
                self._drop(listener, "on_batch")
