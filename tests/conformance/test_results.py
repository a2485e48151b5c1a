"""Values, states, durations and attempts: the same on every executor."""

from __future__ import annotations

import pytest

import webber
from webber import DAG, Condition, Flow, Promise, task


@task
def add(a: int, b: int) -> int:
    return a + b


@task
def fail(message: str) -> int:
    raise ValueError(message)


def test_values_states_and_durations(executor: str) -> None:
    with Flow("sums") as flow:
        one = add(0, 1)
        two = add(one, one)
        four = add(b=two, a=two)
    run = flow.run(executor=executor)
    assert (run[one], run[two], run[four]) == (1, 2, 4)
    assert run.ok
    assert run.succeeded == ["add-1", "add-2", "add-3"]
    assert run.failed == [] and run.skipped == []
    assert run.state(four) == "success"
    assert set(run.durations) == {"add-1", "add-2", "add-3"}
    assert all(d >= 0 for d in run.durations.values())
    assert run.duration >= max(run.durations.values())
    assert [a.number for a in run.attempts[four]] == [1]
    assert run.attempts[four][0].ok


def test_nested_promises_in_containers_and_kwargs(executor: str) -> None:
    @task
    def combine(
        items: list[object], mapping: dict[str, object], *, extra: tuple[object, ...]
    ) -> object:
        return (items, mapping, extra)

    with Flow() as flow:
        a = add(1, 2)
        b = add(3, 4)
        out = combine([a, [b, {"deep": (a,)}]], {"x": b}, extra=(a, b))
    assert flow.compile().levels == [["add-1", "add-2"], ["combine-1"]]
    run = flow.run(executor=executor)
    assert run[out] == ([3, [7, {"deep": (3,)}]], {"x": 7}, (3, 7))


def test_failure_raises_its_own_exception_with_worker_traceback(executor: str) -> None:
    with Flow() as flow:
        bad = fail("row 7 is broken")
        after = add(bad, 1)
    run = flow.run(executor=executor)
    assert not run.ok
    assert run.failed == ["fail-1"]
    assert run.state(after) == "skipped"
    with pytest.raises(ValueError, match="row 7 is broken") as info:
        run[bad]
    # The traceback of the task itself is kept: in-process as the exception's
    # own traceback, from a worker as the __cause__ text (like concurrent.futures).
    frames = str(info.value.__cause__) if executor == "processes" else ""
    if executor != "processes":
        tb = info.value.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        assert tb is not None
        frames = tb.tb_frame.f_code.co_name
    assert "fail" in frames
    assert isinstance(run.error(bad), ValueError)
    assert run.get(bad, "default") == "default"
    with pytest.raises(webber.TaskSkippedError, match="add-1"):
        run[after]


def test_failure_is_logged_with_task_name_and_traceback(
    executor: str, caplog: pytest.LogCaptureFixture
) -> None:
    with Flow() as flow:
        fail("loud")
    flow.run(executor=executor)
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1
    assert errors[0].task == "fail"  # type: ignore[attr-defined]
    assert "fail-1" in errors[0].getMessage() and "loud" in errors[0].getMessage()
    assert errors[0].exc_info is not None


def test_run_accepts_ids_promises_and_callables(executor: str) -> None:
    dag = DAG()
    n = dag.add_node(divmod, 7, 2)
    run = dag.run(executor=executor)
    assert run[n] == run[Promise(n)] == run[divmod] == (3, 1)
    assert n in run and "nope" not in run
    with pytest.raises(webber.UnknownNodeError):
        run["nope"]


def test_ordering_edge_passes_no_data(executor: str, tmp_path: object) -> None:
    @task
    def first() -> str:
        return "first"

    @task
    def second() -> str:
        return "second"

    with Flow() as flow:
        a = first()
        b = second()
        c = second()
        a >> [b, c]
    edge = flow.get_edge(a, b)
    assert edge.data is False and edge.continue_on is Condition.Success
    assert flow.compile().levels == [["first-1"], ["second-1", "second-2"]]
    run = flow.run(executor=executor)
    assert run[b] == "second"
    assert run.attempts[b][0].started >= run.attempts[a][0].started


def test_a_ten_thousand_node_chain(executor: str) -> None:
    n = 2_000 if executor == "processes" else 10_000  # same code path; a faster suite
    dag = DAG()
    prev = dag.add_node(int, 0)
    for _ in range(n - 1):
        prev = dag.add_node(_inc, Promise(prev))
    run = dag.run(executor=executor)
    assert run[prev] == n - 1
    assert len(dag.compile().levels) == n


def _inc(x: int) -> int:
    return x + 1


def test_deeply_nested_argument(executor: str) -> None:
    dag = DAG()
    value = dag.add_node(int, 5)
    nested: list[object] = [Promise(value)]
    # pickle itself recurses, so values for worker processes nest less deeply
    for _ in range(100_000 if executor != "processes" else 300):
        nested = [nested]
    out = dag.add_node(_depth, nested)
    run = dag.run(executor=executor)
    assert run[out] == (100_000 if executor != "processes" else 300, 5)


def _depth(obj: object) -> tuple[int, object]:
    depth = 0
    while isinstance(obj, list) and len(obj) == 1 and isinstance(obj[0], list):
        obj = obj[0]
        depth += 1
    return depth, obj[0]  # type: ignore[index]
