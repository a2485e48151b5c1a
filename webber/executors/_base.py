"""The small interface between the engine and an executor.

The engine owns the run (states, conditions, retries, timeouts, events); an
executor only carries out jobs. It is handed a ``report`` callback at
``start`` and must call it exactly once per submitted job with an
:class:`Outcome`, from any thread, and never raise from ``submit`` because
of the task itself::

    engine --submit(Job)--> executor --runs--> task
    engine <--report(Started)-- executor            (when the task begins)
    engine <--report(Outcome)-- executor            (one per Job; or one
                                                     Outcomes for several)

A Started is needed only for a job with a timeout, or for every job when
``report_starts`` is set; an executor that learns of a start only with its
end (a batch of results) sends just the Outcome: the engine tells its
listeners of the start then. An executor in the caller's process may keep
the starts instead and hand them over when asked (``held_starts``).

A Job may head a chain: its ``links`` are jobs the executor runs right
after it, where it ran, each fed the previous result -- one hand-off instead
of one per task (``_work.run_links`` is the one chain runner). The executor
reports each link as it finishes and stops at the first failure; the engine
knows the rest did not run. To an executor with ``columns`` the links of
one function come as a chained :class:`Column` (``Job.chain``) instead,
reported as ColumnOutcomes.

Timeouts count from ``Started``, not from ``submit``: a job waiting for a
free worker is not running late.

An executor that says so (``columns``, the process executor) may be handed
a :class:`Column` among the jobs: first attempts at plain tasks of one
function (a wide flow's), one object for all of them, when no listener
wants each task's events. It reports them as :class:`ColumnOutcomes`, one
per part of the column that ends together; the engine finishes those in one
pass (a task that failed goes the way of a Job: its retry is a Job).

A Job carries the arguments as compiled (a :class:`~webber._refs.Ref` where a
parent's result goes) plus ``inputs``, the parents' results by node id; the
executor substitutes them where it runs the task (``_work.run_job``), so an
executor that keeps results remote can hand the engine handles instead of
values: a :class:`Remote` as an Outcome's value stays where it was computed
(the dask executor's cluster); the engine passes it on to the executor for
the children, and only the Run (or a fan-out over it) fetches it, once
(:func:`fetch`). A cache hit is a Remote too (``_stored.Stored``): it is
loaded where the job that needs it runs.
"""

from __future__ import annotations

import abc
import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from webber._errors import ExecutorError

if TYPE_CHECKING:
    from webber._plan import Plan

__all__ = ["Column", "ColumnOutcomes", "Executor", "Job", "Outcome", "Outcomes", "Remote", "Report",
           "Started", "fetch", "in_use"]


@dataclass(slots=True, eq=False)
class Job:
    """One attempt at one task (or one element of a fan-out).

    Job, Outcome and Started are read-only by convention, not frozen: a
    frozen dataclass costs several times as much to create, and a run makes
    them for every task.
    """

    node: str
    """The node's id."""
    index: int | None
    """The element of a fan-out, else None."""
    attempt: int
    """1 for the first try."""
    name: str
    """The task's name, for its output and logs."""
    func: Callable[..., Any]
    args: tuple[Any, ...]
    """The arguments as compiled: a Ref where a parent's result goes."""
    kwargs: Mapping[str, Any]
    inputs: Mapping[str, Any] | None
    """Parent id -> result, to put in place of the Refs; None when there are none."""
    timeout: float | None
    links: tuple[Job, ...] = ()
    """The rest of the chain this job heads: jobs to run right after it, in
    order, each taking the previous one's result; an executor stops at the
    first failure and reports nothing for the rest."""
    chain: Column | None = None
    """The same as one chained :class:`Column` instead (``links`` empty),
    for an executor with ``columns``: no Job per link."""

    @property
    def key(self) -> tuple[str, int | None]:
        """``(node, index)``: one task, or one element of a fan-out."""
        return (self.node, self.index)


@dataclass(slots=True, eq=False)
class Outcome:
    """What became of a Job: its value, or the exception it raised."""

    job: Job
    ok: bool
    value: Any
    """The result, or the BaseException raised."""
    started: float
    """When the task began, as ``time.time()``."""
    duration: float
    """Seconds."""
    worker: str
    """Which thread or process ran it."""


@dataclass(slots=True, eq=False)
class Outcomes:
    """The outcomes of several jobs that ran on one worker, as columns: one
    object for a batch of results, not an :class:`Outcome` per job (a
    worker process answers hundreds of tiny jobs at once). ``rows[i]`` is
    ``jobs[i]``'s, a tuple with its ``ok``, ``value``, ``started`` and
    ``duration`` at the positions ``at`` names (the rows are the worker's
    answers as they came: no tuple is made anew for them)."""

    jobs: list[Job]
    rows: list[tuple[Any, ...]]
    worker: str
    #: where ok, value, started and duration are in a row
    at: tuple[int, int, int, int]

    def each(self) -> list[Outcome]:
        """One Outcome per job (for a reader that takes them one by one)."""
        ok, value, started, duration = self.at
        return [Outcome(job, row[ok], row[value], row[started], row[duration], self.worker)
                for job, row in zip(self.jobs, self.rows, strict=True)]


@dataclass(slots=True, eq=False)
class Column:
    """First attempts at several plain tasks of one function, as one object:
    a wide flow's roots, submitted without a Job per task to an executor that
    takes them (:attr:`Executor.columns`), and reported back as
    :class:`ColumnOutcomes`. Plain: positional arguments with no Ref, no
    keyword arguments, no inputs, no chain, no timeout (so the fields a
    reader of a Job looks at are constants here), and either each a node or
    each an element of one fan-out (``element``). Or, when
    ``chained``, the links of a chain (``Job.chain``): each takes the result
    of the one before, which the executor passes on where it runs them."""

    func: Callable[..., Any]
    name: str
    nodes: list[str]
    """The tasks' node ids, in order."""
    args: list[tuple[Any, ...]]
    """Each task's positional arguments."""
    #: the engine's: none of these nodes has children (their ends decide nothing)
    leaves: bool = True
    #: a chain's links (Job.chain): each task takes the one before's result as
    #: its only argument (the first, its head's); ``args`` are the compiled ones
    chained: bool = False
    #: the engine's, for a chained column: its tasks from here on were dropped
    #: (a task before failed), so their answers, if any come, are ignored
    stop: int | None = None
    #: a fan-out's elements: task ``k`` is element ``element + k`` of the one
    #: node ``nodes`` names (None: each task is a node of its own)
    element: int | None = None

    index: ClassVar[None] = None
    attempt: ClassVar[int] = 1
    kwargs: ClassVar[Mapping[str, Any]] = {}
    inputs: ClassVar[None] = None
    timeout: ClassVar[None] = None
    links: ClassVar[tuple[Job, ...]] = ()
    chain: ClassVar[None] = None

    @property
    def node(self) -> str:
        """The first task's node id (what a message about the whole column names)."""
        return self.nodes[0]

    def part(self, start: int, stop: int | None = None) -> Column:
        """The tasks from ``start`` to ``stop``, as a column of their own."""
        return Column(self.func, self.name, self.nodes[start:stop], self.args[start:stop],
                      self.leaves, self.chained,
                      element=None if self.element is None else self.element + start)

    def job(self, k: int) -> Job:
        """Task ``k`` as a Job (for the rare path that needs one: a failure)."""
        return Job(self.nodes[k], self.index_of(k), 1, self.name, self.func, self.args[k], {},
                   None, None)

    def index_of(self, k: int) -> int | None:
        """Task ``k``'s element index (None: it is a node, not an element)."""
        return None if self.element is None else self.element + k


@dataclass(slots=True, eq=False)
class ColumnOutcomes:
    """What became of the tasks of ``column`` from ``first`` on, one worker's,
    as columns (``oks[i]`` is task ``first + i``'s)."""

    column: Column
    first: int
    oks: Sequence[bool]
    values: Sequence[Any]
    """Results, or the BaseExceptions raised."""
    starts: Sequence[float]
    durations: Sequence[float]
    worker: str


@dataclass(slots=True, eq=False)
class Started:
    """A Job began to run (on ``worker``, at ``time.time()`` ``at``); for a
    Column, its first task did (the engine follows the rest by its answers)."""

    job: Job | Column
    at: float
    worker: str


#: where an executor sends what happens: one message, or several in order
#: (one hand-over for a batch of results), or a batch of Outcomes in columns;
#: an exception when the run cannot go on (the loop raises it)
Report = Callable[
    ["Started | Outcome | Outcomes | ColumnOutcomes | list[Started | Outcome] | BaseException"],
    None]


class Remote(abc.ABC):
    """A task's result kept where the executor computed it (see the module doc),
    or a cache hit kept in the store (``_stored.Stored``).

    An executor's own handles come back only to that executor as inputs; a
    cache hit may reach any executor's job, which fetches it where it runs
    (``_work.materialize``). Everyone else sees the value through :func:`fetch`.
    """

    __slots__ = ()

    @abc.abstractmethod
    def fetch(self) -> Any:
        """The value, brought here (on the first call; later calls reuse it)."""

    @classmethod
    def fetch_many(cls, remotes: Sequence[Remote]) -> list[Any]:
        """The values of several handles of this class (a fan-out's results);
        override to fetch them in one round trip."""
        return [remote.fetch() for remote in remotes]

    def ready(self) -> bool:
        """Whether the task that computes it has ended, so :meth:`fetch` waits
        for nothing but the transfer: a run with ``cache=`` stopped by Ctrl-C
        stores those. Override it where that is known (False: not stored)."""
        return False


def fetch(value: Any) -> Any:
    """``value`` with its Remote handles fetched: a Remote itself, or the list
    the engine built of a fan-out's element results (with a ``partial=True``
    fan-out's exceptions among them). Anything else is returned
    as it is (a task's own value is never searched)."""
    if isinstance(value, Remote):
        return value.fetch()
    if type(value) is list and value and any(isinstance(v, Remote) for v in value):
        # A fan-out's results: all handles, or (partial=True) exceptions among them.
        remotes = [v for v in value if isinstance(v, Remote)]
        fetched = iter(type(remotes[0]).fetch_many(remotes))
        return [next(fetched) if isinstance(v, Remote) else v for v in value]
    return value


class Executor(abc.ABC):
    """Carries out jobs for the engine. Subclass to add a backend.

    Lifecycle per run: ``start(report)``, any number of ``submit(job)`` and
    ``abandon(job)``, then ``stop(cancel)``. An executor instance may serve
    several runs one after another, one at a time (:func:`in_use`).
    """

    name: str = ""
    """The name used in ``run(executor=...)``."""

    report_starts: bool = True
    """Whether the engine needs a ``Started`` for every job. The engine sets it
    before ``start()``: False when no listener asks for task starts. A job
    with a ``timeout`` needs its ``Started`` regardless (its clock starts
    there); an executor may skip the others' to save the messages."""

    #: For an executor that keeps the starts of the jobs it runs where the
    #: engine can ask for them (threads, in the caller's process): returns
    #: those not handed over yet. The engine asks every ``_inbox.STARTS``
    #: seconds while it waits, instead of being sent a Started per job (most
    #: tasks end before anyone would look). None: it reports them.
    held_starts: Callable[[], list[Started]] | None = None

    def __init__(self, max_workers: int | None = None) -> None:
        if max_workers is not None and (
            not isinstance(max_workers, int) or isinstance(max_workers, bool) or max_workers < 1
        ):
            raise ExecutorError(
                f"max_workers={max_workers!r}: must be a whole number >= 1, "
                "or None for one per core"
            )
        self.max_workers = max_workers

    def _prepare(self) -> None:  # noqa: B027 (optional hook)
        """Start now what takes long to start (a worker process), before the
        flow compiles, so that it comes up meanwhile. Called only when the
        run will run tasks (not for ``resume=`` or ``cache=``: they may run none; nor for
        a flow without tasks)."""

    def check(self, plan: Plan) -> None:  # noqa: B027 (optional hook)
        """Refuse, before anything runs, a plan this executor cannot run
        (raise a :class:`~webber.GraphError` naming the task)."""

    @abc.abstractmethod
    def start(self, report: Report) -> None:
        """Get ready to run jobs; ``report`` receives a Started and an Outcome per job."""

    @abc.abstractmethod
    def submit(self, job: Job) -> None:
        """Run ``job`` (now or when a worker is free) and report its Outcome."""

    columns: bool = False
    """Whether ``submit_many`` takes a :class:`Column` among the jobs (and
    reports a :class:`ColumnOutcomes` for each part of it that ends)."""

    def submit_many(self, jobs: Sequence[Job | Column]) -> None:
        """Submit several jobs at once (the engine's whole decision pass);
        an executor with a lock or a pipe to feed overrides it to pay once."""
        for job in jobs:
            assert isinstance(job, Job), "a Column for an executor without columns"
            self.submit(job)

    def abandon(self, job: Job) -> None:  # noqa: B027 (optional hook)
        """The engine gave up on ``job`` (timeout): stop it if possible.

        Its Outcome may still be reported later; the engine ignores it.
        """

    @abc.abstractmethod
    def stop(self, cancel: bool = False) -> None:
        """End the run; with ``cancel``, drop queued jobs and stop what can be stopped."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(max_workers={self.max_workers!r})"

    #: whether a run or stream has it now (see in_use)
    _busy: bool = False


_busy_lock = threading.Lock()


@contextlib.contextmanager
def in_use(executor: Executor) -> Iterator[None]:
    """Hold ``executor`` for one run or stream, or raise ExecutorError if
    another has it: an instance serves one at a time (its ``start`` takes
    the run's report in place of the last one's), and a second one at once
    -- a lazy stream not ended, or the run a task that runs a flow is part
    of -- hung, or failed both with an AssertionError."""
    with _busy_lock:
        if executor._busy:
            raise ExecutorError(
                f"{executor!r} is in use by another run or stream that has not ended (a lazy "
                f"stream not exhausted or closed, or the run whose task this is); an executor "
                f"serves one at a time: pass a new one for this (a DaskExecutor of the same "
                f"Client, say), or its name (executor={executor.name!r})"
            )
        executor._busy = True
    try:
        yield
    finally:
        executor._busy = False
