"""The caller's working directory, ``sys.path`` and environment, as workers follow them.

A worker process lives across runs, so what the caller changes between two
runs (``os.chdir``, ``%cd`` in a notebook, ``os.environ[...] = ...``,
``sys.path.append``) would not reach it: a task reading ``"data.csv"`` would
read another file than the same task run inline. Each run takes a snapshot
(:func:`current`, a few hundred nanoseconds when nothing changed: the last
snapshot is reused); the pool tells a worker a snapshot it has not seen
before sending it jobs (:func:`tell`), and the worker takes it on
(:func:`follow`). Only a change is sent, so what a task changes in its own
worker (see "Workers are reused" in the executors guide) stays until the
caller changes that too.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sys
from dataclasses import dataclass
from typing import Any

from webber.executors._frames import send_frame
from webber.executors._process import Proc

__all__ = ["Context", "current", "follow", "tell"]


@dataclass(frozen=True, slots=True)
class Context:
    """Where the caller is when a run starts."""

    #: None when the caller's working directory was removed
    cwd: str | None
    #: ``sys.path``, its ``""`` (the working directory) spelled out
    path: list[str]
    environ: dict[str, str]
    #: ``os.environ``'s own mapping as it was (encoded keys and values), to
    #: tell at C speed that it did not change; None where it has none
    raw: dict[Any, Any] | None


_last: Context | None = None


def current() -> Context:
    """The caller's context now: the last one if nothing changed since."""
    global _last
    try:
        cwd: str | None = os.getcwd()
    except OSError:
        cwd = None
    path = [cwd if entry == "" and cwd is not None else entry for entry in sys.path]
    raw = getattr(os.environ, "_data", None)
    last = _last
    if (last is not None and last.cwd == cwd and last.path == path
            and (raw == last.raw if raw is not None else dict(os.environ) == last.environ)):
        return last
    _last = Context(cwd, path, dict(os.environ), dict(raw) if raw is not None else None)
    return _last


def tell(proc: Proc, context: Context) -> None:
    """Send ``context`` to ``proc`` unless it was the last one it was sent."""
    if proc.context is not context:
        send_frame(proc.conn_in, pickle.dumps(("ctx", context.cwd, context.path,
                                               context.environ), pickle.HIGHEST_PROTOCOL))
        proc.context = context


def follow(cwd: str | None, path: list[str], environ: dict[str, str]) -> None:
    """(In a worker) take on the caller's context: its directory, its
    ``sys.path``, its environment variables exactly (each variable set or
    removed on its own: a thread a task left running never sees them all
    gone at once)."""
    if cwd is not None:
        # (gone since: the caller's own relative paths fail as well)
        with contextlib.suppress(OSError):
            os.chdir(cwd)
    sys.path[:] = path
    for name in [name for name in os.environ if name not in environ]:
        del os.environ[name]
    for name, value in environ.items():
        if os.environ.get(name) != value:
            os.environ[name] = value
