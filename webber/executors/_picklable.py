"""The plan check of executors that ship tasks to other processes.

Refuses, before anything runs, a plan whose functions or arguments cannot be
pickled, naming the task and the object; each distinct function is tried once.
"""

from __future__ import annotations

import copyreg
import functools
import io
import reprlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from webber._bounded import remember
from webber._errors import UnpicklableTaskError
from webber._graph import display_name
from webber.executors._pickling import (
    PLAIN,
    apart,
    by_value,
    mp_main_by_value,
    plain,
    plain_nested,
)

if TYPE_CHECKING:
    from webber._plan import Plan

__all__ = ["check_plan"]

#: open files (what ``open()`` returns), as opposed to in-memory buffers
_FILES = (io.FileIO, io.BufferedReader, io.BufferedWriter, io.BufferedRandom, io.TextIOWrapper)


def check_plan(plan: Plan) -> None:
    """Raise UnpicklableTaskError for the first task that cannot travel."""
    import cloudpickle

    mp_main_by_value()
    tried: set[int] = set()
    pickler = _checker()
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
            if not _plain_records(args, kwargs, pickler):
                _dumps(apart((args, kwargs)), pickler)
        except Exception as e:
            raise _unpicklable(n, _culprit(args, kwargs), e) from e


def _plain_records(args: tuple[Any, ...], kwargs: Mapping[str, Any], pickler: Any) -> bool:
    """Whether each argument is plain, or an object pickled as its class and
    its ``__dict__`` (a dataclass's, most classes') that holds plain values
    alone: the first of its class is pickled whole (raises if it fails: the
    class, or its C-level state, which is all else such a pickle holds), the
    others need not be."""
    for value in (*args, *kwargs.values()) if kwargs else args:
        kind = type(value)
        if kind in PLAIN or plain_nested(value):
            continue
        state = getattr(value, "__dict__", None)
        if state is None or not _as_dict(kind) or not plain_nested(state):
            return False
        if kind not in pickler.records:
            _dumps(value, pickler)
            pickler.records.add(kind)
    return True


#: object's own ways to pickle (``__getstate__`` from Python 3.11 on)
_OBJECT: dict[str, Any] = {name: getattr(object, name, None)
                           for name in ("__reduce_ex__", "__reduce__", "__getstate__")}
#: class -> whether pickle saves its instances as the class and their ``__dict__``
_AS_DICT: dict[type, bool] = {}


def _as_dict(kind: type) -> bool:
    """Whether pickle saves an instance of ``kind`` as the class and its
    ``__dict__``: nothing of its own changes how (reduce, state, slots)."""
    known = _AS_DICT.get(kind)
    if known is None:
        known = remember(_AS_DICT, kind, (
            type(kind) is type
            and all(getattr(kind, name, None) is own for name, own in _OBJECT.items())
            and not hasattr(kind, "__getnewargs_ex__") and not hasattr(kind, "__getnewargs__")
            and all("__slots__" not in vars(base) for base in kind.__mro__[:-1])
            and kind not in copyreg.dispatch_table), 1024)
    return known


def _dumps(obj: Any, pickler: Any = None) -> None:
    """Pickle ``obj`` as a worker would get it, refusing open files: cloudpickle
    would send a snapshot of a file's text (a StringIO), not the file, so the
    task would silently read stale data and write nowhere. ``pickler``: one
    made for many objects (making one costs more than a small object's pickle)."""
    if pickler is None:
        pickler = _checker()
    try:
        pickler.dump(obj)
    finally:
        pickler.clear_memo()  # (each object's pickle on its own, as it is sent)


class _Sink:
    """Where a check's pickles go: nowhere."""

    def write(self, data: Any) -> int:
        return len(data)


def _aside(buffer: Any) -> bool:
    """Out of band, and dropped: a check need not copy an array's data."""
    return False


def _checker() -> Any:
    """A pickler that checks what it pickles, and writes it nowhere."""
    return _strict_pickler()(_Sink(), protocol=5, buffer_callback=_aside)


@functools.cache
def _strict_pickler() -> Any:
    import cloudpickle

    class Strict(cloudpickle.Pickler):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            #: each class sent by value, checked once (see reducer_override)
            self.classes: set[type] = set()
            #: each class whose instances pickle as their __dict__, checked once
            #: (see _plain_records)
            self.records: set[type] = set()

        def reducer_override(self, obj: Any) -> Any:
            if isinstance(obj, _FILES):
                raise TypeError(f"{obj!r} is an open file; pass its path and open it in the task")
            if isinstance(obj, type) and by_value(obj):
                # (0.3-0.7 ms each time for a dataclass: checked once, as it is sent)
                if obj in self.classes:
                    return (int, ())
                self.classes.add(obj)
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
