"""The plan check of executors that ship tasks to other processes.

Refuses, before anything runs, a plan whose functions or arguments cannot be
pickled, naming the task and the object; each distinct function is tried once.
"""

from __future__ import annotations

import functools
import io
import reprlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from webber._errors import UnpicklableTaskError
from webber._graph import display_name
from webber.executors._pickling import PLAIN, apart, plain

if TYPE_CHECKING:
    from webber._plan import Plan

__all__ = ["check_plan"]

#: open files (what ``open()`` returns), as opposed to in-memory buffers
_FILES = (io.FileIO, io.BufferedReader, io.BufferedWriter, io.BufferedRandom, io.TextIOWrapper)


def check_plan(plan: Plan) -> None:
    """Raise UnpicklableTaskError for the first task that cannot travel."""
    import cloudpickle

    tried: set[int] = set()
    last = None  # (most tasks run the function of the task before)
    for n, node in plan.nodes.items():
        func = node.node.func
        if func is not last and id(func) not in tried:
            try:
                cloudpickle.dumps(func, protocol=5, buffer_callback=_aside)
            except Exception as e:
                raise _unpicklable(n, f"its function {display_name(func)!r} (or what it "
                                      f"refers to: closure, globals)", e) from e
            tried.add(id(func))
        last = func
        args, kwargs = node.args, node.kwargs
        if not kwargs and (not args or (len(args) == 1 and type(args[0]) in PLAIN)):
            continue  # (in short: a wide flow's task, a chain's link)
        if plain((args, kwargs)):
            continue  # what the C pickler sends surely (no arguments, numbers, Refs...)
        try:
            _dumps(apart((node.args, node.kwargs)))
        except Exception as e:
            raise _unpicklable(n, _culprit(node.args, node.kwargs), e) from e


def _dumps(obj: Any) -> None:
    """Pickle ``obj`` as a worker would get it, refusing open files: cloudpickle
    would send a snapshot of a file's text (a StringIO), not the file, so the
    task would silently read stale data and write nowhere."""
    _strict_pickler()(io.BytesIO(), protocol=5, buffer_callback=_aside).dump(obj)


def _aside(buffer: Any) -> bool:
    """Out of band, and dropped: a check need not copy an array's data."""
    return False


@functools.cache
def _strict_pickler() -> Any:
    import cloudpickle

    class Strict(cloudpickle.Pickler):  # type: ignore[misc]
        def reducer_override(self, obj: Any) -> Any:
            if isinstance(obj, _FILES):
                raise TypeError(f"{obj!r} is an open file; pass its path and open it in the task")
            return super().reducer_override(obj)

    return Strict


def _culprit(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
    """Which argument will not pickle, as a phrase."""
    named = [(f"argument {i}", a) for i, a in enumerate(args)]
    named += [(f"argument {k}=", v) for k, v in kwargs.items()]
    for label, value in named:
        try:
            _dumps(value)
        except Exception:
            return f"its {label} ({type(value).__name__} {reprlib.repr(value)})"
    return "its arguments"


def _unpicklable(node: str, what: str, error: Exception) -> UnpicklableTaskError:
    return UnpicklableTaskError(
        f"task {node!r} cannot be sent to a worker process: {what} cannot be pickled "
        f"({type(error).__name__}: {error}); run it with executor='threads', or create "
        f"the object inside the task"
    )
