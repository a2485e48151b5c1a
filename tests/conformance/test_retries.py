"""Retries, delays and backoff, timeouts: attempt counts are exact on every executor."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

import webber
from webber import DAG, Flow, task


def flaky(counter: str, fail_times: int) -> str:
    """Fails ``fail_times`` times, then succeeds; counts calls in a file (so: in any process)."""
    path = Path(counter)
    calls = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(calls))
    if calls <= fail_times:
        raise ConnectionError(f"attempt {calls} failed")
    return f"ok after {calls}"


def test_fails_twice_then_succeeds(executor: str, tmp_path: Path) -> None:
    dag = DAG()
    n = dag.add_node(flaky, str(tmp_path / "count"), 2)
    dag.retry_node(n, 2)
    dag.update_nodes(n, retry_delay=0.05, retry_backoff=2.0)
    run = dag.run(executor=executor)
    assert run[n] == "ok after 3"
    attempts = run.attempts[n]
    assert [(a.number, a.ok) for a in attempts] == [(1, False), (2, False), (3, True)]
    assert attempts[0].error == "ConnectionError: attempt 1 failed"
    # delay before retry i is retry_delay * backoff**(i-1): 0.05 then 0.1
    gap1 = attempts[1].started - (attempts[0].started + attempts[0].duration)
    gap2 = attempts[2].started - (attempts[1].started + attempts[1].duration)
    assert gap1 >= 0.05 - 0.01
    assert gap2 >= 0.10 - 0.01


def test_retries_run_out(executor: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    retrying = task(retries=1)(flaky)
    with Flow() as flow:
        n = retrying(str(tmp_path / "count"), 5)
    run = flow.run(executor=executor)
    assert run.state(n) == "failed"
    assert len(run.attempts[n]) == 2
    with pytest.raises(ConnectionError, match="attempt 2 failed"):
        run[n]
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "retrying" in warnings[0].getMessage()


def test_no_retry_by_default(executor: str, tmp_path: Path) -> None:
    dag = DAG()
    n = dag.add_node(flaky, str(tmp_path / "count"), 1)
    run = dag.run(executor=executor)
    assert run.state(n) == "failed"
    assert len(run.attempts[n]) == 1


def slow(seconds: float) -> str:
    import time

    time.sleep(seconds)
    return "done"


@pytest.mark.timeout(30)
def test_timeout_fails_the_task(executor: str) -> None:
    # A margin both ways that load cannot eat: quick must end well within it.
    limited = task(timeout=1.0)(slow)
    with Flow() as flow:
        late = limited(2.5)
        quick = limited(0.0)
    run = flow.run(executor=executor)
    assert run.state(quick) == "success"
    assert run.state(late) == "failed"
    with pytest.raises(webber.TaskTimeoutError, match=r"after 1 s") as info:
        run[late]
    assert isinstance(info.value, TimeoutError)
    assert info.value.task == "slow-1"


@pytest.mark.timeout(30)
def test_timeout_then_retry(executor: str, tmp_path: Path) -> None:
    @task(timeout=0.3, retries=1)
    def slow_once(counter: str) -> str:
        import time

        path = Path(counter)
        first = not path.exists()
        path.write_text("x")
        if first:
            time.sleep(1.0)
        return "second try"

    with Flow() as flow:
        n = slow_once(str(tmp_path / "c"))
    run = flow.run(executor=executor)
    assert run[n] == "second try"
    assert [a.ok for a in run.attempts[n]] == [False, True]
    assert "TaskTimeoutError" in (run.attempts[n][0].error or "")


# -- delays, logs, settings through the DAG API, timeouts ---------------------------

SLACK = 0.02  # clock granularity between the timestamps of two attempts


def _gaps(attempts: tuple[webber.Attempt, ...]) -> list[float]:
    return [
        later.started - (earlier.started + earlier.duration)
        for earlier, later in itertools.pairwise(attempts)
    ]


def test_retry_delay_and_backoff_are_lower_bounds(executor: str, tmp_path: Path) -> None:
    @task(retries=2, retry_delay=0.1, retry_backoff=3.0)
    def fetch(counter: str) -> str:
        return flaky(counter, 2)

    with Flow() as flow:
        n = fetch(str(tmp_path / "count"))
    run = flow.run(executor=executor)
    assert run[n] == "ok after 3"
    attempts = run.attempts[n]
    assert [a.number for a in attempts] == [1, 2, 3]
    gap1, gap2 = _gaps(attempts)
    assert gap1 >= 0.1 - SLACK  # retry 1: retry_delay
    assert gap2 >= 0.3 - SLACK  # retry 2: retry_delay * backoff
    assert run.durations[n] >= 0.4 - SLACK  # first start to last end


def test_each_retry_is_logged_as_a_warning_with_the_task_name(
    executor: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dag = DAG()
    n = dag.add_node(flaky, str(tmp_path / "count"), 2)
    dag.relabel_node(n, "fetcher")
    dag.update_nodes(n, retries=3)
    run = dag.run(executor=executor)
    assert run[n] == "ok after 3"
    assert len(run.attempts[n]) == 3  # stops retrying at the first success
    warnings = [r for r in caplog.records if r.name == "webber" and r.levelname == "WARNING"]
    assert [r.task for r in warnings] == ["fetcher", "fetcher"]  # type: ignore[attr-defined]
    assert [r.node for r in warnings] == [n, n]  # type: ignore[attr-defined]
    assert "attempt 1 of 4 failed (ConnectionError: attempt 1 failed)" in warnings[0].getMessage()
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_retry_node_through_a_promise(executor: str, tmp_path: Path) -> None:
    retrying = task(flaky)
    with Flow() as flow:
        n = retrying(str(tmp_path / "count"), 1)
    flow.retry_node(n, 1)
    assert flow.get_node(n).retries == 1
    run = flow.run(executor=executor)
    assert run[n] == "ok after 2"
    assert [a.ok for a in run.attempts[n]] == [False, True]


def test_a_task_that_returns_after_its_timeout_is_failed_and_its_value_dropped(
    executor: str,
) -> None:
    limited = task(timeout=0.1)(slow)
    with Flow() as flow:
        late = limited(0.4)
        after = task(lambda x: x)(late)
    run = flow.run(executor=executor)
    assert run.state(late) == "failed"
    assert run.state(after) == "skipped"
    assert run.get(late) is None
    error = run.error(late)
    assert isinstance(error, webber.TaskTimeoutError) and isinstance(error, TimeoutError)
    assert isinstance(error, webber.WebberError)
    assert "'slow-1' timed out after 0.1 s (attempt 1)" in str(error)
    (attempt,) = run.attempts[late]
    assert not attempt.ok and (attempt.error or "").startswith("TaskTimeoutError: ")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("executor", ["threads"])
def test_threads_fail_the_node_at_the_deadline_without_waiting(executor: str) -> None:
    import threading

    release = threading.Event()
    finished: list[str] = []

    @task(timeout=0.2)
    def stuck() -> str:
        release.wait(20)
        finished.append("stuck")
        return "too late"

    try:
        with Flow() as flow:
            n = stuck()
            after = task(lambda x: x)(n)
            other = task(lambda: "independent")()
        run = flow.run(executor=executor)
        # run() came back while the task was still blocked in its thread.
        assert finished == []
        assert run.state(n) == "failed" and run.state(after) == "skipped"
        assert run[other] == "independent"
        with pytest.raises(webber.TaskTimeoutError):
            run[n]
        assert run.duration < 20  # it did not wait for release.wait(20)
        (attempt,) = run.attempts[n]
        assert attempt.duration >= 0.2 - 0.02  # failed at the deadline, not before
    finally:
        release.set()


@pytest.mark.timeout(30)
def test_the_attempt_of_a_timed_out_task_names_its_worker(executor: str) -> None:
    # Regression test: the engine knows the worker from the Started message,
    # but recorded a timed-out attempt (threads, processes) with worker="".
    limited = task(timeout=0.1)(slow)
    with Flow() as flow:
        n = limited(0.5)
    run = flow.run(executor=executor)
    (attempt,) = run.attempts[n]
    assert not attempt.ok and "TaskTimeoutError" in (attempt.error or "")
    assert attempt.worker, "the timed-out attempt does not say which worker ran it"


def raising(counter: str, kind: str) -> str:
    """Counts calls in a file; raises ``kind`` (a builtin exception's name) each time."""
    path = Path(counter)
    calls = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(calls))
    raise getattr(__import__("builtins"), kind)(f"call {calls}")


def test_retry_on_retries_only_those_errors(executor: str, tmp_path: Path) -> None:
    transient = task(retries=3, retry_on=(TimeoutError, ConnectionError))(raising)
    with Flow() as flow:
        permanent = transient(str(tmp_path / "a"), "LookupError")  # a 404: fails at once
        flaky_call = transient(str(tmp_path / "b"), "ConnectionError")
    run = flow.run(executor=executor)
    assert len(run.attempts[permanent]) == 1
    assert len(run.attempts[flaky_call]) == 4
    with pytest.raises(LookupError, match="call 1"):
        run[permanent]


def test_retry_on_predicate_and_retry_node(executor: str, tmp_path: Path) -> None:
    dag = DAG()
    by_message = dag.add_node(raising, str(tmp_path / "a"), "ValueError")
    dag.retry_node(by_message, 2, retry_on=lambda e: "call 1" in str(e))  # only the first
    by_class = dag.add_node(raising, str(tmp_path / "b"), "ValueError")
    dag.retry_node(by_class, 2, retry_on=ValueError)
    run = dag.run(executor=executor)
    assert [a.error for a in run.attempts[by_message]] == [
        "ValueError: call 1", "ValueError: call 2"]
    assert len(run.attempts[by_class]) == 3
    assert dag.get_node(by_class).options.retry_on == (ValueError,)


def test_retry_on_is_checked() -> None:
    with pytest.raises(webber.TaskDefinitionError, match="retry_on"):
        task(retries=1, retry_on="ValueError")(len)  # type: ignore[call-overload]
