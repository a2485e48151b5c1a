"""The inline executor: each task runs in the caller's thread, one at a time.

For debugging: a breakpoint() or pdb.set_trace() in a task stops right there,
exceptions keep their full local traceback, and nothing runs in parallel.
A ``timeout`` cannot interrupt a task here; a task that returns after its
limit is marked failed with TaskTimeoutError (its result is discarded).

Signals: a task that *raises* KeyboardInterrupt or SystemExit fails like any
task, but the user's Ctrl-C stops the run, and so does a SIGTERM handler that
raises (``signal.signal(SIGTERM, lambda *_: sys.exit(0))``, as services
install): the program ends as it asked. Each arrives as an exception in
this thread, inside the task; to tell them apart, while inline runs go on in
the main thread the handlers of SIGINT and (when it is Python's) SIGTERM are
wrapped with one that notes what the handler raised in each run whose task
it landed in, which raises it again once the task returns (:class:`_Signals`).
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
        #: what a signal's handler raised in this run's task (see the module doc)
        self._raised: BaseException | None = None

    def start(self, report: Report) -> None:
        self._report = report
        self._raised = None
        if threading.current_thread() is threading.main_thread():
            _signals.join(self)

    def submit(self, job: Job) -> None:
        assert self._report is not None, "InlineExecutor.submit() before start()"
        report = self._report
        tasks = _signals.tasks if self in _signals.users else None
        if tasks is not None:
            _signals.wrap()  # (a handler the program or a task set since)
            tasks.append(self)
            if job.links:
                report = _Rewrapping(report)  # (one a link sets, before the next)
        try:
            # The engine only enqueues outcomes, so running here cannot recurse.
            release(run_chain(job, report, self._report if self.report_starts else None))
        finally:
            if tasks is not None:
                tasks.remove(self)
        raised, self._raised = self._raised, None
        if raised is not None:
            # A signal's handler raised in the task (Ctrl-C, or a SIGTERM handler's
            # sys.exit): the run stops with it, not the task alone (its traceback
            # shows where the task was).
            raise raised

    def stop(self, cancel: bool = False) -> None:
        self._report = None
        self._raised = None
        _signals.leave(self)


class _Rewrapping:
    """A chain's report that wraps, after each link, a handler the link set."""

    __slots__ = ("report",)

    def __init__(self, report: Report) -> None:
        self.report = report

    def __call__(self, message: Any) -> None:
        self.report(message)
        _signals.wrap()


class _Signals:
    """The one wrapper of the SIGINT and SIGTERM handlers that the inline
    executors in use in the main thread share: put in by the first to start,
    the handlers it wrapped put back by the last to stop (or, stopped in another
    thread, by the main thread later: see ``leave``). One for all, not
    one each: a lazy stream's executors stop in any order, and each putting
    back what it found would put back a stopped one's."""

    def __init__(self) -> None:
        #: the executors started in the main thread and not stopped
        self.users: set[InlineExecutor] = set()
        #: the executors whose task runs now, innermost last (a task may run a flow)
        self.tasks: list[InlineExecutor] = []
        #: signal -> the handler wrapped
        self.previous: dict[int, Any] = {}

    def join(self, executor: InlineExecutor) -> None:
        first = not self.users
        self.users.add(executor)  # (before the swap: a Ctrl-C right after it stops this run)
        if first:
            self._unwrap()  # (one left in by an executor stopped in another thread)
            self.wrap()

    def wrap(self) -> None:
        """Wrap SIGINT's handler, and SIGTERM's if it is Python's (else it raises
        nothing), unless wrapped already: before each task too, for one set
        since the last (by a task, or in the loop over a lazy stream)."""
        if threading.current_thread() is not threading.main_thread():
            return  # (a lazy stream's loop moved to another thread: it may set none)
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(signum)
            if previous != self.handle and (signum == signal.SIGINT or callable(previous)):
                self.previous[signum] = previous
                signal.signal(signum, self.handle)

    def leave(self, executor: InlineExecutor) -> None:
        if executor not in self.users:
            return
        self.users.discard(executor)
        if not self.users and threading.current_thread() is threading.main_thread():
            self._unwrap()
        # Else only the main thread may set a handler (an executor is stopped
        # where its lazy stream is dropped: a gc.collect() in another thread):
        # the wrapper stays in, passing each signal on to the handler it
        # wrapped, until the main thread's next inline run or the next signal.

    def _unwrap(self) -> None:
        """Put back the handlers wrapped (in the main thread)."""
        previous, self.previous = self.previous, {}
        for signum, handler in previous.items():
            if signal.getsignal(signum) == self.handle:  # (else the program's own since)
                signal.signal(signum, handler)

    def handle(self, signum: int, frame: FrameType | None) -> None:
        previous = self.previous.get(signum)
        if not self.users:
            self._unwrap()  # left in by an executor stopped in another thread
        try:
            if callable(previous):
                previous(signum, frame)  # Python's own SIGINT handler raises KeyboardInterrupt
            elif previous != signal.SIG_IGN:
                raise KeyboardInterrupt
        except BaseException as raised:
            for executor in self.tasks:
                executor._raised = raised
            raise


_signals = _Signals()
