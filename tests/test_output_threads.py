"""Two tasks printing at the same time on threads each keep their own name."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import task_lines
from webber import Flow, task

ROOT = Path(__file__).resolve().parent.parent
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


ENDS_MID_PRINT = r"""
import threading

from webber import Flow, task

waiting, go = threading.Event(), threading.Event()


@task
def wait() -> None:
    waiting.set()  # the run's sys.stdout is installed
    go.wait(10)


with Flow() as flow:
    wait()


class EndsTheRun:
    # print() writes its arguments one by one to the sys.stdout it read once:
    # this one ends the run, which puts the original sys.stdout back, between
    # two of those writes
    def __str__(self) -> str:
        go.set()
        runner.join()
        return "first"


for _ in range(3):
    waiting.clear()
    go.clear()
    runner = threading.Thread(target=flow.run, kwargs={"executor": "threads"})
    runner.start()
    waiting.wait(10)
    print(EndsTheRun(), "second")
print("done")
"""


@pytest.mark.timeout(60)
def test_a_print_in_another_thread_as_a_run_ends_is_written_whole(tmp_path: Path) -> None:
    """print() holds on to sys.stdout without a reference of its own (Python
    < 3.12.10 and 3.13.3): a run ending in another thread between two of its
    writes put the original stream back and freed webber's, and the process
    died (SIGSEGV) -- a notebook's or a service's print as a background run ended."""
    script = tmp_path / "ends_mid_print.py"
    script.write_text(ENDS_MID_PRINT, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=50, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["first second"] * 3 + ["done"]
