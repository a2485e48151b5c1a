"""The contract's authoring examples, run on every executor."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import webber
from tests.conftest import task_lines
from webber import Flow, task


@task
def load(path: str) -> list[int]:
    """Read rows from ``path``."""
    return [3, -1, 2, 7]


@task(name="clean", retries=2, retry_delay=0.1, timeout=30.0)
def clean(rows: list[int]) -> list[int]:
    return [r for r in rows if r >= 0]


@task
def square(x: int) -> int:
    return x * x


def test_contract_style_one(executor: str) -> None:
    assert load("x.csv") == [3, -1, 2, 7]  # outside a flow: a plain call
    with Flow("etl") as flow:
        rows = load("x.csv")
        good = clean(rows)
        hi = task(lambda: "Hello")()
        sq = square.map(rows)
        rows >> hi
    plan = flow.compile()
    assert plan.levels == [["load-1"], ["clean-1", "lambda-1", "square-1"]]
    node = flow.get_node(good)
    assert (node.name, node.retries, node.retry_delay, node.timeout) == ("clean", 2, 0.1, 30.0)
    run = flow.run(executor=executor)
    assert run[good] == [3, 2, 7]
    assert run[hi] == "Hello"
    assert run[sq] == [9, 1, 4, 49]
    assert run.ok


def test_closures_and_lambdas(executor: str) -> None:
    offset = 10

    def add_offset(x: int) -> int:
        return x + offset

    with Flow() as flow:
        a = task(add_offset)(1)
        b = task(lambda x: x * 2)(a)
    run = flow.run(executor=executor)
    assert run[b] == 22


def test_tasks_called_inside_tasks_are_plain_calls(executor: str) -> None:
    @task
    def outer(x: int) -> int:
        return square(x) + 1  # inside a running task: no flow is active

    with Flow() as flow:
        n = outer(3)
    assert flow.run(executor=executor)[n] == 10


def test_run_options(executor: str) -> None:
    with Flow() as flow:
        n = square(4)
    run = flow.run(executor=executor, max_workers=2, progress=True)
    assert run[n] == 16


# -- the seed README's code block, verbatim -----------------------------------------

#: The code block of the seed's README (shared/seed/webber-readme.md), verbatim:
#: examples/hello.py builds the same DAG, then runs it under a __main__ guard (so
#: that `python -m webber run` can load it without running it); the seed's block
#: runs it at the top level, with the seed's comment, and draws it.
HELLO = Path(__file__).resolve().parents[2] / "examples" / "hello.py"
SEED_README_BLOCK = HELLO.read_text().split('"""\n\n', 1)[1].split("if __name__", 1)[0] + (
    "dag.execute()\n"
    "# 2024-06-12 21:53:42,233           print: Hello\n"
    "# 2024-06-12 21:53:42,248           print: World!\n"
    "\n"
    "dag.visualize()\n"
)

SEED_README = Path("/work/shared/seed/webber-readme.md")

#: "2024-06-12 21:53:42,233           print: Hello World!" -- print(a, b) is ONE line.
SEED_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}           print: Hello World!")


@pytest.mark.skipif(not SEED_README.exists(), reason="the seed README is not on this machine")
def test_the_block_is_the_seed_readme_verbatim() -> None:
    text = SEED_README.read_text()
    block = text.split("```python\n", 1)[1].split("```", 1)[0]
    assert block == SEED_README_BLOCK


def test_seed_readme_block_runs_verbatim(
    executor: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("graphviz")  # dag.visualize() builds a Digraph (no `dot` needed)
    runs: list[webber.Run] = []
    execute = webber.DAG.execute

    def execute_on(self: webber.DAG, *args: object, **kwargs: object) -> webber.Run:
        run = execute(self, executor, **kwargs)  # type: ignore[arg-type]
        runs.append(run)
        return run

    monkeypatch.setattr(webber.DAG, "execute", execute_on)
    namespace: dict[str, object] = {"__name__": "seed_readme"}
    exec(compile(SEED_README_BLOCK, "webber-readme.md", "exec"), namespace)
    (run,) = runs
    assert run.ok and run.succeeded == ["lambda-1", "lambda-2", "print-1"]
    assert (namespace["fun_1"], namespace["fun_2"], namespace["fun_3"]) == (
        "lambda-1", "lambda-2", "print-1",
    )
    assert run["lambda-1"] == "Hello" and run["print-1"] is None
    assert task_lines(caplog) == [("print", "Hello World!")]
    (record,) = [r for r in caplog.records if hasattr(r, "stream")]
    assert record.levelno == logging.INFO
    assert SEED_LINE.fullmatch(webber._output.TaskFormatter().format(record))


PRELUDE = """\
import webber
_execute = webber.DAG.execute
webber.DAG.execute = lambda self, *a, **k: _execute(self, {executor!r}, **k)
"""


@pytest.mark.timeout(180)
def test_seed_readme_block_prints_the_seed_line_with_the_default_handler(executor: str) -> None:
    """A fresh interpreter, no logging configured: webber's own handler prints
    the seed's line on stdout, and nothing else."""
    pytest.importorskip("graphviz")
    code = PRELUDE.format(executor=executor) + SEED_README_BLOCK
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=150,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    assert SEED_LINE.fullmatch(lines[0]), lines[0]
    # On a loaded machine a LocalCluster's nanny may warn while it closes
    # (its workers take over 4 s to stop): dask's teardown, not webber's output.
    stderr = [line for line in result.stderr.splitlines()
              if "distributed.nanny - WARNING - Worker process still alive" not in line]
    assert stderr == [], result.stderr


def test_ordering_edges_in_every_shape(executor: str) -> None:
    @task
    def stamp(tag: str) -> str:
        import time

        return f"{tag}@{time.time():.6f}"

    with Flow() as flow:
        a = stamp("a")
        b = stamp("b")
        c = stamp("c")
        d = stamp("d")
        assert (a >> [b, c]) == [b, c]
        assert ([b, c] >> d) is d
    assert sorted(flow.edges) == [
        ("stamp-1", "stamp-2"), ("stamp-1", "stamp-3"),
        ("stamp-2", "stamp-4"), ("stamp-3", "stamp-4"),
    ]
    assert all(not e.data for e in flow.get_edges())
    assert flow.compile().levels == [["stamp-1"], ["stamp-2", "stamp-3"], ["stamp-4"]]
    run = flow.run(executor=executor)
    assert [run[n].split("@")[0] for n in (a, b, c, d)] == ["a", "b", "c", "d"]
    starts = {n: run.attempts[n][0].started for n in (a, b, c, d)}
    ends = {n: run.attempts[n][0].started + run.attempts[n][0].duration for n in (a, b, c, d)}
    assert starts[b] >= ends[a] - 0.01 and starts[c] >= ends[a] - 0.01
    assert starts[d] >= max(ends[b], ends[c]) - 0.01


def test_promises_in_every_container_and_keyword(executor: str) -> None:
    @task
    def pack(*args: object, **kwargs: object) -> tuple[object, object]:
        return args, kwargs

    with Flow() as flow:
        one = square(1)
        two = square(2)  # 4
        out = pack([one, (two,)], {one, two}, frozenset([two]), {"k": [one]}, key={"n": two})
    assert flow.compile().levels == [["square-1", "square-2"], ["pack-1"]]
    run = flow.run(executor=executor)
    args, kwargs = run[out]
    assert args == ([1, (4,)], {1, 4}, frozenset([4]), {"k": [1]})
    assert kwargs == {"key": {"n": 4}}
