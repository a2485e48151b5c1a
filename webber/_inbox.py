"""The caller's side of a run: the messages executors send, and timers.

The engine and the streaming loop each own one Inbox, in the caller's thread.
Executors only enqueue (``put``, from any thread); the owner blocks in
``wait`` until a message arrives or its next timer is due, then handles
everything queued and every due timer -- it never polls for work (only,
every ``STARTS`` seconds, an executor that holds its jobs' starts: see
``report``).
"""

from __future__ import annotations

import heapq
import itertools
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from webber.executors._base import ColumnOutcomes, Outcome, Outcomes, Report, Started

__all__ = ["HEARTBEAT", "STARTS", "Inbox", "Stop"]

#: seconds between wake-ups of an idle loop in the main thread (see Inbox.wait)
HEARTBEAT = 0.25
#: seconds after a job's start that the owner handles it (see Inbox.report)
STARTS = 0.05


class Stop:
    """Stops the runs going on in a thread when the caller no longer waits
    for them: ``await flow.arun()`` cancelled (a notebook's interrupt, a
    request's timeout) stops its run as Ctrl-C stops ``run()``. Left alone,
    the run went on to its end in the background, holding the workers, and
    ``asyncio.run()`` (or the kernel) waited for it at exit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inboxes: list[Inbox] = []
        self._stopped = False

    def within(self, call: Callable[[], Any]) -> Any:
        """``call()``, with the loops it starts in this thread stopped by :meth:`stop`."""
        token = _stop.set(self)
        try:
            return call()
        finally:
            _stop.reset(token)

    def join(self, inbox: Inbox) -> None:
        with self._lock:
            self._inboxes.append(inbox)
            if self._stopped:
                inbox.put(_cancelled())

    def stop(self) -> None:
        """Make each loop raise ``asyncio.CancelledError`` at its next wait
        (its executors then stop, as after Ctrl-C)."""
        with self._lock:
            self._stopped = True
            for inbox in self._inboxes:
                inbox.put(_cancelled())


def _cancelled() -> BaseException:
    from asyncio import CancelledError  # (rare: not at every import)

    return CancelledError("the caller stopped waiting for the run")


_stop: ContextVar[Stop | None] = ContextVar("webber_stop", default=None)


class Inbox:
    """Executor messages and timers, for one loop in one thread."""

    def __init__(self) -> None:
        self.messages: queue.SimpleQueue[
            Started | Outcome | Outcomes | ColumnOutcomes | list[Started | Outcome] | BaseException
        ] = queue.SimpleQueue()
        self.put = self.messages.put
        """What executors report to (any thread)."""
        #: starts that wait for the owner (see report), with when they came
        self.starts: deque[tuple[float, Started]] = deque()
        self.timers: list[tuple[float, int, Callable[[], None]]] = []
        #: the executor's held_starts, and when to ask it next (see report)
        self.held: Callable[[], list[Started]] | None = None
        self._look = 0.0
        self._seq = itertools.count()
        self._main_thread = threading.current_thread() is threading.main_thread()
        #: the owner waits with no timeout (no start, timer or heartbeat due)
        self.sleeping = False
        stop = _stop.get()
        if stop is not None:
            stop.join(self)

    def report(
        self,
        started: Callable[[Started], None],
        held: Callable[[], list[Started]] | None = None,
    ) -> Report:
        """The callback for executors: it queues each message, but hands a start
        reported in the owner's thread (inline, about to run the task here) to
        ``started`` at once, so listeners hear of it before the task runs.
        ``held``: an executor's ``held_starts``, asked every ``STARTS``
        seconds while the owner waits (threads keep their starts there).

        A start of a job without a timeout does not wake the owner (unless it
        sleeps with nothing due, then once to set its clock): it waits
        in ``starts`` and is handled ``STARTS`` seconds after it came (by this
        machine's clock: a remote worker's may be off).
        Most tasks are shorter than that: their end comes first, which tells
        of their start too (the engine does that), and the start, when due,
        belongs to no running job -- and if the run is over by then, it is
        never handled at all. One wake-up and one event path per task
        instead of two; a task that runs long is shown as started that
        little late."""
        owner = threading.get_ident()
        put, starts, now = self.messages.put, self.starts, time.monotonic
        self.held, self._look = held, now() + STARTS

        def report(
            message: (Started | Outcome | Outcomes | ColumnOutcomes | list[Started | Outcome]
                      | BaseException),
        ) -> None:
            if type(message) is Started:
                if threading.get_ident() == owner:
                    started(message)
                    return
                if message.job.timeout is None:
                    starts.append((now(), message))
                    if self.sleeping:  # (after the append: see wait)
                        put([])  # it may not see this start: wake it to set its clock
                    return
            put(message)

        return report

    def _due_starts(self, started: Callable[[Started], None]) -> None:
        """Hand ``started`` the starts that are due: those reported ``STARTS``
        ago, and every ``STARTS`` those the executor holds."""
        now, starts = time.monotonic(), self.starts
        while starts and starts[0][0] <= now - STARTS:
            started(starts.popleft()[1])
        if self.held is not None and now >= self._look:
            self._look = now + STARTS
            for one in self.held():
                started(one)

    def after(self, delay: float, action: Callable[[], None]) -> None:
        """Call ``action`` (in the owner's thread) ``delay`` seconds from now."""
        heapq.heappush(self.timers, (time.monotonic() + delay, next(self._seq), action))

    def wait(
        self, started: Callable[[Started], None], finished: Callable[[Outcome], None],
        finished_many: Callable[[Outcomes | ColumnOutcomes], None] | None = None,
    ) -> None:
        """Block until a message arrives or the next timer is due; handle every
        message already queued, then every due timer. A batch of outcomes goes
        to ``finished_many`` as it is, else to ``finished`` one by one (only
        the engine submits columns, and it reads their outcomes there)."""
        timeout = max(0.0, self.timers[0][0] - time.monotonic()) if self.timers else None
        if self._main_thread:
            # A lock wait is not interrupted by a *simulated* Ctrl-C
            # (_thread.interrupt_main, as IDEs send it), only by a real
            # signal: wake up now and then, doing nothing, to let it through.
            timeout = HEARTBEAT if timeout is None else min(timeout, HEARTBEAT)
        # Set before ``starts`` is read (a reporter appends, then reads it): a
        # start this wait does not see wakes it.
        self.sleeping = timeout is None
        starts = self.starts
        if starts or self.held is not None:
            first = min(starts[0][0] + STARTS if starts else math.inf,
                        self._look if self.held is not None else math.inf)
            due = max(0.0, first - time.monotonic())
            timeout = due if timeout is None else min(timeout, due)
            self.sleeping = False
        try:
            message = self.messages.get(timeout=timeout)
            self.sleeping = False
            while True:
                if isinstance(message, (Outcomes, ColumnOutcomes)):
                    if finished_many is not None:
                        finished_many(message)
                    else:
                        assert isinstance(message, Outcomes), "columns for a loop that takes none"
                        for outcome in message.each():
                            finished(outcome)
                elif isinstance(message, BaseException):
                    raise message  # the loop cannot go on (Stop, a pool shut down)
                else:
                    for one in message if isinstance(message, list) else (message,):
                        if isinstance(one, Started):
                            started(one)
                        else:
                            finished(one)
                message = self.messages.get_nowait()
        except queue.Empty:
            pass
        if starts or self.held is not None:
            self._due_starts(started)
        now = time.monotonic()
        while self.timers and self.timers[0][0] <= now:
            heapq.heappop(self.timers)[2]()
