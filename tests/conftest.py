"""Shared fixtures: the executors every conformance test runs on, log capture, and
the dashboard's batches as the page reads them."""

from __future__ import annotations

import base64
import importlib.util
import json
import logging
import os
import sys
import threading
from array import array
from collections.abc import Callable
from typing import Any

import pytest

from webber import Listener

#: dask is optional: without it the "dask" entries are left out, not failed.
HAVE_DASK = importlib.util.find_spec("distributed") is not None

#: Every executor the conformance suite proves; a new executor is one more entry.
#: With WEBBER_POOL set (``portable``: the process pool's other path, see
#: webber/executors/_spawn.py), a run of the suite proves that path only.
EXECUTORS = ["inline", "threads", "processes", *(["dask"] if HAVE_DASK else [])]
if os.environ.get("WEBBER_POOL"):
    EXECUTORS = ["processes"]

#: The executors that run tasks in the test's own process (threading.Event,
#: Barrier and in-memory counters only work there).
IN_PROCESS = ["inline", "threads"]


@pytest.fixture(params=EXECUTORS, ids=EXECUTORS)
def executor(request: pytest.FixtureRequest) -> str:
    name = str(request.param)
    if name == "dask":
        # executor="dask" starts a LocalCluster for each run (seconds each); in
        # this process the conformance suite shares one (its dask_client fixture).
        # Tests that run a flow in a subprocess still start their own.
        client = request.getfixturevalue("dask_client")
        monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
        from webber.executors import dask

        monkeypatch.setattr(dask, "_local_cluster", lambda n_workers: (client, lambda: None))
    return name


_schema_validator: Any = None


def check_graph_document(document: dict[str, Any]) -> None:
    """Raise unless ``document`` meets the JSON Schema shipped in the package."""
    global _schema_validator
    if _schema_validator is None:
        import jsonschema

        from webber._describe import schema_path

        schema = json.loads(schema_path().read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        _schema_validator = jsonschema.Draft202012Validator(schema)
    _schema_validator.validate(document)


@pytest.fixture(autouse=True)
def _every_graph_document_meets_the_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every to_dict()/to_json() of every test is checked against the schema."""
    from webber import _describe

    describe = _describe.describe

    def checked(dag: Any, strict: bool = True) -> dict[str, Any]:
        document = describe(dag, strict)
        check_graph_document(document)
        return document

    monkeypatch.setattr(_describe, "describe", checked)


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


class Starts(Listener):
    """A listener (``listeners=[Starts(event)]``) that sets ``event`` when a
    task starts: a test waits for it, not for a time."""

    def __init__(self, event: Any) -> None:
        self.event = event

    def on_task_start(self, node: str, attempt: int, index: int | None, worker: str) -> None:
        self.event.set()


def appears(marker: str) -> bool:
    """A task that waits (60 s at most) for the file ``marker`` to exist: made
    by the caller's side while the task runs (an event, the event loop)."""
    import time
    from pathlib import Path

    path = Path(marker)
    deadline = time.monotonic() + 60
    while not path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def looks_only_when_woken(monkeypatch: pytest.MonkeyPatch) -> None:
    """A dashboard page's thread looks again only when woken (no look every
    BATCH, no sleep after AWAKE): what reaches a page unwoken was written by
    the run's own thread."""
    from webber import _dashboard_http

    monkeypatch.setattr(_dashboard_http, "BATCH", 3600.0)
    monkeypatch.setattr(_dashboard_http, "AWAKE", 3600.0)


def waiting_for_a_run(monkeypatch: pytest.MonkeyPatch) -> Callable[[Any, Any, float], bool]:
    """``waits(dashboard, board, timeout)``: whether, within ``timeout``
    seconds, the thread of a page that shows ``board`` waits for another run
    (``_dashboard_http._idle``), done writing -- so the next run's own thread
    writes that run's end to the page (``Stream.hand``). (With
    :func:`looks_only_when_woken`: nothing else wakes it from that wait.)

    That its lock is free is not enough: between letting go of it and its wait,
    the thread can still see the next run shown and take its end itself. It
    says it goes to wait under the dashboard's ``changed``, which it keeps until
    the wait lets go of it: once the test holds ``changed`` after hearing it,
    the thread is in its wait."""
    from webber import _dashboard_http

    idle, said, waiting = _dashboard_http._idle, threading.Condition(), []

    def recorded(dashboard: Any, board: Any, *, asleep: bool) -> None:
        with dashboard.changed:
            with said:
                waiting.append(board)
                said.notify_all()
            idle(dashboard, board, asleep=asleep)

    def waits(dashboard: Any, board: Any, timeout: float) -> bool:
        with said:
            if not said.wait_for(lambda: board in waiting, timeout):
                return False
        with dashboard.changed:
            return True

    monkeypatch.setattr(_dashboard_http, "_idle", recorded)
    return waits


def decoded(news: bytes) -> dict[str, Any]:
    """A batch (``_dashboard_page.batch``) as the page reads it: its JSON, with
    the numbers of ``bin`` as lists (``node``, ``worker``, ``started``,
    ``duration`` per attempt, ``ended``: the nodes of the ends, which are the
    attempts' when the batch says ``same``)."""
    data = dict(json.loads(news))
    raw, at = base64.b64decode(data.pop("bin")), 0
    n, ends = data["att"]["n"], data["end"]["n"]
    node, worker = ({2: "H", 4: "I"}[size] for size in data["size"])
    same = data["end"]["same"]
    for name, code, count in (("node", node, n), ("worker", worker, n), ("started", "d", n),
                              ("duration", "d", n), ("ended", node, 0 if same else ends)):
        column = array(code)
        column.frombytes(raw[at:at + count * column.itemsize])
        if sys.byteorder == "big":
            column.byteswap()
        data[name], at = list(column), at + count * column.itemsize
    if same:  # each task's end right after its one attempt: the attempts' nodes
        data["ended"] = list(data["node"])
    assert at == len(raw)
    return data
