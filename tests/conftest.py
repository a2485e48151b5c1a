"""Shared fixtures: the executors every conformance test runs on, and log capture."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterator
from typing import Any

import pytest

#: dask is optional: without it the "dask" entries are left out, not failed.
HAVE_DASK = importlib.util.find_spec("distributed") is not None

#: Every executor the conformance suite proves; a new executor is one more entry.
EXECUTORS = ["inline", "threads", "processes", *(["dask"] if HAVE_DASK else [])]

#: The executors that run tasks in the test's own process (threading.Event,
#: Barrier and in-memory counters only work there).
IN_PROCESS = ["inline", "threads"]


@pytest.fixture(params=EXECUTORS, ids=EXECUTORS)
def executor(request: pytest.FixtureRequest) -> str:
    name = str(request.param)
    if name == "dask":
        # executor="dask" starts a LocalCluster for each run (seconds each); in
        # this process the runs share one cluster for the session instead.
        # Tests that run a flow in a subprocess still start their own.
        client = request.getfixturevalue("dask_client")
        monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
        from webber.executors import dask

        monkeypatch.setattr(dask, "_local_cluster", lambda n_workers: (client, lambda: None))
    return name


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Any]:
    """A Client of a LocalCluster of 2 single-threaded worker processes, for the session."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    client = distributed.Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()


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
