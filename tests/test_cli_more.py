"""``python -m webber run`` of a QueueDAG (a stream), and of a file that sets the executor."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.test_cli import webber_cli

pytestmark = pytest.mark.timeout(120)

STREAM = textwrap.dedent('''
    import itertools
    from webber import Promise, QueueDAG

    counter = itertools.count()
    stream = QueueDAG("squares")
    numbers = stream.add_node(lambda: next(counter), iterator=3)
    squares = stream.add_node(pow, Promise(numbers), 2)
    report = stream.add_node(print, "square", Promise(squares))
''')


@pytest.mark.parametrize("executor", ["processes", "threads", "inline"])
def test_run_streams_a_queue_dag_and_counts_its_items(tmp_path: Path, executor: str) -> None:
    # it was run as a DAG: "OptionError: ... execute() takes no max_workers=", exit 2
    (tmp_path / "stream.py").write_text(STREAM)
    result = webber_cli("run", "stream.py", "--executor", executor, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()  # (the CLI prints task lines to stdout)
    assert [line.split("print: ")[1] for line in lines if "print: " in line] == [
        "square 0", "square 1", "square 4",
    ]
    assert lines[-1].startswith("squares: 3 items through 3 stages in ")


def test_a_failed_stage_exits_1_naming_the_item_and_the_error(tmp_path: Path) -> None:
    (tmp_path / "stream.py").write_text(STREAM.replace('pow, Promise(numbers), 2',
                                                       'divmod, 1, Promise(numbers)'))
    result = webber_cli("run", "stream.py", "--executor", "threads", cwd=tmp_path)
    assert result.returncode == 1
    assert "item 0 of the stream" in result.stderr and "ZeroDivisionError" in result.stderr
    assert "squares: failed after " in result.stdout
    assert result.stdout.rstrip().endswith("ZeroDivisionError: integer division or modulo by zero")


def test_options_a_stream_has_no_use_for_are_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "stream.py").write_text(STREAM)
    result = webber_cli("run", "stream.py", "--workers", "2", "--progress", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (
        "webber: squares is a QueueDAG (a stream: one worker per stage, and no Run to draw, "
        "store or watch); leave out --workers, --progress (of run's options, it takes "
        "--executor)\n"
    )


CONFIGURED = textwrap.dedent('''
    import os
    import webber
    from webber import Flow, task

    webber.config.executor = "threads"
    CALLER = os.getpid()  # (the CLI's process, which loads the file)

    @task
    def report():
        print("in the caller" if os.getpid() == CALLER else "in a worker process")

    with Flow("configured") as flow:
        report()
''')


def test_the_files_own_executor_setting_wins_over_the_variable(tmp_path: Path) -> None:
    # as run --help says: webber.config.executor set by the file, then $WEBBER_EXECUTOR
    (tmp_path / "configured.py").write_text(CONFIGURED)
    result = webber_cli("run", "configured.py", cwd=tmp_path,
                        env={"WEBBER_EXECUTOR": "processes"})
    assert result.returncode == 0, result.stderr
    assert "report: in the caller" in result.stdout
    result = webber_cli("run", "configured.py", "--executor", "processes", cwd=tmp_path)
    assert "report: in a worker process" in result.stdout  # --executor wins over both
