"""A task function's source lines, sent along when the function travels by value.

cloudpickle sends a function defined in a script's ``__main__``, a notebook
cell or a module it cannot import (a file ``python -m webber run`` ran) by
value, and names its code ``<dynamic-code>``: a traceback from the worker
then shows ``File "<dynamic-code>", line 7`` and no source. So such a
function travels with its file name and that file's lines (as the caller's
``linecache`` has them: a notebook registers its cells there), and the worker,
on unpickling it, gives the code its file name back and registers the lines
with its own ``linecache``: the worker's traceback shows the task's lines (a
method's code is its ``__func__``'s: a method has no ``__code__`` of its own)::

    caller:  with_source(func) --pickle--> (func, filename, lines)   (process pool)
             sources_of(job's and links' functions) beside the job (dask: its own pickling)
    worker:  restore(func, filename, lines): its code named filename, lines in linecache
"""

from __future__ import annotations

import linecache
import sys
import types
from collections.abc import Iterable
from typing import Any

from webber.executors._pickling import MP_MAIN

__all__ = ["restore", "restore_each", "source_of", "sources_of", "with_source"]


def source_of(func: Any) -> tuple[str, list[str]] | None:
    """``(file name, lines)`` of ``func`` when it will travel by value, else None."""
    func = _function(func)
    code = getattr(func, "__code__", None)
    module = getattr(func, "__module__", None)
    by_reference = module not in ("__main__", MP_MAIN) and module in sys.modules
    if not isinstance(code, types.CodeType) or by_reference:
        return None  # pickled by reference: the worker imports it, file and all
    lines = linecache.getlines(code.co_filename)
    return (code.co_filename, lines) if lines else None


def sources_of(funcs: Iterable[Any]) -> tuple[tuple[str, list[str]] | None, ...] | None:
    """:func:`source_of` each of ``funcs`` (a job's and its links'); None when
    none travels by value."""
    sources = tuple(map(source_of, funcs))
    return sources if any(s is not None for s in sources) else None


def with_source(func: Any) -> Any:
    """``func``, or, when it will travel by value, a stand-in that pickles it
    with its source lines (and unpickles as ``func`` itself, named and
    registered by :func:`restore`)."""
    source = source_of(func)
    return func if source is None else _Sourced(func, *source)


class _Sourced:
    __slots__ = ("filename", "func", "lines")

    def __init__(self, func: Any, filename: str, lines: list[str]) -> None:
        self.func, self.filename, self.lines = func, filename, lines

    def __reduce__(self) -> tuple[Any, ...]:
        return (restore, (self.func, self.filename, self.lines))


def restore(func: Any, filename: str, lines: list[str]) -> Any:
    """``func`` (unpickled here) with its code named ``filename`` again and
    ``lines`` registered with this process's linecache."""
    # mtime None: linecache.checkcache() keeps the entry (there may be no such
    # file here, as for a notebook cell).
    linecache.cache[filename] = (sum(map(len, lines)), None, lines, filename)
    inner = _function(func)
    if isinstance(getattr(inner, "__code__", None), types.CodeType):
        inner.__code__ = _named(inner.__code__, filename)
        _lend(inner)
    return func


def restore_each(funcs: Iterable[Any], sources: Iterable[tuple[str, list[str]] | None]) -> None:
    """:func:`restore` each of ``funcs`` (in place) whose source came along."""
    for func, source in zip(funcs, sources, strict=True):
        if source is not None:
            restore(func, *source)


#: the names this process put in its own ``__main__`` (see _lend): those it may replace
_lent: set[str] = set()


def _lend(func: types.FunctionType) -> None:
    """Make ``func`` and the functions and classes of the caller's ``__main__``
    it refers to importable here as ``__main__.<name>``, as they are in the
    caller: a process pool the task starts pickles them by reference
    (``concurrent.futures``, ``multiprocessing``), and a worker's own
    ``__main__`` is webber's, where the lookup failed. A forked child of the
    worker finds them there. A name already there and not lent here is left
    alone (in the caller's own process, the script's)."""
    main = sys.modules.get("__main__")
    if main is None:
        return
    todo, seen = [func], set()
    while todo:  # (and what those refer to: a pool's function may return a class of it)
        one = todo.pop()
        for name, value in (*one.__globals__.items(), (one.__name__, one)):
            if (id(value) not in seen and getattr(value, "__module__", None) == "__main__"
                    and getattr(value, "__qualname__", None) == name
                    and (name in _lent or not hasattr(main, name))):
                seen.add(id(value))
                setattr(main, name, value)
                _lent.add(name)
                if type(value) is types.FunctionType:
                    todo.append(value)


def _function(func: Any) -> Any:
    """The function whose code runs when ``func`` is called: a bound method's
    or a classmethod's ``__func__`` (a method reads ``__code__`` through to it,
    but has none of its own to set), else ``func``."""
    return func.__func__ if isinstance(func, types.MethodType) else func


def _named(code: types.CodeType, filename: str) -> types.CodeType:
    """``code`` and the code nested in it (lambdas, comprehensions) as from ``filename``."""
    consts = tuple(
        _named(c, filename) if isinstance(c, types.CodeType) else c for c in code.co_consts
    )
    return code.replace(co_filename=filename, co_consts=consts)
