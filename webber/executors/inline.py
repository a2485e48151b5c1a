"""The inline executor: each task runs in the caller's thread, one at a time.

For debugging: a breakpoint() or pdb.set_trace() in a task stops right there,
exceptions keep their full local traceback, and nothing runs in parallel.
A ``timeout`` cannot interrupt a task here; a task that returns after its
limit is marked failed with TaskTimeoutError (its result is discarded).

Ctrl-C: a task that *raises* KeyboardInterrupt fails like any task, but the
user's Ctrl-C stops the run. Both arrive as a KeyboardInterrupt in this thread;
to tell them apart, a run in the main thread wraps Python's SIGINT handler
with one that notes the signal first.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from webber.executors._base import Executor, Job, Report
from webber.executors._work import release, run_chain

__all__ = ["InlineExecutor"]


class InlineExecutor(Executor):
    """Runs each task in the calling thread, in submission order.

    >>> from webber import DAG
    >>> from webber.executors import InlineExecutor
    >>> dag = DAG()
    >>> n = dag.add_node(sum, [1, 2, 3])
    >>> dag.run(executor=InlineExecutor())[n]
    6
    """

    name = "inline"

    def __init__(self, max_workers: int | None = None) -> None:
        super().__init__(max_workers)
        self._report: Report | None = None
        self._signalled = False
        self._previous: Any = None

    def start(self, report: Report) -> None:
        self._report = report
        self._signalled = False
        if threading.current_thread() is threading.main_thread():
            # Noted before the swap: a Ctrl-C right after it is this run's,
            # and the run's stop (see _engine) must find what to put back.
            self._previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        self._signalled = True
        if callable(self._previous):
            self._previous(signum, frame)  # Python's own raises KeyboardInterrupt
        elif self._previous != signal.SIG_IGN:
            raise KeyboardInterrupt

    def submit(self, job: Job) -> None:
        assert self._report is not None, "InlineExecutor.submit() before start()"
        # The engine only enqueues outcomes, so running here cannot recurse.
        release(run_chain(job, self._report, self._report if self.report_starts else None))
        if self._signalled:
            raise KeyboardInterrupt  # the user's Ctrl-C landed in a task: stop the run

    def stop(self, cancel: bool = False) -> None:
        self._report = None
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
