"""A task's log records reach the caller's logging, as if the task ran there.

In a worker process, logging has no configuration of its own: the records
go to the caller, which hands them to its logger of the same name (at the
caller's root level: a record the caller would drop is not sent). On every
executor a record made in a task names it (``record.task``, ``record.node``)."""

from __future__ import annotations

import logging
import threading
from typing import Any

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


def loads(path: str) -> str:
    log = logging.getLogger("webber_test.task")
    log.warning("loading %s", path)
    log.warning("labelled", extra={"task": "mine"})
    return path


def test_a_tasks_records_carry_its_task_and_node(
        executor: str, caplog: pytest.LogCaptureFixture) -> None:
    """On every executor, as a record a task makes in a worker process does: a
    ``%(task)s`` format works on threads and inline as on processes."""
    if executor == "dask":
        pytest.skip("a dask worker's logging is dask's own (documented): client.get_worker_logs()")
    flow = DAG()
    node = flow.add_node(loads, "data.csv")
    flow.run(executor=executor)
    mine = [r for r in caplog.records if r.name == "webber_test.task"]
    formatter = logging.Formatter("%(task)s %(node)s %(message)s")
    assert [formatter.format(r) for r in mine] == [
        f"loads {node} loading data.csv", f"mine {node} labelled"]  # extra= wins


BASIC_CONFIG = """
import logging, sys
logging.basicConfig(format="%(task)s %(node)s %(name)s: %(message)s", stream=sys.stdout)
import webber

def load(path):
    logging.getLogger("app").warning("loading %s", path)
    return path

dag = webber.DAG()
dag.add_node(load, "data.csv")
dag.run(executor={executor!r})
"""


@pytest.mark.timeout(60)
def test_a_task_format_after_basic_config_formats_a_tasks_records(executor: str) -> None:
    if executor == "dask":
        pytest.skip("a dask worker's logging is dask's own (documented): client.get_worker_logs()")
    from tests.conformance.test_output import run_code

    result = run_code(BASIC_CONFIG.format(executor=executor))
    assert result.returncode == 0, result.stderr
    assert "Logging error" not in result.stderr, result.stderr
    assert result.stdout.splitlines() == ["load load-1 app: loading data.csv"]


def test_records_are_tagged_only_while_runs_are_active(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two runs at once in two threads: the one that ends first leaves the
    other's records tagged, and the last puts back the makeRecord that was
    there (the user's own, here), which made every record meanwhile."""
    made: list[str] = []
    stdlib = logging.Logger.makeRecord

    def users(self: logging.Logger, *args: Any, **kwargs: Any) -> logging.LogRecord:
        made.append(args[4])  # (name, level, fn, lno, msg, ...)
        return stdlib(self, *args, **kwargs)

    monkeypatch.setattr(logging.Logger, "makeRecord", users)
    second_started, first_done = threading.Event(), threading.Event()

    def late() -> None:
        second_started.set()
        assert first_done.wait(20)
        logging.getLogger("webber_test.late").warning("late")

    def early() -> None:
        logging.getLogger("webber_test.early").warning("early")

    second, first = DAG(), DAG()
    late_node, early_node = second.add_node(late), first.add_node(early)
    thread = threading.Thread(target=second.run, kwargs={"executor": "threads"})
    thread.start()
    try:
        assert second_started.wait(20)
        first.run(executor="inline")
    finally:
        first_done.set()
        thread.join(20)
    records = {r.getMessage(): r for r in caplog.records if r.name.startswith("webber_test.")}
    assert _tags(records["early"]) == ("early", early_node)
    assert _tags(records["late"]) == ("late", late_node)
    assert logging.Logger.makeRecord is users
    assert {"early", "late"} <= set(made)
    logging.getLogger("webber_test.after").warning("after")
    assert _tags(caplog.records[-1]) == (None, None)


def _tags(record: logging.LogRecord) -> tuple[Any, Any]:
    fields = vars(record)
    return fields.get("task"), fields.get("node")


def own_level(name: str) -> int:
    log = logging.getLogger(name)
    log.debug("not wanted")
    log.info("info of a logger with a level of its own")
    logging.getLogger(f"{name}.child").info("and of its child")
    return log.getEffectiveLevel()


def test_a_logger_with_a_level_of_its_own_passes_a_tasks_records_as_in_the_caller(
        executor: str, caplog: pytest.LogCaptureFixture) -> None:
    """``logging.getLogger("app").setLevel(logging.INFO)``, the root left at
    WARNING: a task's INFO records of "app" reach the caller. On processes the
    worker knew the root's level alone, dropped them, and said nothing."""
    if executor == "dask":
        pytest.skip("a dask worker's logging is dask's own (documented): client.get_worker_logs()")
    name = "webber_test.own"
    assert logging.getLogger().getEffectiveLevel() == logging.WARNING
    caplog.set_level(logging.INFO, logger=name)  # (the root's level stays WARNING)
    flow = DAG()
    node = flow.add_node(own_level, name)
    run = flow.run(executor=executor, max_workers=1)
    assert run[node] == logging.INFO  # the task saw the caller's level
    assert [(r.name, r.getMessage()) for r in caplog.records if r.name.startswith(name)] == [
        (name, "info of a logger with a level of its own"), (f"{name}.child", "and of its child")]
    caplog.clear()
    logging.getLogger(name).setLevel(logging.NOTSET)  # the caller takes its level back
    run = flow.run(executor=executor, max_workers=1)  # (the same worker, on processes)
    assert run[node] == logging.WARNING
    assert not [r for r in caplog.records if r.name.startswith(name)]
