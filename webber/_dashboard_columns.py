"""A run's attempts and ends as the dashboard's page takes them: columns of
numbers, grown a batch at a time with no Python code per attempt (see
``Board`` in ``_dashboard.py``; ``batch`` in ``_dashboard_page.py`` sends
slices of them)."""

from __future__ import annotations

import bisect
import itertools
import operator
import struct
from array import array
from collections.abc import Container, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from webber._events import AttemptRow
    from webber._plan import Plan
    from webber._run import Span

__all__ = ["Columns", "Layout", "Runs", "nodes_of", "settle"]

#: an attempt row's fields (see AttemptRow)
_NODE, _NUMBER, _INDEX, _OK, _STARTED, _DURATION, _WORKER, _ERROR = map(
    operator.itemgetter, range(8))
#: runs of rows of one worker, at most, that are put in as one lane repeated each
_RUN = 32
#: attempts told as started, at most, that settle() looks for among the rows
#: one by one (more: it reads every row once)
_SEARCHED = 32


class Layout(NamedTuple):
    """What the columns need to know of a plan, made once per plan."""

    #: node id -> its position in the graph's ``id`` (how a batch names a node)
    positions: dict[str, int]
    #: no node retries or fans out: every attempt is a first try, of no fan-out
    firsts: bool
    #: the array type of a position: 16 bits, unless the plan has more nodes
    code: str = "H"

    @classmethod
    def of(cls, plan: Plan) -> Layout:
        return cls({n: i for i, n in enumerate(plan.nodes)},
                   not any(p.node.fan_out or p.node.options.retries for p in plan.nodes.values()),
                   "H" if len(plan.nodes) <= 1 << 16 else "I")


class Runs:
    """A column of values that are nearly always the same, as runs of one
    value: ``starts`` (each run's first position) and ``values``. Adding
    ``count`` more of the last value costs nothing; a slice of one run is
    that value (what the page is sent then)."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.values: list[Any] = []
        self.size = 0

    def add(self, value: Any, count: int) -> None:
        """``count`` more positions of ``value``."""
        if not self.values or self.values[-1] != value or type(self.values[-1]) is not type(value):
            self.starts.append(self.size)
            self.values.append(value)
        self.size += count

    def extend(self, values: Iterable[Any]) -> None:
        """Each of ``values`` (a batch that is not all the same)."""
        for value in values:
            self.add(value, 1)

    def slice(self, start: int, stop: int) -> Any:
        """The values of positions ``start`` to ``stop``: the one value when
        all are the same (and the slice is not empty), else a list."""
        if start >= stop:
            return []
        first = bisect.bisect_right(self.starts, start) - 1
        last = bisect.bisect_left(self.starts, stop)  # the runs that begin before stop
        if last - first == 1:
            return self.values[first]
        out: list[Any] = []
        for i in range(first, last):
            run_stop = self.starts[i + 1] if i + 1 < len(self.starts) else self.size
            out += [self.values[i]] * (min(stop, run_stop) - max(start, self.starts[i]))
        return out


class Columns:
    """A run's attempts and ends as the page takes them, grown by :meth:`add`
    (``Board``: in the engine's thread as they come, while a page is open),
    so that a page's batch is only slices of them. ``to`` says how far they
    go, as ``(ends, attempts)``.

    Per attempt: ``node`` (its position in the graph's ``id``: three times
    cheaper to encode than its name; 16 bits unless the plan has more than
    65,536 nodes), ``worker`` (a position in ``workers``; 16 bits too, unless
    there are more workers),
    ``started`` and ``duration`` as numbers in arrays (bytes for the page:
    a float in JSON costs more than the rest of its attempt); ``index``,
    ``number``, ``ok`` and ``error``, values that are nearly always the same,
    as :class:`Runs` (sent as one value then); per end ``end`` (its node's
    position) and ``state`` (Runs too)."""

    def __init__(self) -> None:
        self.to = (0, 0)
        #: how far the record is read: its rows, its spans (see catch_up)
        self.read = (0, 0)
        self.node, self.worker = array("H"), array("H")
        self.started, self.duration = array("d"), array("d")
        self.index, self.number, self.ok, self.error = Runs(), Runs(), Runs(), Runs()
        self.end = array("H")
        self.state = Runs()
        self.workers: list[str] = []
        self.lanes: dict[str, int] = {}

    def catch_up(self, rows: list[AttemptRow], told: int, states: dict[str, str], ended: int,
                 layout: Layout, *, whole: bool = False, spans: Sequence[Span] = (),
                 counted: int = 0) -> None:
        """:meth:`add` what ``rows[:told]``, ``spans[:counted]`` (the columns
        of first attempts that succeeded, each with where in the rows it
        goes) and the first ``ended`` of ``states`` (a run record) have that
        these columns have not; ``whole``: the record grows no more (all of
        it is read without copies then)."""
        ends, _ = self.to
        read, parts = self.read
        if read >= told and parts >= counted and ends >= ended:
            return
        if whole and ends == 0 and ended == len(states):
            nodes, values = [*states], [*states.values()]
        else:
            nodes = list(itertools.islice(states, ends, ended))
            values = list(itertools.islice(states.values(), ends, ended))
        self.add(rows if whole and read == 0 and told == len(rows) else rows[read:told],
                 nodes, values, layout, spans[parts:counted] if parts else spans[:counted],
                 read)
        self.read = (told, counted)

    def add(self, rows: Sequence[AttemptRow], ended: Sequence[str], states: Sequence[str],
            layout: Layout, spans: Sequence[Span] = (), read: int = 0) -> None:
        """Add ``rows`` and the ends of the tasks ``ended`` in ``states``: the
        next ones (from one thread at a time); ``spans`` go among the rows,
        each where it says (``rows`` begin at ``read`` of the record).

        A column at a time, each in one call (no Python code per row; not
        all at once with ``zip(*rows)``, which reads every field of every
        row: faster in a loop, a fifth slower at a run's end, where the rows
        are no longer in the CPU's cache), numbers put in arrays as bytes
        (``struct``: a third of an array's own conversion); what a batch
        nearly always is (first tries that succeeded, each task's end right
        after its attempt, one state) is found by counting."""
        if self.node.typecode != layout.code:  # (before the first row: the plan's size says)
            self.node, self.end = array(layout.code), array(layout.code)
        nodes: list[str] = []
        wheres: list[bytes] = []
        done = 0
        for at, span_nodes, starts, durations, worker in spans:
            if at - read > done:
                self._rows(rows[done:at - read], layout, nodes, wheres)
                done = at - read
            self._span(span_nodes, starts, durations, worker, layout, nodes, wheres)
        self._rows(rows[done:] if done else rows, layout, nodes, wheres)
        if ended:
            # Each task's end right after its one attempt, the usual case: the
            # same nodes (compared by identity, mostly), looked up once.
            self.end.frombytes(b"".join(wheres) if list(ended) == nodes
                               else _pack(layout.code, _get(layout.positions, ended)))
            state = states[0]
            if states.count(state) == len(states):
                self.state.add(state, len(states))
            else:
                self.state.extend(states)
        # Last: a page reads ``to`` first, and the columns up to it are whole.
        self.to = (self.to[0] + len(ended), self.to[1] + len(nodes))

    def _rows(self, rows: Sequence[AttemptRow], layout: Layout, nodes: list[str],
              wheres: list[bytes]) -> None:
        """Add attempt ``rows``; their nodes go on ``nodes``, their positions'
        bytes on ``wheres``."""
        n = len(rows)
        if not n:
            return
        node = nodes_of(rows)
        where = _pack(layout.code, _get(layout.positions, node))
        nodes += node
        wheres.append(where)
        self.node.frombytes(where)
        self._workers([*map(_WORKER, rows)])
        self.started.frombytes(_pack("d", [*map(_STARTED, rows)]))
        self.duration.frombytes(_pack("d", [*map(_DURATION, rows)]))
        # First tries (numbers are 1 and up), of no fan-out (known of a
        # plan where no node retries or fans out), that succeeded (an
        # attempt's error is None when, and only when, it did).
        if operator.countOf(map(_ERROR, rows), None) == n and (layout.firsts or (
                sum(map(_NUMBER, rows)) == n
                and operator.countOf(map(_INDEX, rows), None) == n)):
            self._firsts(n)
        else:
            for runs, field in ((self.index, _INDEX), (self.number, _NUMBER),
                                (self.ok, _OK), (self.error, _ERROR)):
                runs.extend(map(field, rows))

    def _span(self, node: list[str], starts: Sequence[float], durations: Sequence[float],
              worker: str, layout: Layout, nodes: list[str], wheres: list[bytes]) -> None:
        """Add a span of the record (first attempts that succeeded on ``worker``):
        each column in one call, the worker's lane repeated."""
        n = len(node)
        where = _pack(layout.code, _get(layout.positions, node))
        nodes += node
        wheres.append(where)
        self.node.frombytes(where)
        lane = self.lanes.get(worker)
        if lane is None:
            lane = self._lane(worker)  # (first: the column may get wider)
        self.worker += array(self.worker.typecode, (lane,)) * n
        self.started.frombytes(_pack("d", starts))
        self.duration.frombytes(_pack("d", durations))
        self._firsts(n)

    def _firsts(self, n: int) -> None:
        """``n`` first tries, of no fan-out, that succeeded."""
        for runs, value in ((self.index, None), (self.number, 1), (self.ok, True),
                            (self.error, None)):
            runs.add(value, n)

    def _workers(self, workers: Sequence[str]) -> None:
        """The lanes of ``workers`` (a new worker gets the next lane): each
        run of rows from one worker (a worker process answers a batch at
        once) as one lane repeated; rows of workers taking turns (a pool of
        threads) one lookup each."""
        runs: list[tuple[str, int]] = []
        for worker, run in itertools.groupby(workers):
            runs.append((worker, len(list(run))))
            if len(runs) > _RUN:
                break
        else:
            code = self.worker.typecode
            for worker, count in runs:
                lane = self.lanes.get(worker)
                self.worker += array(code, (self._lane(worker) if lane is None else lane,)) * count
            return
        for worker in dict.fromkeys(workers):
            if worker not in self.lanes:
                self._lane(worker)
        self.worker.frombytes(_pack(self.worker.typecode, _get(self.lanes, workers)))

    def _lane(self, worker: str) -> int:
        """A lane for a new ``worker`` (the column gets wider past 65,536)."""
        lane = self.lanes[worker] = len(self.workers)
        self.workers.append(worker)
        if lane == 1 << 16:
            self.worker = array("I", self.worker)
        return lane


def settle(running: dict[tuple[str, int | None], tuple[int, str, float]],
           started: Sequence[tuple[str, int, int | None, str, float]],
           rows: Sequence[AttemptRow], final: Container[str] = (),
           since: int = 0) -> None:
    """Bring ``running`` (``(node, index) -> (attempt, worker, started)``) up
    to an on_batch's ``started`` and ended ``rows``: an attempt whose row is
    in ``rows`` is gone from it, unless its retry started in the batch too.
    Few attempts are told as started (those that ran long enough): those of
    a task in ``final`` (the tasks that reached their final state: all their
    attempts ended) go at once, the others are each looked for among the
    rows' nodes (a search in one call), not each row in ``running``. Only
    ``rows[since:]`` are the batch's (sliced only when searched)."""
    for node, attempt, index, worker, at in started:
        running[node, index] = (attempt, worker, at)
    if running and final:
        for key in [key for key in running if key[0] in final]:
            del running[key]
    if not running or len(rows) <= since:
        return
    if since:
        rows = rows[since:]
    if len(running) > _SEARCHED:
        # Many told as started (every attempt, inline): a search each would be
        # quadratic; the last attempt of each task in the rows, found once.
        last: dict[tuple[str, int | None], int] = {}
        for row in rows:
            key = (row[0], row[2])
            if last.get(key, 0) < row[1]:
                last[key] = row[1]
        for key, (attempt, _, _) in list(running.items()):
            if last.get(key, 0) >= attempt:
                del running[key]
        return
    nodes = nodes_of(rows)
    for key, (attempt, _, _) in list(running.items()):
        node, index = key
        at = -1
        while True:
            try:
                at = nodes.index(node, at + 1)
            except ValueError:
                break  # still going
            if rows[at][2] == index and rows[at][1] >= attempt:
                del running[key]
                break


def nodes_of(rows: Sequence[AttemptRow]) -> list[str]:
    """The nodes of attempt ``rows``, in one call."""
    return [*map(_NODE, rows)]


def _pack(code: str, numbers: Sequence[Any]) -> bytes:
    """``numbers`` as the bytes of an ``array(code)``, in one call."""
    return struct.pack(f"{len(numbers)}{code}", *numbers)


def _get(mapping: dict[str, int], keys: Sequence[str]) -> Sequence[int]:
    """``mapping``'s values of ``keys``, looked up in one call (a third of
    ``map(mapping.__getitem__, keys)``'s time)."""
    if len(keys) > 1:
        return operator.itemgetter(*keys)(mapping)  # type: ignore[no-any-return]
    return [mapping[k] for k in keys]
