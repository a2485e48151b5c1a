"""Pickling a task, and the function it replaced, by name with the standard pickle.

``@task`` at the top of a module puts a Task where its function was: pickle
writes a function by name and checks that the name finds it again, which
found the task ("it's not the same object as mod.fn"), so neither the task
(``ProcessPoolExecutor().submit(my_task, 1)``) nor a record holding its
function (``pickle.dump(run)``) could be written. Both go by the task's name
instead. Not a task of a script or notebook (``__main__``): cloudpickle, as
webber's executors use it, sends those by value, and a worker's ``__main__``
is not the script; nor one of a module registered with cloudpickle by value.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

__all__ = ["FunctionOf", "by_name", "task_of"]


def by_name(fn: Callable[..., Any]) -> bool:
    """Whether ``fn``'s module is one a receiver imports by its name."""
    module = getattr(fn, "__module__", None)
    if not isinstance(module, str) or module in ("__main__", "__mp_main__"):
        return False
    cloudpickle = sys.modules.get("cloudpickle")
    return cloudpickle is None or module not in cloudpickle.list_registry_pickle_by_value()


def found(fn: Callable[..., Any]) -> Any:
    """What ``fn``'s module holds under its qualified name (None if nothing)."""
    there: Any = sys.modules.get(getattr(fn, "__module__", None) or "")
    for part in getattr(fn, "__qualname__", "<").split("."):
        there = getattr(there, part, None)
    return there


def task_of(fn: Callable[..., Any]) -> Any:
    """The task that stands where ``fn`` is found by name, if it goes by name; else None."""
    if not by_name(fn):
        return None
    there = found(fn)
    return there if there is not fn and getattr(there, "fn", None) is fn else None


class FunctionOf:
    """Pickles as its task's function, itself written by the task's name."""

    __slots__ = ("task",)

    def __init__(self, task: Any) -> None:
        self.task = task

    def __reduce__(self) -> tuple[Any, ...]:
        return (getattr, (self.task, "fn"))
