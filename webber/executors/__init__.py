"""Executors: where a run's tasks execute.

``"processes"`` runs tasks in a persistent pool of worker processes (CPU-bound
work, the default), ``"threads"`` on a thread pool (I/O-bound work),
``"inline"`` one at a time in the caller's thread (debugging), ``"dask"`` on a
dask cluster (``DaskExecutor(client)`` for your own). All share the
interface in ``_base.py``; the engine holds every rule of a run, so a flow
computes the same on each of them. The concrete executors are imported on
first use, so ``import webber`` stays light.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from typing import TYPE_CHECKING, Any

from webber._errors import ExecutorError
from webber.executors._base import Executor, Job, Outcome, Remote, Started

if TYPE_CHECKING:
    from webber.executors.dask import DaskExecutor
    from webber.executors.inline import InlineExecutor
    from webber.executors.processes import ProcessExecutor
    from webber.executors.threads import ThreadExecutor

__all__ = [
    "DaskExecutor",
    "Executor",
    "InlineExecutor",
    "Job",
    "NAMES",
    "Outcome",
    "ProcessExecutor",
    "Remote",
    "Started",
    "ThreadExecutor",
    "resolve_executor",
    "runs_here",
    "shutdown",
]

#: The registry: executor name -> (module, class), the default first. The
#: names ``run(executor=...)`` and the CLI's ``--executor`` accept.
_BY_NAME = {
    "processes": ("webber.executors.processes", "ProcessExecutor"),
    "threads": ("webber.executors.threads", "ThreadExecutor"),
    "inline": ("webber.executors.inline", "InlineExecutor"),
    "dask": ("webber.executors.dask", "DaskExecutor"),
}
NAMES = tuple(_BY_NAME)
_CLASSES = {cls: module for module, cls in _BY_NAME.values()}


def __getattr__(name: str) -> Any:
    if name in _CLASSES:
        return getattr(importlib.import_module(_CLASSES[name]), name)
    raise AttributeError(f"module 'webber.executors' has no attribute {name!r}")


def shutdown() -> None:
    """Stop the worker processes of the process executor now (the next run
    starts new ones), and every dashboard. Runs at interpreter exit too.

    >>> import webber
    >>> webber.shutdown()
    """
    processes = sys.modules.get("webber.executors.processes")
    if processes is not None:  # no pool was ever started otherwise
        processes.shutdown()
    dashboards = sys.modules.get("webber._dashboard")
    if dashboards is not None:
        dashboards.stop_all()


def resolve_executor(executor: str | Executor, max_workers: int | None = None) -> Executor:
    """The Executor that ``run(executor=..., max_workers=...)`` asks for (the
    facade turns None into the configured default first: ``webber.config``)."""
    if isinstance(executor, Executor):
        if max_workers is not None and max_workers != executor.max_workers:
            raise ExecutorError(
                f"max_workers={max_workers} conflicts with {executor!r}; "
                f"set max_workers on the executor instead"
            )
        return executor
    if isinstance(executor, str) and executor in _BY_NAME:
        module, cls = _BY_NAME[runs_here(executor)]
        factory: type[Executor] = getattr(importlib.import_module(module), cls)
        return factory(max_workers=max_workers)  # by keyword: DaskExecutor takes a client first
    if isinstance(executor, type) and issubclass(executor, Executor):
        raise ExecutorError(
            f"executor={executor.__name__} is the class; pass an instance, "
            f"executor={executor.__name__}(), or its name, executor={executor.name!r}"
        )
    import difflib

    close = difflib.get_close_matches(executor.lower(), _BY_NAME, n=1, cutoff=0.7) if (
        isinstance(executor, str)) else []
    raise ExecutorError(
        f"unknown executor {executor!r}; use one of {', '.join(map(repr, _BY_NAME))} "
        f"or an Executor instance" + "".join(f"; did you mean executor={c!r}?" for c in close)
    )


#: whether the one warning of runs_here() was given (once per process)
_warned = False


def runs_here(name: str) -> str:
    """The executor that ``name`` runs on on this system: ``"threads"`` for
    ``"processes"`` on Windows (the process pool is untested there, and its
    shared memory cannot be: a mapped file cannot be unlinked), with one
    ``RuntimeWarning`` per process; ``WEBBER_POOL=portable`` asks for the
    pool anyway. Every other name, and every name on POSIX, is itself.

    >>> runs_here("threads")
    'threads'
    """
    global _warned
    if name != "processes" or os.name == "posix" or os.environ.get("WEBBER_POOL"):
        return name
    if not _warned:
        _warned = True
        warnings.warn(
            "webber: worker processes are not supported on this system yet, so "
            "executor='processes' (the default) runs on threads; pass "
            "executor='threads' to say so, or set WEBBER_POOL=portable to try the "
            "portable process pool",
            RuntimeWarning,
            stacklevel=_user_level(),
        )
    return "threads"


def _user_level() -> int:
    """The warnings ``stacklevel`` of the first caller outside webber (the
    user's run() or execute() line)."""
    # stacklevel 1 is runs_here (frame 1 here), 2 its caller (frame 2), ...
    level, frame = 2, sys._getframe(2)
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith("webber"):
        frame, level = frame.f_back, level + 1
    return level
