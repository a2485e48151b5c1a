"""0.4.0's DAGCallbacks and DAGMetrics, on every executor."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

import webber
from tests.conformance.test_events import fail, flaky
from webber import DAG, DAGCallbacks, Flow, Promise, task


@task
def double(x: int) -> int:
    return 2 * x


def recording() -> tuple[DAGCallbacks, list[tuple[Any, ...]], set[int]]:
    events: list[tuple[Any, ...]] = []
    threads: set[int] = set()

    def hook(kind: str) -> Any:
        def record(*args: Any) -> None:
            threads.add(threading.get_ident())
            events.append((kind, *args))

        return record

    callbacks = DAGCallbacks(
        on_dag_start=hook("dag_start"),
        on_task_start=hook("start"),
        on_task_complete=hook("complete"),
        on_task_error=hook("error"),
        on_progress=hook("progress"),
        on_dag_complete=hook("dag_complete"),
    )
    return callbacks, events, threads


def test_the_six_hooks_in_the_callers_thread(executor: str, tmp_path: Path) -> None:
    with Flow() as flow:  # the Flow DSL here; test_events builds its twin with the DAG API
        ok = task(str.upper)("a").key
        retried = task(retries=1)(flaky)(str(tmp_path / "marker")).key
        failing = task(fail)()
        bad = failing.key
        after_bad = task(print)("never")
        failing >> after_bad
        after_bad = after_bad.key
    callbacks, events, threads = recording()
    run = flow.execute(executor=executor, callbacks=callbacks)

    assert threads == {threading.get_ident()}
    assert events[0] == ("dag_start", 4)
    assert events[-1][:4] == ("dag_complete", 2, 1, 1)
    assert events[-1][4] == pytest.approx(run.duration)
    assert ("complete", ok, "upper", "A") in events
    assert ("complete", retried, "flaky", "second try") in events
    assert [e[0] for e in events if len(e) > 1 and e[1] == retried] == [
        "start", "start", "complete",  # one start per attempt
    ]
    (error,) = [e for e in events if e[0] == "error"]
    assert error[1:3] == (bad, "fail") and isinstance(error[3], RuntimeError)
    assert not [e for e in events if len(e) > 1 and e[1] == after_bad]  # skipped: no start
    progress = [e[1:] for e in events if e[0] == "progress"]
    assert len(progress) == 4 and progress[-1] == (2, 1, 1, 4)
    # each progress call counts one more final task
    assert [sum(p[:3]) for p in progress] == [1, 2, 3, 4]


def test_a_fan_out_task_starts_and_completes_once(executor: str) -> None:
    with Flow() as flow:
        doubled = double.map([1, 2, 3])
    callbacks, events, _ = recording()
    flow.run(executor=executor, callbacks=callbacks)
    assert [e[0] for e in events] == [
        "dag_start", "start", "complete", "progress", "dag_complete",
    ]
    assert events[2] == ("complete", doubled.key, "double", [2, 4, 6])


def test_hooks_left_unset_are_not_called_and_a_raising_hook_is_dropped(
    executor: str, caplog: pytest.LogCaptureFixture
) -> None:
    dag = DAG()
    dag.add_node(len, "ab")
    dag.add_node(len, "abc")
    calls: list[int] = []

    def boom(total: int, *rest: Any) -> None:
        calls.append(total)
        raise ValueError("hook bug")

    run = dag.run(executor=executor, callbacks=DAGCallbacks(on_progress=boom))
    assert run.ok and calls == [1]  # dropped after its first error; the run went on
    assert "hook bug" in caplog.text


def test_metrics_come_from_the_runs_record(executor: str) -> None:
    dag = DAG()
    a = dag.add_node(len, "abc")
    b = dag.add_node(int, "x")
    c = dag.add_node(print, Promise(b))
    run = dag.run(executor=executor)
    metrics = run.metrics
    assert metrics is run.metrics  # built once
    assert isinstance(metrics, webber.DAGMetrics)
    assert (metrics.completed, metrics.failed, metrics.skipped) == ({a}, {b}, {c})
    assert (metrics.completed_count, metrics.failed_count, metrics.skipped_count) == (1, 1, 1)
    assert metrics.total_nodes == 3
    assert metrics.total_duration == run.duration
    assert metrics.task_durations == {a: run.durations[a], b: run.durations[b]}
    assert metrics.task_start_times == {
        n: run.attempts[n][0].started for n in (a, b)
    }
    assert run.started <= metrics.task_start_times[a] <= run.started + run.duration


HOOKS = ("on_dag_start", "on_task_start", "on_task_complete", "on_task_error", "on_progress",
         "on_dag_complete")


def test_a_raising_hook_is_logged_by_its_own_name_and_the_other_hooks_go_on(
    executor: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Every hook raises on its first call. Each is logged naming the hook the
    # user wrote (not the Listener event behind it, on_task_result), and each is
    # dropped alone: before, the first to raise silenced the other five.
    dag = DAG()
    dag.add_node(len, "ab")
    dag.add_node(fail)
    calls: dict[str, int] = {}

    def raising(hook: str) -> Any:
        def call(*args: Any) -> None:
            calls[hook] = calls.get(hook, 0) + 1
            raise ValueError(f"bug in my {hook}")

        call.__qualname__ = f"my_{hook}"
        return call

    callbacks = DAGCallbacks(**{hook: raising(hook) for hook in HOOKS})
    run = dag.run(executor=executor, callbacks=callbacks)

    assert run.states == {"len-1": "success", "fail-1": "failed"}
    assert calls == dict.fromkeys(HOOKS, 1)  # each called until it raised, and no more
    logged = [r for r in caplog.records if r.name == "webber" and "DAGCallbacks" in r.message]
    assert len(logged) == len(HOOKS)
    by_message = sorted(logged, key=lambda r: r.message)
    for hook, record in zip(sorted(HOOKS), by_message, strict=True):
        assert record.message.startswith(f"DAGCallbacks hook {hook} (my_{hook}) raised")
        assert "it gets no more calls in this run" in record.message
        assert record.exc_info is not None and f"bug in my {hook}" in str(record.exc_info[1])
    assert "on_task_result" not in caplog.text and "on_run_start" not in caplog.text
