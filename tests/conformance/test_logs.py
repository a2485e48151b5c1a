"""A task's log records reach the caller's logging, as if the task ran there.

In a worker process, logging has no configuration of its own: the records
go to the caller, which hands them to its logger of the same name (at the
caller's root level: a record the caller would drop is not sent)."""

from __future__ import annotations

import logging

import pytest

from webber import DAG


def logs() -> int:
    log = logging.getLogger("webber_test.task")
    log.debug("not wanted")
    log.info("info %s", "formatted")
    log.warning("a warning")
    try:
        raise ValueError("inside")
    except ValueError:
        log.exception("caught")
    return 7


def test_a_tasks_log_records_reach_the_callers_loggers(
        executor: str, caplog: pytest.LogCaptureFixture) -> None:
    if executor == "dask":
        pytest.skip("a dask worker's logging is dask's own (documented): client.get_worker_logs()")
    caplog.set_level(logging.INFO)
    flow = DAG()
    node = flow.add_node(logs)
    run = flow.run(executor=executor)
    assert run[node] == 7
    mine = [r for r in caplog.records if r.name == "webber_test.task"]
    assert [(r.levelname, r.getMessage()) for r in mine] == [
        ("INFO", "info formatted"), ("WARNING", "a warning"), ("ERROR", "caught")]
    assert "ValueError: inside" in caplog.text
    # (none of them printed as a task's output line instead)
    assert not [r for r in caplog.records if r.name == "webber" and "warning" in r.getMessage()]
