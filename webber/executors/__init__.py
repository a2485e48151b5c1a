"""Executors: where a run's tasks execute.

``"inline"`` runs tasks one at a time in the caller's thread (debugging),
``"threads"`` on a thread pool (I/O-bound work). All share the interface in
``_base.py``; the engine holds every rule of a run, so a flow computes the
same on each of them.
"""

from __future__ import annotations

from webber._errors import ExecutorError
from webber.executors._base import Executor, Job, Outcome, Started
from webber.executors.inline import InlineExecutor
from webber.executors.processes import ProcessExecutor
from webber.executors.threads import ThreadExecutor

__all__ = [
    "Executor",
    "InlineExecutor",
    "Job",
    "Outcome",
    "ProcessExecutor",
    "Started",
    "ThreadExecutor",
    "resolve_executor",
]

_BY_NAME: dict[str, type[Executor]] = {
    "inline": InlineExecutor,
    "processes": ProcessExecutor,
    "threads": ThreadExecutor,
}


def resolve_executor(executor: str | Executor, max_workers: int | None = None) -> Executor:
    """The Executor that ``run(executor=..., max_workers=...)`` asks for."""
    if isinstance(executor, Executor):
        if max_workers is not None and max_workers != executor.max_workers:
            raise ExecutorError(
                f"max_workers={max_workers} conflicts with {executor!r}; "
                f"set max_workers on the executor instead"
            )
        return executor
    if isinstance(executor, str) and executor in _BY_NAME:
        return _BY_NAME[executor](max_workers)
    raise ExecutorError(
        f"unknown executor {executor!r}; use one of {', '.join(map(repr, _BY_NAME))} "
        f"or an Executor instance"
    )
