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
- ``frozen.running(tasks)`` (a run of :data:`MANY` tasks or more): the run's
  tasks may run here (inline, threads) and make garbage of their own, so the
  collector stays on; ``gc.freeze()`` moves what exists into a generation it
  does not walk, and ``gc.unfreeze()`` at the end gives it back (2.3 us per
  task less at 100,000 tasks, 1.3 at 10,000). A smaller run freezes nothing
  (see ``running``: frozen at each run, a loop of them kept the collector
  from running at all).
  ``frozen.adding()`` freezes what the engine makes while it decides many
  tasks at once (a wide flow's jobs: else dozens of young collections walk
  them and the full ones again, 0.5-1.3 us per task), and what the processes
  executor makes sending a long chain (its links go in one message: about
  2 us per link at 100,000), the collector off
  meanwhile; tasks do not run in it, and it is rare (:data:`MANY` tasks at
  once), so the garbage of other threads it may freeze is little.

- ``frozen.hold()`` (a large build, and its compile): a graph of 100,000
  nodes is a few hundred thousand objects made in the user's own loop of
  ``add_node`` calls, where nothing can be switched off for the loop; full
  collections meanwhile walked each of them about five times (1.1-1.8 us per
  node at 100,000). From :data:`HOLD_FROM` nodes on, the store holds every
  :data:`EVERY` nodes: a collection, then a freeze. The first hold's
  collection is a full one (what an earlier run gave back, or a graph
  dropped unrun, goes now: frozen again without one, the garbage of a loop
  of builds and runs would pile up); later ones are young collections. A
  compile of a graph whose build holds freezes what it made instead of
  letting the next young collection walk it all. Held freezes are webber's:
  the next run takes them over (and gives everything back at its end); a
  new graph, made with no run going on, gives them back too
  (``frozen.release()``).

The collector is global: compiles (runs) in several threads share one pause
(freeze), made by the first and undone by the last, which puts back what the
first found, also on error -- and, when a Ctrl-C cut an entry or an exit
short, by the next entry (see ``_Holding``). A thread that switches the collector off while a
compile goes on sees it back on after (the one case a count cannot tell
apart); a program that froze objects itself (``gc.freeze()`` after start-up,
before forking workers) is left as it is: no freeze is made then, so none of
its own is undone -- also when it froze after a build held (more objects
frozen than the holds froze: the held freeze is the program's from then on).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import threading
import weakref
from collections.abc import Iterator
from operator import methodcaller

__all__ = ["EVERY", "HOLD_FROM", "MANY", "frozen", "paused"]

#: tasks decided (jobs queued) at once from which what that makes is frozen
#: (see ``frozen.adding``)
MANY = 1000
#: nodes added to a graph between two freezes of what its build made (see
#: ``frozen.hold``; a power of two: the store tests its count with a mask)
EVERY = 8192
#: the nodes of a graph from which its build holds (a multiple of EVERY): the
#: first hold's full collection costs 5-15 ms, as much as a smaller build saves
HOLD_FROM = 2 * EVERY
#: frozen objects the interpreter may start with, not the program's (CPython
#: 3.12: a few hundred immortal tuples, 375 in 3.12.1; taken for the program's,
#: they switched every freeze off): a program's own ``gc.freeze()`` freezes its
#: whole heap, 4,000 objects at the least
_STARTUP = 1000


class _Holding:
    """One entry into a :class:`_Shared` (a run's, a compile's): the shared
    state counts the entries whose object is alive, so that one a Ctrl-C cut
    short between its entry and its exit -- the object dropped with the
    interrupted frame -- does not count for good (a count left at 1 kept
    every later run's freeze, and the collector off after a compile)."""

    __slots__ = ("__weakref__", "shared")

    def __init__(self, shared: _Shared) -> None:
        self.shared = shared

    def __enter__(self) -> None:
        self.shared._enter(self)

    def __exit__(self, *exc_info: object) -> None:
        self.shared._exit(self)


class _Shared:
    """A context manager whose first entry does something to the collector and
    whose last exit undoes it (its holders, under a lock).

    ``with shared.holding():`` is one entry; ``with shared:`` too, held by its
    thread until its exit (tests, doctests)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders: weakref.WeakSet[_Holding] = weakref.WeakSet()
        self._done = False  # whether the first entry did something (the last undoes it)
        self._local = threading.local()

    @property
    def _count(self) -> int:
        return len(self._holders)

    def holding(self) -> _Holding:
        return _Holding(self)

    def __enter__(self) -> None:
        holding = _Holding(self)
        stack = self._local.__dict__.setdefault("stack", [])
        stack.append(holding)
        holding.__enter__()

    def __exit__(self, *exc_info: object) -> None:
        self._local.stack.pop().__exit__(*exc_info)

    def _enter(self, holding: _Holding) -> None:
        with self._lock:
            if not self._holders:
                if self._done:  # (undone by none: an exit that a Ctrl-C cut short)
                    self._done = False
                    self._end()
                self._done = self._start()
            self._holders.add(holding)

    def _exit(self, holding: _Holding) -> None:
        with self._lock:
            self._holders.discard(holding)
            if not self._holders and self._done:
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

    def __init__(self) -> None:
        super().__init__()
        self._hold = False

    def hold(self) -> None:
        """What is made in the pause is frozen at its end if a freeze is held
        (``frozen.hold``: a large build's), before the collector is back on:
        else its first young collection walks all of it (a large compile)."""
        with self._lock:
            self._hold = self._done

    def _start(self) -> bool:
        was_enabled = gc.isenabled()
        gc.disable()
        return was_enabled

    def _end(self) -> None:
        if self._hold:
            self._hold = False
            frozen.hold(collect=False, paused=True)
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


def _collections() -> tuple[int, int]:
    """How many middle and full collections ran so far."""
    stats = gc.get_stats()
    return stats[1]["collections"], stats[2]["collections"]


def _freeze_counted() -> int:
    """``gc.freeze()``, and how many objects it froze at most: counted and
    frozen in one step of the interpreter (the map is consumed in C), so that
    no other thread runs in between (its objects, frozen uncounted, would pass
    for the program's own freeze: a thread allocating while a build held made
    it so 9 times in 10), with the collector off (its finalizers run Python
    code). Reading the count of frozen objects after the freeze instead walks
    all of them: twice per hold, that cost a 100,000-node build 15-20%.

    >>> before = gc.get_freeze_count()
    >>> counted = _freeze_counted()
    >>> before < gc.get_freeze_count() <= before + counted
    True
    >>> gc.unfreeze()
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        sizes = map(len, map(gc.get_objects, range(3)))  # (lazy: consumed in the call below)
        counted, _ = map(methodcaller("__call__"), (functools.partial(sum, sizes), gc.freeze))
    finally:
        if was_enabled:
            gc.enable()
    return int(counted)


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
        #: whether webber froze what a build or compile made, no run going on
        self._held = False
        #: how many objects webber's holds froze at most: more frozen when a
        #: freeze is given back, and the program froze objects itself since
        self._mine = 0
        #: at the start of the freeze: the oldest generation's count, and how
        #: many middle and full collections had run (see _recount)
        self._before = (0, 0, 0)
        #: middle collections that the last exit owes (see _recount)
        self._owed = 0

    def _start(self) -> bool:
        self._watch_forks()
        self._before = (gc.get_count()[2], *_collections())
        if self._held:  # webber's: the run's now, its end gives it back -- also with
            self._held = False  # the collector off (the program's, or a compile's pause)
            if self._theirs():
                return False
        elif not gc.isenabled() or gc.get_freeze_count() > _STARTUP:
            return False
        if gc.isenabled():
            gc.freeze()
        return True

    def hold(self, collect: bool = True, paused: bool = False) -> None:
        """Freeze what exists (webber made most of it: a large build), after
        a collection when ``collect`` -- a full one if nothing is held yet --
        or else only if a freeze is held (or a run's: a compile extends it).
        The next run takes the freeze over, :meth:`release` undoes it.
        Changes nothing when the collector is off (but for webber's own
        ``paused``), or the program froze objects itself.

        >>> frozen.hold()
        >>> gc.get_freeze_count() > 0
        True
        >>> frozen.release()
        >>> gc.get_freeze_count()
        0
        """
        if not (paused or gc.isenabled()):
            return
        if collect:  # (not under the lock: finalizers run in it, and may make a graph)
            gc.collect(1 if self._held or self._count else 2)
        with self._lock:
            self._watch_forks()
            if not self._count:  # (else a run goes on: its freeze, if any, is webber's)
                if not self._held:
                    frozen_now = gc.get_freeze_count()
                    if not collect or frozen_now > _STARTUP:
                        return
                    self._held, self._mine = True, frozen_now
                elif not collect and self._theirs():  # (a compile's: once a run)
                    self._held = False  # the program's now, left as it is
                    return
                self._mine += _freeze_counted()
                return
            elif not self._done:
                return
            gc.freeze()

    def _theirs(self) -> bool:
        """Whether the program froze objects itself since webber's holds
        (``gc.freeze()`` before forking workers, as Python's docs advise): the
        freeze is the program's then, and webber gives none of it back.
        Told by the count: frozen objects that die lower it, so a program's
        freeze of fewer new objects than died since webber's last hold is
        taken for webber's (and given back with it: what it costs is the
        program's copy-on-write sharing, not a result)."""
        return gc.get_freeze_count() > self._mine

    def release(self) -> None:
        """Give back a held freeze (see :meth:`hold`), unless a run goes on."""
        if self._held:
            with self._lock:
                if self._held and not self._count:
                    self._held = False
                    if not self._theirs():
                        gc.unfreeze()

    def _end(self) -> None:
        gc.unfreeze()
        self._owed = self._recount()

    def _exit(self, holding: _Holding) -> None:
        super()._exit(holding)
        # (not under the lock: a finalizer the collections run may run a flow)
        owed, self._owed = self._owed, 0
        for _ in range(owed):
            gc.collect(1)  # (young and middle: all but the first find next to nothing)

    def _recount(self) -> int:
        """How many middle collections give the oldest generation back the
        count that the freezes took (each adds one).

        Each ``gc.freeze()`` sets the three counts to 0, and a full collection
        runs only once the oldest count (middle collections since the last
        full one) passes its threshold: a loop of runs, each freezing and
        making fewer than that, never ran one, and what the runs gave back
        stayed (2,000 objects a run of 1,000 tasks, without end). Given back,
        the count is as if nothing was frozen, and the collector's own rule
        (new long-lived objects against the ones it walked last) says when
        a full collection runs."""
        count, middle, full = self._before
        now_middle, now_full = _collections()
        if now_full != full or not gc.isenabled():
            return 0  # (a full collection ran meanwhile: its count is right)
        wanted = min(count + now_middle - middle, gc.get_threshold()[2] + 1)
        return max(0, wanted - gc.get_count()[2])

    def running(self, tasks: int) -> contextlib.AbstractContextManager[None]:
        """The freeze of a run of ``tasks`` tasks (or of what prepares it): this
        freeze, after a young collection, for :data:`MANY` tasks or more, or to
        take a held freeze over; else nothing changes.

        A freeze sets the count of allocations that starts the next young
        collection back to 0, and what it froze goes, given back, to the
        oldest generation, which only a full collection walks: frozen at each
        run, a loop of small runs (a service running a flow a request) kept
        the collector from ever running -- its own garbage and the program's
        stayed, 5 KB a run without end. The young collection first keeps what
        a large run's freeze moves there to what is alive.

        >>> with frozen.running(1):
        ...     gc.get_freeze_count() > 0
        False
        """
        if tasks < MANY and not self._held:
            return _UNCHANGED
        if not self._count and gc.isenabled():  # (not under the lock: see hold)
            gc.collect(1)
        return self.holding()

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

    def _watch_forks(self) -> None:
        if not self._forks and hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._forked)
            self._forks = True

    def _forked(self) -> None:
        """In a child forked while a run went on (in another thread, or by a
        task), or a freeze was held: that run is not in the child, so neither
        is its freeze."""
        self._lock = threading.Lock()
        self._holders = weakref.WeakSet()
        self._local = threading.local()
        if self._done or (self._held and not self._theirs()):
            gc.unfreeze()
        self._done = self._held = False


#: the one pause all compiles share
paused = _Paused()
#: the one freeze all runs share
frozen = _Frozen()
