"""The cyclic garbage collector around webber's own bulk work: switched off
while a graph compiles, and what exists left out of its full collections
while a run goes on.

Both allocate a few objects per node or task, so the collector runs many
times during them, and each of its full collections walks everything alive:
the graph, the plan and the run's own tables -- millions of objects for a
flow of 100,000 tasks. That made the cost per node grow with the graph.

- ``paused`` (compile): compiling makes no reference cycles, so the
  collector is simply off (a 100,000-node chain: 8.3 us per node against 13.9
  with it on, counting the young collection that follows).
- ``frozen`` (a run): the run's tasks may run here (inline, threads) and make
  garbage of their own, so the collector stays on; ``gc.freeze()`` moves what
  exists into a generation it does not walk, and ``gc.unfreeze()`` at the end
  gives it back (2.3 us per task less at 100,000 tasks, 1.3 at 10,000).
  ``frozen.adding()`` freezes what the engine makes while it decides many
  tasks at once (a wide flow's jobs: else dozens of young collections walk
  them and the full ones again, 0.5-1.3 us per task), and what the processes
  executor makes sending a long chain (its links go in one message: about
  2 us per link at 100,000), the collector off
  meanwhile; tasks do not run in it, and it is rare (:data:`MANY` tasks at
  once), so the garbage of other threads it may freeze is little.

The collector is global: compiles (runs) in several threads share one pause
(freeze), made by the first and undone by the last, which puts back what the
first found, also on error. A thread that switches the collector off while a
compile goes on sees it back on after (the one case a count cannot tell
apart); a program that froze objects itself (``gc.freeze()`` after start-up,
before forking workers) is left as it is: no freeze is made then, so none of
its own is undone.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
from collections.abc import Iterator

__all__ = ["MANY", "frozen", "paused"]

#: tasks decided (jobs queued) at once from which what that makes is frozen
#: (see ``frozen.adding``)
MANY = 1000


class _Shared:
    """A context manager whose first entry does something to the collector and
    whose last exit undoes it (a count under a lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._done = False  # whether the first entry did something (the last undoes it)

    def __enter__(self) -> None:
        with self._lock:
            if not self._count:
                self._done = self._start()
            self._count += 1

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._count = max(0, self._count - 1)  # (not below 0 in a forked child)
            if not self._count and self._done:
                self._done = False
                self._end()

    def _start(self) -> bool:
        raise NotImplementedError

    def _end(self) -> None:
        raise NotImplementedError


class _Paused(_Shared):
    """The collector off while any thread compiles.

    >>> with paused:
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
    """

    def _start(self) -> bool:
        was_enabled = gc.isenabled()
        gc.disable()
        return was_enabled

    def _end(self) -> None:
        gc.enable()


@contextlib.contextmanager
def _adding() -> Iterator[None]:
    """frozen.adding(), when it freezes."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


_UNCHANGED = contextlib.nullcontext()


class _Frozen(_Shared):
    """What exists is frozen while any run goes on.

    >>> with frozen:
    ...     gc.get_freeze_count() > 0
    True
    >>> gc.get_freeze_count()
    0
    """

    def __init__(self) -> None:
        super().__init__()
        self._forks = False

    def _start(self) -> bool:
        if not self._forks and hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._forked)
            self._forks = True
        if not gc.isenabled() or gc.get_freeze_count():
            return False
        gc.freeze()
        return True

    def _end(self) -> None:
        gc.unfreeze()

    def adding(self, many: bool = True) -> contextlib.AbstractContextManager[None]:
        """Inside a run (``with frozen``): what is made in the block is frozen
        too, the collector off meanwhile -- when the block makes ``many``
        objects, the freeze is webber's and the collector on; else nothing
        changes (and costs next to nothing: the engine asks on every pass).

        >>> with frozen, frozen.adding():
        ...     gc.isenabled()
        False
        >>> gc.isenabled()
        True
        """
        if not (many and self._done and gc.isenabled()):
            return _UNCHANGED
        return _adding()

    def _forked(self) -> None:
        """In a child forked while a run went on (in another thread, or by a
        task): that run is not in the child, so neither is its freeze."""
        self._lock = threading.Lock()
        self._count = 0
        if self._done:
            self._done = False
            gc.unfreeze()


#: the one pause all compiles share
paused = _Paused()
#: the one freeze all runs share
frozen = _Frozen()
