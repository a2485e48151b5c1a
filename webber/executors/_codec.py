"""Exceptions across processes: how a task's failure travels from a worker.

One codec for every executor that runs tasks in other processes (webber's
pool and dask)::

    worker:  encode_failure(error) -> (pickle of the exception, or b"";
                                       (type name, message, traceback text))
    caller:  decode_failure(node, pickle, info) -> the exception, its worker
                                       traceback attached as __cause__

An exception pickles as ``type(error)(*error.args)``, which fails for a class
whose ``__init__`` wants other arguments, and an attribute that cannot be
pickled fails it too. Such an exception travels as its class, args and the
attributes that can travel (the others as their repr), rebuilt without calling
``__init__``: the caller gets the real type, so ``except E`` works there too.
When not even that loads, the type name, message and traceback text still
arrive, as a :class:`~webber.TaskError`.
"""

from __future__ import annotations

import contextlib
import functools
import io
import pickle
import traceback
import types
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from webber._task_errors import TaskError, message_of

__all__ = ["RemoteTraceback", "decode_failure", "encode_failure", "failure_info"]


def failure_info(error: BaseException) -> tuple[str, str, str]:
    """(qualified type name, message, traceback text) of ``error``."""
    kind = type(error)
    name = kind.__qualname__
    if kind.__module__ != "builtins":
        name = f"{kind.__module__}.{name}"
    # An error the worker made about a task (a result that cannot be sent back) was
    # never raised: its cause holds the frames, and the caller shows the error below them.
    shown = error.__cause__ if error.__traceback__ is None and error.__cause__ else error
    return name, message_of(error), "".join(traceback.format_exception(shown))


def encode_failure(error: BaseException) -> tuple[bytes, tuple[str, str, str]]:
    """A task's exception as it leaves a worker: its pickle (b"" when it cannot
    travel at all) and its :func:`failure_info`."""
    import cloudpickle

    info = failure_info(error)
    _let_frames_go(error)  # (the caller gets their text, in info)
    for candidate in (error, _RebuiltException(error)):
        try:
            data = _dumps(candidate)
            # The worker may run the class's code; the caller must not fail.
            cloudpickle.loads(data)
        except Exception:
            continue
        return data, info
    return b"", info


def _let_frames_go(error: BaseException) -> None:
    """Drop the tracebacks of ``error`` and the exceptions chained to it: a
    failure from a worker shows its text instead (its RemoteTraceback cause).
    Each frame holds its caller's, up the stack that ran the task or
    unpickled the error (the tblib that dask installs makes frames), and one
    of those held the error: a reference cycle that kept the task's
    arguments in the worker, and the run in the caller, until a full
    collection."""
    seen: set[int] = set()
    chained: list[BaseException | None] = [error]
    while chained:
        one = chained.pop()
        if one is not None and id(one) not in seen:
            seen.add(id(one))
            one.__traceback__ = None
            chained += (one.__cause__, one.__context__)


def _dumps(value: object) -> bytes:
    """cloudpickle, with exceptions pickled by their own reduce: on a dask
    worker, distributed has registered tblib's pickling for exception classes
    (``copyreg``), which adds the traceback (rebuilt in the caller as frames
    of no real source, their carets at the wrong columns), the cause and the
    context: all of it already in the traceback's text (``RemoteTraceback``)."""
    buffer = io.BytesIO()
    _pickler()(buffer).dump(value)
    return buffer.getvalue()


@functools.cache
def _pickler() -> type[Any]:
    import cloudpickle

    class OwnReduce(cloudpickle.Pickler):  # type: ignore[misc]
        dispatch_table = _WithoutExceptions(cloudpickle.Pickler.dispatch_table)

    return OwnReduce


class _WithoutExceptions(Mapping[type, Any]):
    """A pickler's dispatch table without its entries for exceptions and
    tracebacks (see _dumps)."""

    def __init__(self, table: Mapping[type, Any]) -> None:
        self.table = table

    def __getitem__(self, cls: type) -> Any:
        if issubclass(cls, (BaseException, types.TracebackType)):
            raise KeyError(cls)
        return self.table[cls]

    def __iter__(self) -> Iterator[type]:
        return iter(self.table)

    def __len__(self) -> int:
        return len(self.table)


class _RebuiltException:
    """Pickles an exception as its class, args and picklable attributes."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __reduce__(self) -> tuple[Any, ...]:
        error = self.error
        state = None
        if hasattr(error, "__dict__"):
            state = {k: _portable(v) for k, v in vars(error).items()}
        return (rebuild_exception, (type(error), tuple(map(_portable, error.args)), state))


def _portable(value: Any) -> Any:
    """``value`` if it pickles, else its repr."""
    import cloudpickle

    try:
        cloudpickle.dumps(value)
    except Exception:
        return repr(value)
    return value


def rebuild_exception(
    cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any] | None
) -> BaseException:
    """``cls`` with these args and attributes, made without calling its ``__init__``."""
    error = cls.__new__(cls, *args)
    error.args = args
    if state:
        error.__dict__.update(state)
    _restore_init_fields(error)
    return error


def _restore_init_fields(error: BaseException) -> None:
    # What a built-in __init__ derives from the args, unset when an exception
    # was made without it (here, or by the tblib pickling dask installs).
    if isinstance(error, SystemExit) and error.code is None and len(error.args) == 1:
        error.code = error.args[0]
    if isinstance(error, StopIteration) and error.value is None and error.args:
        error.value = error.args[0]


class RemoteTraceback(Exception):
    """The worker-side traceback, attached as ``__cause__`` (as concurrent.futures does)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""'


def decode_failure(node: str, data: bytes, info: Sequence[str]) -> BaseException:
    """A task's exception as it arrives from a worker (see the module doc)."""
    kind, message, text = info
    loaded: object = None
    if data:
        with contextlib.suppress(Exception):
            loaded = pickle.loads(data)
    if isinstance(loaded, BaseException):
        error = loaded
        _let_frames_go(error)
        _restore_init_fields(error)
        if isinstance(error, TaskError) and not error.task:
            # Raised for the task by a worker that could not tell which it was.
            error.task = node
            error.args = (f"task {node!r}: {error.args[0] if error.args else ''}",)
    else:
        error = TaskError(f"{kind}: {message}", node)
    # Under what the error brought along as its cause (TaskExitError's original).
    below = error
    while below.__cause__ is not None:
        below = below.__cause__
        _restore_init_fields(below)
    below.__cause__ = RemoteTraceback(text)
    return error
