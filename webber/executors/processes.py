"""The process executor: a persistent pool of worker processes, fed through cloudpickle.

One pool per Python process (``_pool.py`` draws its data flow), started on
the first run, shared by every later run, stopped by :func:`shutdown` and at
interpreter exit. Ctrl-C during a run kills it; the next run starts anew.
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import TYPE_CHECKING

from webber._errors import ExecutorError
from webber.executors._base import Executor, Job, Report
from webber.executors._picklable import check_plan
from webber.executors._pool import MAX_BATCH, Pool, Session

if TYPE_CHECKING:
    from webber._plan import Plan

__all__ = ["DedicatedProcesses", "ProcessExecutor", "shutdown"]


_pool: Pool | None = None
_pool_lock = threading.Lock()
#: one-worker pools of finished streams, kept warm for the next (DedicatedProcesses)
_spares: list[Pool] = []
#: most spare pools kept
MAX_SPARES = 8


def _get_pool(size: int) -> Pool:
    global _pool
    with _pool_lock:
        if _pool is None or _pool.closed:
            if _pool is None:
                atexit.register(shutdown)
            _pool = Pool(size)
        elif _pool.size != size:
            with _pool.lock:
                _pool.size = size
        return _pool


def shutdown() -> None:
    """Stop the worker processes of the process executor (they restart on the next run).

    Called at interpreter exit too; call it yourself to free the workers early.

    >>> import webber
    >>> webber.shutdown()
    """
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
        spares = list(_spares)
        _spares.clear()
    for stopping in [pool, *spares]:
        if stopping is not None:
            stopping.shutdown()


class ProcessExecutor(Executor):
    """Runs tasks in a persistent pool of ``max_workers`` worker processes
    (default: one per core), shared by every run in this Python process.

    Functions and arguments travel with cloudpickle, so lambdas, closures and
    functions defined in ``__main__`` or a notebook work; buffers of 1 MB and
    more (numpy arrays, bytes) travel through shared memory.
    """

    name = "processes"

    def __init__(self, max_workers: int | None = None) -> None:
        super().__init__(max_workers)
        self._pool: Pool | None = None
        self._session: Session | None = None

    def check(self, plan: Plan) -> None:
        check_plan(plan)

    def start(self, report: Report) -> None:
        if os.name != "posix":
            raise ExecutorError(
                "the process executor needs a POSIX system (Linux, macOS): it passes "
                "pipes to its workers and kills their process groups; use "
                "executor='threads' here"
            )
        self._pool = _get_pool(self.max_workers or os.cpu_count() or 1)
        self._session = Session(report, starts=self.report_starts)

    def submit(self, job: Job) -> None:
        assert self._pool is not None, "submit() before start()"
        assert self._session is not None
        self._pool.submit([job], self._session)

    def submit_many(self, jobs: list[Job]) -> None:
        assert self._pool is not None, "submit_many() before start()"
        assert self._session is not None
        self._pool.submit(jobs, self._session)

    def abandon(self, job: Job) -> None:
        if self._pool is not None:
            self._pool.abandon(job)

    def stop(self, cancel: bool = False) -> None:
        pool, session, self._pool, self._session = self._pool, self._session, None, None
        if pool is None or session is None:
            return
        if cancel:
            # Ctrl-C or an error in the engine: nothing of this run may keep running.
            global _pool
            with _pool_lock:
                if _pool is pool:
                    _pool = None
            pool.shutdown(kill=True)
            session.holder.release()
        else:
            pool.end(session)


class DedicatedProcesses(ProcessExecutor):
    """A ProcessExecutor with a one-worker pool of its own for the length of a
    run: a streaming stage keeps its worker (and whatever its function builds
    there) for the whole stream. The pool is kept warm for the next stream
    afterwards, like the shared pool, until :func:`shutdown`."""

    def __init__(self) -> None:
        super().__init__(1)

    def start(self, report: Report) -> None:
        if os.name != "posix":
            super().start(report)  # raises the same ExecutorError
        with _pool_lock:
            atexit.unregister(shutdown)  # registered once, whoever starts a pool first
            atexit.register(shutdown)
            while _spares and _spares[-1].closed:
                _spares.pop()
            self._pool = _spares.pop() if _spares else Pool(1, depth=MAX_BATCH)
        self._session = Session(report, starts=self.report_starts)

    def stop(self, cancel: bool = False) -> None:
        pool, session, self._pool, self._session = self._pool, self._session, None, None
        if pool is None or session is None:
            return
        if cancel:
            pool.shutdown(kill=True)
            session.holder.release()
            return
        pool.end(session)
        with _pool_lock:
            if len(_spares) < MAX_SPARES and not pool.closed:
                _spares.append(pool)
                return
        pool.shutdown()
