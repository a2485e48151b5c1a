"""Engine rules that depend on when outcomes arrive, pinned with a scripted executor."""

from __future__ import annotations

import threading
from pathlib import Path

from webber import DAG, Promise
from webber.executors import Executor, Job
from webber.executors._base import Report
from webber.executors._work import run_chain


class LateRetries(Executor):
    """Runs first attempts at once (outcomes queue up together, as when a
    worker answers a whole chain in one read) and retries a little later."""

    name = "late-retries"

    def start(self, report: Report) -> None:
        self.report = report

    def submit(self, job: Job) -> None:
        if job.attempt == 1:
            run_chain(job, self.report)
        else:
            threading.Timer(0.05, run_chain, (job, self.report)).start()

    def stop(self, cancel: bool = False) -> None:
        pass


def fail_once(x: int, marker: str) -> int:
    if not Path(marker).exists():
        Path(marker).write_text("x")
        raise ValueError("first try")
    return x + 1


def test_a_retried_chain_link_is_not_decided_again(tmp_path: Path) -> None:
    # The link's parent succeeded (queuing the link to be decided) in the same
    # drain as the link's failure; the retry was in flight when the engine
    # decided the link again and submitted a second attempt 1. Found by the
    # random-DAG property test on processes.
    dag = DAG()
    head = dag.add_node(int, 0)
    link = dag.add_node(fail_once, Promise(head), str(tmp_path / "marker"))
    dag.retry_node(link, 1)
    assert dag.compile().nodes[head].next_link == link
    run = dag.run(executor=LateRetries())
    assert run[link] == 1
    assert [(a.number, a.ok) for a in run.attempts[link]] == [(1, False), (2, True)]
