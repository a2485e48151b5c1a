"""A flow's plain tasks travel as Columns from the engine to the process pool
and back (``_base.Column``, ``_answers.py``): no Job, Sent or Outcome per
task. What a user sees stays exact: values, states, the Run record,
failures, retries, children, events when a listener is there."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

import webber
from webber import DAG, Condition, Listener, Promise, task
from webber._run import Recorder
from webber.executors import ProcessExecutor
from webber.executors._base import Column, Job

pytestmark = pytest.mark.timeout(120)


def _double(x: int) -> int:
    return 2 * x


def _value(i: int) -> Any:
    return {"i": i, "blob": b"x" * (i % 3) * 1000} if i % 2 else i  # plain and not


def test_plain_tasks_go_as_columns_and_the_run_record_stays_exact(
    submitted: list[Any],
) -> None:
    dag = DAG()
    nodes = [dag.add_node(_double, i) for i in range(500)]
    run = dag.run(executor="processes", max_workers=2)
    assert submitted and all(isinstance(c, Column) for c in submitted)
    assert sum(len(c.nodes) for c in submitted) == 500
    assert run.ok and [run[n] for n in nodes] == [2 * i for i in range(500)]
    assert set(run.succeeded) == set(nodes)
    for n in nodes:
        (attempt,) = run.attempts[n]
        assert (attempt.node, attempt.number, attempt.index, attempt.ok, attempt.error) == (
            n, 1, None, True, None)
        assert attempt.worker.startswith("process") and attempt.duration >= 0
        assert abs(attempt.started - run.started) < 60
    assert run.durations[nodes[7]] == run.attempts[nodes[7]][0].duration
    assert run.timeline().svg.count(nodes[499]) >= 1  # drawn from the record


def test_a_column_rebuilds_results_that_are_not_plain_values() -> None:
    dag = DAG()
    nodes = [dag.add_node(_value, i) for i in range(40)]
    run = dag.run(executor="processes", max_workers=1)
    assert [run[n] for n in nodes] == [_value(i) for i in range(40)]


@task(retries=1)
def _flaky(marks: str, i: int) -> int:
    if i % 7 == 3:  # fails once, then succeeds
        mark = Path(marks, str(i))
        if not mark.exists():
            mark.touch()
            raise ValueError(f"first try of {i}")
    if i == 5:
        raise KeyError(i)  # every time
    return i


def test_a_task_of_a_column_that_fails_is_retried_and_recorded_alone(
    tmp_path: Path, submitted: list[Any], caplog: pytest.LogCaptureFixture,
) -> None:
    dag = DAG()
    nodes = [dag.add_node(_flaky, str(tmp_path), i) for i in range(30)]
    run = dag.run(executor="processes", max_workers=2)
    assert isinstance(submitted[0], Column)
    assert [isinstance(j, Job) for j in submitted[1:]] == [True] * (len(submitted) - 1)
    assert run.failed == [nodes[5]]
    assert isinstance(run.error(nodes[5]), KeyError)
    assert [run[n] for n in nodes if n != nodes[5]] == [i for i in range(30) if i != 5]
    for i, n in enumerate(nodes):
        tries = run.attempts[n]
        if i % 7 == 3 or i == 5:
            assert [(a.number, a.ok) for a in tries] == [(1, False), (2, i != 5)]
            assert tries[0].error == (f"ValueError: first try of {i}" if i != 5 else "KeyError: 5")
        else:
            assert [(a.number, a.ok) for a in tries] == [(1, True)]
    assert sum("retrying" in r.getMessage() for r in caplog.records) == 5  # 3, 10, 17, 24, 5


def _total(*values: int) -> int:
    return sum(values)


def _boom(i: int) -> int:
    if i == 2:
        raise ValueError("two")
    return i


def test_the_children_of_a_column_run_when_their_parents_end(submitted: list[Any]) -> None:
    dag = DAG()
    roots = [dag.add_node(_boom, i) for i in range(100)]
    total = dag.add_node(_total, *(Promise(r) for r in roots[3:]))
    rescue = dag.add_node(_double, 21)
    dag.add_edge(roots[2], rescue, continue_on=Condition.Failure)
    after = dag.add_node(_double, 1)
    dag.add_edge(roots[0], after)  # an ordering edge: plain, a column of its own later
    run = dag.run(executor="processes", max_workers=2)
    assert any(isinstance(c, Column) and not c.leaves for c in submitted)
    assert run[total] == sum(range(3, 100)) and run[rescue] == 42 and run[after] == 2
    assert run.failed == [roots[2]]


def test_a_run_with_a_listener_sends_no_column(submitted: list[Any]) -> None:
    class Ends(Listener):
        def __init__(self) -> None:
            self.ends: list[str] = []

        def on_task_end(self, node: str, state: str, attempts: int, duration: float,
                        worker: str) -> None:
            self.ends.append(node)

    ends = Ends()
    dag = DAG()
    nodes = [dag.add_node(_double, i) for i in range(50)]
    dag.run(executor="processes", max_workers=2, listeners=[ends])
    assert all(isinstance(j, Job) for j in submitted)
    assert sorted(ends.ends) == sorted(nodes)


def test_a_progress_bar_keeps_the_columns_and_counts_every_task(
    submitted: list[Any], capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The bar counts the tasks that ended by the batch: no event per task, so a wide
    # flow still travels as columns while it is shown.
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # the plain bar
    dag = DAG()
    nodes = [dag.add_node(_boom, i) for i in range(300)]
    dag.add_edge(nodes[2], dag.add_node(_double, 1))  # skipped: its parent fails
    run = dag.run(executor="processes", max_workers=2, progress=True)
    assert submitted and any(isinstance(c, Column) for c in submitted)
    assert run.failed == [nodes[2]]
    err = capfd.readouterr().err
    assert err.count("webber: [") == 1
    assert err.endswith("webber: [####################] 301/301 done (1 failed, 1 skipped)\n")


def test_a_listener_of_batches_keeps_the_columns_and_is_told_every_attempt_in_order(
    submitted: list[Any],
) -> None:
    # A column's attempts reach on_batch as rows made by the batch, in their
    # places among the others: the same rows as the record's, each once.
    class Batches(Listener):
        def __init__(self) -> None:
            self.calls: list[tuple[list[Any], list[Any], list[Any]]] = []

        def on_batch(self, started: Any, attempts: Any, ended: Any) -> None:
            self.calls.append((list(started), list(attempts), list(ended)))

    batches = Batches()
    dag = DAG()
    roots = [dag.add_node(_boom, i) for i in range(400)]
    total = dag.add_node(_total, *(Promise(r) for r in roots[3:]))
    run = dag.run(executor="processes", max_workers=2, listeners=[batches])
    assert any(isinstance(c, Column) for c in submitted)
    assert run[total] == sum(range(3, 400)) and run.failed == [roots[2]]
    told = [row for _, attempts, _ in batches.calls for row in attempts]
    by_node: dict[str, list[Any]] = {}
    for row in told:  # (each attempt once, in the order of its node's attempts)
        by_node.setdefault(row[0], []).append(webber.Attempt(*row))
    assert by_node == {n: list(tries) for n, tries in run.attempts.items()}
    position = {}
    for k, (_, attempts, ends) in enumerate(batches.calls):
        for row in attempts:
            position[row[0]] = k
        for node, _ in ends:
            assert position[node] <= k  # a task's end comes with or after its attempt
    for k, (started, _, _) in enumerate(batches.calls):
        for node, attempt, _, worker, _ in started:
            assert attempt == 1 and worker and position[node] >= k  # never after its end
    assert sorted(e for _, _, ends in batches.calls for e in ends) == sorted(run.states.items())


def test_the_record_puts_a_columns_rows_in_their_place() -> None:
    record = Recorder()
    record.rows.append(("a", 1, None, False, 1.0, 0.5, "w1", "ValueError: x"))
    record.column(["b", "c"], [2.0, 3.0], [0.1, 0.2], "w2")
    record.rows.append(("a", 2, None, True, 4.0, 0.5, "w1", None))
    record.column(["d"], (5.0,), (0.3,), "w3")
    assert record.all_rows() == [
        ("a", 1, None, False, 1.0, 0.5, "w1", "ValueError: x"),
        ("b", 1, None, True, 2.0, 0.1, "w2", None),
        ("c", 1, None, True, 3.0, 0.2, "w2", None),
        ("a", 2, None, True, 4.0, 0.5, "w1", None),
        ("d", 1, None, True, 5.0, 0.3, "w3", None),
    ]
    attempts = record.attempts()
    assert [a.number for a in attempts["a"]] == [1, 2] and attempts["c"][0].duration == 0.2


def test_a_column_splits_at_any_batch_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pool takes a column apart to fit a batch (here 3 tasks a worker
    message, then each worker's max_tasks): every task runs once."""
    from webber.executors import _session

    monkeypatch.setattr(_session, "MAX_BATCH", 3)
    monkeypatch.setattr(_session, "BIG_BATCH", 3)
    dag = DAG()
    nodes = [dag.add_node(os.getpid) for _ in range(20)]
    run = dag.run(executor=ProcessExecutor(max_workers=2, max_tasks_per_worker=4))
    pids = [run[n] for n in nodes]
    assert run.ok and len(pids) == 20
    assert all(pids.count(p) <= 4 for p in set(pids))  # each worker recycled after 4
    webber.shutdown()


def test_a_workers_queue_knows_each_task_of_a_column() -> None:
    """A worker's queue holds one entry per column: what it still owes, the
    tags it waits for, and what goes back to the run when it dies are still
    counted task by task (the task it ran fails, nothing else is lost)."""
    from collections import deque

    from webber.executors._answers import crashed_node, requeue, unanswered, waiting
    from webber.executors._session import Sent, Session

    session = Session(lambda message: None)
    column = Column(_double, "_double", ["a", "b", "c"], [(1,), (2,), (3,)])
    job = Job("d", None, 1, "_double", _double, (4,), {}, None, None)
    head = Sent(10, column, session)
    head.answered = 1  # "a" answered; "b" runs
    inflight = deque([head, Sent(13, job, session), Sent(14, column.part(0, 2), session)])
    assert unanswered(inflight, 100) == 2 + 1 + 1  # (past a job, an entry counts one)
    assert unanswered(inflight, 1) == 2  # (counted to past 1)
    assert waiting(inflight) == [11, 12, 13, 14, 15]
    assert crashed_node(head) == "b"
    requeue(list(inflight))
    assert [j.nodes if isinstance(j, Column) else j.node for j in session.pending] == [
        ["c"], "d", ["a", "b"]]
    assert session.extra == 1  # 4 tasks in 3 entries


def test_a_batch_takes_the_head_of_a_column_and_leaves_the_rest_in_parts() -> None:
    from webber.executors._sending import take
    from webber.executors._session import BIG_BATCH, Session

    session = Session(lambda message: None)
    nodes = [f"n{i}" for i in range(3000)]
    session.pending.append(Column(_double, "_double", nodes, [(i,) for i in range(3000)]))
    session.extra = 2999
    def nodes_of(entries: Any) -> list[list[str]]:
        assert all(isinstance(c, Column) for c in entries)
        return [c.nodes for c in entries]

    assert nodes_of(take(session, 10)) == [nodes[:10]]
    parts = nodes_of(session.pending)
    assert [len(part) for part in parts] == [BIG_BATCH, BIG_BATCH, 2990 - 2 * BIG_BATCH]
    assert [n for part in parts for n in part] == nodes[10:]
    assert len(session.pending) + session.extra == 2990
    batch = take(session, 2 * BIG_BATCH + 5)
    assert [len(part) for part in nodes_of(batch)] == [BIG_BATCH, BIG_BATCH, 5]
    assert len(session.pending) + session.extra == 2990 - 2 * BIG_BATCH - 5


def test_a_column_whose_function_cannot_be_sent_fails_each_of_its_tasks() -> None:
    """send_batch: each task of a column whose function does not pickle fails
    with its own JobSendError; the column after it goes, tagged after it."""
    import threading

    from tests.executors.test_process_pool import send_to_a_stand_in
    from webber.executors._base import ColumnOutcomes

    lock = threading.Lock()

    def holds_a_lock(i: int) -> bool:
        return lock.locked()

    reported: list[Any] = []
    batch: list[Any] = [Column(holds_a_lock, "holds_a_lock", ["a", "b"], [(1,), (2,)]),
                        Column(_double, "_double", ["c", "d"], [(3,), (4,)])]
    messages, proc = send_to_a_stand_in(batch, reported.append)
    (failed,) = reported
    assert isinstance(failed, ColumnOutcomes) and failed.column is batch[0]
    assert list(failed.oks) == [False, False]
    assert [(type(e), e.args[0].split(" cannot")[0]) for e in failed.values] == [
        (webber.JobSendError, "task 'a'"), (webber.JobSendError, "task 'b'")]
    run = messages[-1]
    assert run[1] == [(2, run[1][0][1], "_double", ["c", "d"], [(3,), (4,)])]
    assert [task.tag for task in proc.inflight] == [2]


# -- a fan-out's elements ----------------------------------------------------------------
def _element(i: int, marks: str) -> int:
    return 10 * _flaky(marks, i)  # (a task called outside a flow: a plain call)


def test_a_maps_plain_elements_go_as_one_column_and_the_run_record_stays_exact(
    submitted: list[Any], tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    flaky = task(_element, retries=1)
    with webber.Flow("elements") as flow:
        ten = flaky.map(range(40), str(tmp_path), partial=True)  # (one more argument)
        total = task(lambda values: sum(v for v in values if isinstance(v, int)))(ten)
    run = flow.run(executor="processes", max_workers=2)
    (column,) = [c for c in submitted if isinstance(c, Column)]
    assert column.element == 0 and column.nodes == [ten.key] * 40
    assert column.args == [(i, str(tmp_path)) for i in range(40)]
    values = run[ten]
    assert isinstance(values[5], KeyError)
    assert [v for i, v in enumerate(values) if i != 5] == [10 * i for i in range(40) if i != 5]
    assert run[total] == sum(10 * i for i in range(40) if i != 5)
    tries = run.attempts[ten.key]
    assert sorted(a.index for a in tries if a.ok) == [i for i in range(40) if i != 5]
    for i in range(40):
        mine = [(a.number, a.ok) for a in tries if a.index == i]
        expected = [(1, False), (2, i != 5)] if i % 7 == 3 or i == 5 else [(1, True)]
        assert mine == expected, i
    assert all(a.worker.startswith("process") for a in tries)


def _crash_at(i: int, pid: int) -> int:
    if i == 30 and os.getpid() != pid:
        mark = Path(f"/tmp/webber-crash-{pid}")
        if not mark.exists():
            mark.touch()
            os._exit(9)  # the worker dies running element 30
    return i


def test_an_element_whose_worker_dies_fails_alone_and_the_rest_of_its_column_runs(
    submitted: list[Any],
) -> None:
    with webber.Flow("crash") as flow:
        out = task(_crash_at).map(range(60), os.getpid(), partial=True)
    try:
        run = flow.run(executor="processes", max_workers=1)
    finally:
        Path(f"/tmp/webber-crash-{os.getpid()}").unlink(missing_ok=True)
    assert any(isinstance(c, Column) and c.element == 0 for c in submitted)
    values = run[out]
    assert isinstance(values[30], webber.WorkerCrashedError)
    assert [v for i, v in enumerate(values) if i != 30] == [i for i in range(60) if i != 30]
    failed = [a for a in run.attempts[out.key] if not a.ok]
    assert [(a.index, a.number) for a in failed] == [(30, 1)]
    assert len(run.attempts[out.key]) == 60


def test_a_map_whose_items_are_not_plain_goes_as_jobs(submitted: list[Any]) -> None:
    with webber.Flow("jobs") as flow:
        out = task(len).map([b"ab", b"cde", [1]])
    run = flow.run(executor="processes", max_workers=2)
    assert run[out] == [2, 3, 1]
    assert [j.index for j in submitted if isinstance(j, Job)] == [0, 1, 2]
    assert not any(isinstance(c, Column) for c in submitted)


def test_a_listener_of_batches_is_told_each_element_of_a_column_with_its_index(
    submitted: list[Any],
) -> None:
    class Batches(Listener):
        def __init__(self) -> None:
            self.started: list[Any] = []
            self.attempts: list[Any] = []

        def on_batch(self, started: Any, attempts: Any, ended: Any) -> None:
            self.started += started
            self.attempts += attempts

    batches = Batches()
    with webber.Flow("told") as flow:
        out = task(_double).map(range(300))
    run = flow.run(executor="processes", max_workers=2, listeners=[batches])
    assert any(isinstance(c, Column) and c.element == 0 for c in submitted)
    assert run[out] == [2 * i for i in range(300)]
    assert [webber.Attempt(*row) for row in batches.attempts] == list(run.attempts[out.key])
    assert sorted(a.index for a in run.attempts[out.key]) == list(range(300))
    assert batches.started and all(  # a column's next element, told as it starts
        node == out.key and attempt == 1 and isinstance(index, int) and 0 <= index < 300
        for node, attempt, index, _, _ in batches.started)
