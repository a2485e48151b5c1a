"""Ctrl-C held back over the few steps of the pool that must not be cut in two.

Python raises a Ctrl-C's KeyboardInterrupt in the main thread between any two
bytecodes, so it can land between "a worker process was started" and "the
pool knows it" (the worker then outlives the run, or dies unreaped as a
zombie), inside a thread's start (a receiver thread the pool never closes),
or between killing a worker and reaping it. Inside ``with held():`` a SIGINT
is only noted; its KeyboardInterrupt comes at the block's end, where what
the block started is in the pool and the pool's shutdown reaches it.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

__all__ = ["held"]


class held:  # (lower case: read as a function, `with held():`)
    """Run the block whole: a SIGINT during it runs the SIGINT handler after it."""

    __slots__ = ("_caught", "_previous")

    def __enter__(self) -> None:
        self._previous: Any = None
        self._caught: tuple[int, FrameType | None] | None = None
        # Signal handlers run, and can be changed, only in the main thread;
        # SIG_IGN, SIG_DFL or a handler not set from Python raise nothing.
        if threading.current_thread() is threading.main_thread() and callable(
            previous := signal.getsignal(signal.SIGINT)
        ):
            self._previous = previous
            signal.signal(signal.SIGINT, self._note)

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self._caught = (signum, frame)

    def __exit__(self, *exc_info: object) -> None:
        previous, caught = self._previous, self._caught
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
            if caught is not None:
                previous(*caught)  # Python's own handler raises KeyboardInterrupt
