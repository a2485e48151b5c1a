"""The thread executor: tasks run on a pool of threads in the caller's process.

For I/O-bound tasks (network, files, subprocesses, C code that releases the
GIL); pure-Python CPU work does not run in parallel on threads. ``async def``
tasks do not take a thread: they run on the process's event loop
(``_work.event_loop``), all of a run's awaiting at the same time.

A thread cannot be killed: when a task passes its ``timeout``, or the user
presses Ctrl-C, the engine stops waiting for it at once, but the thread runs
the task to its end in the background, its result discarded; past a timeout,
a new thread takes its place meanwhile, and it ends with its task. The threads are
daemon threads of webber's own (not ``concurrent.futures``', which the
interpreter joins at exit), so such a thread never keeps the program from
exiting. An async task is cancelled instead.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import queue
import threading
from concurrent.futures import Future

from webber.executors._base import Executor, Job, Outcome, Report, Started
from webber.executors._work import is_async, release, run_chain, start_async

__all__ = ["ThreadExecutor"]


class _Threads:
    """``size`` daemon threads taking jobs from one queue, started as work
    comes (one per job waiting, up to ``size``); None in the queue stops one.

    When the engine wants starts (``Executor.report_starts``), each thread
    keeps the Started of the job it runs in its slot of ``held`` (a store,
    not a message: most tasks end before anyone would look), and
    :meth:`due` hands over those not handed over yet."""

    def __init__(self, size: int, report: Report, starts: bool) -> None:
        self.size = size
        self.report = report
        self.starts = starts
        self.jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self.threads: list[threading.Thread] = []
        self.live = 0  # threads started and not retired
        self.idle = 0
        self.lock = threading.Lock()
        #: per thread: the Started of its current (or last) job, and the last one handed over
        self.held: list[Started | None] = [None] * size
        self._told: list[Started | None] = [None] * size
        #: the jobs the engine gave up on (past their timeout), as (key, attempt):
        #: each holds a thread beyond ``size`` until it ends, and its thread then retires
        self.abandoned: set[tuple[tuple[str, int | None], int]] = set()
        #: set when the run is called off (Ctrl-C, its arun cancelled)
        self.cancelled = threading.Event()

    def submit(self, job: Job) -> None:
        self.jobs.put(job)
        with self.lock:
            if self.idle > 0:
                self.idle -= 1  # that thread takes it
                return
            if self.live < self.size:
                thread = self._add()
            else:
                return
        thread.start()

    def _add(self) -> threading.Thread:
        """A new thread (under the lock; the caller starts it)."""
        slot = len(self.threads)
        if slot >= len(self.held):  # (one taking an abandoned job's place)
            self.held.append(None)
            self._told.append(None)
        # In a copy of the run's context (submit is the engine's call): what
        # its tasks print is its run's (_output.this_run), as inline.
        thread = threading.Thread(
            target=contextvars.copy_context().run, args=(self._work, slot),
            name=f"webber_{slot}", daemon=True,
        )
        self.threads.append(thread)
        self.live += 1
        return thread

    def abandon(self, job: Job) -> None:
        """Give ``job`` (running past its timeout) a thread of its own: a new
        one takes its place for the retry and the jobs waiting, so that a
        task that never returns holds up none of them (with one thread, as a
        stream's stage has, they waited for it for good)."""
        with self.lock:
            self.abandoned.add((job.key, job.attempt))
            self.size += 1
            thread = self._add()  # (it takes what waits, or waits for the next)
        thread.start()

    def _work(self, slot: int) -> None:
        hold = functools.partial(self.held.__setitem__, slot) if self.starts else None
        while True:
            job = self.jobs.get()
            if job is None:
                self.jobs.put(None)  # (for the next thread: see stop)
                return
            # run_chain reports every outcome itself and never raises for a task.
            release(run_chain(job, self.report, hold, self.cancelled))
            with self.lock:
                if self.abandoned and (job.key, job.attempt) in self.abandoned:
                    self.abandoned.discard((job.key, job.attempt))
                    self.size -= 1  # its place was taken: this thread ends
                    self.live -= 1
                    return
                self.idle += 1

    def due(self) -> list[Started]:
        """The starts held since the last call (of jobs that may have ended
        since: the engine tells apart)."""
        told, fresh = self._told, []
        for slot, started in enumerate(self.held):
            if started is not None and started is not told[slot]:
                told[slot] = started
                fresh.append(started)
        return fresh

    def stop(self, wait: bool, cancel: bool = False) -> None:
        if cancel:
            self.cancelled.set()  # (a chain being run starts no more links)
        try:
            if not wait:
                # Drop what has not started (Ctrl-C, or an abandoned task's run).
                with contextlib.suppress(queue.Empty):
                    while True:
                        self.jobs.get_nowait()
        finally:
            # One None, even under a second Ctrl-C: each thread that takes it
            # puts it back for the next (else the run's threads waited for good).
            self.jobs.put(None)
        if wait:
            with self.lock:
                threads = list(self.threads)
            for thread in threads:
                thread.join()
            # (each thread's last frame, kept by a failed task's traceback, holds
            # this: the engine's report would hold the run in a reference cycle)
            del self.report


class ThreadExecutor(Executor):
    """Runs tasks on ``max_workers`` threads (default: min(32, cores + 4)), a
    fresh pool per run; ``async def`` tasks on the event loop beside them.

    >>> from webber import DAG
    >>> from webber.executors import ThreadExecutor
    >>> dag = DAG()
    >>> n = dag.add_node(sum, [1, 2, 3])
    >>> dag.run(executor=ThreadExecutor(max_workers=2))[n]
    6
    """

    name = "threads"

    def __init__(self, max_workers: int | None = None) -> None:
        super().__init__(max_workers)
        self._threads: _Threads | None = None
        self._report: Report | None = None
        self._abandoned = False
        #: the async jobs of this run still on the event loop, to cancel
        self._awaiting: dict[tuple[tuple[str, int | None], int], Future[Outcome]] = {}

    def start(self, report: Report) -> None:
        workers = self.max_workers or min(32, (os.cpu_count() or 1) + 4)
        self._threads = _Threads(workers, report, self.report_starts)
        self._report = report
        self._abandoned = False
        self._awaiting = {}

    def submit(self, job: Job) -> None:
        assert self._threads is not None, "ThreadExecutor.submit() before start()"
        if not is_async(job):
            self._threads.submit(job)
            return
        report = self._report
        assert report is not None
        future = start_async(job, report)
        key = (job.key, job.attempt)
        awaiting = self._awaiting  # this run's, even when the callback comes late
        awaiting[key] = future

        def done(future: Future[Outcome]) -> None:
            awaiting.pop(key, None)
            if not future.cancelled():
                outcome = future.result()
                report(outcome)
                if not outcome.ok:
                    release([outcome.value])

        future.add_done_callback(done)

    def held_starts(self) -> list[Started]:
        """The starts of jobs begun since the last call (see ``_Threads``)."""
        threads = self._threads
        return threads.due() if threads is not None else []

    def abandon(self, job: Job) -> None:
        future = self._awaiting.pop((job.key, job.attempt), None)
        if future is not None:
            future.cancel()  # an async task can be stopped: cancel it
        else:
            self._abandoned = True
            if self._threads is not None:
                self._threads.abandon(job)

    def stop(self, cancel: bool = False) -> None:
        threads, self._threads, self._report = self._threads, None, None
        try:
            if cancel:
                for future in list(self._awaiting.values()):
                    future.cancel()
            self._awaiting = {}
        finally:  # (a second Ctrl-C during the cancels: the threads still end)
            if threads is not None:
                # Don't wait for a thread that is still running an abandoned
                # (timed-out) task, or for queued work after Ctrl-C.
                threads.stop(wait=not (cancel or self._abandoned), cancel=cancel)
