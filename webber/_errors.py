"""The exception tree of webber.

Every error webber raises on its own account derives from :class:`WebberError`,
so ``except webber.WebberError`` catches them all; each also derives from the
built-in exception a Python user would reach for first (``ValueError`` for a
bad graph, ``KeyError`` for an unknown id, ``TimeoutError`` for a timeout)::

    WebberError
     ├── GraphError (ValueError)           the graph cannot run; raised as it is built
     │    ├── ChainError (AssertionError)  a QueueDAG node given a second parent or child
     │    ├── CycleError                   a -> b -> a; lists the cycle in order
     │    ├── DuplicateEdgeError           add_edge(a, b) when a -> b exists
     │    ├── UnknownNodeError (KeyError)  an id that is not in the graph
     │    ├── InvalidPromiseError          a Promise argument naming no node here
     │    │    ├── UnknownPromiseError (also UnknownNodeError)  of a missing node
     │    │    └── ForeignPromiseError     of another flow (or another DAG's id)
     │    ├── TaskDefinitionError          not callable, wrong arguments, bad retries
     │    └── UnpicklableTaskError         cannot be sent to a worker process
     ├── TaskError                         raised *for* a task, not *by* it
     │    ├── TaskTimeoutError (TimeoutError)  the task ran past its timeout
     │    ├── TaskSkippedError             reading the result of a skipped task
     │    ├── WorkerCrashedError           the process running the task died
     │    ├── TaskExitError                the task raised SystemExit / KeyboardInterrupt
     │    ├── TaskStdinError (EOFError)    the task read stdin in a worker process
     │    └── TransportError               something of the task could not travel
     │         ├── JobSendError (TypeError)     its arguments, leaving the caller
     │         ├── JobLoadError (RuntimeError)  its function or arguments, in the worker
     │         ├── ResultSendError (TypeError)  its result, leaving the worker
     │         └── ResultLoadError (TypeError)  its result, arriving in the caller
     ├── ExecutorError (RuntimeError)      an executor cannot start or was misused
     │    ├── PoolClosedError              the process pool was shut down mid-use
     │    └── ResultLostError              a result kept on a cluster cannot be fetched
     ├── ResumeError (ValueError)          run(resume=...) got something it cannot use
     ├── CacheError (ValueError)           run(cache=...) got something it cannot use
     ├── LimitError (ValueError)           run(limits=...) got something it cannot use
     ├── ListenerError (TypeError)         run(listeners=... or callbacks=...) hears nothing
     │                                     or has an event that cannot take its arguments
     ├── OptionError (TypeError)           run(), execute() or task() got a keyword it lacks,
     │                                     or a flag that is not a bool (progress="yes")
     ├── DashboardError (ValueError)       run(dashboard=...) or a Dashboard's setting is unusable
     ├── DiagramError (RuntimeError)       a diagram cannot be drawn or written
     └── FormatError (ValueError)          a graph cannot be written to JSON or read from it

Errors that cross a process boundary carry the worker-side traceback as
``__cause__``.

An exception raised *by* a task is never wrapped: reading that task's result
raises the task's own exception, so ``except ValueError`` keeps working.
Messages name the task and end with how to fix the problem.
"""

from __future__ import annotations

__all__ = [
    "CacheError",
    "ChainError",
    "CycleError",
    "DashboardError",
    "DiagramError",
    "DuplicateEdgeError",
    "ExecutorError",
    "FormatError",
    "ForeignPromiseError",
    "GraphError",
    "InvalidPromiseError",
    "LimitError",
    "ListenerError",
    "OptionError",
    "PoolClosedError",
    "ResultLostError",
    "ResumeError",
    "TaskDefinitionError",
    "UnknownNodeError",
    "UnknownPromiseError",
    "UnpicklableTaskError",
    "WebberError",
]


class WebberError(Exception):
    """Base class of every error webber raises on its own account.

    >>> import webber
    >>> issubclass(webber.CycleError, webber.WebberError)
    True
    """


class GraphError(WebberError, ValueError):
    """The graph cannot run as written; raised by ``compile()`` and ``run()``.

    >>> import webber
    >>> dag = webber.DAG()
    >>> n = dag.add_node(print, webber.Promise("missing-1"))
    >>> try:
    ...     dag.compile()
    ... except ValueError as e:  # every GraphError is a ValueError
    ...     print(type(e).__name__)
    UnknownNodeError
    """


class ChainError(GraphError, AssertionError):
    """A QueueDAG edge or Promise that would give a node a second parent or
    a second child: a stream is a chain. Also an ``AssertionError``, which
    webber 0.4.0's ``QueueDAG.add_edge`` raised here.

    >>> import webber
    >>> qdag = webber.QueueDAG()
    >>> root = qdag.add_node(lambda: 1, iterator=2)
    >>> a, b = qdag.add_node(abs, webber.Promise(root)), qdag.add_node(print)
    >>> try:
    ...     qdag.add_edge(root, b)
    ... except AssertionError as e:  # 0.4.0's type
    ...     print(type(e).__name__)
    ChainError
    """


class CycleError(GraphError):
    """The graph has a cycle. ``.cycle`` lists its node ids in order, first repeated last.

    >>> import webber
    >>> dag = webber.DAG()
    >>> a, b = dag.add_node(print), dag.add_node(print)
    >>> dag.add_edge(a, b)
    >>> dag.add_edge(b, a)
    >>> try:
    ...     dag.compile()
    ... except webber.CycleError as e:
    ...     print(e.cycle)
    ['print-1', 'print-2', 'print-1']
    """

    def __init__(self, message: str, cycle: list[str]) -> None:
        super().__init__(message)
        self.cycle = cycle


class DuplicateEdgeError(GraphError):
    """``add_edge(a, b)`` when the edge ``a -> b`` was added already; to change
    its condition, use ``update_edges``.

    >>> import webber
    >>> dag = webber.DAG()
    >>> a, b = dag.add_node(print), dag.add_node(print)
    >>> dag.add_edge(a, b)
    ('print-1', 'print-2')
    >>> try:
    ...     dag.add_edge(a, b, continue_on=webber.Condition.AnyCase)
    ... except ValueError as e:  # 0.4.0 raised ValueError here too
    ...     print(type(e).__name__)
    DuplicateEdgeError
    """


class UnknownNodeError(GraphError, KeyError):
    """A node id (or Promise) that the graph does not hold. ``.key`` is the id.

    >>> import webber
    >>> dag = webber.DAG()
    >>> n = dag.add_node(print, "hi")
    >>> try:
    ...     dag.get_node("prnt-1")
    ... except KeyError as e:
    ...     print(e)
    dag 'dag' has no node 'prnt-1'; did you mean 'print-1'?
    """

    def __init__(self, message: str, key: object) -> None:
        super().__init__(message)
        self.key = key

    def __str__(self) -> str:
        # KeyError.__str__ would repr() the message; show it as written.
        return str(self.args[0])


class InvalidPromiseError(GraphError):
    """A Promise argument that names no node of this graph: unknown, or of
    another flow. Raised where the Promise is passed (``add_node``). webber
    0.4.0 code catches it as ``webber.xcoms.InvalidCallable``.

    >>> import webber
    >>> from webber.xcoms import InvalidCallable
    >>> dag = webber.DAG()
    >>> try:
    ...     dag.add_node(print, webber.Promise("missing-1"))
    ... except InvalidCallable as e:
    ...     print(type(e).__name__)
    UnknownPromiseError
    """

    @property
    def message(self) -> str | None:
        """The message: 0.4.0 code reads ``InvalidCallable``'s ``e.message``."""
        return str(self) if self.args else None


class UnknownPromiseError(InvalidPromiseError, UnknownNodeError):
    """A Promise of a node the graph does not hold (``except KeyError`` catches it too).

    >>> import webber
    >>> dag = webber.DAG()
    >>> try:
    ...     dag.add_node(print, webber.Promise("prnt-1"))
    ... except KeyError as e:
    ...     print(e.key)
    prnt-1
    """


class ForeignPromiseError(InvalidPromiseError):
    """A Promise recorded by one flow was used in another (or an id that
    one DAG's ``add_node`` returned, in another DAG or its Run).

    >>> from webber import Flow, ForeignPromiseError, task
    >>> one = task(lambda: 1, name="one")
    >>> with Flow("first"):
    ...     p = one()
    >>> try:
    ...     with Flow("second"):
    ...         task(print)(p)
    ... except ForeignPromiseError as e:
    ...     print(str(e).split(";")[0])
    task 'print': Promise('one-1') was recorded by flow 'first', not by flow 'second'
    """


class TaskDefinitionError(GraphError, TypeError):
    """A task is not callable, cannot take its arguments, or has a setting out of range.

    >>> from webber import TaskDefinitionError, task
    >>> try:
    ...     task(retries=-1)(print)
    ... except TaskDefinitionError as e:
    ...     print(type(e).__name__, "retries" in str(e))
    TaskDefinitionError True
    """


class UnpicklableTaskError(GraphError):
    """A task's function or argument cannot be pickled, so it cannot run in a
    worker process. The message names the task and the object.

    >>> import threading, webber
    >>> dag = webber.DAG()
    >>> n = dag.add_node(print, threading.Lock())
    >>> try:
    ...     dag.compile(executor="processes")
    ... except webber.UnpicklableTaskError as e:
    ...     print("print-1" in str(e), "executor='threads'" in str(e))
    True True
    """


class ExecutorError(WebberError, RuntimeError):
    """An executor cannot start, or was used in a way it does not support.

    >>> import webber
    >>> dag = webber.DAG()
    >>> n = dag.add_node(print)
    >>> try:
    ...     dag.run(executor="thread")
    ... except webber.ExecutorError as e:
    ...     print(str(e).split(";")[0])
    unknown executor 'thread'
    """


class FormatError(WebberError, ValueError):
    """A graph cannot be written to JSON (a lambda, an argument that is not
    JSON) or read from it (an unknown function, another format version).
    ``.node`` is the id of the node concerned ("" for the whole document).

    >>> import webber
    >>> dag = webber.DAG()
    >>> n = dag.add_node(lambda: 1)
    >>> try:
    ...     dag.to_json()
    ... except webber.FormatError as e:
    ...     print(e.node)
    lambda-1
    """

    def __init__(self, message: str, node: str = "") -> None:
        super().__init__(message)
        self.node = node

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.args[0] if self.args else "", self.node))


class PoolClosedError(ExecutorError):
    """The process pool was shut down while a run still used it (its message,
    unless given, says how that happens and what to do).

    >>> import webber
    >>> issubclass(webber.PoolClosedError, RuntimeError)
    True
    """

    def __init__(self, message: str = (
            "the process pool was shut down (webber.shutdown(), or Ctrl-C in another run "
            "going on at the same time) while this run used it; run the flow again")) -> None:
        super().__init__(message)


class ResultLostError(ExecutorError):
    """A result kept on a dask cluster could not be fetched: its client or
    workers are gone, or dask could not move it (its message says which).

    >>> import webber
    >>> issubclass(webber.ResultLostError, webber.ExecutorError)
    True
    """


class ResumeError(WebberError, ValueError):
    """``run(resume=...)`` got something other than a Run of the same flow.

    >>> import webber
    >>> dag = webber.DAG()
    >>> n = dag.add_node(print)
    >>> try:
    ...     dag.run(executor="inline", resume="yesterday")
    ... except webber.ResumeError as e:
    ...     print(str(e).split(",")[0])
    resume= takes the Run an earlier run() of this process returned
    """


class CacheError(WebberError, ValueError):
    """``run(cache=...)`` got something other than a directory path or a
    :class:`~webber.Cache`, the store's directory cannot be used, or a hit's entry
    vanished before the task that needed it loaded it (that task fails with it).

    >>> import webber
    >>> dag = webber.DAG()
    >>> n = dag.add_node(print)
    >>> try:
    ...     dag.run(executor="inline", cache=42)
    ... except webber.CacheError as e:
    ...     print(str(e).split(";")[0])
    cache= takes a directory path or a webber.Cache, not int 42
    """


class LimitError(WebberError, ValueError):
    """``run(limits=...)`` is not a mapping of tag names to whole numbers >= 1.

    >>> import webber
    >>> dag = webber.DAG()
    >>> n = dag.add_node(print)
    >>> try:
    ...     dag.run(executor="inline", limits={"db": 0})
    ... except webber.LimitError as e:
    ...     print(str(e).split(";")[0])
    limits={'db': 0}: the limit of 'db' must be a whole number >= 1
    """


class ListenerError(WebberError, TypeError):
    """``run(listeners=...)`` got something that hears no event: listeners are
    :class:`~webber.Listener` objects (or objects with some of its ``on_...``
    methods), in a list; or ``callbacks=`` is not a :class:`~webber.DAGCallbacks`.
    Also a listener's event that could not take the event's arguments, or is
    ``async def``: refused before anything runs.

    >>> import webber
    >>> dag = webber.DAG()
    >>> n = dag.add_node(print)
    >>> try:
    ...     dag.run(executor="inline", listeners=[print])
    ... except webber.ListenerError as e:
    ...     print(str(e).split(":")[0])
    listeners= takes webber.Listener objects, in a list
    """


class OptionError(WebberError, TypeError):
    """``run()``, ``execute()``, ``task()`` or ``webber.config`` got a keyword or
    setting it does not have (a misspelled option): the message names the ones
    it has (the closest first). Also a flag of ``run()`` given what is not
    True or False (``progress="yes"``, which would have counted as true).

    >>> import webber
    >>> dag = webber.DAG()
    >>> try:
    ...     dag.run(exector="inline")
    ... except webber.OptionError as e:
    ...     print(str(e).split(";")[0])
    DAG 'dag': run() takes no exector=
    """


class DashboardError(WebberError, ValueError):
    """``run(dashboard=...)`` is neither True, False nor a :class:`~webber.Dashboard`,
    or a Dashboard was given a host, port or allowed hosts it cannot use (a
    host written as a URL or with its port: the message says what to pass), or
    an ``open_browser`` that is not True or False.

    >>> import webber
    >>> try:
    ...     webber.Dashboard(port="8000")
    ... except webber.DashboardError as e:
    ...     print(str(e).split(":")[0])
    Dashboard(port='8000')
    """


class DiagramError(WebberError, RuntimeError):
    """A diagram cannot be drawn or written: Graphviz's ``dot`` is missing or
    fails, the file's format is unknown, or ``type=`` names no way of showing it.

    >>> import webber
    >>> dag = webber.DAG()
    >>> n = dag.add_node(print)
    >>> try:
    ...     dag.visualize(type="3d")
    ... except webber.DiagramError as e:
    ...     print(str(e).split(":")[0])
    visualize(type='3d') is not supported
    """

