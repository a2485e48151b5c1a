"""What a worker's answers become in the caller: each result matched to the
task it answers, then handed to that task's run.

A worker answers in the order it was sent its tasks (``_worker.py``), one
result per task, each with the task's tag. The pool's receiver thread
matches them to the queue of that worker (``Proc.inflight``): one ``Sent``
per job, and one per column of the engine's (a wide flow's plain tasks:
:class:`~webber.executors._base.Column`), which its results take off the
queue a span at a time (``Sent.answered``: how many came). A run gets its
jobs' results as one :class:`Outcomes` and a column's as one
:class:`ColumnOutcomes` (columns of oks, values, starts and durations made
by one ``zip``): no object made per task. If the worker dies, the tasks it
had not answered are still known one by one (:func:`waiting`, and the
column's position of the task that crashed: :func:`crashed_node`).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from itertools import repeat
from operator import is_not
from typing import Any

from webber.executors._base import Column, ColumnOutcomes, Job, Outcome, Outcomes
from webber.executors._process import Proc
from webber.executors._session import Sent, Session, Undecodable, decode
from webber.executors._shm import remove_segments

__all__ = ["Span", "crashed_node", "deliver", "match", "report_crash", "requeue", "waiting"]

#: the task, the results it got (``results[i:j]``), and the column position of
#: ``results[i]`` (0 for a job)
Span = tuple[Sent, int, int, int]

#: where an answer has ok, the value, started and duration (see _worker)
_AT = (1, 2, 4, 5)


def match(proc: Proc, results: list[tuple[Any, ...]]) -> list[Span]:
    """Take ``results`` off ``proc``'s queue (under the pool's lock), in order;
    note where each result was made (its children run best there)."""
    spans: list[Span] = []
    inflight, where = proc.inflight, None
    i, count = 0, len(results)
    while i < count:
        task = inflight[0]
        job = task.job
        if job.__class__ is Column:
            assert isinstance(job, Column)
            first = task.answered
            j = i + min(len(job.nodes) - first, count - i)
            if job.chained and results[j - 1][0] != task.tag + first + j - i - 1:
                # (the worker stopped the chain at a failure: what follows is the next task's)
                j = next(k for k in range(i, j) if not results[k][1]) + 1
            assert results[i][0] == task.tag + first, "worker answered out of order"
            assert results[j - 1][0] == task.tag + first + j - i - 1, "answered out of order"
            task.answered = first + j - i
            if job.chained:  # the worker stopped the chain at a failure, or ran it all
                if not results[j - 1][1] or task.answered == len(job.nodes):
                    inflight.popleft()
                    task.session.where[job.nodes[task.answered - 1]] = proc
            elif task.answered == len(job.nodes):
                inflight.popleft()
            if not job.leaves and not job.chained:
                task.session.where.update(zip(job.nodes[first:task.answered], repeat(proc)))
            spans.append((task, i, j, first))
            i = j
            continue
        inflight.popleft()
        result = results[i]
        assert task.tag == result[0], "worker answered out of order"
        if not result[1]:
            # The worker stopped the chain here; the engine drops the rest.
            for _ in range(task.links_after):
                remove_segments(inflight.popleft().segments)
        elif not task.links_after:  # (else its one child is its chain's next link, here already)
            if task.session.where is not where:
                where = task.session.where
            where[job.node] = proc
        spans.append((task, i, i + 1, 0))
        i += 1
    return spans


def deliver(name: str, spans: list[Span], results: list[tuple[Any, ...]]) -> None:
    """Report matched results to their runs (outside the pool's lock), in
    order: the jobs' of one run together (Outcomes: the engine wakes once for
    a batch and reads the rows as they came), a column's as its columns."""
    messages: list[tuple[Session, Outcomes | ColumnOutcomes]] = []
    outcomes: Outcomes | None = None
    for task, i, j, first in spans:
        session = task.session
        if task.job.__class__ is Column:
            messages.append((session, _columns(task, first, results[i:j], name)))
            outcomes = None
            continue
        result = results[i]
        if task.abandoned:
            remove_segments(result[3] or ())
            continue
        if outcomes is None or messages[-1][0] is not session:
            outcomes = Outcomes([], [], name, _AT)
            messages.append((session, outcomes))
        if result[3] is not None or not result[1]:  # not a plain value: rebuilt here
            tag, ok, payload, segments, started, duration, info, rss = result
            value = decode(task.job, ok, payload, segments, info, session.holder)  # type: ignore[arg-type]
            if value.__class__ is Undecodable:
                ok, value = False, value.error
            result = (tag, ok, value, None, started, duration, None, rss)
        outcomes.jobs.append(task.job)  # type: ignore[arg-type]
        outcomes.rows.append(result)
    for session, message in messages:
        session.report(message)


def _columns(task: Sent, first: int, rows: list[tuple[Any, ...]], name: str) -> ColumnOutcomes:
    """A column's answered ``rows`` (from position ``first``), as columns."""
    column = task.job
    assert isinstance(column, Column)
    _, oks, values, segments, starts, durations, _, _ = zip(*rows, strict=True)
    if all(oks) and not any(map(is_not, segments, repeat(None))):  # all plain values
        return ColumnOutcomes(column, first, oks, values, starts, durations, name)
    rebuilt = _rebuilt(column, first, rows, task.session, list(oks), list(values))
    return ColumnOutcomes(column, first, *rebuilt, starts, durations, name)


def _rebuilt(column: Column, first: int, rows: list[tuple[Any, ...]], session: Session,
             oks: list[bool], values: list[Any]) -> tuple[list[bool], list[Any]]:
    """``oks`` and ``values`` with the results that are not plain values rebuilt."""
    for k, (_, ok, payload, kept, _, _, info, _) in enumerate(rows):
        if kept is not None or not ok:
            value = decode(column.job(first + k), ok, payload, kept, info, session.holder)
            if value.__class__ is Undecodable:
                oks[k], value = False, value.error
            values[k] = value
    return oks, values


def waiting(inflight: Iterable[Sent]) -> list[int]:
    """The tags of the tasks in ``inflight`` not answered yet, in order."""
    tags: list[int] = []
    for task in inflight:
        job = task.job
        if job.__class__ is Column:
            tags += range(task.tag + task.answered, task.tag + len(job.nodes))
        else:
            tags.append(task.tag)
    return tags


def unanswered(inflight: deque[Sent], most: int) -> int:
    """How many tasks wait in ``inflight``, counted to past ``most`` (the
    columns that lead it, then one per entry: a queue of jobs is not walked)."""
    count = 0
    for k, task in enumerate(inflight):
        job = task.job
        if not isinstance(job, Column):
            return count + len(inflight) - k
        count += len(job.nodes) - task.answered
        if count > most:
            break
    return count


def crashed_node(task: Sent) -> str:
    """The node of the task ``task`` stands for that its worker ran when it died."""
    job = task.job
    return job.nodes[task.answered] if isinstance(job, Column) else job.node


def report_crash(task: Sent, error: BaseException, name: str) -> None:
    """Fail the task ``task`` stands for that its worker ran when it died."""
    job = task.job
    if isinstance(job, Column):
        task.session.report(ColumnOutcomes(job, task.answered, [False], [error], [time.time()],
                                           [0.0], name))
    else:
        task.session.report(Outcome(job, False, error, time.time(), 0.0, name))


def requeue(tasks: list[Sent], crashed: bool = True) -> None:
    """``tasks`` were queued on a worker that died: put back, at the front of
    their runs' queues, those that never started (no retry spent). When it
    died running the first (``crashed``), the ones behind it and the rest of
    its column; else (it died before it read them) all of them."""
    head = tasks[0]
    back: list[tuple[Session, Job | Column]] = []
    if (crashed and isinstance(head.job, Column) and head.answered + 1 < len(head.job.nodes)
            and not head.job.chained):  # (a chain's rest crashed with its link: dropped)
        back.append((head.session, head.job.part(head.answered + 1)))
    # (the rest of a chain crashed with its head: the engine drops it)
    for task in tasks[1 + head.links_after:] if crashed else tasks:
        if not task.abandoned and not task.link:  # a head brings its links again
            job = task.job
            back.append((task.session, job.part(task.answered) if isinstance(job, Column) else job))
    for session, job in reversed(back):
        session.pending.appendleft(job)
        if isinstance(job, Column):
            session.extra += len(job.nodes) - 1
