"""Running jobs where the executor runs them: substitute, capture, call, time.

:func:`call` runs one attempt of a task from its fields (a worker process
calls it per task, with no Job or Outcome made; :func:`call_column` runs a
column of them, the jobs of one function with plain arguments); :func:`run_job` runs a Job
with it and describes the attempt as an Outcome; :func:`run_chain` is the one chain runner of
every executor: a job, then its links (``Job.links``) in order, each fed the
previous one's result, stopping at the first failure. How a link is run and
reported differs by executor (a thread reports an Outcome object, a worker
process pickles it down a pipe, a dask worker sends an event), so each
passes its own ``step``.
"""

from __future__ import annotations

import functools
import inspect
import os
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from contextvars import Token
from types import CoroutineType
from typing import TYPE_CHECKING, Any, TypeVar

from webber import _context
from webber._output import capture
from webber._refs import Ref, substitute
from webber._task_errors import TaskExitError
from webber.executors._base import Job, Outcome, Remote, Report, Started

if TYPE_CHECKING:
    import asyncio
    from concurrent.futures import Future

__all__ = [
    "call",
    "call_column",
    "event_loop",
    "fed",
    "feed",
    "is_async",
    "materialize",
    "release",
    "run_chain",
    "run_job",
    "run_job_async",
    "run_links",
    "start_async",
    "worker_name",
]

L = TypeVar("L")


def materialize(job: Job) -> tuple[tuple[Any, ...], Mapping[str, Any]]:
    """The job's arguments with each Ref replaced by its parent's result."""
    if job.inputs is None:
        return job.args, job.kwargs
    return _substituted(job.args, job.kwargs, job.inputs)


def _substituted(
    args: tuple[Any, ...], kwargs: Mapping[str, Any], inputs: Mapping[Any, Any]
) -> tuple[tuple[Any, ...], Mapping[str, Any]]:
    """``args`` and ``kwargs`` with each Ref replaced by its parent's result
    in ``inputs``. A result that reaches here as a Remote is fetched here: a
    cache hit (``_stored``) is loaded where the job runs, not by the caller.
    (Without inputs the keyword arguments are not copied: the call
    ``f(**kwargs)`` makes the callee's dict.)"""

    def value(ref: Ref) -> Any:
        found = inputs[ref.id]
        return found.fetch() if isinstance(found, Remote) else found

    new_args, new_kwargs = substitute((args, dict(kwargs)), Ref, value)
    return new_args, new_kwargs


_local = threading.local()


def worker_name() -> str:
    """``pid/thread-name`` of the running thread (cached per thread: it is asked
    twice a job). Not keyed by thread id: ids are reused by later threads."""
    name: str | None = getattr(_local, "name", None)
    if name is None:
        name = _local.name = f"{os.getpid()}/{threading.current_thread().name}"
    return name


def _enter(name: str, node: str) -> tuple[Token[Any], capture]:
    """A task attempt begins in this thread: a task calling tasks calls them
    (no flow is active), and what it prints is its own."""
    token = _context.active_flow.set(None)
    sink = capture(name, node)
    sink.__enter__()
    return token, sink


def _leave(entered: tuple[Token[Any], capture]) -> None:
    token, sink = entered
    try:
        sink.__exit__()
    finally:
        _context.active_flow.reset(token)


def call(
    name: str, node: str, func: Callable[..., Any], args: tuple[Any, ...],
    kwargs: Mapping[str, Any], inputs: Mapping[Any, Any] | None, started: float,
    timeout: float | None = None,
) -> tuple[bool, Any, float, float]:
    """One attempt of a task that begins now (``started``, by ``time.time()``),
    as it happens: ``(ok, value, started, duration)``.

    Its arguments get their inputs (see :func:`materialize`), its output is
    captured, and whatever it raises is its failure (:func:`_failure`);
    never raises for the task's sake. A coroutine the task returns (an
    ``async def`` task run here, not on the event loop: inline, a dask
    worker) is awaited in this thread, and cancelled at ``timeout`` (nothing
    else here can stop it: inline waited for it to its end). The one runner of a sync attempt on
    every executor, in fields rather than a Job: a worker process runs it
    per task and builds no Job."""
    t0 = time.perf_counter()
    # (_enter and _leave, written out: this runs once per task)
    token = _context.active_flow.set(None)
    sink = capture(name, node)
    sink.__enter__()
    try:
        if inputs is not None:
            args, kwargs = _substituted(args, kwargs, inputs)
        value = func(*args, **kwargs)
        if type(value) is CoroutineType:  # (inspect.iscoroutine, without its call)
            value = _await_here(value, timeout)
        ok = True
    except BaseException as error:
        ok, value = False, _failure(node, error)
    finally:
        try:
            sink.__exit__()
        finally:
            _context.active_flow.reset(token)
    return ok, value, started, time.perf_counter() - t0


def call_column(
    name: str, nodes: Sequence[str], func: Callable[..., Any], argses: Sequence[tuple[Any, ...]],
) -> Iterator[tuple[bool, Any, float, float]]:
    """:func:`call` for a column of jobs (a worker process's, see
    ``_worker.run_column``): ``func(*argses[k])`` for each of ``nodes`` in
    turn, no inputs nor keyword arguments, each attempt's ``(ok, value,
    started, duration)`` yielded as it ends. The context is entered once for
    them all -- one sink, naming each node in turn, whose unfinished line is
    each job's own at its end -- not a sink made and two context variables set
    per job. What the consumer does between two yields counts as the last
    job's (its output too)."""
    perf, now = time.perf_counter, time.time
    token = _context.active_flow.set(None)
    sink = capture(name, "")
    sink.__enter__()
    try:
        for node, args in zip(nodes, argses, strict=True):
            sink.node = node
            started, t0 = now(), perf()
            try:
                value = func(*args)
                if type(value) is CoroutineType:
                    value = _await_here(value)
                ok = True
            except BaseException as error:
                ok, value = False, _failure(node, error)
            if sink.partial is not None:
                sink.close()
            yield ok, value, started, perf() - t0
    finally:
        try:
            sink.__exit__()
        finally:
            _context.active_flow.reset(token)


def _failure(node: str, error: BaseException) -> BaseException:
    """A task's exception as its node's failure: an Exception as raised; a
    ``SystemExit``, ``KeyboardInterrupt`` (or other BaseException) wrapped, so
    that reading the result cannot exit or interrupt the caller."""
    if isinstance(error, Exception):
        return error
    wrapped = TaskExitError(
        f"task {node!r} raised {type(error).__name__}({_args(error)}); a task cannot "
        f"end or interrupt the program, so this failed the task (the original is the "
        f"__cause__); raise an Exception to fail a task on purpose",
        node,
    )
    wrapped.__cause__ = error
    return wrapped


def _args(error: BaseException) -> str:
    return ", ".join(map(repr, error.args))


def run_job(job: Job, report: Callable[[Started], None] | None = None) -> Outcome:
    """Run ``job`` and describe what happened; never raises for the task's sake.

    A task's ``SystemExit`` and ``KeyboardInterrupt`` are its failure (a
    :class:`~webber.TaskExitError`), not the caller's exit (the inline
    executor tells the user's Ctrl-C apart itself); see :func:`call`.
    ``report``, when given, gets the job's Started before the task runs.
    """
    worker = worker_name()
    started = time.time()
    if report is not None:
        report(Started(job, started, worker))
    ok, value, started, duration = call(
        job.name, job.node, job.func, job.args, job.kwargs, job.inputs, started, job.timeout
    )
    if not ok:
        _trim(value)
    return Outcome(job, ok, value, started, duration, worker)


def _trim(failure: BaseException) -> None:
    """Take this module's own frame (:func:`call`'s, :func:`run_job_async`'s)
    out of a failure's traceback: it starts at the task's function, as a
    worker process's does."""
    for error in (failure, failure.__cause__):
        tb = None if error is None else error.__traceback__
        if tb is not None and tb.tb_frame.f_code.co_filename == __file__:
            error.__traceback__ = tb.tb_next  # type: ignore[union-attr]


def release(failures: list[BaseException]) -> None:
    """Clear the frames of this module that ran the failed tasks, now ended
    (:func:`run_chain` and below); empties ``failures``.

    A traceback's frames hold the frames that called them (``f_back``), each
    with its locals as it ended: up from the task's function, :func:`call`
    (which held the failure), :func:`run_job`, the chain's step, and
    ``run_chain`` (which held the engine's report, and through it the run's
    tables). The failure was part of a reference cycle, and with it the
    task's arguments and the run: a dropped Run's memory (a 100 MB array
    argument of a failed task) waited for a full collection. Cleared, those
    frames hold nothing; the task's own frames keep their locals, for a
    post-mortem. Called where ``run_chain`` returned (or an async task's
    coroutine, :func:`run_job_async`): the frames above still run (a thread's
    loop; inline, the engine, whose own frames keep the cycle: see
    docs/guide/executors.md)."""
    while failures:
        failure = failures.pop()
        for error in (failure, failure.__cause__):
            tb = None if error is None else error.__traceback__
            frame = None if tb is None else tb.tb_frame.f_back
            while frame is not None and frame.f_code.co_filename == __file__:
                try:
                    frame.clear()
                except RuntimeError:  # (still running)
                    break
                frame = frame.f_back


def _await_here(coroutine: Coroutine[Any, Any, Any], timeout: float | None = None) -> Any:
    """Run ``coroutine`` to its end, or cancel it after ``timeout`` seconds
    (then it fails: the engine tells a timeout by its duration), blocking this thread."""
    import asyncio  # here and below, on first use: 30 ms a worker would pay at start
    if timeout is not None:
        coroutine = _limited(coroutine, timeout)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        running = False
    else:
        running = True
    if not running:  # (run outside the except: its error would have this one as __context__)
        return asyncio.run(coroutine)
    # This thread runs a loop (inline in a notebook cell): it cannot wait on itself.
    return asyncio.run_coroutine_threadsafe(coroutine, event_loop()).result()


async def _limited(coroutine: Coroutine[Any, Any, Any], timeout: float) -> Any:
    import asyncio

    try:
        return await asyncio.wait_for(coroutine, timeout)
    except asyncio.TimeoutError:  # (on 3.10 not the built-in one, which the engine tells)
        raise TimeoutError(f"cancelled after its timeout={timeout:g}") from None


async def run_job_async(
    job: Job, report: Callable[[Started], None] | None = None
) -> Outcome:
    """:func:`run_job` for an ``async def`` task, awaited on the running loop."""
    worker = worker_name()
    started = time.time()
    if report is not None:
        report(Started(job, started, worker))
    t0 = time.perf_counter()
    entered = _enter(job.name, job.node)
    try:
        args, kwargs = materialize(job)
        ok, value = True, await job.func(*args, **kwargs)
    except BaseException as error:
        ok, value = False, _failure(job.node, error)
        _trim(value)  # (and its frame cleared once it ended: see release)
    finally:
        _leave(entered)
    return Outcome(job, ok, value, started, time.perf_counter() - t0, worker)


def is_async(job: Job) -> bool:
    """Whether ``job`` is an ``async def`` task alone (not in a chain, which
    compile never makes of one): it goes to the event loop, not a worker."""
    return not job.links and inspect.iscoroutinefunction(job.func)


_loop_lock = threading.Lock()
_loop: tuple[asyncio.AbstractEventLoop, threading.Thread] | None = None


def event_loop() -> asyncio.AbstractEventLoop:
    """This process's event loop for async tasks, running in a daemon thread of
    its own (started on first use): the async tasks of every worker thread and
    run share it, so a thousand of them waiting cost no thread each, and none
    blocks a worker."""
    import asyncio

    global _loop
    with _loop_lock:
        if _loop is None or not _loop[1].is_alive():
            if _loop is None:
                os.register_at_fork(after_in_child=_forget_loop)
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="webber-async", daemon=True)
            thread.start()
            _loop = (loop, thread)
        return _loop[0]


def _forget_loop() -> None:
    # A forked child has the loop object but not its thread: start a new one.
    global _loop, _loop_lock
    _loop_lock = threading.Lock()
    if _loop is not None:
        _loop = (_loop[0], threading.Thread())  # not alive: replaced on first use


def start_async(
    job: Job, report: Callable[[Started], None] | None = None
) -> Future[Outcome]:
    """Start an async job on :func:`event_loop` and return at once; the future
    holds its Outcome (cancel it to cancel the task)."""
    import asyncio

    return asyncio.run_coroutine_threadsafe(run_job_async(job, report), event_loop())


def feed(link: Job, previous: Any) -> Job:
    """``link`` with its parent's result filled in (a chain link has one parent)."""
    if link.inputs is None:
        return link
    # (not dataclasses.replace: this runs once per link, and replace costs 2 us)
    return Job(link.node, link.index, link.attempt, link.name, link.func, link.args,
               link.kwargs, fed(link.inputs, previous), link.timeout, link.links)


def fed(inputs: Mapping[Any, Any], previous: Any) -> dict[Any, Any]:
    """A chain link's inputs, its one parent's result filled in."""
    return dict.fromkeys(inputs, previous)


def run_links(
    links: Sequence[L],
    step: Callable[[L, tuple[Any] | None], tuple[bool, Any]],
    dropped: Callable[[Sequence[L]], None] | None = None,
) -> None:
    """The chain runner: ``step(link, previous)`` for each link in order, where
    ``previous`` is ``(value,)`` of the link before (None for the first); stop
    at the first that returns ``(False, ...)`` and hand the links that will not
    run to ``dropped``."""
    previous: tuple[Any] | None = None
    for position, link in enumerate(links):
        ok, value = step(link, previous)
        if not ok:
            if dropped is not None and position + 1 < len(links):
                dropped(links[position + 1:])
            return
        previous = (value,)


def _step(report: Report, begun: Callable[[Started], None] | None, failed: list[BaseException],
          cancelled: threading.Event | None, link: Job,
          previous: tuple[Any] | None) -> tuple[bool, Any]:
    """One link of :func:`run_chain`."""
    if previous is not None:
        if cancelled is not None and cancelled.is_set():
            return False, None  # (the run was called off: its engine hears no more)
        link = feed(link, previous[0])
    outcome = run_job(link, report if link.timeout is not None else begun)
    report(outcome)
    if not outcome.ok:
        failed.append(outcome.value)
    return outcome.ok, outcome.value


def run_chain(job: Job, report: Report, begun: Callable[[Started], None] | None,
              cancelled: threading.Event | None = None) -> list[BaseException]:
    """Run ``job`` and its links in this thread, reporting an Outcome for each,
    and its Started: to ``report`` for a job with a timeout (its clock starts
    there), else to ``begun`` (None: the engine wants no starts); no link
    starts once ``cancelled`` is set. Returns the failures, for the caller to
    :func:`release` the frames that ran them."""

    failed: list[BaseException] = []
    # (not a closure: a frame holds its function, a closure its cells -- see release)
    step = functools.partial(_step, report, begun, failed, cancelled)
    if job.links:
        run_links((job, *job.links), step)
    else:
        step(job, None)
    return failed
