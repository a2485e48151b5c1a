"""Two tasks printing at the same time on threads each keep their own name."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from tests.conftest import task_lines
from webber import Flow, task

barrier = threading.Barrier(2, timeout=10)


@task
def left() -> None:
    barrier.wait()
    for i in range(200):
        print(f"left {i}")
        if i % 20 == 0:
            time.sleep(0.001)  # hand the GIL over: the two must interleave


@task
def right() -> None:
    barrier.wait()
    for i in range(200):
        print(f"right {i}")
        if i % 20 == 0:
            time.sleep(0.001)  # hand the GIL over: the two must interleave


@pytest.mark.timeout(30)
def test_concurrent_prints_are_attributed(caplog: pytest.LogCaptureFixture) -> None:
    with Flow() as flow:
        left()
        right()
    run = flow.run(executor="threads", max_workers=2)
    assert run.ok
    lines = task_lines(caplog)
    assert len(lines) == 400
    for name, line in lines:
        assert line.startswith(name + " "), (name, line)
    assert [line for name, line in lines if name == "left"] == [f"left {i}" for i in range(200)]
    # They really did overlap: the names interleave at least once.
    names = [name for name, _ in lines]
    assert any(a != b for a, b in itertools.pairwise(names) if a == "right")
