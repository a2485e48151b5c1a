"""What tasks print reaches the "webber" logger, one record per line, attributed."""

from __future__ import annotations

import logging
import sys

import pytest

import webber
from tests.conftest import task_lines
from webber import DAG, Flow, Promise, task


@task
def chatty(name: str) -> str:
    print(f"hello from {name}")
    print("second line", "with", "words")
    sys.stderr.write("to stderr\n")
    print("no newline at the end", end="")
    return name


def test_lines_are_attributed_and_split(executor: str, caplog: pytest.LogCaptureFixture) -> None:
    with Flow() as flow:
        chatty("a")
    flow.run(executor=executor)
    assert task_lines(caplog) == [
        ("chatty", "hello from a"),
        ("chatty", "second line with words"),
        ("chatty", "to stderr"),
        ("chatty", "no newline at the end"),
    ]
    streams = [r.stream for r in caplog.records if hasattr(r, "stream")]  # type: ignore[attr-defined]
    assert streams == ["stdout", "stdout", "stderr", "stdout"]
    nodes = {r.node for r in caplog.records if hasattr(r, "stream")}  # type: ignore[attr-defined]
    assert nodes == {"chatty-1"}


def test_relabelled_task_logs_under_its_label(
    executor: str, caplog: pytest.LogCaptureFixture
) -> None:
    dag = DAG()
    n = dag.add_node(print, "labelled")
    dag.relabel_node(n, "announce")
    dag.run(executor=executor)
    assert task_lines(caplog) == [("announce", "labelled")]


def test_seed_example_prints_in_the_seed_format(
    executor: str, caplog: pytest.LogCaptureFixture
) -> None:
    dag = webber.DAG()
    fun_1: str = dag.add_node(lambda: "Hello")
    fun_2: str = dag.add_node(lambda: "World!")
    fun_3: str = dag.add_node(print, Promise(fun_1), Promise(fun_2))
    dag.add_edge(fun_1, fun_3)
    dag.add_edge(fun_2, fun_3)
    dag.execute(executor=executor)
    (record,) = [r for r in caplog.records if hasattr(r, "stream")]
    formatted = webber._output.TaskFormatter().format(record)
    # "2024-06-12 21:53:42,233           print: Hello World!"
    assert formatted.endswith("           print: Hello World!")
    assert formatted[4] == "-" and formatted[19] == ","
    assert formatted[23:] == "           print: Hello World!"


def test_output_outside_tasks_is_untouched(
    executor: str, capsys: pytest.CaptureFixture[str]
) -> None:
    dag = DAG()
    dag.add_node(print, "inside")
    print("before")
    dag.run(executor=executor)
    print("after")
    assert capsys.readouterr().out == "before\nafter\n"


def test_default_handler_only_without_configuration() -> None:
    logger = logging.getLogger("webber")
    root = logging.getLogger()
    saved = (logger.handlers[:], root.handlers[:], logger.level)
    try:
        logger.handlers.clear()
        root.handlers.clear()
        logger.setLevel(logging.NOTSET)
        webber._output.ensure_handler()
        assert len(logger.handlers) == 1
        assert logger.level == logging.INFO
        webber._output.ensure_handler()
        assert len(logger.handlers) == 1  # idempotent
        logger.handlers.clear()
        root.addHandler(logging.NullHandler())
        webber._output.ensure_handler()
        assert logger.handlers == []  # the user's configuration wins
    finally:
        logger.handlers[:], root.handlers[:] = saved[0], saved[1]
        logger.setLevel(saved[2])
