"""webber: run a workflow of Python functions in parallel, with almost no overhead.

Two ways to build a flow -- decorators in a ``with Flow():`` block, or the
explicit ``DAG`` API -- one compiled ``Plan``, one engine, several executors::

    @task / Flow / DAG  ->  compile() -> Plan  ->  engine  ->  processes | threads | inline | dask

Importing webber starts nothing and imports no optional backend.
"""

import typing as _typing

from webber._config import Config, config
from webber._errors import (
    CacheError,
    CycleError,
    DiagramError,
    DuplicateEdgeError,
    ExecutorError,
    ForeignPromiseError,
    FormatError,
    GraphError,
    InvalidPromiseError,
    JobLoadError,
    JobSendError,
    LimitError,
    PoolClosedError,
    ResultLoadError,
    ResultLostError,
    ResultSendError,
    ResumeError,
    TaskDefinitionError,
    TaskError,
    TaskExitError,
    TaskSkippedError,
    TaskTimeoutError,
    TransportError,
    UnknownNodeError,
    UnknownPromiseError,
    UnpicklableTaskError,
    WebberError,
    WorkerCrashedError,
)
from webber._events import Listener
from webber._flow import DAG, Flow
from webber._graph import Condition, Edge, Node, TaskOptions
from webber._plan import Plan
from webber._promise import IterPromise, Promise, any_case, on_failure
from webber._run import Attempt, Run
from webber._task import Task, task
from webber.executors import shutdown

if _typing.TYPE_CHECKING:
    from webber._cache import Cache
    from webber._callbacks import DAGCallbacks
    from webber._dashboard import Dashboard
    from webber._metrics import DAGMetrics
    from webber._queue import QueueDAG, stream
    from webber.executors.dask import DaskExecutor

__version__ = "0.5.0.dev0"

__all__ = [
    "Attempt",
    "Cache",
    "CacheError",
    "Condition",
    "Config",
    "CycleError",
    "DAG",
    "DAGCallbacks",
    "DAGMetrics",
    "Dashboard",
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
    "Node",
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


def _present_as_webber() -> None:
    # Public names report the path users import them from (webber.Node, not
    # webber._graph.Node): in reprs, tracebacks, pickles and help().
    for name in __all__:
        obj = globals().get(name)
        if isinstance(obj, type) or callable(obj):
            obj.__module__ = __name__


_present_as_webber()


#: Public names imported on first use: `import webber` never imports dask,
#: an HTTP server or the result store's file handling. name -> the module that defines it.
_LAZY = {
    "Cache": "webber._cache",
    "DAGCallbacks": "webber._callbacks",
    "DAGMetrics": "webber._metrics",
    "Dashboard": "webber._dashboard",
    "DaskExecutor": "webber.executors.dask",
    "QueueDAG": "webber._queue",
    "stream": "webber._queue",
}


def __getattr__(name: str) -> _typing.Any:
    import importlib

    if name in _SEED_MODULES:
        return importlib.import_module(f"webber.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'webber' has no attribute {name!r}")
    obj = getattr(importlib.import_module(module), name)
    obj.__module__ = __name__  # as _present_as_webber() does for the others
    return obj
