"""Engine rules that depend on when outcomes arrive, pinned with a scripted executor."""

from __future__ import annotations

import operator
import threading
from pathlib import Path
from typing import Any

import pytest

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
            run_chain(job, self.report, self.report)
        else:
            threading.Timer(0.05, run_chain, (job, self.report, self.report)).start()

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


def _in_a_thread(call: object, *args: object) -> None:
    thread = threading.Thread(target=call, args=args)  # type: ignore[arg-type]
    thread.start()
    thread.join()


def test_a_start_waits_for_the_next_wake_up_and_a_stale_one_is_dropped() -> None:
    import time

    from webber._inbox import STARTS, Inbox
    from webber.executors import Outcome, Started

    inbox = Inbox()
    handled: list[object] = []
    report = inbox.report(handled.append)
    job = Job("a", None, 1, "a", int, (), {}, None, None)
    start = Started(job, time.time(), "w")
    _in_a_thread(report, start)
    assert inbox.messages.empty()  # it did not wake the owner
    # (a start is due by when it came, whatever the clock of the worker that sent it)
    start.at -= 3600
    begun = time.monotonic()
    inbox.wait(handled.append, handled.append)  # nothing else came: handled when due
    assert handled == [start]
    assert time.monotonic() - begun >= STARTS * 0.5
    # A short task: its end comes first; its start, set down earlier, only after it.
    handled.clear()
    start = Started(job, time.time(), "w")
    end = Outcome(job, True, 1, start.at, 0.0, "w")
    _in_a_thread(report, start)
    _in_a_thread(report, end)
    inbox.wait(handled.append, handled.append)
    assert handled == [end]
    # A job with a timeout: its start wakes the owner at once (its clock starts there).
    timed = Job("b", None, 1, "b", int, (), {}, None, 5.0)
    start = Started(timed, time.time(), "w")
    _in_a_thread(report, start)
    assert not inbox.messages.empty()


def test_a_start_that_comes_while_the_owner_sleeps_is_handled_when_due() -> None:
    import time

    from webber._inbox import STARTS, Inbox
    from webber.executors import Started

    handled: list[object] = []
    ready = threading.Event()

    def owner() -> None:  # (not the main thread: no heartbeat wakes it)
        inbox = Inbox()
        inboxes.append(inbox)
        inboxes.append(inbox.report(handled.append))
        ready.set()
        while not handled:  # the engine's loop: nothing else arrives
            inbox.wait(handled.append, handled.append)

    inboxes: list[Any] = []
    thread = threading.Thread(target=owner, daemon=True)
    thread.start()
    assert ready.wait(10)
    deadline = time.monotonic() + 10
    while not inboxes[0].sleeping and time.monotonic() < deadline:
        time.sleep(0.001)  # until it sleeps with nothing due
    job = Job("a", None, 1, "a", int, (), {}, None, None)
    start = Started(job, time.time(), "w")
    begun = time.monotonic()
    _in_a_thread(inboxes[1], start)
    thread.join(10)
    assert handled == [start] and time.monotonic() - begun >= STARTS * 0.5


def test_starts_an_executor_holds_are_asked_for_while_the_owner_waits() -> None:
    import time

    from webber._inbox import STARTS, Inbox
    from webber.executors import Started
    from webber.executors.threads import _Threads

    # The threads' side: each slot's start is handed over once.
    threads = _Threads(2, lambda message: None, True)
    job = Job("a", None, 1, "a", int, (), {}, None, None)
    first, second = Started(job, time.time(), "w0"), Started(job, time.time(), "w1")
    threads.held[0] = first
    assert threads.due() == [first] and threads.due() == []
    threads.held[1] = second
    assert threads.due() == [second]
    # The owner's side: with nothing arriving, it wakes up to ask.
    inbox = Inbox()
    handed: list[object] = []
    asked = [0]

    def held() -> list[Started]:
        asked[0] += 1
        return [first] if asked[0] == 1 else []

    inbox.report(handed.append, held)
    begun = time.monotonic()
    inbox.wait(handed.append, handed.append)
    assert handed == [first] and asked == [1]
    assert time.monotonic() - begun >= STARTS * 0.5  # not before it was due
    inbox.wait(handed.append, handed.append)  # the next look: nothing new
    assert handed == [first] and asked == [2]


def test_every_attempt_gets_its_start_event_before_its_end() -> None:
    from webber import Listener

    class Order(Listener):
        def __init__(self) -> None:
            self.events: list[tuple[str, str]] = []

        def on_task_start(self, node: str, attempt: int, index: int | None, worker: str) -> None:
            self.events.append(("start", node))

        def on_attempt_end(self, attempt: object) -> None:
            self.events.append(("end", attempt.node))  # type: ignore[attr-defined]

    dag = DAG()
    nodes = [dag.add_node(abs, -i) for i in range(200)]
    for executor in ("threads", "processes"):
        order = Order()
        assert dag.run(executor=executor, listeners=[order]).ok
        for n in nodes:
            assert order.events.index(("start", n)) < order.events.index(("end", n))
        assert len(order.events) == 400


def _freeze_count() -> int:
    import gc

    return gc.get_freeze_count()


def _many() -> DAG:
    """A graph of as many tasks as a run freezes for (a smaller run freezes nothing)."""
    from webber._gc import MANY

    dag = DAG()
    for _ in range(MANY):
        dag.add_node(int)
    return dag


def test_what_exists_is_frozen_while_a_run_goes_on_and_given_back_after() -> None:
    import gc

    from webber._gc import frozen

    assert frozen._count == 0, "a run of an earlier test is still going on"
    assert gc.get_freeze_count() == 0
    dag = _many()
    during = dag.add_node(_freeze_count)
    run = dag.run(executor="inline")
    assert run[during] > 0  # the graph and the plan, left out of full collections
    assert gc.get_freeze_count() == 0


def test_a_wide_flows_jobs_are_frozen_as_they_are_made_and_its_tasks_run_with_the_collector_on(
) -> None:
    import gc

    from webber import Listener
    from webber._gc import MANY, frozen

    class AtStart(Listener):
        count = 0

        def on_run_start(self, plan: object) -> None:
            self.count = gc.get_freeze_count()  # the graph and the plan: frozen already

    def during() -> tuple[int, bool]:
        return gc.get_freeze_count(), gc.isenabled()

    def nothing() -> None:
        pass

    dag = DAG()
    # (the last task alone looks: get_freeze_count walks the frozen objects)
    nodes = [dag.add_node(nothing) for _ in range(MANY - 1)] + [dag.add_node(during)]
    start = AtStart()
    run = dag.run(executor="inline", listeners=[start])
    count, enabled = run[nodes[-1]]
    assert enabled  # off only while the engine decided
    assert count >= start.count + MANY  # each job it made meanwhile (they are still running)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    with frozen, frozen.adding():
        assert not gc.isenabled()
    gc.disable()  # (a compile in another thread): left as it is
    try:
        with frozen, frozen.adding():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_long_chain_is_sent_to_worker_processes_with_the_collector_off(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Its links go in one message: what that makes is frozen as it is made
    # (no task runs in this process); a short batch leaves the collector alone.
    import gc

    from webber._gc import MANY
    from webber.executors._pool import Pool

    sends: list[tuple[int, bool]] = []
    submit = Pool.submit

    def watched(self: Pool, jobs: list[Job], session: object) -> None:
        sends.append((len(jobs) + sum(len(job.links) for job in jobs), gc.isenabled()))
        submit(self, jobs, session)  # type: ignore[arg-type]

    monkeypatch.setattr(Pool, "submit", watched)
    dag = DAG()
    last = dag.add_node(int, 0)
    for _ in range(MANY):
        last = dag.add_node(operator.add, Promise(last), 1)
    short = dag.add_node(int, 5)
    run = dag.run(executor="processes")
    assert run.ok and run[last] == MANY and run[short] == 5
    assert any(jobs > MANY and not enabled for jobs, enabled in sends)  # the chain's
    assert all(enabled for jobs, enabled in sends if jobs < MANY)
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_runs_in_two_threads_share_one_freeze_until_the_last_ends() -> None:
    import gc

    release = threading.Event()
    inner = _many()
    waiting = inner.add_node(release.wait, 30)
    thread_run: dict[str, object] = {}
    thread = threading.Thread(target=lambda: thread_run.update(run=inner.run(executor="threads")))
    thread.start()
    outer = _many()
    count = outer.add_node(_freeze_count)
    assert outer.run(executor="inline")[count] > 0
    assert gc.get_freeze_count() > 0  # the other run goes on: still frozen
    release.set()
    thread.join(30)
    assert thread_run["run"][waiting] is True  # type: ignore[index]
    assert gc.get_freeze_count() == 0


def test_a_program_that_froze_objects_itself_keeps_its_freeze() -> None:
    import gc

    gc.freeze()
    try:
        theirs = gc.get_freeze_count()
        dag = _many()
        during = dag.add_node(_freeze_count)
        # (the count of frozen objects only falls as some of them are freed)
        assert dag.run(executor="inline")[during] <= theirs  # nothing of ours added
        assert gc.get_freeze_count() > theirs // 2  # nor undone
    finally:
        gc.unfreeze()


def test_a_child_forked_during_a_run_is_not_left_frozen() -> None:
    import gc
    import os

    release = threading.Event()
    dag = _many()
    dag.add_node(release.wait, 30)
    thread = threading.Thread(target=lambda: dag.run(executor="threads"))
    thread.start()
    try:
        while gc.get_freeze_count() == 0 and thread.is_alive():
            release.wait(0.01)  # until the run has frozen what exists
        pid = os.fork()
        if pid == 0:  # the child: the run is not here, and neither is its freeze
            code = 0 if gc.get_freeze_count() == 0 else 3
            inner = _many()
            count = inner.add_node(_freeze_count)
            code = code or (0 if inner.run(executor="inline")[count] > 0 else 4)
            os._exit(code or (0 if gc.get_freeze_count() == 0 else 5))
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        release.set()
        thread.join(30)
    assert gc.get_freeze_count() == 0


class Recording(Executor):
    """Runs each job at once, keeping it."""

    name = "recording"

    def start(self, report: Report) -> None:
        self.report, self.jobs = report, list[Job]()

    def submit(self, job: Job) -> None:
        self.jobs.append(job)
        run_chain(job, self.report, self.report)

    def stop(self, cancel: bool = False) -> None:
        pass


def test_a_fan_outs_elements_carry_only_the_results_their_arguments_take() -> None:
    # Each element's job carried the whole list it fans out over as an input:
    # sent to a worker with every element (quadratic: 5,000 items took 0.9 s
    # on processes), and never a column.
    from webber import Flow, task

    with Flow("fan") as flow:
        items = task(list)(range(50))
        offset = task(int)(7)
        plain = task(operator.neg).map(items)
        other = task(operator.add).map(items, offset)
    recording = Recording()
    run = flow.run(executor=recording)
    assert run[plain] == [-i for i in range(50)] and run[other] == [i + 7 for i in range(50)]
    elements = [j for j in recording.jobs if j.index is not None]
    ids = {flow.node_id(p) for p in (items, offset, plain, other)}
    assert len(elements) == 100 and len(ids) == 4
    assert all(j.inputs is None for j in elements if j.node == flow.node_id(plain))
    assert all(j.inputs is not None and list(j.inputs) == [flow.node_id(offset)]
               for j in elements if j.node == flow.node_id(other))
