"""The thread executor's own mechanisms."""

from __future__ import annotations

import threading

import pytest

from webber import DAG


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
