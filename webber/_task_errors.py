"""The errors raised *for* a task, not *by* it: :class:`TaskError` and its
leaves (see the tree in ``_errors.py``), and :func:`add_note`."""

from __future__ import annotations

from webber._errors import WebberError

__all__ = [
    "JobLoadError",
    "JobSendError",
    "ResultLoadError",
    "ResultSendError",
    "TaskError",
    "TaskExitError",
    "TaskSkippedError",
    "TaskStdinError",
    "TaskTimeoutError",
    "TransportError",
    "WorkerCrashedError",
    "add_note",
]


class TaskError(WebberError):
    """Raised on behalf of a task (timeouts, skips, crashes). ``.task`` is the node id.

    >>> import webber
    >>> dag = webber.DAG()
    >>> n = dag.add_node(print, "never")
    >>> dag.skip_node(n)
    >>> try:
    ...     dag.run(executor="inline")[n]
    ... except webber.TaskError as e:
    ...     print(type(e).__name__, e.task)
    TaskSkippedError print-1
    """

    def __init__(self, message: str, task: str = "") -> None:
        super().__init__(message)
        self.task = task

    def __reduce__(self) -> tuple[object, ...]:
        # Keep both arguments when the error crosses a process boundary.
        return (type(self), (self.args[0] if self.args else "", self.task))


class TaskTimeoutError(TaskError, TimeoutError):
    """The task ran longer than its ``timeout``.

    >>> import time, webber
    >>> nap = webber.task(time.sleep, timeout=0.01)
    >>> with webber.Flow() as flow:
    ...     n = nap(0.1)
    >>> run = flow.run(executor="threads")
    >>> isinstance(run.error(n), TimeoutError), run.error(n).task
    (True, 'sleep-1')
    """


class TaskSkippedError(TaskError):
    """The task was skipped, so it has no result to read.

    >>> import webber
    >>> dag = webber.DAG()
    >>> n = dag.add_node(print, "never")
    >>> dag.skip_node(n)
    >>> run = dag.run(executor="inline")
    >>> run.state(n), run.get(n, "nothing")
    ('skipped', 'nothing')
    """


class WorkerCrashedError(TaskError):
    """The worker process running the task died (exit code or signal in the message).

    Only the process executor (and dask's) raise it; the run goes on.

    >>> import os, webber
    >>> dag = webber.DAG()
    >>> n = dag.add_node(os._exit, 3)
    >>> error = dag.run(executor="processes").error(n)  # doctest: +SKIP
    >>> type(error).__name__, "exit code 3" in str(error)  # doctest: +SKIP
    ('WorkerCrashedError', True)
    """


class TaskExitError(TaskError):
    """The task raised ``SystemExit`` (``sys.exit()``), ``KeyboardInterrupt`` or
    another BaseException that is not an Exception. That fails the task, on
    every executor; it does not end or interrupt the program that reads the
    result. The original exception is the ``__cause__``.

    >>> import sys, webber
    >>> dag = webber.DAG()
    >>> n = dag.add_node(sys.exit, 0)
    >>> error = dag.run(executor="inline").error(n)
    >>> type(error).__name__, type(error.__cause__).__name__, isinstance(error, Exception)
    ('TaskExitError', 'SystemExit', True)
    """

    def __reduce__(self) -> tuple[object, ...]:
        # The original travels too (from a worker process): it is the point.
        return (_with_cause, (*super().__reduce__(), self.__cause__))


class TaskStdinError(TaskError, EOFError):
    """The task read its standard input (``input()``, ``sys.stdin.read()``) in a
    worker process, whose stdin is not the caller's: it has no data to read.
    Also an ``EOFError``, which ``input()`` raised there before, so code that
    catches that keeps working. Pass the data as an argument, or run the flow
    on threads or inline, where stdin is the caller's.

    >>> import webber
    >>> dag = webber.DAG()
    >>> n = dag.add_node(input, "name? ")
    >>> error = dag.run(executor="processes").error(n)  # doctest: +SKIP
    >>> isinstance(error, EOFError), error.task  # doctest: +SKIP
    (True, 'input-1')
    >>> issubclass(webber.TaskStdinError, EOFError)
    True
    """


def add_note(error: BaseException, note: str) -> BaseException:
    """``error`` with ``note`` added (shown under its traceback, once): how
    webber says which element or item failed while raising the task's own
    exception, so ``except ValueError`` keeps working."""
    notes = getattr(error, "__notes__", None)
    if notes is None:
        notes = []
        try:
            setattr(error, "__notes__", notes)  # what add_note() does (Python 3.11+)  # noqa: B010
        except AttributeError:
            return error
    if note not in notes:
        notes.append(note)
    return error


class TransportError(TaskError):
    """Something of the task could not travel between processes; the leaf says
    what and where. The original error is its ``__cause__``.

    >>> import webber
    >>> issubclass(webber.ResultSendError, webber.TransportError)
    True
    """


class JobSendError(TransportError, TypeError):
    """The task's arguments could not be pickled to leave the caller.

    >>> import webber
    >>> issubclass(webber.JobSendError, TypeError)
    True
    """


class JobLoadError(TransportError, RuntimeError):
    """The worker could not unpickle the task's function or arguments.

    >>> import webber
    >>> issubclass(webber.JobLoadError, webber.TaskError)
    True
    """


class ResultSendError(TransportError, TypeError):
    """The task's result could not be pickled to leave its worker.

    >>> import threading, webber
    >>> dag = webber.DAG()
    >>> n = dag.add_node(threading.Lock)
    >>> type(dag.run(executor="processes").error(n)).__name__  # doctest: +SKIP
    'ResultSendError'
    """


class ResultLoadError(TransportError, TypeError):
    """The task's result arrived but could not be unpickled in the caller.

    >>> import webber
    >>> issubclass(webber.ResultLoadError, webber.TransportError)
    True
    """


def _with_cause(
    cls: type[TaskError], args: tuple[str, str], cause: BaseException | None
) -> TaskError:
    error = cls(*args)
    error.__cause__ = cause
    return error


def message_of(error: BaseException) -> str:
    """``str(error)``, or what the traceback module shows when that raises: a
    task's exception class may format its message badly, and telling how the
    task failed must not fail the run (or kill the worker) with it."""
    try:
        return str(error)
    except Exception:
        return "<exception str() failed>"
