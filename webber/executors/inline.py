"""The inline executor: each task runs in the caller's thread, one at a time.

For debugging: a breakpoint() or pdb.set_trace() in a task stops right there,
exceptions keep their full local traceback, and nothing runs in parallel.
A ``timeout`` cannot interrupt a task here; a task that returns after its
limit is marked failed with TaskTimeoutError (its result is discarded).
"""

from __future__ import annotations

from webber.executors._base import Executor, Job, Report
from webber.executors._work import run_chain

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

    def start(self, report: Report) -> None:
        self._report = report

    def submit(self, job: Job) -> None:
        assert self._report is not None, "InlineExecutor.submit() before start()"
        # The engine only enqueues outcomes, so running here cannot recurse.
        run_chain(job, self._report, catch_interrupt=False)

    def stop(self, cancel: bool = False) -> None:
        self._report = None
