"""Streaming on processes: a worker per stage, functions shipped once, crashes and timeouts."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from webber import Promise, QueueDAG, TaskDefinitionError, WorkerCrashedError, stream, task
from webber import shutdown as webber_shutdown
from webber._task_errors import TaskTimeoutError

_loaded = 0


class CountsItsUnpickling:
    """A stage function that reports how often it was unpickled in its worker."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_unpickled, ())

    def __call__(self, x: int) -> tuple[int, int, int]:
        return x, os.getpid(), _loaded


def _unpickled() -> CountsItsUnpickling:
    global _loaded
    _loaded += 1
    return CountsItsUnpickling()


def test_each_stage_has_one_worker_process_and_its_function_travels_once() -> None:
    qdag = QueueDAG()
    first = qdag.add_node(os.getpid, iterator=30)
    second = qdag.add_node(CountsItsUnpickling(), Promise(first))
    qdag.add_node(lambda out: (*out, os.getpid()), Promise(second))
    rows = qdag.execute(executor="processes", maxsize=3)
    assert [r[0] for r in rows] == [os.getpid()] * 30  # the root ran here
    assert {r[1] for r in rows} != {os.getpid()} and len({r[1] for r in rows}) == 1
    assert {r[2] for r in rows} == {1}  # unpickled once in its worker, for 30 items
    assert len({r[3] for r in rows}) == 1 and rows[0][3] not in (os.getpid(), rows[0][1])


def die(x: int) -> int:
    if x == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return x


def test_a_stage_whose_worker_dies_stops_the_stream() -> None:
    with pytest.raises(WorkerCrashedError, match="SIGKILL") as caught:
        stream(range(10), abs, die, abs, executor="processes")
    assert "item 2 of the stream" in caught.value.__notes__[0]
    assert "'die-1'" in caught.value.__notes__[0]


def sleepy(x: int) -> int:
    if x == 1:
        import time

        time.sleep(60)
    return x


def test_a_stage_timeout_kills_the_item_and_names_it() -> None:
    slow = task(timeout=3.0)(sleepy)  # generous: a busy machine starts the worker late
    with pytest.raises(TaskTimeoutError, match=r"timed out after 3 s on item 1"):
        stream(range(5), slow, executor="processes")


def test_an_unpicklable_stage_fails_its_first_item_naming_the_stage() -> None:
    import threading

    lock = threading.Lock()
    with pytest.raises(TypeError, match="cannot be sent to a worker process") as caught:
        stream(range(3), lambda x: (lock, x), executor="processes")
    assert "item 0 of the stream" in caught.value.__notes__[0]


def nap(x: int) -> int:
    import time

    time.sleep(0.05)
    return x


def test_ctrl_c_stops_the_stream_and_its_workers() -> None:
    import _thread

    import psutil

    webber_shutdown()  # warm spare workers of earlier streams would be counted below
    before = {p.pid for p in psutil.Process().children(recursive=True)}

    def source() -> Any:
        for i in range(1000):
            if i == 20:
                _thread.interrupt_main()  # what an IDE's stop button sends
            yield i

    with pytest.raises(KeyboardInterrupt) as stopped:
        stream(source(), nap, nap, executor="processes", maxsize=4)
    # (as a run's: the traceback ends in webber's loop, which tells nothing)
    assert getattr(stopped.value, "__notes__", None) == [
        "webber: stream stopped by Ctrl-C; every stage was stopped"]
    left = {
        p for p in psutil.Process().children(recursive=True)
        if p.pid not in before and p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    }
    assert not left, left  # the stage workers were killed, not kept as spares


def _pair(a: int, b: int) -> int:
    return a + b


def test_a_stage_that_cannot_take_the_item_and_items_that_are_not_iterable_are_refused() -> None:
    # Both ran: the first failed every item at run time, the second raised a
    # bare TypeError ("'int' object is not iterable") from inside the loop.
    with pytest.raises(TaskDefinitionError, match=(
            r"stream\(\): stage 2, task '_pair': _pair\(a, b\) cannot take 1 positional "
            r"argument.*called with one argument, the item.*functools\.partial\(_pair, ")):
        stream([1, 2], abs, _pair, executor="inline")
    with pytest.raises(TaskDefinitionError, match=r"the items are int 5, not an iterable; pass"):
        stream(5, abs, executor="inline")  # type: ignore[arg-type]
    assert stream(iter([1, -2]), abs, executor="inline") == [1, 2]  # an iterator is read once
