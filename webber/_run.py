"""Run: what a finished run computed, per node (values, states, timings, attempts)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import count, repeat
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from webber._errors import ForeignPromiseError, UnknownNodeError
from webber._events import AttemptRow, rows_with
from webber._graph import Condition, find_id, slot_setters
from webber._run_040 import ByNode, IdList, Run040
from webber._task_errors import TaskSkippedError, message_of
from webber.executors._base import fetch

if TYPE_CHECKING:
    import graphviz

    from webber._cache import CacheStats
    from webber._dashboard import Dashboard
    from webber._metrics import DAGMetrics
    from webber._plan import Plan
    from webber._timeline import Timeline

__all__ = ["Attempt", "Recorder", "Run", "Span", "State", "span"]

State = Literal["success", "failed", "skipped"]
#: the parent's state an edge of each condition needs (AnyCase: any)
_WANTED = {Condition.Success: "success", Condition.Failure: "failed"}
_VERB = {"success": "succeed", "failed": "fail"}
_SAID = {"success": "succeeded", "failed": "failed", "skipped": "was skipped", None: "did not end"}
#: first attempts that succeeded, as the record keeps them (``Recorder.columns``):
#: (where in its rows they go, nodes, starts, durations, worker)
Span = tuple[int, list[str], Sequence[float], Sequence[float], str]


@dataclass(frozen=True, slots=True, init=False)
class Attempt:
    """One try at a task (or at one element of a fan-out).

    >>> from webber import DAG
    >>> dag = DAG()
    >>> n = dag.add_node(int, "x")
    >>> (attempt,) = dag.run(executor="inline").attempts[n]
    >>> attempt.number, attempt.ok, attempt.error
    (1, False, "ValueError: invalid literal for int() with base 10: 'x'")
    """

    node: str
    """The node's id."""
    number: int
    """1 for the first try."""
    index: int | None
    """The fan-out element, else None."""
    ok: bool
    """True when the attempt succeeded."""
    started: float
    """When it began, as ``time.time()``."""
    duration: float
    """How long it ran, in seconds."""
    worker: str
    """The thread or worker process that ran it."""
    error: str | None = None
    """``"ValueError: bad row"`` when it failed, else None."""

    def __init__(
        self,
        node: str,
        number: int,
        index: int | None,
        ok: bool,
        started: float,
        duration: float,
        worker: str,
        error: str | None = None,
    ) -> None:
        s = _ATTEMPT_SLOTS  # one Attempt per task run: see slot_setters
        s[0](self, node)
        s[1](self, number)
        s[2](self, index)
        s[3](self, ok)
        s[4](self, started)
        s[5](self, duration)
        s[6](self, worker)
        s[7](self, error)


_ATTEMPT_SLOTS = slot_setters(Attempt)


class Run(Run040):
    """The outcome of ``flow.run()``: values, states, durations, attempts.

    ``run[node]`` is the node's value (an id, a Promise, or the callable of a
    single node); reading a failed node raises its exception, a skipped one
    raises :class:`~webber.TaskSkippedError`.

    >>> from webber import DAG
    >>> dag = DAG()
    >>> n = dag.add_node(divmod, 7, 2)
    >>> run = dag.run(executor="inline")
    >>> run[n], run.state(n), run.ok
    ((3, 1), 'success', True)
    """

    def __init__(
        self,
        plan: Plan,
        states: dict[str, State],
        values: dict[str, Any],
        attempts: Callable[[], Mapping[str, Sequence[Attempt]]],
        started: float,
        duration: float,
        reused: Sequence[str] = (),
        cached: Sequence[str] = (),
        cache_stats: CacheStats | None = None,
    ) -> None:
        self.plan = plan
        """The :class:`~webber.Plan` that ran."""
        # (its own: the Recorder hands them over, a run of 100,000 tasks copies
        # none; the states in the order the tasks ended until _ordered is asked)
        self._states = states
        self._in_order = False
        self._values = values
        #: failed node -> its exception's traceback as the run left it (see _failure)
        self._tracebacks: dict[str, TracebackType | None] = {}
        # what makes node id -> its attempts (none: did not run); the per-node
        # tables below are made on first use, not at the end of every run
        self._tries = attempts
        self._by_node: tuple[dict[str, float], dict[str, tuple[Attempt, ...]]] | None = None
        self.started = started
        """When the run began, as ``time.time()``."""
        self.duration = duration
        """Seconds from the start of the run to its end."""
        self.reused = list(reused)
        """The nodes that did not run because their values were known: from the
        run given as ``resume=``, or loaded from ``cache=`` (those are also in
        :attr:`cached`)."""
        self.cached = list(cached)
        """The nodes loaded from the ``cache=`` store instead of running."""
        self.cache_stats = cache_stats
        """Hits, misses, results stored and the store's size in bytes (a
        :class:`~webber._cache.CacheStats`); None without ``cache=``."""
        self._metrics: DAGMetrics | None = None
        #: (uids, label) of the graph that ran, set by it: ids and Promises
        #: that another graph handed out are refused (they may name another node)
        self._owner: tuple[frozenset[int], str] | None = None

    def __repr__(self) -> str:
        return (
            f"<Run {self.plan.name!r}: {len(self.succeeded)} succeeded, "
            f"{len(self.failed)} failed, {len(self.skipped)} skipped in {self.duration:.3f} s>"
        )

    def _id(self, ref: Any) -> str:
        if ref.__class__ is str and ref in self._states:
            return ref
        if self._owner is not None:
            self._refuse_foreign(ref, *self._owner)

        def listing(_: str) -> str:
            ids = list(self._ordered())
            if not ids:  # most often: the tasks were called outside the with block
                return "it has no nodes: a task call records one only inside 'with Flow():'"
            return f"its nodes: {', '.join(ids[:10])}{' ...' if len(ids) > 10 else ''}"

        try:
            return find_id(ref, self.plan.nodes, f"the run of {self.plan.name!r}", listing)
        except TypeError:
            raise UnknownNodeError(
                f"run of {self.plan.name!r} has no node {ref!r}: name a node by its id, its "
                f"Promise or its task, not {type(ref).__name__} (a task called outside "
                f"'with Flow():' returns its value, not a Promise); {listing('')}", ref
            ) from None

    @staticmethod
    def _refuse_foreign(ref: Any, kin: frozenset[int], label: str) -> None:
        # Duck-typed: an id add_node returned has ._owner, a Promise ._origin.
        owner = getattr(ref, "_owner", None)
        origin = (owner.uid, owner.label) if owner is not None else getattr(ref, "_origin", None)
        if origin is not None and origin[0] not in kin:
            key = str(getattr(ref, "key", ref))
            other = origin[1]
            if other == label:
                other = f"another {other} (a different flow with the same name)"
            raise ForeignPromiseError(
                f"run of {label}: {key!r} belongs to {other}, not to {label}; it may "
                f"name an unrelated node here: read this run with the ids of the graph that ran"
            )

    def _ordered(self) -> dict[str, State]:
        """Node id -> state, in plan order (put in order on first use: the
        engine records the states as the tasks end; most reads need no order)."""
        if not self._in_order:
            nodes = self.plan.nodes
            self._states = {n: self._states[n] for n in nodes}
            self._in_order = True
        return self._states

    def __getitem__(self, ref: Any) -> Any:
        n = self._id(ref)
        state = self._states[n]
        if state == "failed":
            error = self._failure(n)
            del self  # (see _failure)
            try:
                raise error
            finally:
                del error
        if state == "skipped":
            raise TaskSkippedError(
                f"task {n!r} was skipped ({self._why_skipped(n)}), so it has no result; check "
                f"run.state({n!r}) before reading it",
                n,
            )
        return self._value(n)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_tracebacks"] = {}  # (tracebacks do not pickle; the exceptions go without)
        return state

    def _failure(self, n: str) -> BaseException:
        """Failed node ``n``'s exception, with its traceback as the run left
        it, to raise: each raise adds the frames it passes through to the
        exception's (a hundred reads made it a hundred frames longer). The
        frame that raises it must hold neither the exception nor this Run as it
        leaves: kept by the traceback, it held both, a reference cycle that
        kept the run until a full collection (``concurrent.futures`` lets go
        of its Future the same way)."""
        error: BaseException = self._values[n]
        return error.with_traceback(self._tracebacks.setdefault(n, error.__traceback__))

    def _why_skipped(self, n: str) -> str:
        """Why skipped task ``n`` did not run: the first parent whose edge's
        condition its state did not meet, or skip_node()."""
        node = self.plan.nodes[n]
        if node.node.skip:
            return "skip_node()"
        for parent, condition in node.parents.items():
            wanted = _WANTED.get(condition)
            state = self._states.get(parent)
            if wanted is not None and state != wanted:
                return (f"its parent {parent!r} {_SAID[state]}, and the edge from it needs it "
                        f"to {_VERB[wanted]}")
        return "an edge condition was not met"

    def _value(self, n: str) -> Any:
        """A successful node's value, fetched (once) if the executor kept it remote."""
        value = self._values[n]
        fetched = fetch(value)
        if fetched is not value:
            self._values[n] = fetched
        return fetched

    def __iter__(self) -> NoReturn:
        # Without it, Python would iterate by run[0], run[1], ... (an unknown node).
        raise TypeError(
            "a Run is not iterable: use run.states (each node's state), run.completed "
            "(the nodes that succeeded) and run[node] (a node's value)"
        )

    def __contains__(self, ref: Any) -> bool:
        try:
            self._id(ref)
        except UnknownNodeError:
            return False
        return True

    def get(self, ref: Any, default: Any = None) -> Any:
        """The node's value, or ``default`` if it failed or was skipped."""
        return self[ref] if self.state(ref) == "success" else default

    def state(self, ref: Any) -> State:
        """``"success"``, ``"failed"`` or ``"skipped"``."""
        return self._states[self._id(ref)]

    def error(self, ref: Any) -> BaseException | None:
        """The exception of a failed node, else None."""
        n = self._id(ref)
        return self._values[n] if self._states[n] == "failed" else None

    @property
    def states(self) -> dict[Any, State]:
        """Node id -> final state, in plan order."""
        return ByNode(self._ordered(), self._id, "states")

    @property
    def ok(self) -> bool:
        """True when no task failed."""
        return "failed" not in self._states.values()

    @property
    def succeeded(self) -> IdList:
        """Ids of the nodes that succeeded, in plan order (compared with a set as a set)."""
        return IdList(n for n, s in self._ordered().items() if s == "success")

    @property
    def failed(self) -> IdList:
        """Ids of the nodes that failed, in plan order (compared with a set as a set)."""
        return IdList(n for n, s in self._ordered().items() if s == "failed")

    @property
    def skipped(self) -> IdList:
        """Ids of the nodes that were skipped, in plan order (compared with a set as a set)."""
        return IdList(n for n, s in self._ordered().items() if s == "skipped")

    @property
    def durations(self) -> dict[Any, float]:
        """Node id -> seconds from its first start to its last end (0.0 if skipped)."""
        return ByNode(self._tables()[0], self._id, "durations")

    def _tables(self) -> tuple[dict[str, float], dict[str, tuple[Attempt, ...]]]:
        """Node id -> duration, and -> attempts, for every node in plan order."""
        if self._by_node is None:
            tries, ordered = self._tries(), self._ordered()
            self._by_node = (
                {n: span(tries.get(n, ())) for n in ordered},
                {n: tuple(tries.get(n, ())) for n in ordered},
            )
        return self._by_node

    @property
    def metrics(self) -> DAGMetrics:
        """0.4.0's :class:`~webber.DAGMetrics` of this run (made on first use)."""
        if self._metrics is None:
            from webber._metrics import metrics_of

            self._metrics = metrics_of(self)
        return self._metrics

    @property
    def attempts(self) -> dict[Any, tuple[Attempt, ...]]:
        """Node id -> every attempt, in order (empty for a skipped node)."""
        return ByNode(self._tables()[1], self._id, "attempts")

    def visualize(
        self, path: str | None = None, *, type: str | None = None, legend: bool = True
    ) -> graphviz.Digraph:
        """The graph coloured by final state (success, retried, failed, skipped),
        each task with its duration and attempts: a ``graphviz.Digraph``, and the
        file at ``path`` or the browser with ``type="browser"``, like
        :meth:`DAG.visualize <webber.DAG.visualize>`."""
        from webber import viz

        return viz.visualize_run(self, path, type, legend)

    def timeline(self, path: str | None = None) -> Timeline:
        """A Gantt chart of the run: one lane per worker, one bar per attempt,
        the critical path outlined. Shows inline in Jupyter; ``path`` also
        writes it as an SVG file (no Graphviz needed).

        >>> from webber import DAG
        >>> dag = DAG()
        >>> n = dag.add_node(sum, [1, 2])
        >>> chart = dag.run(executor="inline").timeline()
        >>> len(chart.lanes), len(chart.bars)
        (1, 1)
        >>> chart.svg.startswith("<svg")
        True
        """
        from webber._timeline import Timeline

        chart = Timeline(self)
        if path is not None:
            chart.save(path)
        return chart

    def dashboard(self, dashboard: Dashboard | None = None) -> Dashboard:
        """Serve this run's report in the browser (webber 0.4.0's call): the page
        of ``run(dashboard=True)`` if it still serves, else a new
        :class:`~webber.Dashboard` (or ``dashboard``) showing it. Prints the URL;
        in Jupyter the returned object shows the page in the cell.

        >>> from webber import DAG
        >>> dag = DAG()
        >>> n = dag.add_node(sum, [1, 2])
        >>> page = dag.run(executor="inline").dashboard()  # doctest: +SKIP
        >>> page.url  # doctest: +SKIP
        'http://127.0.0.1:40123/?token=...'
        """
        from webber._dashboard import show_run

        return show_run(self, dashboard)

    def to_html(self, path: str | None = None) -> str:
        """The dashboard's report of this run as one self-contained HTML page
        (no network needed: attach it to a CI job or an email); also written to
        ``path`` when given (ending in ``.html``: else
        :class:`~webber.DiagramError`). Printed lines are in it when the run
        was watched with ``dashboard=``.

        >>> from webber import DAG
        >>> dag = DAG()
        >>> n = dag.add_node(sum, [1, 2])
        >>> html = dag.run(executor="inline").to_html()
        >>> html.startswith("<!DOCTYPE html>")
        True
        """
        from webber._dashboard import report

        return report(self, path)


class Recorder:
    """The run record: every attempt as the engine reports it (a row, not an
    object: a run of 10,000 tasks reads few of them), and the :class:`Run`
    built at the end. The :class:`Attempt` objects are made when first read."""

    def __init__(self) -> None:
        #: (node, number, index, ok, started, duration, worker, error), in order
        #: (with the columns' rows left out until asked for: see column)
        self.rows: list[tuple[str, int, int | None, bool, float, float, str, str | None]] = []
        #: first attempts that succeeded, kept as columns (Span); all_rows puts
        #: them in new lists: whoever kept these (the dashboard's Board) still
        #: reads them as they were
        self.columns: list[Span] = []
        self._by_node: dict[str, list[Attempt]] = {}
        self._made = 0

    def column(self, nodes: list[str], starts: Sequence[float], durations: Sequence[float],
               worker: str) -> None:
        """Record the first attempts of ``nodes``, which succeeded on ``worker``,
        as they are: their rows are made only when read (:meth:`all_rows`)."""
        self.columns.append((len(self.rows), nodes, starts, durations, worker))

    def attempt(self, n: str, number: int, index: int | None, ok: bool, value: Any,
                started: float, duration: float, worker: str) -> AttemptRow:
        """Record an attempt (``value``: its result, or the exception it raised)."""
        error = None if ok else f"{type(value).__name__}: {message_of(value)}"
        row = (n, number, index, ok, started, duration, worker, error)
        self.rows.append(row)
        return row

    def elements(self, n: str, first: int, starts: Sequence[float], durations: Sequence[float],
                 worker: str) -> None:
        """Record the first attempts of elements ``first``, ``first + 1``, ...
        of fan-out ``n``, which succeeded on ``worker``."""
        self.rows += zip(repeat(n), repeat(1), count(first), repeat(True), starts, durations,
                         repeat(worker), repeat(None))

    def all_rows(self) -> list[tuple[str, int, int | None, bool, float, float, str, str | None]]:
        """``rows`` with the columns' rows in their places."""
        if self.columns:
            self.rows, self.columns = rows_with(self.rows, 0, len(self.rows), self.columns), []
        return self.rows

    def attempts(self) -> dict[str, list[Attempt]]:
        """Node id -> its attempts so far (made from the rows not made yet)."""
        rows, by_node = self.all_rows(), self._by_node
        for row in rows[self._made:]:
            by_node.setdefault(row[0], []).append(Attempt(*row))
        self._made = len(rows)
        return by_node

    def run(
        self,
        plan: Plan,
        states: dict[str, State],
        values: dict[str, Any],
        started: float,
        duration: float,
        reused: Sequence[str],
        cached: Sequence[str] = (),
        cache_stats: CacheStats | None = None,
    ) -> Run:
        """The Run of this record; it keeps ``states`` and ``values`` as they are."""
        return Run(
            plan,
            states=states,
            values=values,
            attempts=self.attempts,
            started=started,
            duration=duration,
            reused=reused,
            cached=cached,
            cache_stats=cache_stats,
        )


def span(attempts: Sequence[Attempt]) -> float:
    """Seconds from the first attempt's start to the last one's end."""
    if not attempts:
        return 0.0
    if len(attempts) == 1:
        return attempts[0].duration
    return max(a.started + a.duration for a in attempts) - min(a.started for a in attempts)
