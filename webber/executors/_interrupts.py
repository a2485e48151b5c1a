"""Ctrl-C held back over the few steps of the pool that must not be cut in two.

Python raises a Ctrl-C's KeyboardInterrupt in the main thread between any two
bytecodes, so it can land between "a worker process was started" and "the
pool knows it" (the worker then outlives the run, or dies unreaped as a
zombie), inside a thread's start (a receiver thread the pool never closes),
or between killing a worker and reaping it. Inside :func:`held` a SIGINT is
only noted; the KeyboardInterrupt comes at the block's end, where what the
block started is in the pool and the pool's shutdown reaches it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["held"]


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Run the block whole: a SIGINT during it runs the SIGINT handler after it."""
    # Signal handlers run, and can be changed, only in the main thread.
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous):  # SIG_IGN, SIG_DFL, or not set from Python: nothing raises
        yield
        return
    caught: list[tuple[int, FrameType | None]] = []

    def note(signum: int, frame: FrameType | None) -> None:
        caught.append((signum, frame))

    signal.signal(signal.SIGINT, note)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            previous(*caught[0])  # Python's own handler raises KeyboardInterrupt
