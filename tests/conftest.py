"""Shared fixtures: the executors every conformance test runs on, and log capture."""

from __future__ import annotations

import logging

import pytest

#: Every executor the conformance suite proves; a new executor is one more entry
#: (e.g. "dask" once webber.DaskExecutor exists).
EXECUTORS = ["inline", "threads", "processes"]

#: The executors that run tasks in the test's own process (threading.Event,
#: Barrier and in-memory counters only work there).
IN_PROCESS = ["inline", "threads"]


@pytest.fixture(params=EXECUTORS, ids=EXECUTORS)
def executor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True)
def _webber_logs_at_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="webber")


def task_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    """(task name, line) of every task-output record captured so far."""
    return [
        (r.task, r.getMessage())  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == "webber" and hasattr(r, "stream")
    ]
