"""The process executor: a persistent pool of worker processes, fed through cloudpickle.

One pool per Python process (``_pool.py`` draws its data flow), started on
the first run, shared by every later run, stopped by :func:`shutdown` and at
interpreter exit. Ctrl-C during a run kills it; the next run starts anew.

After ``os.fork()`` (gunicorn ``--preload``, Celery's prefork pool,
multiprocessing's fork start method) the child forgets the parent's pool
(:func:`_forget_after_fork`) and starts its own on first use; the parent's
pool never hears of it.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import os
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from webber._cache_limits import parse_size
from webber._errors import ExecutorError
from webber._gc import MANY, frozen
from webber.executors._base import Column, Executor, Job, Report
from webber.executors._interrupts import held
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
#: atexit and at-fork handlers are registered with the first pool, once
_hooked = False


def _get_pool(size: int) -> Pool:
    """The pool, started (with ``size`` workers at most) if there is none."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool.closed:
            _hook()
            with held():  # (a Pool cut short by Ctrl-C would keep its thread for good)
                _pool = Pool(size)
        return _pool


def _hook() -> None:
    """Register the atexit and at-fork handlers, once (the caller holds _pool_lock)."""
    global _hooked
    if not _hooked:
        _hooked = True
        atexit.register(shutdown)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_forget_after_fork)


def _forget_after_fork() -> None:
    """In the child of ``os.fork()``: the parent's pool is not ours. Its pipes
    are closed here without a word to its workers; a run starts a new one."""
    global _pool, _pool_lock
    # A thread of the parent may have held the lock; it does not exist here.
    _pool_lock = threading.Lock()
    pool, _pool = _pool, None
    spares = list(_spares)
    _spares.clear()
    for forgotten in [pool, *spares]:
        # A closed pool's fds may be reused already.
        if forgotten is not None and not forgotten.closed:
            forgotten.forget()


def _default_workers() -> int:
    """One per core; in a worker process of the pool, that worker's share."""
    worker = sys.modules.get("webber.executors._worker")  # loaded only in workers
    share: int | None = getattr(worker, "share", None)
    return share or os.cpu_count() or 1


def _memory(value: float | str | None) -> int | None:
    """``memory_limit`` in bytes: a number (``1.5e9`` rounded down), or a string
    such as ``"2GB"``/``"512 MiB"``."""
    if value is None:
        return None
    if (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and int(value) > 0):
        return int(value)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):  # (the units of `webber cache prune`'s sizes)
            if (size := parse_size(value)) > 0:
                return size
    raise ExecutorError(
        f"memory_limit={value!r}: must be a number of bytes >= 1 (such as 2_000_000_000 "
        "or 1.5e9) or a string such as '2GB' or '512MiB', or None for no limit"
    )


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
    """Runs tasks in a persistent pool of worker processes, shared by every
    run in this Python process; this run uses at most ``max_workers`` of
    them at once (default: one per core).

    Functions and arguments travel with cloudpickle, so lambdas, closures and
    functions defined in ``__main__`` or a notebook work; buffers of 1 MB and
    more (numpy arrays, bytes) travel through shared memory.

    Workers are reused by later tasks and runs, so what a task changes in its
    process (environment, resource limits, module globals, threads, memory)
    stays for the next. ``max_tasks_per_worker=N`` replaces a worker once it
    has run N tasks; ``memory_limit`` (bytes, ``1.5e9`` too, or a string such as ``"2GB"``)
    replaces one whose resident memory passed it after a task.

    >>> from webber import DAG
    >>> from webber.executors import ProcessExecutor
    >>> dag = DAG()
    >>> n = dag.add_node(sum, [1, 2, 3])
    >>> fresh = ProcessExecutor(max_workers=2, max_tasks_per_worker=1, memory_limit="2GB")
    >>> dag.run(executor=fresh)[n]
    6
    """

    name = "processes"
    columns = True

    def __init__(self, max_workers: int | None = None, *,
                 max_tasks_per_worker: int | None = None,
                 memory_limit: float | str | None = None) -> None:
        super().__init__(max_workers)
        if max_tasks_per_worker is not None and (
            not isinstance(max_tasks_per_worker, int) or isinstance(max_tasks_per_worker, bool)
            or max_tasks_per_worker < 1
        ):
            raise ExecutorError(
                f"max_tasks_per_worker={max_tasks_per_worker!r}: must be a whole number "
                ">= 1, or None to keep workers as long as they live"
            )
        self.max_tasks_per_worker = max_tasks_per_worker
        self.memory_limit = _memory(memory_limit)
        self._pool: Pool | None = None
        self._session: Session | None = None

    def _prepare(self) -> None:
        # A fresh interpreter importing webber's worker and cloudpickle takes
        # tens of ms: a first run's first worker comes up while the flow compiles.
        _get_pool(self.max_workers or _default_workers()).warm()

    def check(self, plan: Plan) -> None:
        check_plan(plan)

    def start(self, report: Report) -> None:
        limit = self.max_workers or _default_workers()
        self._pool = _get_pool(limit)
        self._session = Session(report, starts=self.report_starts, limit=limit,
                                max_tasks=self.max_tasks_per_worker,
                                memory_limit=self.memory_limit)
        self._pool.begin(self._session)

    def submit(self, job: Job) -> None:
        assert self._pool is not None, "submit() before start()"
        assert self._session is not None
        self._pool.submit([job], self._session)

    def submit_many(self, jobs: Sequence[Job | Column]) -> None:
        assert self._pool is not None, "submit_many() before start()"
        assert self._session is not None
        # What sending MANY jobs at once makes (a long chain's links go in one
        # message) is frozen as it is made: no task runs in this process.
        many = len(jobs) >= MANY or len(jobs) + sum(len(job.links) for job in jobs) >= MANY
        with frozen.adding(many):
            self._pool.submit(jobs, self._session)

    def abandon(self, job: Job) -> None:
        if self._pool is not None:
            self._pool.abandon(job)

    def stop(self, cancel: bool = False) -> None:
        pool, session, self._pool, self._session = self._pool, self._session, None, None
        if pool is None or session is None:
            return
        if cancel:
            # Nothing of this run may keep running. Ctrl-C (its KeyboardInterrupt on the way
            # out of the run) stops every worker, as the user stops everything; an error in
            # the engine, or arun cancelled, only this run's: other threads' runs go on.
            if isinstance(sys.exc_info()[1], KeyboardInterrupt) or not pool.cancel(session):
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

    def _prepare(self) -> None:
        pass  # (a spare pool of its own is taken at start)

    def start(self, report: Report) -> None:
        with _pool_lock:
            _hook()
            while _spares and _spares[-1].closed:
                _spares.pop()
            with held():  # (as in _get_pool)
                self._pool = _spares.pop() if _spares else Pool(1, depth=MAX_BATCH)
        self._session = Session(report, starts=self.report_starts)
        self._pool.begin(self._session)

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
