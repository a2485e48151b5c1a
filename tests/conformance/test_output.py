"""What tasks print reaches the "webber" logger, one record per line, attributed."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

import webber
from tests.conftest import task_lines
from webber import DAG, Flow, Promise, _output, task


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
    # Each line says which run printed it: one number (JSON log formatters write it out).
    runs = {r.run for r in caplog.records if hasattr(r, "stream")}  # type: ignore[attr-defined]
    assert len(runs) == 1 and isinstance(runs.pop(), int)


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


@pytest.fixture
def bare_logging() -> Iterator[tuple[logging.Logger, logging.Logger]]:
    """The ``webber`` and root loggers, their handlers and level put back after
    (a test clears them itself: pytest adds its own to the root after setup)."""
    logger = logging.getLogger("webber")
    root = logging.getLogger()
    saved = (logger.handlers[:], root.handlers[:], logger.level)
    try:
        yield logger, root
    finally:
        logger.handlers[:], root.handlers[:] = saved[0], saved[1]
        logger.setLevel(saved[2])


def test_default_handler_only_without_configuration(
    bare_logging: tuple[logging.Logger, logging.Logger],
) -> None:
    logger, root = bare_logging
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


def test_a_configuration_made_after_a_run_takes_the_default_handlers_place(
    bare_logging: tuple[logging.Logger, logging.Logger],
) -> None:
    # logging.basicConfig() in a notebook's cell after a first run: each line
    # was written twice, by webber's handler (stdout) and by the root's (stderr).
    logger, root = bare_logging
    logger.handlers.clear()
    root.handlers.clear()
    webber._output.ensure_handler()
    assert [type(h) for h in logger.handlers] == [webber._output._StdoutHandler]
    root.addHandler(logging.NullHandler())  # what basicConfig() does
    webber._output.ensure_handler()
    assert logger.handlers == []
    root.handlers.clear()  # the configuration undone: output must still reach someone
    webber._output.ensure_handler()
    assert [type(h) for h in logger.handlers] == [webber._output._StdoutHandler]
    watching = webber._output.Observer()  # the dashboard's: not the user's configuration
    logger.addHandler(watching)
    webber._output.ensure_handler()
    assert [type(h) for h in logger.handlers] == [webber._output._StdoutHandler, type(watching)]
    logger.removeHandler(watching)
    mine = logging.NullHandler()
    logger.addHandler(mine)  # a handler of the user's on "webber" itself
    webber._output.ensure_handler()
    assert logger.handlers == [mine]


# -- record fields, partial lines, failures, fan-outs -------------------------------


def test_each_line_is_one_info_record_with_task_stream_and_node(
    executor: str, caplog: pytest.LogCaptureFixture
) -> None:
    dag = DAG()
    n = dag.add_node(print, "one\ntwo\n\nfour")  # one print(), four lines (one empty)
    dag.run(executor=executor)
    records = [r for r in caplog.records if hasattr(r, "stream")]
    assert [r.getMessage() for r in records] == ["one", "two", "", "four"]
    for record in records:
        assert record.name == "webber"
        assert record.levelno == logging.INFO
        assert record.task == "print"  # type: ignore[attr-defined]
        assert record.node == n  # type: ignore[attr-defined]
        assert record.stream == "stdout"  # type: ignore[attr-defined]


def crlf_then_fail() -> None:
    sys.stdout.write("windows line\r\n")
    sys.stderr.write("partial error text")
    print("partial out", end="")
    raise RuntimeError("after printing")


def test_partial_lines_of_a_failing_task_are_not_lost(
    executor: str, caplog: pytest.LogCaptureFixture
) -> None:
    dag = DAG()
    dag.add_node(crlf_then_fail)
    run = dag.run(executor=executor)
    assert not run.ok
    lines = sorted(task_lines(caplog))
    assert lines == [
        ("crlf_then_fail", "partial error text"),
        ("crlf_then_fail", "partial out"),
        ("crlf_then_fail", "windows line"),
    ]


def redraws() -> None:
    for i in range(1, 2001):  # a progress bar (tqdm's, say) redrawing its line
        sys.stderr.write(f"\r{i}/2000")
    sys.stderr.write("\n")
    print("first\rsecond")  # a line redrawn within one write
    sys.stdout.write("kept\r")  # (a "\r\n" cut in two by the writes)
    sys.stdout.write("\n")
    sys.stdout.write("old\rnew")  # unfinished when the task ends


def test_a_line_redrawn_with_carriage_returns_is_logged_as_last_drawn(
    executor: str, caplog: pytest.LogCaptureFixture
) -> None:
    """As a terminal shows it. Before, a progress bar in a task was one line
    of every state it drew (2,000 here: 20,000 made a line of 810 KB), grown
    in memory for as long as the task ran."""
    dag = DAG()
    dag.add_node(redraws)
    assert dag.run(executor=executor).ok
    assert sorted(task_lines(caplog)) == [
        ("redraws", "2000/2000"), ("redraws", "kept"), ("redraws", "new"),
        ("redraws", "second")]


def test_a_line_written_a_character_at_a_time_arrives_whole() -> None:
    """``print(".", end="")`` in a loop: the unfinished line is kept as its
    pieces and joined once (each write copied all the line before it: 80,000
    dots took 2 s, and 10 times as many 100 times as long)."""
    with _output.collecting() as lines:
        sink = _output._Sink("dots")
        for _ in range(100_000):
            sink.write("stdout", ".")
        sink.write("stdout", "!\n")
        sink.close()
    assert lines == [("stdout", "." * 100_000 + "!")]


def print_then_hang(seconds: float) -> None:
    print("started, then stuck", flush=True)
    time.sleep(seconds)


def test_lines_a_task_printed_before_its_timeout_are_not_lost(
    executor: str, caplog: pytest.LogCaptureFixture
) -> None:
    """They say where it got stuck (inline, which cannot interrupt it, fails it
    when it returns). The sibling keeps the run going: on dask the lines come
    when the task ends."""
    dag = DAG()
    stuck = dag.add_node(print_then_hang, 1.5)
    dag.update_nodes(stuck, timeout=0.5)
    dag.add_node(time.sleep, 3.0)
    run = dag.run(executor=executor)
    assert isinstance(run.error(stuck), webber.TaskTimeoutError)
    assert ("print_then_hang", "started, then stuck") in task_lines(caplog)


def test_a_failure_is_logged_at_error_with_its_traceback(
    executor: str, caplog: pytest.LogCaptureFixture
) -> None:
    dag = DAG()
    n = dag.add_node(crlf_then_fail)
    dag.relabel_node(n, "fragile")
    dag.run(executor=executor)
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.name == "webber"
    assert record.task == "fragile"  # type: ignore[attr-defined]
    assert record.node == n  # type: ignore[attr-defined]
    assert record.exc_info is not None
    exc_type, exc, _ = record.exc_info
    assert exc_type is RuntimeError and str(exc) == "after printing"
    assert "RuntimeError: after printing" in caplog.text  # the traceback was formatted
    formatted = webber._output.TaskFormatter().format(record)
    assert f" {'fragile':>15}: task crlf_then_fail-1 failed after 1 attempt" in formatted


def test_fan_out_elements_print_under_the_task_name(
    executor: str, caplog: pytest.LogCaptureFixture
) -> None:
    @task(name="shout")
    def shout(word: str) -> None:
        print(word.upper())

    with Flow() as flow:
        shout.map(["a", "b", "c"])
    flow.run(executor=executor)
    lines = task_lines(caplog)
    assert sorted(lines) == [("shout", "A"), ("shout", "B"), ("shout", "C")]


def test_the_default_format_matches_the_seed() -> None:
    record = logging.LogRecord("webber", logging.INFO, __file__, 1, "Hello", None, None)
    record.task = "print"
    record.created = 1718229222.233  # any time: only the shape is checked
    record.msecs = 233.0
    text = webber._output.TaskFormatter().format(record)
    import re

    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,233           print: Hello", text)
    assert webber._output.FORMAT == "%(asctime)s %(task)15s: %(message)s"
    plain = logging.LogRecord("webber", logging.INFO, __file__, 1, "note", None, None)
    assert webber._output.TaskFormatter().format(plain).endswith("          webber: note")


def test_long_task_names_keep_the_columns_aligned() -> None:
    formatter = webber._output.TaskFormatter()
    texts = []
    for name in ("print", "download_every_report_of_the_year", "exactly_15_char"):
        record = logging.LogRecord("webber", logging.INFO, __file__, 1, "text", None, None)
        record.task = name
        texts.append(formatter.format(record))
        assert record.task == name  # other handlers still see the full name
    assert len({text.index(": text") for text in texts}) == 1, texts  # one column
    assert texts[1].endswith(" downlo~the_year: text")  # its start and its end
    assert texts[2].endswith(" exactly_15_char: text")


CONFIGURED = """
import logging, sys
logging.basicConfig(level=logging.INFO, format="ROOT %(task)s|%(stream)s|%(message)s",
                    stream=sys.stdout)
import webber
dag = webber.DAG()
dag.add_node(print, "hi there")
dag.run(executor={executor!r})
print("handlers on webber:", len(logging.getLogger("webber").handlers))
"""


def run_code(code: str) -> subprocess.CompletedProcess[str]:
    """``code`` run by a fresh interpreter that imports this webber."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=50, check=False)


@pytest.mark.timeout(60)
def test_a_configured_root_logger_wins_over_the_default_handler(executor: str) -> None:
    result = run_code(CONFIGURED.format(executor=executor))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["ROOT print|stdout|hi there", "handlers on webber: 0"]


# -- a task that closes sys.stdout ---------------------------------------------------


@task
def closes_stdout() -> None:
    sys.stdout.close()
    print("after close")
    with sys.stdout as out:  # a stream is a context manager, which closes it too
        out.write("inside with\n")
    print("after with")


@task
def prints_later() -> None:
    print("later line")


def test_a_task_closing_stdout_closes_nothing(
    executor: str, capsys: pytest.CaptureFixture[str]
) -> None:
    logger = logging.getLogger("webber")
    handler = _output._StdoutHandler()  # the default handler: writes to sys.stdout
    handler.setFormatter(logging.Formatter("%(task)s: %(message)s"))
    logger.addHandler(handler)
    try:
        with Flow() as flow:
            closing = closes_stdout()
            later = prints_later()
            closing >> later
        flow.run(executor=executor)
        print("the caller still prints")
    finally:
        logger.removeHandler(handler)
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "closes_stdout: after close", "closes_stdout: inside with", "closes_stdout: after with",
        "prints_later: later line", "the caller still prints",
    ]
    assert "Logging error" not in err and "closed file" not in err


CLOSER = """
import sys
import webber

def closes(stream):
    getattr(sys, stream).close()
    print("after close")

dag = webber.DAG()
dag.add_node(closes, {stream!r})
dag.run(executor="processes", max_workers=1)
print("the caller still prints")
"""


@pytest.mark.timeout(60)
@pytest.mark.parametrize("stream", ["stdout", "__stdout__"])  # the router, the worker's own
def test_a_worker_whose_task_closed_stdout_exits_cleanly(stream: str) -> None:
    result = run_code(CLOSER.format(stream=stream))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no traceback from the worker's exit
    assert result.stdout.endswith("the caller still prints\n")
