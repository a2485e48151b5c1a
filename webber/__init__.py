"""webber: run a workflow of Python functions in parallel, with almost no overhead.

Two ways to build a flow -- decorators in a ``with Flow():`` block, or the
explicit ``DAG`` API -- one compiled ``Plan``, one engine, several executors::

    @task / Flow / DAG  ->  compile() -> Plan  ->  engine  ->  processes | threads | inline | dask

Importing webber starts nothing and imports no optional backend.
"""

from __future__ import annotations

#: (not typing.TYPE_CHECKING: importing typing would be most of this module's cost)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from webber._cache import Cache
    from webber._callbacks import DAGCallbacks
    from webber._config import Config, config
    from webber._dashboard import Dashboard
    from webber._errors import (
        CacheError,
        ChainError,
        CycleError,
        DashboardError,
        DiagramError,
        DuplicateEdgeError,
        ExecutorError,
        ForeignPromiseError,
        FormatError,
        GraphError,
        InvalidPromiseError,
        LimitError,
        ListenerError,
        OptionError,
        PoolClosedError,
        ResultLostError,
        ResumeError,
        TaskDefinitionError,
        UnknownNodeError,
        UnknownPromiseError,
        UnpicklableTaskError,
        WebberError,
    )
    from webber._events import Listener
    from webber._flow import DAG, Flow
    from webber._graph import Condition, Edge, Node, TaskOptions
    from webber._metrics import DAGMetrics
    from webber._plan import Plan
    from webber._promise import IterPromise, Promise, any_case, on_failure
    from webber._queue import QueueDAG, stream
    from webber._run import Attempt, Run
    from webber._task import Task, task
    from webber._task_errors import (
        JobLoadError,
        JobSendError,
        ResultLoadError,
        ResultSendError,
        TaskError,
        TaskExitError,
        TaskSkippedError,
        TaskStdinError,
        TaskTimeoutError,
        TransportError,
        WorkerCrashedError,
    )
    from webber.executors import shutdown
    from webber.executors.dask import DaskExecutor

__version__ = "0.5.0.dev0"

__all__ = [
    "Attempt",
    "Cache",
    "CacheError",
    "ChainError",
    "Condition",
    "Config",
    "CycleError",
    "DAG",
    "DAGCallbacks",
    "DAGMetrics",
    "Dashboard",
    "DashboardError",
    "DaskExecutor",
    "DiagramError",
    "DuplicateEdgeError",
    "Edge",
    "ExecutorError",
    "Flow",
    "ForeignPromiseError",
    "FormatError",
    "GraphError",
    "InvalidPromiseError",
    "IterPromise",
    "JobLoadError",
    "JobSendError",
    "LimitError",
    "Listener",
    "ListenerError",
    "Node",
    "OptionError",
    "Plan",
    "PoolClosedError",
    "Promise",
    "QueueDAG",
    "ResultLoadError",
    "ResultLostError",
    "ResultSendError",
    "ResumeError",
    "Run",
    "Task",
    "TaskDefinitionError",
    "TaskError",
    "TaskExitError",
    "TaskOptions",
    "TaskSkippedError",
    "TaskStdinError",
    "TaskTimeoutError",
    "TransportError",
    "UnknownNodeError",
    "UnknownPromiseError",
    "UnpicklableTaskError",
    "WebberError",
    "WorkerCrashedError",
    "any_case",
    "config",
    "on_failure",
    "shutdown",
    "stream",
    "task",
]


#: webber 0.4.0's submodules, reachable as attributes after a plain ``import
#: webber`` (as they were there) yet imported only on first use
_SEED_MODULES = ("core", "edges", "xcoms")


#: every public name -> the module that defines it. Each is imported on first
#: use: `import webber` imports nothing else, and a worker process (which
#: imports only ``webber.executors``) none of the authoring layer.
_HOME = {
    "Attempt": "webber._run",
    "Cache": "webber._cache",
    "CacheError": "webber._errors",
    "ChainError": "webber._errors",
    "Condition": "webber._graph",
    "Config": "webber._config",
    "CycleError": "webber._errors",
    "DashboardError": "webber._errors",
    "DAG": "webber._flow",
    "DAGCallbacks": "webber._callbacks",
    "DAGMetrics": "webber._metrics",
    "Dashboard": "webber._dashboard",
    "DaskExecutor": "webber.executors.dask",
    "DiagramError": "webber._errors",
    "DuplicateEdgeError": "webber._errors",
    "Edge": "webber._graph",
    "ExecutorError": "webber._errors",
    "Flow": "webber._flow",
    "ForeignPromiseError": "webber._errors",
    "FormatError": "webber._errors",
    "GraphError": "webber._errors",
    "InvalidPromiseError": "webber._errors",
    "IterPromise": "webber._promise",
    "JobLoadError": "webber._task_errors",
    "JobSendError": "webber._task_errors",
    "LimitError": "webber._errors",
    "ListenerError": "webber._errors",
    "Listener": "webber._events",
    "Node": "webber._graph",
    "OptionError": "webber._errors",
    "Plan": "webber._plan",
    "PoolClosedError": "webber._errors",
    "Promise": "webber._promise",
    "QueueDAG": "webber._queue",
    "ResultLoadError": "webber._task_errors",
    "ResultLostError": "webber._errors",
    "ResultSendError": "webber._task_errors",
    "ResumeError": "webber._errors",
    "Run": "webber._run",
    "Task": "webber._task",
    "TaskDefinitionError": "webber._errors",
    "TaskError": "webber._task_errors",
    "TaskExitError": "webber._task_errors",
    "TaskOptions": "webber._graph",
    "TaskSkippedError": "webber._task_errors",
    "TaskStdinError": "webber._task_errors",
    "TaskTimeoutError": "webber._task_errors",
    "TransportError": "webber._task_errors",
    "UnknownNodeError": "webber._errors",
    "UnknownPromiseError": "webber._errors",
    "UnpicklableTaskError": "webber._errors",
    "WebberError": "webber._errors",
    "WorkerCrashedError": "webber._task_errors",
    "any_case": "webber._promise",
    "config": "webber._config",
    "on_failure": "webber._promise",
    "shutdown": "webber.executors",
    "stream": "webber._queue",
    "task": "webber._task",
}


def _present_as_webber() -> None:
    """Public names report the path users import them from (webber.Node, not
    webber._graph.Node: in reprs, tracebacks, pickles and help()); each found
    is kept here, so it is looked up once."""
    import sys

    for name, home in _HOME.items():
        module = sys.modules.get(home)
        if module is not None and name not in globals():
            obj = getattr(module, name)
            if isinstance(obj, type) or callable(obj):
                obj.__module__ = __name__
            globals()[name] = obj


def __getattr__(name: str) -> Any:
    import importlib

    if name in _SEED_MODULES:
        return importlib.import_module(f"webber.{name}")
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'webber' has no attribute {name!r}")
    importlib.import_module(home)
    _present_as_webber()  # the names of every module loaded by now, this one's too
    return globals()[name]


def __dir__() -> list[str]:
    return sorted({*__all__, "__version__", *_SEED_MODULES})
