"""The caller's surroundings, as workers follow them: its working directory,
``sys.path`` and ``sys.argv``, environment, reloaded modules, log levels (the
root's and those of the loggers given one of their own), warning filters and
recursion limit.

A worker process lives across runs, so what the caller changes between two
runs (``os.chdir``, ``%cd`` in a notebook, ``os.environ[...] = ...``,
``sys.path.append``, ``importlib.reload(mylib)`` or IPython's ``%autoreload``
after editing ``mylib.py``, which may patch ``mylib``'s functions in place:
``_inplace``) would not reach it: a task reading ``"data.csv"`` would read
another file than the same task run inline, and one calling ``mylib`` would
run the code from before the edit. Each run takes a snapshot (:func:`current`,
about two microseconds when nothing changed, plus one ``os.stat`` per module
of the caller's own: the last snapshot is reused); the pool tells a worker a
snapshot it has not seen before sending it jobs (:func:`tell`), and the worker
takes it on (:func:`follow`). Only a change is sent; what a task changes of
these in its own worker stays for the tasks after it in the same run, and the
first batch of the next run puts the snapshot back (:func:`restore`): each run
starts where its caller is, whatever an earlier run's tasks did (see "Workers
are reused" in the executors guide).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import pickle
import sys
import time
import warnings
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from webber.executors import _inplace
from webber.executors._frames import send_frame

if TYPE_CHECKING:  # (a worker imports this module: not _process, nor its subprocess)
    from webber.executors._process import Proc

__all__ = ["Context", "current", "follow", "restore", "tell"]


@dataclass(frozen=True, slots=True)
class Context:
    """Where the caller is when a run starts."""

    #: None when the caller's working directory was removed
    cwd: str | None
    #: ``sys.path``, its ``""`` (the working directory) spelled out
    path: list[str]
    #: ``sys.argv`` (a task that reads the script's arguments)
    argv: list[str]
    environ: dict[str, str]
    #: ``os.environ``'s own mapping as it was (encoded keys and values), to
    #: tell at C speed that it did not change; None where it has none
    raw: dict[Any, Any] | None
    #: module name -> how many times the caller reloaded it
    reloads: dict[str, int]
    #: the root logger's level (a worker sends the records it passes: ``_logs``)
    level: int
    #: logger name -> its level, for the loggers with one of their own
    #: (``getLogger("app").setLevel(logging.INFO)``, the root at WARNING)
    levels: dict[str, int]
    #: ``warnings.filters`` (``-W error``, pytest's ``filterwarnings``)
    filters: tuple[Any, ...]
    #: ``sys.getrecursionlimit()`` (raised for a deep recursion)
    recursion: int


_last: Context | None = None
#: module name -> its ``__spec__`` when last looked at (a reload makes a new one)
_specs: dict[str, Any] = {}
_reloads: dict[str, int] = {}
#: sys.modules as last looked at: its size, its last name, that module's spec
#: (a reload moves its module to the end of sys.modules)
_mark: tuple[int, str, Any] = (0, "", None)


def current() -> Context:
    """The caller's context now: the last one if nothing changed since."""
    global _last
    try:
        cwd: str | None = os.getcwd()
    except OSError:
        cwd = None
    path = [cwd if entry == "" and cwd is not None else entry for entry in sys.path]
    raw = getattr(os.environ, "_data", None)
    last, reloaded, level, levels = _last, _reloaded(), logging.root.level, _levels()
    filters, argv, recursion = tuple(warnings.filters), sys.argv, sys.getrecursionlimit()
    if (last is not None and last.cwd == cwd and last.path == path and last.argv == argv
            and not reloaded and last.level == level and last.levels == levels
            and last.filters == filters and last.recursion == recursion
            and (raw == last.raw if raw is not None else dict(os.environ) == last.environ)):
        return last
    _last = Context(cwd, path, list(argv), dict(os.environ),
                    dict(raw) if raw is not None else None, dict(_reloads), level, levels,
                    filters, recursion)
    return _last


def _levels() -> dict[str, int]:
    """The caller's loggers with a level of their own, and their levels (a few
    microseconds for a hundred loggers): a worker whose logger knew only the
    root's level dropped their records below it, where the caller took them."""
    loggers = list(logging.root.manager.loggerDict.items())  # (another thread may add one)
    return {name: level for name, logger in loggers
            if (level := getattr(logger, "level", 0))}  # (a PlaceHolder has none)


def _reloaded() -> bool:
    """Whether the caller reloaded a module since the last look (counted in
    ``_reloads``): a new ``__spec__`` (``importlib.reload``, IPython's
    ``%autoreload`` when it re-runs a module), or its own module's code
    changed in place with its file (IPython 9's ``%autoreload``: ``_inplace``).
    Sub-microsecond when no module was imported or reloaded since, plus one
    ``os.stat`` per module of the caller's own (not the standard library's or
    an installed package's); else one pass over ``sys.modules``."""
    global _mark
    modules = sys.modules
    name = next(reversed(modules), "")
    mark = (len(modules), name, _spec(modules.get(name)))
    found = False
    if mark[:2] != _mark[:2] or mark[2] is not _mark[2]:
        _mark = mark
        found = _look(modules)
    for name in _inplace.edited():
        _reloads[name] = _reloads.get(name, 0) + 1
        found = True
    return found


def _look(modules: dict[str, Any]) -> bool:
    """One pass over ``modules``: count each one whose spec is new since the
    last pass as reloaded, and watch each new or reloaded one (``_inplace``)."""
    found = False
    for name, module in list(modules.items()):  # (a list: another thread may import)
        spec = _spec(module)
        seen = _specs.get(name)
        if seen is not spec:
            # (webber itself is not reloaded in a worker: its workings are there)
            followed = name.partition(".")[0] != "webber"
            if seen is not None and spec is not None and followed:
                _reloads[name] = _reloads.get(name, 0) + 1
                found = True
            if spec is not None and followed:
                _inplace.watch(name, module)  # (recorded as it is now: no reload in place)
            _specs[name] = spec
    return found


def _spec(module: Any) -> Any:
    """``module.__spec__`` as the import system set it (no property or
    module ``__getattr__`` asked: only a reload replaces it)."""
    return getattr(module, "__dict__", {}).get("__spec__")


def tell(proc: Proc, context: Context) -> None:
    """Send ``context`` to ``proc`` unless it was the last one it was sent."""
    if proc.context is not context:
        # (the filters apart: a worker may not be able to load them all)
        sent = replace(context, raw=None, filters=())
        message = ("ctx", sent, _pickled(context.filters))
        with contextlib.suppress(OSError):  # it died: the receiver sees it (see _send_run)
            send_frame(proc.conn_in, pickle.dumps(message, pickle.HIGHEST_PROTOCOL))
        proc.context = context


def _pickled(filters: tuple[Any, ...]) -> bytes | None:
    """The warning filters whose category a worker can import (not one of
    ``__main__``'s), pickled; None if they do not pickle."""
    try:
        return pickle.dumps([f for f in filters if f[2].__module__ != "__main__"])
    except Exception:
        return None


#: (in a worker) module name -> the caller's reloads of it this worker followed
_followed: dict[str, int] = {}
#: (in a worker) the context it followed last, its warning filters as loaded
_following: tuple[Context, bytes | None, list[Any]] | None = None


def follow(context: Context, filters: bytes | None) -> None:
    """(In a worker) take on the caller's context: its directory, ``sys.path``,
    ``sys.argv``, log levels, recursion limit, warning filters, its
    environment variables exactly (each variable set or removed on its own:
    a thread a task left running never sees them all gone at once; a new
    ``TZ`` is put in force), and a reload of each module the caller reloaded
    since this worker imported it (one it has not imported gets the new
    code anyway)."""
    if context.cwd is not None:
        # (gone since: the caller's own relative paths fail as well)
        with contextlib.suppress(OSError):
            os.chdir(context.cwd)
    sys.path[:] = context.path
    sys.argv[:] = context.argv
    logging.root.setLevel(context.level)
    _set_levels(context.levels)
    sys.setrecursionlimit(context.recursion)
    if filters is not None:
        with contextlib.suppress(Exception):  # (a category it cannot import: its own stay)
            warnings.filters[:] = pickle.loads(filters)  # type: ignore[index]
            warnings._filters_mutated()  # type: ignore[attr-defined]  # (forget what was shown)
    global _following
    _following = (context, filters, list(warnings.filters))
    environ, zone = context.environ, os.environ.get("TZ")
    for name in [name for name in os.environ if name not in environ]:
        del os.environ[name]
    for name, value in environ.items():
        if os.environ.get(name) != value:
            os.environ[name] = value
    if os.environ.get("TZ") != zone and hasattr(time, "tzset"):
        time.tzset()
    _reload(context.reloads)


def restore() -> None:
    """(In a worker, as a run's first batch arrives) follow the last context
    again if a task of an earlier run changed any of it: the directory,
    environment, ``sys.path``, ``sys.argv``, log levels, recursion limit
    or warning filters (a few microseconds when none did)."""
    if _following is None:
        return
    context, filters, loaded = _following
    try:
        cwd: str | None = os.getcwd()
    except OSError:
        cwd = None
    if ((context.cwd is not None and cwd != context.cwd) or sys.path != context.path
            or sys.argv != context.argv or logging.root.level != context.level
            or any(logging.getLogger(name).level != level
                   for name, level in context.levels.items())
            or sys.getrecursionlimit() != context.recursion or warnings.filters != loaded
            or os.environ != context.environ):
        follow(context, filters)


#: (in a worker) the loggers whose level it set, following the caller
_leveled: set[str] = set()


def _set_levels(levels: dict[str, int]) -> None:
    """(In a worker) the caller's loggers' levels; one the caller no longer
    sets goes back to NOTSET (only those it set: not a level a module of the
    worker's set itself as it was imported)."""
    for name in _leveled - levels.keys():
        logging.getLogger(name).setLevel(logging.NOTSET)
    for name, level in levels.items():
        logger = logging.getLogger(name)
        if logger.level != level:
            logger.setLevel(level)
    _leveled.clear()
    _leveled.update(levels)


def _reload(reloads: dict[str, int]) -> None:
    """(In a worker) reload each module the caller reloaded since this worker last did."""
    for name, count in reloads.items():
        if count > _followed.get(name, 0):
            _followed[name] = count
            module = sys.modules.get(name)
            if module is not None:
                # (one that fails to reload here failed in the caller too: its
                # tasks fail as they would there, on what it left)
                with contextlib.suppress(Exception):
                    importlib.reload(module)
