"""The thread executor's own mechanisms."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from webber import DAG

ROOT = Path(__file__).resolve().parents[2]


def meet(barrier: threading.Barrier, tag: str) -> str:
    barrier.wait()  # both tasks run at the same time, on two threads
    return tag


@pytest.mark.timeout(60)
def test_concurrent_tasks_never_share_a_worker_name_across_many_pools() -> None:
    # Regression test: worker names were cached by thread id, and ids are reused
    # by the threads of later pools -- two live threads could both be called
    # "webber_0" (the timeline then drew one lane for two workers).
    for i in range(60):
        # Pools of one and of two threads, interleaved: thread ids get reused by
        # threads of other names.
        lone = DAG()
        lone.add_node(str, i)
        lone.run(executor="threads", max_workers=1)
        lone.run(executor="threads", max_workers=3)
        barrier = threading.Barrier(2, timeout=30)

        dag = DAG()
        a, b = dag.add_node(meet, barrier, "a"), dag.add_node(meet, barrier, "b")
        run = dag.run(executor="threads", max_workers=2)
        workers = {run.attempts[n][0].worker for n in (a, b)}
        assert len(workers) == 2, workers


# -- row 28: Ctrl-C on threads --------------------------------------------------------
CTRL_C = """
import _thread, sys, threading, time
sys.path.insert(0, {root!r})
import webber

class Started(webber.Listener):
    def __init__(self):
        self.count = 0
    def on_task_start(self, node, attempt, index, worker):
        self.count += 1
        if self.count == 20:  # every task sleeps now: press Ctrl-C
            threading.Thread(target=_thread.interrupt_main).start()

dag = webber.DAG()
for _ in range(20):
    dag.add_node(time.sleep, 300)
try:
    dag.run(executor="threads", max_workers=20, listeners=[Started()])
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


@pytest.mark.timeout(120)
def test_row28_ctrl_c_on_threads_stops_the_run_and_the_interpreter_exits() -> None:
    # The 20 tasks sleep 300 s and cannot be killed: the run must stop waiting
    # for them at once, and the interpreter must exit without joining their
    # threads (concurrent.futures' threads are joined at exit).
    code = CTRL_C.format(root=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=100, check=False
    )
    assert "interrupted" in out.stdout, out.stdout + out.stderr
    assert out.returncode == 0, out.stderr


@pytest.mark.timeout(60)  # (a hang guard: before, the retry waited behind the stuck attempt)
def test_a_timed_out_task_frees_its_thread_for_the_retry_and_the_rest() -> None:
    # A thread cannot be killed: the attempt past its limit runs on, its
    # result discarded. Before, it also kept its thread, so with max_workers=1
    # the retry and every other task waited for it to end (for good, here).
    from webber import Flow, task

    release = threading.Event()
    tries: list[int] = []

    @task(timeout=0.2, retries=1)
    def stuck_once(x: int) -> int:
        tries.append(x)
        if x == 1 and tries.count(1) == 1:
            release.wait()  # returns only once the run is over
        return x

    with Flow() as flow:
        out = stuck_once.map(range(4))
    try:
        run = flow.run(executor="threads", max_workers=1)
    finally:
        release.set()
    assert run[out] == [0, 1, 2, 3]
    assert [a.ok for a in run.attempts[out] if "TaskTimeoutError" in (a.error or "")] == [False]
