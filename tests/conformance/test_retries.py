"""Retries, delays and backoff, timeouts: attempt counts are exact on every executor."""

from __future__ import annotations

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
    limited = task(timeout=0.2)(slow)
    with Flow() as flow:
        late = limited(0.6)
        quick = limited(0.0)
    run = flow.run(executor=executor)
    assert run.state(quick) == "success"
    assert run.state(late) == "failed"
    with pytest.raises(webber.TaskTimeoutError, match=r"0\.2 s") as info:
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
