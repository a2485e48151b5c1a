"""One run's link to the process pool, the jobs it handed over, and what
comes back: a ``Session`` per run (where its outcomes go, its limit, its
queue), a ``Sent`` per job, and the rebuilding of a worker's answer."""

from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from webber._output import current_run
from webber._task_errors import ResultLoadError
from webber.executors._base import Column, Job, Report, Started
from webber.executors._caller import Context, current
from webber.executors._codec import decode_failure
from webber.executors._pickling import unpack
from webber.executors._process import Proc
from webber.executors._shm import Holder, Segment

__all__ = ["BIG_BATCH", "LONG", "MAX_BATCH", "PACE", "Sent", "Session", "Undecodable", "announce",
           "decode", "near", "worn"]

#: most jobs sent to a worker in one message, at first
MAX_BATCH = 64
#: most jobs in one message once a run's tasks proved tiny: the costs of a
#: message (pipe writes, wake-ups, locks, on both sides) shared by more jobs
BIG_BATCH = 1024
#: seconds of work a batch of tiny tasks is sized to (see Session.pace): at
#: most the worker's FLUSH, after which it answers anyway
PACE = 0.002
#: seconds a task of a name took, about, past which its tasks go to workers one
#: at a time (``Pool._dispatch``): a round trip per task costs them under 1%,
#: and a worker that is slow, or got the longest, holds none back
LONG = 0.02


#: numbers for runs (Session.serial), from 1
_serials = itertools.count(1)


@dataclass(eq=False, slots=True)
class Session:
    """One run's link to the pool: where its outcomes go, which functions it sent."""

    report: Report
    #: id(function) -> its id in the workers, the function, its pickle and segments
    functions: dict[int, tuple[str, Any, tuple[bytes, list[Segment]]]] = field(
        default_factory=dict)
    #: results' segments, kept to pass on to later tasks by reference
    holder: Holder = field(default_factory=Holder)
    #: Started for every job, or only for those with a timeout (Executor.report_starts)
    starts: bool = True
    #: most workers busy with this run's jobs at once (its max_workers)
    limit: int = 1
    #: recycle a worker once it has run this many tasks (None: never)
    max_tasks: int | None = None
    #: recycle a worker whose RSS passed this many bytes after a task (None: never)
    memory_limit: int | None = None
    #: jobs submitted, not yet sent to a worker
    pending: deque[Job | Column] = field(default_factory=deque)
    #: the tasks in ``pending`` beyond one per entry (a Column of n counts n - 1)
    extra: int = 0
    #: node id -> the worker that made its result (where its children run best)
    where: dict[str, Proc] = field(default_factory=dict)
    #: most jobs in one message to a worker (see pace)
    batch: int = MAX_BATCH
    #: the caller's directory, sys.path and environment, for its workers
    context: Context = field(default_factory=current)
    #: this run's number in the process (what a worker was last sent: Proc.served)
    serial: int = field(default_factory=_serials.__next__)
    #: the run's number (made in its engine's context): what its tasks print is its own
    run: int | None = field(default_factory=current_run)

    def pace(self, results: list[tuple[Any, ...]]) -> None:
        """Size the next batches by the answered ``results`` (a worker's, in
        order): as many jobs as take about PACE seconds there, between
        MAX_BATCH and BIG_BATCH. Only tiny tasks get bigger batches; a batch
        of longer ones is never bigger than before, so the run's last jobs
        still spread over the workers."""
        if len(results) < MAX_BATCH // 2:
            return  # too few to tell (a short batch, or answered early)
        first, last = results[0], results[-1]
        each = (last[4] + last[5] - first[4]) / len(results)  # (started, duration)
        # (a job that could not load says it started at 0: then no telling)
        self.batch = MAX_BATCH if each <= 0 else max(MAX_BATCH, min(BIG_BATCH, int(PACE / each)))


def near(job: Job | Column, session: Session, idle: list[Proc]) -> Proc:
    """An idle worker that made one of ``job``'s inputs, if there is one:
    its functions are loaded and its caches warm."""
    for parent in job.inputs or ():
        proc = session.where.get(parent)
        if proc is not None and proc in idle:
            return proc
    return idle[0]


def worn(proc: Proc, session: Session) -> bool:
    """Whether ``proc``, now idle after ``session``'s tasks, must be recycled."""
    return (session.max_tasks is not None and proc.tasks >= session.max_tasks) or (
        session.memory_limit is not None and proc.rss > session.memory_limit
    )


@dataclass(eq=False, slots=True)
class Sent:
    """One job handed to the pool: its tag, its segments, where it stands."""

    tag: int
    """Its tag (a column's tasks: tag, tag + 1, ...)."""
    job: Job | Column
    session: Session
    #: its shared-memory segments, once packed (see _pool's _pack)
    segments: list[Segment] | tuple[()] = ()
    abandoned: bool = False
    #: how many chain links follow this task in its worker's queue
    links_after: int = 0
    link: bool = False  # a chain link: re-created from its head, never requeued alone
    #: whether the engine was told it started (see announce)
    announced: bool = False
    #: a column's tasks answered (they come in order)
    answered: int = 0


def announce(task: Sent, proc: Proc) -> None:
    """Tell the engine ``task`` started, for its listeners: it is at the head of
    the queue of a worker that is up (a column: its first task is). A job
    with a timeout is not told here: its worker says when it begins (the
    pool's ``_begun``), so its clock does not count its wait."""
    job = task.job
    if not task.announced and proc.up and task.session.starts and job.timeout is None:
        task.announced = True
        task.session.report(Started(job, time.time(), proc.name))


@dataclass(slots=True)
class Undecodable:
    """A result that arrived but could not be rebuilt: why."""

    error: BaseException


def decode(job: Job, ok: bool, payload: Any, segments: list[Segment] | None, info: Any,
            holder: Holder) -> Any:
    """The value or exception a worker sent, rebuilt here."""
    if not ok:
        return decode_failure(job.node, payload, info)
    if segments is None:
        return payload  # a plain value (see dumps_value)
    try:
        value = unpack(payload, segments, holder) if payload else None
    except Exception as e:
        error = ResultLoadError(
            f"task {job.node!r} returned a value that cannot be unpickled here: "
            f"{type(e).__name__}: {e}; return plain data (the caller must be able to "
            f"import its class)",
            job.node,
        )
        error.__cause__ = e
        return Undecodable(error)
    return value
