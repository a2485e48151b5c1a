"""The inline executor: each task runs in the caller's thread, one at a time.

For debugging: a breakpoint() or pdb.set_trace() in a task stops right there,
exceptions keep their full local traceback, and nothing runs in parallel.
A ``timeout`` cannot interrupt a task here; a task that returns after its
limit is marked failed with TaskTimeoutError (its result is discarded).

Signals: a task that *raises* KeyboardInterrupt or SystemExit fails like any
task, but the user's Ctrl-C stops the run, and so does a SIGTERM handler that
raises (``signal.signal(SIGTERM, lambda *_: sys.exit(0))``, as services
install): the program ends as it asked. Each arrives as an exception in
this thread, inside the task; to tell them apart, a run in the main thread
wraps the handlers of SIGINT and (when it is Python's) SIGTERM with one that
notes what the handler raised, and raises it again once the task returns.
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
        #: what a signal's handler raised during this run (see the module doc)
        self._raised: BaseException | None = None
        #: the handlers this run wrapped, to put back at its stop
        self._previous: dict[int, Any] = {}

    def start(self, report: Report) -> None:
        self._report = report
        self._raised = None
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in _WRAPPED:
            previous = signal.getsignal(signum)
            if signum == signal.SIGINT or callable(previous):  # (else it raises nothing)
                # Noted before the swap: a signal right after it is this run's,
                # and the run's stop (see _engine) must find what to put back.
                self._previous[signum] = previous
                signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        previous = self._previous.get(signum)
        try:
            if callable(previous):
                previous(signum, frame)  # Python's own SIGINT handler raises KeyboardInterrupt
            elif previous != signal.SIG_IGN:
                raise KeyboardInterrupt
        except BaseException as raised:
            self._raised = raised
            raise

    def submit(self, job: Job) -> None:
        assert self._report is not None, "InlineExecutor.submit() before start()"
        # The engine only enqueues outcomes, so running here cannot recurse.
        release(run_chain(job, self._report, self._report if self.report_starts else None))
        raised, self._raised = self._raised, None
        if raised is not None:
            # A signal's handler raised in the task (Ctrl-C, or a SIGTERM handler's
            # sys.exit): the run stops with it, not the task alone (its traceback
            # shows where the task was).
            raise raised

    def stop(self, cancel: bool = False) -> None:
        self._report = None
        self._raised = None
        previous, self._previous = self._previous, {}
        for signum, handler in previous.items():
            signal.signal(signum, handler)


#: the signals whose handlers a run in the main thread wraps (see the module doc)
_WRAPPED = (signal.SIGINT, signal.SIGTERM)
