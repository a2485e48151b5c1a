"""Every script in examples/ runs as a user would run it, and does what it says.

Each script runs in a fresh interpreter (``python examples/NAME.py`` from the
repo root); the test checks its exit code and the lines of its stdout that show
the behaviour it demonstrates. A new example needs an entry in CHECKS.

``WEBBER_EXAMPLES_PYTHON=/venv/bin/python`` runs them with that interpreter
instead, from a copy of examples/ in a temp dir, so that only an installed
webber can be imported: ``python3 dev.py package`` runs them on the built wheel.
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p.stem for p in (ROOT / "examples").glob("*.py"))
INSTALLED = "WEBBER_EXAMPLES_PYTHON" in os.environ  # the examples run on an installed webber
PYTHON = os.environ.get("WEBBER_EXAMPLES_PYTHON", sys.executable)


@functools.cache
def workdir() -> Path:
    """The folder the examples run from: the repo root, or a temp copy of examples/."""
    if not INSTALLED:
        return ROOT
    folder = Path(tempfile.mkdtemp(prefix="webber-examples-"))
    atexit.register(shutil.rmtree, folder, True)
    shutil.copytree(ROOT / "examples", folder / "examples")
    return folder


def run_example(*args: str) -> str:
    """Run ``python <args>`` from workdir(); its stdout, after checking it exited 0."""
    result = subprocess.run(
        [PYTHON, *args], cwd=workdir(), capture_output=True, text=True, timeout=60
    )
    output = f"{result.stdout}\n--- stderr:\n{result.stderr}"
    assert result.returncode == 0, f"exit code {result.returncode}\n{output}"
    return result.stdout


def number(pattern: str, out: str) -> float:
    found = re.search(pattern, out, re.MULTILINE)
    assert found, f"no line matching {pattern!r} in:\n{out}"
    return float(found.group(1).replace(",", ""))


def check_hello(out: str) -> None:
    assert re.search(r"^\S+ \S+ +print: Hello World!$", out, re.MULTILINE), out


def check_quickstart(out: str) -> None:
    assert "total of 4 squares" in out and "report-1 = 'report: 14'" in out, out


def check_etl(out: str) -> None:
    assert "load: attempt 1 of 3 failed (ConnectionError: database went away)" in out, out
    assert "load: success after 2 attempts (failed, ok)" in out, out
    assert "rows loaded: 12" in out, out
    assert "alert: skipped" in out and "ALERT" not in out, out


def check_cpu_parallel(out: str) -> None:
    assert "primes below 500,000: 41,538 (serial), 41,538 (processes)" in out, out
    assert number(r"^speedup: +([\d.]+)x$", out) > 0  # printed, never asserted to be > 1


def check_conditional(out: str) -> None:
    states = dict(re.findall(r"^  (\w+) +(success|failed|skipped)$", out, re.MULTILINE))
    assert states == {
        "package": "success", "test": "failed", "deploy": "skipped", "announce": "skipped",
        "notify": "success", "page_oncall": "skipped", "cleanup": "success",
        "lint": "skipped", "docs": "success", "migrate": "skipped", "restore": "success",
    }, out
    assert "notify: tests failed: 3 tests failed for app-1.0.tar.gz" in out, out
    assert "critical path of announce: package -> test -> deploy -> announce" in out, out


def check_io_threads(out: str) -> None:
    assert "words in 8 files: 108" in out, out
    assert number(r"^time in the 8 tasks, added up: ([\d.]+) s", out) >= 1.6
    # Behaviour, not speed: the fetches overlapped (all 8 normally; a busy CI
    # machine may start the threads late, so at least 2).
    assert 2 <= number(r"^most fetches waiting at once: (\d+) of 8$", out) <= 8, out
    assert number(r"^wall time on threads: ([\d.]+) s$", out) > 0, out


def check_async_tasks(out: str) -> None:
    assert "sum of 100 pages: 9900; words: 9" in out, out
    assert number(r"^time in the 100 tasks, added up: ([\d.]+) s", out) >= 50
    # Behaviour, not speed: the awaits overlapped (far more than the threads
    # executor's thread count, which is at most 32).
    assert number(r"^most fetches waiting at once: (\d+) of 100$", out) > 32, out
    assert "the same from async code (await flow.arun()): 9900" in out, out


def has_numpy() -> bool:
    """Whether the examples' interpreter can import numpy."""
    probe = [PYTHON, "-c", "import numpy"]
    return subprocess.run(probe, capture_output=True, cwd=workdir()).returncode == 0


def check_data_science(out: str) -> None:
    if not has_numpy():
        assert "this example needs numpy: pip install numpy" in out, out
        return
    assert "array: 6,553,600 float64 = 50 MB" in out, out
    assert abs(number(r"^  mean +(\S+)$", out)) < 0.01  # standard normal samples
    assert abs(number(r"^  std +(\S+)$", out) - 1) < 0.01
    assert number(r"^  min +(\S+)$", out) < number(r"^  max +(\S+)$", out)
    assert number(r"^run time: ([\d.]+) s$", out) > 0


def check_queue_dag(out: str) -> None:
    lines = out.splitlines()
    assert lines[:3] == ["11.74 C ok", "15.31 C ok", "31.32 C HOT"], out  # in order
    assert lines[7] == "end of readings", out  # the output that met halt_condition flowed on
    assert "hot readings: 2 of 7" in out, out


def check_iter_promise(out: str) -> None:
    # (the warning for caviar, logged to stdout as well, may come first)
    assert [line for line in out.splitlines() if " x " in line] == [
        "6 x apple: 3.00", "2 x bread: 4.50", "1 x cheese: 7.00", "1 x caviar: not sold",
    ], out
    assert "price-1[3] failed after 1 attempt (partial=True" in out, out
    assert "3 of 4 orders priced, total 14.50" in out, out


CHECKS: dict[str, Callable[[str], None]] = {
    "hello": check_hello,
    "quickstart": check_quickstart,
    "etl": check_etl,
    "cpu_parallel": check_cpu_parallel,
    "conditional": check_conditional,
    "io_threads": check_io_threads,
    "data_science": check_data_science,
    "queue_dag": check_queue_dag,
    "iter_promise": check_iter_promise,
    "async_tasks": check_async_tasks,
}


def test_every_example_has_a_check() -> None:
    assert sorted(CHECKS) == sorted(CLI_RUNS) == EXAMPLES


def test_the_examples_import_the_webber_they_should() -> None:
    """The source tree's, or (WEBBER_EXAMPLES_PYTHON) the installed one's only."""
    where = Path(run_example("-c", "import webber; print(webber.__file__)").strip())
    assert (ROOT in where.parents) != INSTALLED, where


@pytest.mark.timeout(90)
@pytest.mark.parametrize("name", EXAMPLES)
def test_example(name: str) -> None:
    CHECKS[name](run_example(f"examples/{name}.py"))


@pytest.mark.timeout(90)
def test_etl_handler_runs_when_load_fails_for_good() -> None:
    out = run_example("examples/etl.py", "--break-load")
    assert "load: failed after 3 attempts (failed, failed, failed)" in out, out
    assert "ALERT: load failed: ConnectionError('database is down')" in out, out
    assert "alert: success" in out and "rows loaded" not in out, out


@pytest.mark.timeout(90)
def test_data_science_without_numpy_prints_a_hint_and_exits_0() -> None:
    hide_numpy = (
        "import runpy, sys; sys.modules['numpy'] = None; "  # None: `import numpy` fails
        "runpy.run_path('examples/data_science.py', run_name='__main__')"
    )
    out = run_example("-c", hide_numpy)
    assert out == "this example needs numpy: pip install numpy\n"


#: ``python -m webber run examples/NAME.py``: (exit status, summary line, other
#: lines the output must hold). Each example's flow is found without ``:NAME``
#: (a top-level flow, or its build() function).
CLI_RUNS: dict[str, tuple[int, str, list[str]]] = {
    "hello": (0, "dag: 3 succeeded, 0 failed, 0 skipped", []),
    "quickstart": (0, "quickstart: 5 succeeded, 0 failed, 0 skipped", ["total of 4 squares"]),
    "etl": (0, "etl: 3 succeeded, 0 failed, 1 skipped",
            ["load: attempt 1 of 3 failed (ConnectionError: database went away)"]),
    "cpu_parallel": (0, "primes: 2 succeeded, 0 failed, 0 skipped", []),
    "conditional": (1, "release: 5 succeeded, 1 failed, 5 skipped",
                    ["  failed: test-1: AssertionError: 3 tests failed for app-1.0.tar.gz"]),
    "io_threads": (0, "io: 9 succeeded, 0 failed, 0 skipped", ["page-7.txt: 24 words"]),
    "data_science": (0, "stats: 3 succeeded, 0 failed, 0 skipped", []),
    "async_tasks": (0, "async: 102 succeeded, 0 failed, 0 skipped", []),
    "queue_dag": (0, "sensor-stream: 1 succeeded, 0 failed, 0 skipped", []),
    "iter_promise": (0, "shop: 4 succeeded, 0 failed, 0 skipped", ["KeyError: 'caviar'"]),
}


@pytest.mark.timeout(90)
@pytest.mark.parametrize("name", EXAMPLES)
def test_the_command_line_runs_the_example(name: str) -> None:
    """The README's ``python -m webber run examples/X.py``, on each example."""
    result = subprocess.run(
        [PYTHON, "-m", "webber", "run", f"examples/{name}.py"],
        cwd=workdir(), capture_output=True, text=True, timeout=80,
    )
    out = f"{result.stdout}\n--- stderr:\n{result.stderr}"
    status, summary, lines = CLI_RUNS[name]
    if name == "data_science" and not has_numpy():  # build() says what is missing
        status, summary, lines = 2, "", []
        assert result.stderr.endswith("ImportError: this example needs numpy: pip install "
                                      "numpy\n"), out
    assert result.returncode == status, out
    if summary:
        assert re.search(rf"^{re.escape(summary)} in [\d.]+ s$", result.stdout, re.M), out
    for line in lines:
        assert line in result.stdout, out
    if name == "hello":  # the flow runs once: loading the file does not run it
        assert result.stdout.count("print: Hello World!") == 1, out
