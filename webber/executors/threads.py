"""The thread executor: tasks run on a pool of threads in the caller's process.

For I/O-bound tasks (network, files, subprocesses, C code that releases the
GIL); pure-Python CPU work does not run in parallel on threads. A thread
cannot be killed: when a task passes its ``timeout`` the engine marks it
failed (TaskTimeoutError) and moves on, but the thread runs the task to its
end in the background, its result discarded -- and the interpreter waits for
it at exit. Use the process executor when timeouts must stop the work.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from webber.executors._base import Executor, Job, Report
from webber.executors._work import run_chain

__all__ = ["ThreadExecutor"]


class ThreadExecutor(Executor):
    """Runs tasks on ``max_workers`` threads (default: min(32, cores + 4)), a
    fresh pool per run.

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
        self._pool: ThreadPoolExecutor | None = None
        self._report: Report | None = None
        self._abandoned = False

    def start(self, report: Report) -> None:
        workers = self.max_workers or min(32, (os.cpu_count() or 1) + 4)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="webber")
        self._report = report
        self._abandoned = False

    def submit(self, job: Job) -> None:
        assert self._pool is not None, "ThreadExecutor.submit() before start()"
        assert self._report is not None
        # run_chain reports every outcome itself and never raises for a task.
        self._pool.submit(run_chain, job, self._report)

    def abandon(self, job: Job) -> None:
        self._abandoned = True

    def stop(self, cancel: bool = False) -> None:
        pool, self._pool, self._report = self._pool, None, None
        if pool is not None:
            # Don't wait for a thread that is still running an abandoned
            # (timed-out) task, or for queued work after Ctrl-C.
            wait = not (cancel or self._abandoned)
            pool.shutdown(wait=wait, cancel_futures=not wait)
