"""Values, states, durations and attempts: the same on every executor."""

from __future__ import annotations

import pickle
import re

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
    remote = executor in ("processes", "dask")
    frames = str(info.value.__cause__) if remote else ""
    if not remote:
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


def test_a_failure_read_again_shows_its_traceback_once(executor: str) -> None:
    # Each read raised the stored exception, and each raise added the reader's
    # frames to its traceback: the third read printed them three times.
    import traceback

    with Flow() as flow:
        bad = fail("row 7 is broken")
    run = flow.run(executor=executor)
    shown = []
    for _ in range(3):
        with pytest.raises(ValueError, match="row 7 is broken") as info:
            run[bad]
        shown.append([f.name for f in traceback.extract_tb(info.value.__traceback__)])
    assert shown[0] == shown[1] == shown[2]
    assert shown[0].count("__getitem__") == 1
    # (in this process, its own frames, from the task's function on; from a worker, text)
    assert shown[0][-1] == ("fail" if executor in ("inline", "threads") else "__getitem__")


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
    # same code path; a faster suite (dask: a report round trip per chain link)
    n = 2_000 if executor in ("processes", "dask") else 10_000
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
    depth = 300 if executor in ("processes", "dask") else 100_000
    for _ in range(depth):
        nested = [nested]
    out = dag.add_node(_depth, nested)
    run = dag.run(executor=executor)
    assert run[out] == (depth, 5)


def _depth(obj: object) -> tuple[int, object]:
    depth = 0
    while isinstance(obj, list) and len(obj) == 1 and isinstance(obj[0], list):
        obj = obj[0]
        depth += 1
    return depth, obj[0]  # type: ignore[index]


# -- Run: lists in plan order, durations, attempts, get/error -----------------------


def _sleep_then(value: str) -> str:
    import time

    time.sleep(0.2)
    return value


def _raise_value_error() -> None:
    raise ValueError("fast failure")


def test_state_lists_are_in_plan_order_not_completion_order(executor: str) -> None:
    dag = DAG("order")
    slow = dag.add_node(_sleep_then, "slow")  # finishes last on a parallel executor
    bad = dag.add_node(_raise_value_error)
    child = dag.add_node(str, Promise(bad))
    quick = dag.add_node(str, "quick")
    lonely = dag.add_node(str, "skipped by hand")
    dag.skip_node(lonely)
    run = dag.run(executor=executor)
    assert run.succeeded == [slow, quick]
    assert run.failed == [bad]
    assert run.skipped == [child, lonely]
    assert list(run.durations) == [slow, bad, child, quick, lonely]
    assert list(run.attempts) == [slow, bad, child, quick, lonely]
    assert list(run.states.values()) == ["success", "failed", "skipped", "success", "skipped"]
    assert not run.ok
    assert repr(run).startswith("<Run 'order': 2 succeeded, 1 failed, 2 skipped in ")


def test_skipped_nodes_have_zero_duration_and_no_attempts(executor: str) -> None:
    dag = DAG()
    bad = dag.add_node(_raise_value_error)
    after = dag.add_node(str, "never")
    dag.add_edge(bad, after)
    manual = dag.add_node(str, "manual")
    dag.skip_node(manual)
    run = dag.run(executor=executor)
    for n in (after, manual):
        assert run.state(n) == "skipped"
        assert run.durations[n] == 0.0
        assert run.attempts[n] == ()
    assert run.durations[bad] >= 0.0 and len(run.attempts[bad]) == 1


def test_attempt_records(executor: str) -> None:
    import time

    before = time.time()
    dag = DAG()
    good = dag.add_node(_sleep_then, "v")
    bad = dag.add_node(_raise_value_error)
    run = dag.run(executor=executor)
    after = time.time()
    (ok,) = run.attempts[good]
    assert isinstance(ok, webber.Attempt)
    assert (ok.node, ok.number, ok.index, ok.ok, ok.error) == (good, 1, None, True, None)
    assert before - 1 <= ok.started <= after  # time.time(), not a monotonic clock
    assert ok.duration >= 0.2 - 0.02  # lower bound only: the task slept 0.2 s
    assert isinstance(ok.worker, str) and ok.worker
    (failed,) = run.attempts[bad]
    assert (failed.node, failed.number, failed.ok) == (bad, 1, False)
    assert failed.error == "ValueError: fast failure"
    with pytest.raises(AttributeError):
        failed.retries  # type: ignore[attr-defined]  # noqa: B018
    assert run.durations[good] == pytest.approx(ok.duration)
    assert run.duration >= run.durations[good]


def test_get_error_and_skipped_reads(executor: str) -> None:
    dag = DAG("reads")
    good = dag.add_node(str, "fine")
    bad = dag.add_node(_raise_value_error)
    skipped = dag.add_node(str, Promise(bad))
    run = dag.run(executor=executor)
    assert run.get(good) == "fine" and run.get(good, "d") == "fine"
    assert run.get(bad) is None and run.get(bad, "d") == "d"
    assert run.get(skipped, "d") == "d"
    assert run.error(good) is None and run.error(skipped) is None
    error = run.error(bad)
    assert type(error) is ValueError and str(error) == "fast failure"
    with pytest.raises(webber.TaskSkippedError) as info:
        run[skipped]
    assert isinstance(info.value, webber.WebberError)
    assert info.value.task == skipped
    assert str(info.value).startswith(
        f"task {skipped!r} was skipped (its parent {bad!r} failed, and the edge from it needs "
        f"it to succeed)")
    for ref in ("str-9", Promise("nope")):
        with pytest.raises(webber.UnknownNodeError):
            run.state(ref)
        with pytest.raises(webber.UnknownNodeError):
            run.get(ref, "d")
    with pytest.raises(webber.UnknownNodeError, match=r"nodes of the run of '.*' run 'str' \("):
        run[str]  # a function several nodes run


def test_a_skip_names_the_parent_whose_edge_did_not_hold(executor: str) -> None:
    dag = DAG("why")
    good = dag.add_node(str, "fine")
    handler = dag.add_node(str, "handled")
    dag.add_edge(good, handler, continue_on=webber.Condition.Failure)
    after = dag.add_node(str, Promise(handler))
    dropped = dag.add_node(str, "never")
    dag.skip_node(dropped)
    run = dag.run(executor=executor)
    for n, why in ((handler, f"its parent {good!r} succeeded, and the edge from it needs it "
                             f"to fail"),
                   (after, f"its parent {handler!r} was skipped, and the edge from it needs "
                           f"it to succeed"),
                   (dropped, "skip_node()")):
        with pytest.raises(webber.TaskSkippedError, match=re.escape(f"skipped ({why})")):
            run[n]


def test_run_by_task_object_and_promise_of_a_callable(executor: str) -> None:
    seven = task(lambda: 7)
    dag = DAG()
    n = dag.add_node(seven)
    shout = dag.add_node(str, Promise(seven))  # Promise of the callable a node runs
    run = dag.run(executor=executor)
    assert run[seven] == run[n] == run[Promise(seven)] == 7
    assert run[shout] == "7"
    assert run.state(seven) == "success"


def test_failure_keeps_the_exception_type_and_message(executor: str) -> None:
    class Odd(Exception):
        pass

    def raise_odd() -> None:
        raise Odd("odd one", 3)

    dag = DAG()
    n = dag.add_node(raise_odd)
    run = dag.run(executor=executor)
    with pytest.raises(Exception) as info:  # noqa: PT011 - the exact type is checked below
        run[n]
    assert type(info.value).__name__ == "Odd"
    assert info.value.args == ("odd one", 3)
    # Reading it again raises again: a failure is never silent.
    with pytest.raises(Exception, match="odd one"):
        run[n]


def _exit_three() -> None:
    import sys

    sys.exit(3)


def test_system_exit_in_a_task_is_that_tasks_failure(executor: str) -> None:
    dag = DAG()
    n = dag.add_node(_exit_three)
    other = dag.add_node(str, "still runs")
    run = dag.run(executor=executor)
    assert run.state(n) == "failed"
    assert run[other] == "still runs"
    # Reading it raises an Exception, never a SystemExit that would end the caller.
    with pytest.raises(webber.TaskExitError) as info:
        run[n]
    assert isinstance(info.value.__cause__, SystemExit) and info.value.__cause__.code == 3


def test_executor_instances_and_max_workers(executor: str) -> None:
    from webber import executors

    cls = {
        "inline": "InlineExecutor",
        "threads": "ThreadExecutor",
        "processes": "ProcessExecutor",
        "dask": "DaskExecutor",
    }[executor]
    instance = getattr(executors, cls)(max_workers=2)
    assert instance.name == executor and instance.max_workers == 2
    with Flow() as flow:
        a = add(1, 2)
        b = add(a, 10)
    run = flow.run(executor=instance)
    assert run[b] == 13
    assert flow.run(executor=instance)[b] == 13  # an instance serves several runs
    assert flow.run(executor=executor, max_workers=2)[b] == 13
    assert flow.execute(executor=instance)[b] == 13  # execute() is run()


def test_run_mappings_take_promises(executor: str) -> None:
    with Flow() as flow:
        a = add(1, 1)
        b = add(a, 1)
    run = flow.run(executor=executor)
    assert run.states[b] == "success"
    assert run.durations[b] == run.durations["add-2"]
    assert run.attempts[a] == run.attempts["add-1"] and len(run.attempts[a]) == 1
    assert a in run and Promise("add-3") not in run


def test_run_mappings_take_the_task_itself_like_run_does(executor: str) -> None:
    # Regression test: run[task] worked, run.attempts[task] raised KeyError.
    from webber import task

    @task
    def only(x: int) -> int:
        return x + 1

    with Flow() as flow:
        promise = only(1)
    run = flow.run(executor=executor)
    assert run[only] == run[promise] == 2
    assert run.states[only] == "success"
    assert run.attempts[only] == run.attempts[promise] == run.attempts["only-1"]
    assert run.durations[only] == run.durations["only-1"]
    with pytest.raises(KeyError):
        run.attempts["nope-1"]


def _numbers(n: int) -> list[int]:
    return list(range(n))


def test_a_finished_run_pickles_with_the_standard_pickle(executor: str) -> None:
    # Module-level functions, not @task ones (their module's name for them is the
    # Task, so the standard pickle cannot find the function by its name); every
    # root has compile's shared read-only mapping as its parents.
    with Flow("pickled") as flow:
        items = task(_numbers)(3)
        total = task(sum)(task(abs).map(items))
        bad = task(_raise_value_error)()
        after = task(str)(bad)
    run = flow.run(executor=executor)
    # (read first: the Run keeps the traceback it raises with, which must not stop a pickle)
    with pytest.raises(ValueError, match="fast failure"):
        run[bad]
    again = pickle.loads(pickle.dumps(run))
    assert again.states == run.states == {
        "numbers-1": "success", "abs-1": "success", "sum-1": "success",
        "raise_value_error-1": "failed", "str-1": "skipped",
    }
    assert (again[items], again[total], again["abs-1"]) == ([0, 1, 2], 3, [0, 1, 2])
    error = again.error(bad)
    assert type(error) is ValueError and str(error) == "fast failure"
    with pytest.raises(webber.TaskSkippedError):
        again[after]
    assert again.attempts == run.attempts and again.durations == run.durations
    assert (again.started, again.duration, again.plan.levels) == (
        run.started, run.duration, run.plan.levels)
    assert repr(again) == repr(run)
