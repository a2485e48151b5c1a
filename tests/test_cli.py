"""``python -m webber run|show``, through a real subprocess; the ``webber`` command in-process."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from webber import DAG, FormatError

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


@pytest.mark.parametrize("executor", ["processes", "threads"])
def test_a_failed_tasks_traceback_shows_the_files_lines(pipeline: Path, executor: str) -> None:
    # The file runs as a module no worker can import: its functions travel by
    # value, and must keep their file name and lines.
    result = webber_cli("run", str(pipeline), "-e", executor, env={"LIMIT": "3"})
    assert result.returncode == 1, result.stderr
    line = next(i for i, text in enumerate(PIPELINE.splitlines(), 1) if "is over" in text)
    assert f'File "{pipeline}", line {line}, in check' in result.stdout, result.stdout
    assert "<dynamic-code>" not in result.stdout + result.stderr


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


RETRYING = textwrap.dedent('''
    import json
    from webber import Flow, task

    class Flaky(Exception):
        pass

    @task(retries=2, retry_on=Flaky)
    def fetch(url):
        return url

    with Flow("retrying") as dag:
        task(json.dumps)(fetch("https://example.com"))
''')


def test_show_json_names_the_files_own_functions_as_the_cli_takes_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "retrying.py").write_text(RETRYING)
    result = webber_cli("show", "retrying.py", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "__webber_cli__" not in result.stdout  # (no module a user can import)
    fetch, dumps = json.loads(result.stdout)["nodes"]
    assert (fetch["function"], fetch["retry_on"]) == ("retrying.py:fetch", ["retrying.py:Flaky"])
    assert dumps["function"] == "json.dumps"  # (an importable one as it was)
    monkeypatch.syspath_prepend(str(tmp_path))  # (where `import retrying` would run the file)
    with pytest.raises(FormatError, match=r"cannot import its function 'retrying\.py:fetch'"):
        DAG.from_json(result.stdout)
    with pytest.raises(FormatError, match=r"its exception class 'retrying\.py:Flaky'"):
        DAG.from_json(result.stdout, registry={"fetch": len})
    assert "retrying" not in sys.modules
    path = tmp_path / "retrying.py"
    shown = json.loads(webber_cli("show", f"{path}:dag", "--json").stdout)
    assert shown["nodes"][0]["function"] == f"{path}:fetch"


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
    result = webber_cli("show", str(tmp_path))  # a folder, not a missing file
    assert result.returncode == 2 and result.stderr == (
        f"webber: a folder, not a file: {str(tmp_path)!r} (expected FILE.py or "
        f"FILE.py:NAME)\n")
    other = tmp_path / "other.py"
    other.write_text("def build():\n    return 3\n\nlimit = 'x'\n")
    result = webber_cli("run", f"{other}:build")
    assert result.returncode == 2 and "build() returned an int, not a DAG or Flow" in result.stderr
    result = webber_cli("run", f"{other}:limit")
    assert result.returncode == 2 and "limit is a str, not a DAG or Flow" in result.stderr


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


def test_show_takes_one_output_a_file_or_json(pipeline: Path, tmp_path: Path) -> None:
    # both were taken, and -o was dropped without a word (JSON printed, no file written)
    out = tmp_path / "flow.svg"
    result = webber_cli("show", str(pipeline), "--json", "-o", str(out))
    assert result.returncode == 2 and result.stdout == "" and not out.exists()
    assert result.stderr == ("webber: argument -o/--output: not allowed with argument --json "
                             "(see: python -m webber show --help)\n")


@pytest.mark.parametrize("verb", ["run", "show"])
def test_a_missing_target_is_the_only_argument_named(verb: str) -> None:
    bad = webber_cli(verb)  # the file's own ARGs are optional: not "required: target, ARG"
    assert bad.returncode == 2
    assert bad.stderr == (f"webber: the following arguments are required: target "
                          f"(see: python -m webber {verb} --help)\n")


def test_the_webber_command_is_the_cli_named_webber(
    pipeline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`pip install webber` makes a `webber` command: pyproject declares it, and
    the function it names is python -m webber's, its help and errors naming `webber`."""
    tomllib = pytest.importorskip("tomllib")
    pyproject = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    module, _, name = pyproject["project"]["scripts"]["webber"].partition(":")
    command = getattr(importlib.import_module(module), name)
    assert command(["run", str(pipeline), "--executor", "inline"]) == 0
    assert "pipeline: 4 succeeded, 0 failed, 0 skipped" in capsys.readouterr().out
    (tmp_path / "store").mkdir()
    assert command(["cache", "ls", str(tmp_path / "store")]) == 0
    assert capsys.readouterr().out == "0 entries, 0 B\n"
    with pytest.raises(SystemExit) as info:
        command(["run"])
    assert info.value.code == 2
    assert capsys.readouterr().err == ("webber: the following arguments are required: target "
                                       "(see: webber run --help)\n")
    with pytest.raises(SystemExit) as info:
        command(["--help"])
    assert info.value.code == 0
    shown = capsys.readouterr().out
    assert shown.startswith("usage: webber [-h]") and "\n  webber cache ls .webber-cache\n" in shown


def test_version_prints_the_packages() -> None:
    import webber

    result = webber_cli("--version")
    assert (result.returncode, result.stdout) == (0, f"webber {webber.__version__}\n")


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


RUNS_AT_IMPORT = textwrap.dedent('''
    from pathlib import Path
    from webber import DAG

    def mark():
        Path(__file__).with_suffix(".ran").touch()

    dag = DAG("eager")
    dag.add_node(mark)
    dag.execute(executor="inline")  # no __main__ guard
''')


@pytest.mark.parametrize("verb", ["run", "show"])
def test_loading_never_runs_a_flow(tmp_path: Path, verb: str) -> None:
    """`show` draws without running, and `run` runs once: a file that runs its
    flow at import is a usage error that names the line and the fix."""
    path = tmp_path / "eager.py"
    path.write_text(RUNS_AT_IMPORT)
    result = webber_cli(verb, str(path), "-e" if verb == "run" else "--json",
                        *(["inline"] if verb == "run" else []))
    assert result.returncode == 2
    assert result.stderr == (
        f"webber: {path}:10 runs a flow while the file loads; put that call under "
        f'`if __name__ == "__main__":` (python -m webber runs the flow itself, or draws it '
        f"without running it)\n"
    )
    assert not path.with_suffix(".ran").exists()


def test_a_file_that_fails_to_load_is_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("import os\nLIMIT = int(os.environ['NOT_SET_ANYWHERE_1234'])\n")
    result = webber_cli("show", str(broken))
    assert result.returncode == 2
    assert result.stderr == (
        f"webber: {broken}:2 failed while loading: KeyError: 'NOT_SET_ANYWHERE_1234'\n"
    )
    broken.write_text("from webber import DAG\ndag = DAG(\n")
    result = webber_cli("run", str(broken))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"webber: {broken}:2 failed while loading: SyntaxError:")


def test_a_file_that_fails_in_a_module_it_imports_says_where_in_it(tmp_path: Path) -> None:
    # The one line named only the file's own import; the error was the helper's.
    (tmp_path / "helper_setup.py").write_text("def setup():\n    return 1 / 0\n\n\nX = setup()\n")
    (tmp_path / "helper_json.py").write_text("import json\n\njson.loads('{bad')\n")
    flow = tmp_path / "flow.py"
    flow.write_text("from webber import DAG\nimport helper_setup\ndag = DAG()\n")
    result = webber_cli("run", str(flow))
    assert result.returncode == 2
    assert result.stderr == (f"webber: {flow}:2 failed while loading: ZeroDivisionError: "
                             f"division by zero (at {tmp_path / 'helper_setup.py'}:2, in setup)\n")
    flow.write_text("import helper_json\n")  # (the innermost line that is the user's)
    result = webber_cli("show", str(flow))
    assert result.stderr.startswith(f"webber: {flow}:1 failed while loading: JSONDecodeError: ")
    assert result.stderr.endswith(f" (at {tmp_path / 'helper_json.py'}:3)\n")
    flow.write_text("def build():\n    import helper_setup\n")
    result = webber_cli("show", f"{flow}:build")
    assert result.stderr == (f"webber: {flow}:2: build() failed: ZeroDivisionError: division "
                             f"by zero (at {tmp_path / 'helper_setup.py'}:2, in setup)\n")


def test_bad_output_paths_fail_before_anything_runs(pipeline: Path, tmp_path: Path) -> None:
    result = webber_cli("show", str(pipeline), "-o", str(tmp_path / "flow.txt"))
    assert result.returncode == 2
    assert result.stderr == (f"webber: -o {tmp_path / 'flow.txt'}: cannot write .txt; use "
                             f".svg, .png, .pdf, .jpg, .jpeg, .gif, .dot, .gv, .ps\n")
    missing = tmp_path / "no-such-dir" / "t.svg"
    result = webber_cli("run", str(pipeline), "--timeline", str(missing))
    assert result.returncode == 2 and result.stdout == ""  # nothing ran
    assert result.stderr == (f"webber: --timeline {missing}: no such directory "
                             f"{str(missing.parent)!r}\n")
    result = webber_cli("run", str(pipeline), "--timeline", str(tmp_path / "t.png"))
    assert result.returncode == 2 and "cannot write .png; use .svg" in result.stderr
    result = webber_cli("run", str(pipeline), "--diagram", str(tmp_path / "d"))
    assert result.returncode == 2 and "cannot write a file without a suffix" in result.stderr


def test_argument_errors_are_one_line(pipeline: Path) -> None:
    result = webber_cli("run", str(pipeline), "--executor", "gpu")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "invalid choice: 'gpu'" in result.stderr
    assert result.stderr.endswith("(see: python -m webber run --help)\n")
    result = webber_cli("launch", str(pipeline))
    assert result.returncode == 2 and result.stderr.count("\n") == 1


def test_without_a_name_a_build_function_is_used(tmp_path: Path) -> None:
    path = tmp_path / "built.py"
    path.write_text(textwrap.dedent('''
        from webber import Flow, task

        @task
        def build(x):  # a task may share the name; only a plain function is a builder
            return x

        def helper():
            return 1
    '''))
    result = webber_cli("run", f"{path}:build")
    assert result.returncode == 2
    assert result.stderr == (
        f"webber: {path}:build is a task, not a flow; name the DAG/Flow that uses it or a "
        f"function that returns one\n"
    )
    result = webber_cli("run", str(path))  # the hint names neither the task nor `:build`
    assert result.returncode == 2
    assert result.stderr == (
        f"webber: {path} defines no DAG or Flow at its top level and no build() function "
        f"returning one; add either, or name a function that returns one: {path}:NAME "
        f"(its functions: helper)\n"
    )
    path.write_text(textwrap.dedent('''
        from webber import Flow, task

        def build(n=3):
            with Flow("built") as flow:
                task(sum)(list(range(n)))
            return flow

        def broken():
            return {}["missing"]

        def sized(n):
            return build(n)
    '''))
    result = webber_cli("run", str(path), "-e", "inline")
    assert result.returncode == 0 and "built: 1 succeeded, 0 failed" in result.stdout
    result = webber_cli("show", f"{path}:broken")
    assert result.returncode == 2
    assert result.stderr == f"webber: {path}:10: broken() failed: KeyError: 'missing'\n"
    result = webber_cli("show", f"{path}:sized")
    assert result.returncode == 2
    assert result.stderr == (
        f"webber: {path}:sized() needs arguments, and python -m webber calls it with none; "
        f"give its parameters defaults, or have it read the file's arguments from sys.argv "
        f"(python -m webber run {path} -- ARG ...)\n"
    )
    result = webber_cli("show", f"{path}:helper")
    assert result.returncode == 2 and "has no name 'helper'" in result.stderr


def test_ctrl_c_stops_the_run_with_one_line_and_status_130(tmp_path: Path) -> None:
    path = tmp_path / "slow.py"
    path.write_text(textwrap.dedent('''
        import time
        from webber import Flow, task

        @task
        def slow():
            print("sleeping", flush=True)
            time.sleep(60)

        with Flow("slow") as flow:
            slow()
    '''))
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "webber", "run", str(path), "-w", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert "slow: sleeping" in proc.stdout.readline()  # the task is running: now Ctrl-C
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    assert proc.stderr.read().splitlines()[-1:] == ["webber: interrupted"]


ARGV = textwrap.dedent('''
    import sys
    from webber import Flow, task

    N = int(sys.argv[1])  # (read while the file loads, as a script does)

    @task
    def echo(n):
        print("got", n, sys.argv[2:])  # (read where the task runs: a worker process)

    with Flow("argv") as flow:
        echo(N)
''')


@pytest.mark.parametrize("executor", ["processes", "inline"])
def test_the_files_own_arguments_are_its_sys_argv_while_it_loads_and_runs(
        tmp_path: Path, executor: str) -> None:
    path = tmp_path / "argv.py"
    path.write_text(ARGV)
    result = webber_cli("run", str(path), "3", "-e", executor, "x", "--", "--fast")
    assert result.returncode == 0, result.stderr
    assert "echo: got 3 ['x', '--fast']" in result.stdout + result.stderr
    shown = webber_cli("show", str(path), "4", "--json")
    assert shown.returncode == 0 and '"argv"' in shown.stdout
    assert webber_cli("show", str(path)).returncode == 2  # (its sys.argv[1] is missing)


def test_an_unknown_option_is_refused_not_passed_to_the_file(pipeline: Path) -> None:
    result = webber_cli("run", str(pipeline), "7", "--dashbord")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "unrecognized arguments: --dashbord (the file's own options go after `--`)" in (
        result.stderr)
    # the help to read is run's, which lists --dashboard (the top's pointed at the verbs)
    assert result.stderr.endswith(" (see: python -m webber run --help)\n")
    result = webber_cli("cache", "ls", "--bogus", str(pipeline.parent))
    assert result.stderr == ("webber: unrecognized arguments: --bogus "
                             "(see: python -m webber cache --help)\n")


NAMES = textwrap.dedent('''
    from webber import Flow, task

    @task
    def greet():
        print("grüße ✓")

    @task
    def refuse():
        raise ValueError("zu groß")

    def build2():
        with Flow("flöw ✓") as flow:
            greet()
            refuse()
        return flow
''')


def test_output_the_terminal_cannot_encode_is_escaped_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "names.py"
    path.write_text(NAMES, encoding="utf-8")
    result = webber_cli("run", f"{path}:build2", "-e", "threads",
                        env={"PYTHONIOENCODING": "ascii"})
    assert "Traceback" not in result.stderr and "Logging error" not in result.stderr
    assert result.returncode == 1  # the task that failed, not the CLI
    assert "greet: gr\\xfc\\xdfe \\u2713\n" in result.stdout  # through the log handler
    assert "fl\\xf6w \\u2713: 1 succeeded, 1 failed, 0 skipped" in result.stdout
    assert "  failed: refuse-1: ValueError: zu gro\\xdf\n" in result.stdout


@pytest.mark.parametrize("workers", ["0", "-2"])
def test_workers_below_one_are_refused_in_the_clis_terms(pipeline: Path, workers: str) -> None:
    result = webber_cli("run", str(pipeline), "--workers", workers)
    assert result.returncode == 2
    assert result.stderr == (f"webber: --workers {workers}: give a number >= 1, or leave "
                             f"--workers out for one per core\n")


@pytest.mark.parametrize("verb", [["run", "--diagram"], ["show", "-o"]])
def test_a_diagram_without_dot_is_refused_before_anything_runs(
    pipeline: Path, tmp_path: Path, verb: list[str]
) -> None:
    env = {"PATH": os.path.dirname(sys.executable)}  # python, and no `dot`
    out = tmp_path / "d.svg"
    result = webber_cli(verb[0], str(pipeline), verb[1], str(out), env=env)
    assert result.returncode == 2 and result.stdout == ""  # no task ran, nothing drawn
    assert result.stderr == (
        f"webber: {verb[1]} {out} needs Graphviz's `dot` program, which is not installed: "
        f"apt-get install graphviz, brew install graphviz, or conda install graphviz\n"
    )
