"""The cyclic garbage collector around a run: what exists when it starts is
left out of the collector's full collections until it ends.

A run allocates a few objects per task (jobs, results, records), so the
collector runs many times during it, and each full collection walked
everything alive: the graph, the plan and the run's own tables -- millions of
objects for a flow of 100,000 tasks, three times per run of that size. That
cost a run 2.3 us per task at 100,000 tasks (1.3 at 10,000). ``gc.freeze()``
moves what exists into a generation the collector does not walk; what the
run and its tasks allocate is collected as usual (unlike switching the
collector off, which would let a long run's cyclic garbage pile up), and
``gc.unfreeze()`` at the end gives the frozen objects back to it.

The collector is global: runs in several threads (or a run inside a task)
share one freeze, made by the first and undone by the last. A program that
froze objects itself (``gc.freeze()`` after start-up, before forking
workers) is left as it is: no freeze is made then, so none of its own is
undone.
"""

from __future__ import annotations

import gc
import os
import threading

__all__ = ["frozen"]


class _Frozen:
    """A context manager: the objects that exist are frozen while any run goes on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._froze = False
        self._forks = False

    def __enter__(self) -> None:
        with self._lock:
            if not self._count:
                if not self._forks and hasattr(os, "register_at_fork"):
                    os.register_at_fork(after_in_child=self._forked)
                    self._forks = True
                self._froze = gc.isenabled() and gc.get_freeze_count() == 0
                if self._froze:
                    gc.freeze()
            self._count += 1

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._count = max(0, self._count - 1)  # (not below 0 in a forked child)
            if not self._count and self._froze:
                self._froze = False
                gc.unfreeze()

    def _forked(self) -> None:
        """In a child forked while a run went on (in another thread, or by a
        task): that run is not in the child, so neither is its freeze."""
        self._lock = threading.Lock()
        self._count = 0
        if self._froze:
            self._froze = False
            gc.unfreeze()


#: the one freeze all runs share
frozen = _Frozen()
