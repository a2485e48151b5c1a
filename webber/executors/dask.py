"""The dask executor: each job becomes one task on a dask cluster.

The engine keeps every rule of the run (conditions, retries, timeouts,
fan-out); dask only carries out jobs, running webber's own ``run_job`` on a
worker, so a flow computes the same here as on the other executors::

    engine --submit(Job)--> client.submit(run_remote, spec, *parent futures)
                                    |                      (pure=False, a unique key)
                                    v
                            dask worker: run_job for the job and its chain;
                            each job's start and end go back as events
    engine <--Started/Outcome-- event handler (client's thread) <-- scheduler
    engine <--Outcome (crash)-- future.add_done_callback        <-- KilledWorker

Results stay on the cluster: an Outcome's value is a :class:`Handle` (a
:class:`~webber.executors.Remote`) holding the dask Future, a child's job gets
its parents' Futures as arguments of ``client.submit`` (dask moves the data
from worker to worker), and only the Run brings a value here, the first time
it is read (``run[node]``), once. A chain (a job and its ``links``) runs as one dask task
that returns the list of its links' values.

Each job's end travels as a ``log_event`` message (topic ``webber-<client
id>``) with its start time, its worker, the lines the task printed (so they
reach the caller's ``"webber"`` logger, attributed to the task) and a
failure's exception and traceback. The worker sends it before the task's
result, and dask keeps that order up to the client, so an Outcome's lines are
logged before it is reported. Only a job with a timeout (its clock starts
there), or any job of a run whose listeners want task starts, also reports its
start when it starts; the others send one message per job, their end.
Inside a chain, a link's report reaches the scheduler before the next link
starts, so a crash is blamed on the link that ran. A dask task never raises
for the task's sake: when its future errs, the worker died
(``KilledWorker``) or dask could not run it.

Limits: a running task cannot be interrupted -- on a timeout (or Ctrl-C) its
future is cancelled and the engine moves on, but the worker thread finishes
the task; lines a task printed before its worker died are lost with it; and,
as with any dask task, a task whose worker dies may be run again by dask
(``distributed.scheduler.allowed-failures``), and a result lost with a worker
is recomputed when it is needed.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from webber import _output
from webber._errors import CacheError, ExecutorError
from webber._task_errors import JobSendError, TaskError, WorkerCrashedError
from webber.executors._base import Executor, Job, Outcome, Report, Started
from webber.executors._codec import decode_failure
from webber.executors._dask_main import starting_cluster
from webber.executors._dask_remote import Slot, Spec, run_remote
from webber.executors._dask_results import Box, Handle, gather
from webber.executors._picklable import check_plan
from webber.executors._source import sources_of
from webber.executors._stored import Stored

if TYPE_CHECKING:
    from distributed import Client

    from webber._plan import Plan

# distributed's own annotations differ from release to release and leave much
# untyped: its objects are handled as Any here, past the public signature.
_Client = Any
_Future = Any

__all__ = ["DaskExecutor"]

INSTALL = ("the dask executor needs dask.distributed, which is not installed: "
           "pip install 'webber[dask]'")


def _distributed() -> Any:
    """The ``distributed`` module, or a one-line ExecutorError that says how to
    install it (or, installed, why it cannot be imported)."""
    try:
        import distributed
    except ImportError as e:
        if isinstance(e, ModuleNotFoundError) and e.name in ("distributed", "dask"):
            raise ExecutorError(INSTALL) from None  # (the ImportError says no more)
        why = (str(e).splitlines() or [""])[0]  # (its first line: one line in all)
        raise ExecutorError(
            f"the dask executor needs dask.distributed, which is installed but fails to "
            f"import ({type(e).__name__}: {why}); reinstall it: pip install 'webber[dask]'"
        ) from e
    return distributed


def _local_cluster(n_workers: int) -> tuple[_Client, Callable[[], None]]:
    """A LocalCluster of ``n_workers`` single-threaded processes and a Client
    of it, for one run of ``executor="dask"``; and how to close both."""
    distributed = _distributed()
    import dask

    # Non-daemonic workers, as in webber's own pool: a task may start processes
    # (a ProcessPoolExecutor, a nested flow); daemonic ones may not have children.
    with dask.config.set({"distributed.worker.daemon": False}), starting_cluster():
        cluster = distributed.LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True,
            # Any free port: the default 8787 may be taken (another cluster), which
            # only costs a warning on stderr, but a warning all the same.
            dashboard_address=":0",
        )
    try:
        # Not the default client: the user's own dask code keeps its own.
        client = distributed.Client(cluster, set_as_default=False)
    except BaseException:
        cluster.close()
        raise

    def close() -> None:
        try:
            client.close()
        finally:
            cluster.close()

    return client, close


#: the dask tasks of attempts that timed out, still running (see abandon)
_lingering: set[_Future] = set()

# Each client's webber events come on one topic ("webber-<client id>"), routed
# here to the run they belong to by its token. One topic per client, not per
# run: the scheduler keeps a topic's last events, and runs come and go.
_routes_lock = threading.Lock()
_routes: dict[str, dict[str, Callable[[Any], None]]] = {}


def _subscribe(client: _Client, token: str, handler: Callable[[Any], None]) -> str:
    topic = f"webber-{client.id}"
    with _routes_lock:
        routes = _routes.setdefault(topic, {})
        if not routes:
            # The subscription reaches the scheduler before the run's tasks do
            # (one ordered stream), so no event is missed.
            client.subscribe_topic(topic, lambda event: _dispatch(topic, event))
        routes[token] = handler
    return topic


def _unsubscribe(client: _Client, topic: str, token: str) -> None:
    with _routes_lock:
        routes = _routes.get(topic, {})
        routes.pop(token, None)
        if not routes:
            _routes.pop(topic, None)
            if client.status == "running":
                client.unsubscribe_topic(topic)


def _dispatch(topic: str, event: Any) -> None:
    _, message = event  # (the scheduler's time, what the worker sent)
    handler = _routes.get(topic, {}).get(message[1])
    if handler is not None:  # else a late event of a run that is over
        handler(message)


class DaskExecutor(Executor):
    """Runs each task as a dask task on ``client``'s cluster, results staying there.

    ``DaskExecutor(client)`` uses your ``distributed.Client`` (webber never
    closes it); ``executor="dask"`` (or ``DaskExecutor()``) starts a
    ``LocalCluster`` of ``max_workers`` single-threaded worker processes
    (default 2) for each run and closes it after the run.

    Results stay on the cluster: tasks get their parents' results from the
    worker that made them, and ``run[node]`` fetches a value the first time you
    read it. With your own client the Run keeps them there until it is
    garbage-collected; with a cluster of webber's own, every result is fetched
    before the cluster closes.

    Its workers are not daemonic, so tasks may start processes; on your own
    cluster that needs the dask setting ``distributed.worker.daemon: False``.

    Like any ``LocalCluster``, ``executor="dask"`` in a script needs the
    script's code under ``if __name__ == "__main__":`` (workers are spawned
    processes that import the main module); without it the run raises an
    ExecutorError that says so.

    >>> from dask.distributed import Client, LocalCluster  # doctest: +SKIP
    >>> import webber
    >>> dag = webber.DAG()
    >>> n = dag.add_node(sum, [1, 2, 3])
    >>> with LocalCluster(n_workers=2) as cluster, Client(cluster) as client:  # doctest: +SKIP
    ...     run = dag.run(executor=webber.DaskExecutor(client))
    ...     print(run[n])
    6
    """

    name = "dask"

    def __init__(self, client: Client | None = None, max_workers: int | None = None) -> None:
        super().__init__(max_workers)
        distributed = _distributed()  # fail now, with how to install it
        if client is not None:
            if not isinstance(client, distributed.Client):
                raise ExecutorError(
                    f"DaskExecutor(client={client!r}): expected a distributed.Client, "
                    f"e.g. DaskExecutor(Client(cluster))"
                )
            if client.asynchronous:
                raise ExecutorError(
                    "DaskExecutor needs a synchronous Client (asynchronous=False): the "
                    "engine waits for results in the calling thread"
                )
            if max_workers is not None:
                raise ExecutorError(
                    f"DaskExecutor(client, max_workers={max_workers}): max_workers sizes "
                    f"the cluster webber starts when it has no client; size your own "
                    f"cluster where you create it"
                )
        self.client: _Client = client
        self._session: _Session | None = None

    def __repr__(self) -> str:
        if self.client is None:
            return f"DaskExecutor(max_workers={self.max_workers!r})"
        return f"DaskExecutor({self.client!r})"

    def check(self, plan: Plan) -> None:
        check_plan(plan)  # refuse what cannot travel, before anything runs

    def start(self, report: Report) -> None:
        if self.client is None:
            client, close = _local_cluster(self.max_workers or 2)
            self._session = _Session(client, report, close, self.report_starts)
            return
        if self.client.status != "running":
            raise ExecutorError(
                f"the dask Client given to DaskExecutor is {self.client.status}; "
                f"pass an open Client"
            )
        self._session = _Session(self.client, report, None, self.report_starts)

    def submit(self, job: Job) -> None:
        assert self._session is not None, "DaskExecutor.submit() before start()"
        self._session.submit(job)

    def abandon(self, job: Job) -> None:
        if self._session is not None:
            self._session.abandon(job)

    def stop(self, cancel: bool = False) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.stop(cancel)


def _nowhere(message: object) -> None:
    """A stopped session's report."""


class _Session:
    """One run on the cluster: its dask tasks and where their reports go.

    Everything a late report could reach is bound here, so a task of an
    earlier run (abandoned, or re-run by dask) never reports into a later one.
    """

    def __init__(self, client: _Client, report: Report, close: Callable[[], None] | None,
                 starts: bool) -> None:
        self.client = client
        self.report = report
        self.starts = starts  # each job reports its start when it starts, not with its end
        self.close = close  # closes the cluster webber started for this run
        self.killed_worker: type[BaseException] = _distributed().KilledWorker
        self.token = uuid.uuid4().hex
        self.run = _output.current_run()  # (made in the run's engine: its lines are its own)
        self.tags = itertools.count()
        self.boxes: dict[int, Box] = {}
        self.by_job: dict[tuple[tuple[str, int | None], int], Box] = {}
        self.shares_store: bool | None = None  # whether the workers can read cache hits
        try:
            self.topic = _subscribe(client, self.token, self.on_event)
        except BaseException:
            if close is not None:
                close()
            raise

    def submit(self, job: Job) -> None:
        tag = next(self.tags)
        box = Box((job, *job.links))
        # Known before it can report: its events may come back on another thread.
        self.boxes[tag] = box
        self.by_job[(job.key, job.attempt)] = box
        deps: list[_Future] = []
        where: dict[int, int] = {}  # id(future) -> its place in deps

        def slot(value: Any) -> Any:
            if isinstance(value, Handle):
                future = value.box.future
                assert future is not None
                if id(future) not in where:
                    where[id(future)] = len(deps)
                    deps.append(future)
                return Slot(where[id(future)], value.position)
            if type(value) is list and value and any(isinstance(v, Handle) for v in value):
                return [slot(v) for v in value]  # a fan-out's results (partial: and errors)
            if isinstance(value, Stored):
                return self.stored(value)
            return value

        remote = job
        if job.inputs is not None:
            remote = replace(remote, inputs={k: slot(v) for k, v in job.inputs.items()})
        if job.index is not None and job.args:
            remote = replace(remote, args=(slot(job.args[0]), *job.args[1:]))
        try:
            future = self.client.submit(
                run_remote, Spec(self.topic, self.token, tag, remote, self.starts,
                                 sources_of(j.func for j in (job, *job.links))), *deps,
                key=f"{job.name}-{uuid.uuid4().hex}", pure=False,
            )
            if job.links:
                box.redo = self.redoer(remote, deps)
        except Exception as e:  # never raise for the task's sake: report it
            error = JobSendError(
                f"task {job.node!r} could not be sent to the dask cluster: "
                f"{type(e).__name__}: {e}; use executor='threads' for tasks that hold "
                f"locks, sockets or open files",
                job.node,
            )
            error.__cause__ = e
            box.reported, box.failed = len(box.jobs), True
            self.report(Outcome(job, False, error, time.time(), 0.0, ""))
            return
        box.future = future
        # (by its tag, not the Box: dask may call back after the run, and the Box
        # holds the result the Run was dropped with)
        future.add_done_callback(lambda _: self.on_done(self.boxes.get(tag)))

    def stored(self, hit: Stored) -> Any:
        """A cache hit as a job's input: itself, loaded by the worker that needs
        it (``_stored``), when every worker can open its file -- asked once a
        run, of the first hit -- else its value, loaded here and sent along
        (a cluster on other machines, without the store's filesystem)."""
        if self.shares_store is None:
            try:
                seen = self.client.run(os.path.isfile, hit.path)
                self.shares_store = bool(seen) and all(seen.values())
            except Exception:
                self.shares_store = False
        if self.shares_store:
            return hit
        try:
            return hit.fetch()
        except CacheError:
            return hit  # it fails to load there too: the job fails with a CacheError

    def redoer(self, remote: Job, deps: list[_Future]) -> Callable[[int], _Future]:
        # (not self: the Run holds this through its results, and the session
        # holds the engine's report -- a reference cycle with the whole run)
        client, topic = self.client, self.topic

        def redo(n: int) -> _Future:
            # Its reports go nowhere (no run has the empty token): the engine
            # is done with these jobs.
            again = replace(remote, links=remote.links[: n - 1])
            return client.submit(
                run_remote, Spec(topic, "", -1, again), *deps,
                key=f"{remote.name}-{uuid.uuid4().hex}", pure=False,
            )

        return redo

    def abandon(self, job: Job) -> None:
        box = self.by_job.get((job.key, job.attempt))
        if box is None or box.future is None:
            return
        box.abandoned = True
        # A running thread cannot be stopped. Cancelled, its dask task would
        # leave the worker's thread free in the scheduler's eyes, and the next
        # task dask gave that worker would wait for it (for ever, for a task
        # that never returns). Kept until it ends, its result dropped then.
        _lingering.add(box.future)
        box.future.add_done_callback(_lingering.discard)

    def stop(self, cancel: bool) -> None:
        boxes = list(self.boxes.values())
        self.boxes, self.by_job = {}, {}
        # The engine is done: a late report goes nowhere. (Each Future's callback
        # holds this session, and the Run holds the Futures: with the engine's
        # report kept, the run held itself in a reference cycle.)
        self.report = _nowhere
        try:
            _unsubscribe(self.client, self.topic, self.token)
            if cancel:
                # Ctrl-C or an error in the engine: nothing of this run goes on.
                pending = [b.future for b in boxes if b.future is not None and not b.future.done()]
                if pending and self.close is None:  # a cluster of our own just closes
                    self.client.cancel(pending)
            elif self.close is not None:
                # The cluster closes with the run: bring every result the Run
                # may read here first, in one round trip.
                gather(b for b in boxes if b.succeeded)
        finally:
            if self.close is not None:
                self.close()

    # -- reports (on dask's threads) --------------------------------------------------
    def on_event(self, message: Any) -> None:
        """A job started or ended on a worker (on the client's event-loop thread)."""
        kind, _, tag, position = message[:4]
        box = self.boxes.get(tag)
        if box is None:
            return
        job = box.jobs[position]
        if box.abandoned:  # timed out: what it printed until then is still its output
            for stream, line in message[8] if kind == "done" else ():
                _output.emit_line(job.name, line, stream, job.node, self.run)
            return
        if kind == "start":
            at, where = message[4:6]
            with box.lock:
                if position != box.reported or box.failed:
                    return  # a job dask ran again after its worker died
            self.report(Started(job, at, where))
            return
        ok, started, duration, where, lines, error, info = message[4:]
        with box.lock:
            if position != box.reported or box.failed:
                return  # the same, for a job that had already ended
            box.reported += 1
            box.succeeded += ok
            box.failed = not ok
        for stream, line in lines:
            _output.emit_line(job.name, line, stream, job.node, self.run)
        value = (Handle(box, position if box.chain else None) if ok
                 else decode_failure(job.node, error, info))
        self.report(Outcome(job, ok, value, started, duration, where))

    def on_done(self, box: Box | None) -> None:
        """The dask task is over (on dask's callback thread): report the job that
        its events did not, because its worker died or dask could not run it
        (None: the run is over)."""
        future = None if box is None else box.future
        if box is None or future is None or box.abandoned:
            return
        with box.lock:
            if box.failed or box.reported == len(box.jobs):
                return
            job = box.jobs[box.reported]
            box.reported, box.failed = len(box.jobs), True
        self.report(Outcome(job, False, self.why(job, box, future), time.time(), 0.0, ""))

    def why(self, job: Job, box: Box, future: _Future) -> BaseException:
        status = future.status
        if status == "error":
            cause = future.exception()
            if isinstance(cause, self.killed_worker):
                # dask names its task after the first of the jobs it runs.
                within = f" (dask task of the chain from {box.jobs[0].node!r})" if (
                    job is not box.jobs[0]) else ""
                error: BaseException = WorkerCrashedError(
                    f"task {job.node!r}: the dask worker running it died{within} "
                    f"(distributed.KilledWorker: {cause}); it may have run out of memory "
                    f"or crashed in C code (see the workers' logs); the dask setting "
                    f"distributed.scheduler.allowed-failures says how often dask retries it",
                    job.node,
                )
            else:
                error = TaskError(
                    f"task {job.node!r} could not run on the dask cluster: "
                    f"{type(cause).__name__}: {cause}",
                    job.node,
                )
            error.__cause__ = cause
            return error
        if status == "cancelled":
            return TaskError(
                f"task {job.node!r} was cancelled on the dask cluster (its client closed, "
                f"the cluster restarted, or someone cancelled it); run the flow again",
                job.node,
            )
        return TaskError(  # finished, yet one of its jobs never reported: a webber bug
            f"task {job.node!r} ended on the dask cluster without a report from webber's "
            f"worker code; please report this as a webber bug",
            job.node,
        )
