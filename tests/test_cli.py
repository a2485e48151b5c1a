"""``python -m webber run|show``, through a real subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)

PIPELINE = textwrap.dedent('''
    import os
    from webber import Condition, Flow, task

    @task
    def numbers(n):
        return list(range(n))

    @task
    def total(xs):
        print(f"total in pid {os.getpid()}")
        return sum(xs)

    @task
    def check(t, limit):
        if t > limit:
            raise ValueError(f"total {t} is over {limit}")
        return t

    LIMIT = int(os.environ.get("LIMIT", "100"))

    with Flow("pipeline") as flow:
        t = total(numbers(5))
        ok = check(t, LIMIT)
        task(lambda: "cleanup")() >> ok

    if __name__ == "__main__":
        raise SystemExit("the CLI must not run the __main__ block")
''')

TWO_FLOWS = textwrap.dedent('''
    from webber import DAG
    first = DAG("first")
    first.add_node(len, "ab")
    second = DAG("second")
    def build():
        dag = DAG("built")
        dag.add_node(len, "abc")
        return dag
''')


def webber_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
               ) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "webber", *args], capture_output=True, text=True,
        env=full_env, cwd=cwd, timeout=100, check=False,
    )


@pytest.fixture
def pipeline(tmp_path: Path) -> Path:
    path = tmp_path / "pipeline.py"
    path.write_text(PIPELINE)
    return path


@pytest.mark.parametrize("executor", ["processes", "threads", "inline"])
def test_run_succeeds_prints_task_lines_and_a_summary(pipeline: Path, executor: str) -> None:
    result = webber_cli("run", str(pipeline), "--executor", executor, "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert "total: total in pid" in result.stdout  # the task's print, attributed
    assert "pipeline: 4 succeeded, 0 failed, 0 skipped in" in result.stdout


def test_run_with_a_failed_task_exits_1_and_names_it(pipeline: Path, tmp_path: Path) -> None:
    timeline, diagram = tmp_path / "t.svg", tmp_path / "d.svg"
    args = ["run", f"{pipeline}:flow", "--timeline", str(timeline)]
    if shutil.which("dot"):
        args += ["--diagram", str(diagram)]
    result = webber_cli(*args, env={"LIMIT": "3"})
    assert result.returncode == 1, result.stderr
    assert "pipeline: 3 succeeded, 1 failed, 0 skipped" in result.stdout
    assert "failed: check-1: ValueError: total 10 is over 3" in result.stdout
    assert "<svg" in timeline.read_text()
    if shutil.which("dot"):
        assert "<svg" in diagram.read_text()


def test_run_progress_draws_a_bar_on_stderr(pipeline: Path) -> None:
    result = webber_cli("run", str(pipeline), "--progress", "-e", "threads")
    assert result.returncode == 0
    assert "4/4" in result.stderr


def test_show_prints_dot_source_and_json(pipeline: Path) -> None:
    result = webber_cli("show", str(pipeline))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("digraph pipeline {")
    assert '"total-1" -> "check-1"' in result.stdout
    result = webber_cli("show", f"{pipeline}:flow", "--json")
    structure = json.loads(result.stdout)
    assert [n["id"] for n in structure["nodes"]] == ["numbers-1", "total-1", "check-1", "lambda-1"]
    assert {"parent": "lambda-1", "child": "check-1", "continue_on": "Success",
            "data": False} in structure["edges"]


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_show_writes_a_file(pipeline: Path, tmp_path: Path) -> None:
    out = tmp_path / "flow.svg"
    result = webber_cli("show", str(pipeline), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "<svg" in out.read_text() and "check&#45;1" in out.read_text()


def test_show_without_dot_fails_with_the_install_hint(pipeline: Path, tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path)}  # no dot here
    result = webber_cli("show", str(pipeline), "-o", str(tmp_path / "x.png"), env=env)
    assert result.returncode == 2
    assert "apt-get install graphviz" in result.stderr


def test_targets_name_a_flow_or_a_builder(tmp_path: Path) -> None:
    path = tmp_path / "two.py"
    path.write_text(TWO_FLOWS)
    result = webber_cli("run", str(path))
    assert result.returncode == 2
    assert "several flows (first, second); pick one" in result.stderr
    result = webber_cli("run", f"{path}:first", "-e", "inline")
    assert result.returncode == 0 and "first: 1 succeeded" in result.stdout
    result = webber_cli("run", f"{path}:build", "-e", "inline")
    assert result.returncode == 0 and "built: 1 succeeded" in result.stdout
    result = webber_cli("run", f"{path}:nothing")
    assert result.returncode == 2 and "has no name 'nothing'" in result.stderr
    result = webber_cli("run", str(tmp_path / "missing.py"))
    assert result.returncode == 2 and "no such file" in result.stderr


def test_help_lists_every_option() -> None:
    result = webber_cli("--help")
    assert result.returncode == 0
    assert "run" in result.stdout and "show" in result.stdout and "examples:" in result.stdout
    run_help = webber_cli("run", "--help").stdout
    for option in ("--executor", "--workers", "--progress", "--timeline", "--diagram"):
        assert option in run_help
    show_help = webber_cli("show", "--help").stdout
    for option in ("--output", "--json"):
        assert option in show_help
    bad = webber_cli("run")
    assert bad.returncode == 2 and "target" in bad.stderr


def test_show_into_a_closed_pipe_is_quiet(tmp_path: Path) -> None:
    big = tmp_path / "big.py"  # DOT source far larger than a pipe's buffer
    big.write_text("from webber import DAG\ndag = DAG()\nfor i in range(3000):\n"
                   "    dag.add_node(abs, i)\n")
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "webber", "show", str(big)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(10)  # like `| head -c 10`: read a little, then leave
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0
    assert "Traceback" not in err and "BrokenPipeError" not in err
