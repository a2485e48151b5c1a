"""The project's one entry point: ``python3 dev.py COMMAND``, one of those below.

Needs only Python (>= 3.10) and pip: it creates a venv beside this file,
installs webber there in editable mode with what the command needs (again
only when pyproject.toml changed), and runs the command with the venv's tools.

    python3 dev.py demo                 examples/hello.py (installs webber alone, no extras)
    python3 dev.py test [pytest args]   ruff, mypy --strict, import layers, the docs site,
                                        pytest; then, without pytest args, the package and
                                        the other Pythons
    python3 dev.py package              build the sdist and wheel; run the examples on the wheel
    python3 dev.py pythons              the conformance suite, examples and gc tests on every other
                                        supported Python found (3.10-3.13), and the
                                        conformance and fault suites on the portable pool
    python3 dev.py bench [name]         benchmarks/<name>.py (default: all)
    python3 dev.py figures              docs/img/*.svg, drawn by webber from examples/
    python3 dev.py docs [mkdocs args]   serve the docs site (mkdocs serve; or: build)

WEBBER_ALL_PYTHONS=1 (set by CI) makes a supported Python that is not found an
error instead of a skip.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
#: the Python versions webber supports (requires-python >= 3.10); CI tests each
SUPPORTED = ("3.10", "3.11", "3.12", "3.13")
DIST = ROOT / ".dist"  # the package check's sdist and wheel (ignored by git)
#: the process pool's fault tests, run a second time on its portable path
PORTABLE_FAULT_SUITES = ("tests/executors/test_process_faults.py",
                         "tests/executors/test_process_pool.py",
                         "tests/executors/test_processes_platform.py",
                         "tests/executors/test_interrupts.py")


def bin_dir(venv: Path) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin")


def python_of(venv: Path) -> Path:
    return bin_dir(venv) / ("python.exe" if os.name == "nt" else "python")


PYTHON = python_of(VENV)
BIN = bin_dir(VENV)


def step(title: str, *cmd: str | Path, env: dict[str, str] | None = None,
         cwd: Path = ROOT) -> None:
    """Run one command; exit with its code if it fails."""
    print(f"\n=== {title}: {' '.join(map(str, cmd))}", flush=True)
    code = subprocess.call([str(c) for c in cmd], cwd=cwd, env=env)
    if code != 0:
        print(f"=== {title} failed (exit code {code})", flush=True)
        sys.exit(code)


def ensure_venv(venv: Path, spec: str, *, interpreter: str = sys.executable,
                lean: bool = False) -> Path:
    """Create ``venv`` with ``interpreter`` and pip-install ``spec`` (e.g. ``-e .[test]``)
    there, unless that was done already for this pyproject.toml; its python.

    ``lean``: a venv without pip of its own, filled by this interpreter's pip
    (``pip --python``), when that pip can: seconds faster than installing and
    upgrading pip in it, for the demo's and the wheel check's venvs."""
    python = python_of(venv)
    pip = [python, "-m", "pip"]
    if lean and interpreter == sys.executable and outer_pip_can_target():
        pip = [sys.executable, "-m", "pip", "--python", python]
        if not python.exists():
            step("create venv", interpreter, "-m", "venv", "--without-pip", venv)
    elif not python.exists():
        step("create venv", interpreter, "-m", "venv", venv)
        if not lean:
            step("upgrade pip", python, "-m", "pip", "install", "-q", "--upgrade", "pip")
    stamp = venv / ".webber-installed"
    want = f"{spec}:{hashlib.sha256((ROOT / 'pyproject.toml').read_bytes()).hexdigest()}"
    if not (stamp.exists() and stamp.read_text() == want):
        step("install", *pip, "install", "-q", *spec.split())
        stamp.write_text(want)
    return python


def outer_pip_can_target() -> bool:
    """Whether this interpreter has a pip that installs into another venv (>= 22.3)."""
    try:
        from pip import __version__
    except ImportError:
        return False
    return tuple(int(p) for p in __version__.split(".")[:2] if p.isdigit()) >= (22, 3)


#: what some tests drive, by command: Debian's package that installs it
SYSTEM_TOOLS = {"chromium": "chromium", "chromedriver": "chromium-driver", "dot": "graphviz"}


def ensure_system_tools() -> None:
    """Debian's chromium and its driver (the dashboard's tests drive a real
    headless browser) and Graphviz's dot (diagrams, and the notebooks that
    draw them). Installed here when missing and we are root (as on CI); else
    those tests skip and say why."""
    missing = sorted({package for command, package in SYSTEM_TOOLS.items()
                      if not shutil.which(command)})
    if not missing:
        return
    if os.name == "posix" and os.geteuid() == 0 and shutil.which("apt-get"):
        step(f"install {' '.join(missing)}", "sh", "-c",
             f"apt-get update -qq && apt-get install -y -qq {' '.join(missing)} >/dev/null")
    else:
        print(f"=== warning: {', '.join(missing)} missing and this is not root: the tests "
              f"that need them will skip", flush=True)


def test(args: list[str]) -> None:
    ensure_venv(VENV, "-e .[test]")
    ensure_system_tools()
    step("ruff", PYTHON, "-m", "ruff", "check", ".")
    step("mypy", PYTHON, "-m", "mypy", "--strict", "webber", "examples", "tests/test_typing.py")
    # The layers contract in pyproject.toml (see ARCHITECTURE.md).
    step("imports", BIN / ("lint-imports.exe" if os.name == "nt" else "lint-imports"))
    # The docs site: --strict fails on a broken link or anchor and on a docstring
    # that mkdocstrings cannot render. Built into .site/ (ignored by git).
    step(
        "docs", PYTHON, "-m", "mkdocs", "build", "--strict", "--site-dir", ".site",
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # Material's banner about MkDocs 2
    )
    # pytest exits 5 when it collected no test; step() treats that as a failure too.
    step("pytest", PYTHON, "-m", "pytest", *args)
    # Naming tests (a path, a node id, -k EXPR) means "just these": the package
    # and the other Pythons are for the whole suite (or `dev.py package|pythons`).
    if any(not a.startswith("-") for a in args):
        print("\n=== (tests were named: skipping the package check and the other Pythons)")
        return
    package()
    pythons()


def package() -> None:
    """Build the sdist and the wheel (from the sdist, as pip would), check them,
    and run the examples on the wheel installed in a fresh venv."""
    ensure_venv(VENV, "-e .[test]")
    shutil.rmtree(DIST, ignore_errors=True)
    step("build", PYTHON, "-m", "build", "--outdir", DIST)
    dists = sorted(glob.glob(str(DIST / "*")))
    step("twine check", PYTHON, "-m", "twine", "check", "--strict", *dists)
    (wheel,) = glob.glob(str(DIST / "*.whl"))
    print("\n=== wheel contents", flush=True)
    missing = sorted(package_files() - set(zipfile.ZipFile(wheel).namelist()))
    if missing:
        print(f"=== the wheel lacks {len(missing)} file(s) of the package: "
              f"{', '.join(missing)} (see [tool.hatch.build] in pyproject.toml)", flush=True)
        sys.exit(1)
    print(f"every file of webber/ is in {Path(wheel).name}", flush=True)
    with tempfile.TemporaryDirectory(prefix="webber-wheel-") as tmp:
        python = ensure_venv(Path(tmp) / "venv", wheel, lean=True)
        # The examples run from a copy in the temp dir (see tests/test_examples.py),
        # so only the installed wheel can be imported.
        step("examples on the wheel", PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "tests/test_examples.py",
             env={**os.environ, "WEBBER_EXAMPLES_PYTHON": str(python)})


def package_files() -> set[str]:
    """The files of the webber package in the source tree (those git tracks, when
    this is a git checkout), as paths inside a wheel."""
    try:
        out = subprocess.run(["git", "ls-files", "webber"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout
        return set(out.split())
    except (OSError, subprocess.CalledProcessError):
        return {
            p.relative_to(ROOT).as_posix() for p in (ROOT / "webber").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }


def find_python(version: str) -> str | None:
    """A command running CPython ``version`` (e.g. "3.12"), or None: pyenv's
    install, ``python3.12`` on PATH, or (Windows) the ``py`` launcher's."""
    candidates: list[list[str]] = []
    pyenv = shutil.which("pyenv")
    if pyenv:
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip()
        installs = sorted(Path(root).glob(f"versions/{version}.*/bin/python3"))
        candidates += [[str(p)] for p in installs]
    if shutil.which(f"python{version}"):
        candidates.append([f"python{version}"])
    if os.name == "nt" and shutil.which("py"):
        candidates.append(["py", f"-{version}"])
    for cmd in candidates:
        probe = subprocess.run(
            [*cmd, "-c", "import sys; print(sys.executable, '%d.%d' % sys.version_info[:2])"],
            capture_output=True, text=True,
        )
        if probe.returncode == 0 and probe.stdout.split()[-1:] == [version]:
            return probe.stdout.rsplit(" ", 1)[0]
    return None


def pythons() -> None:
    """The conformance suite, the examples', the collector's and the sending
    tests on every other supported Python, and (on the starting one) the conformance and
    fault suites on the process pool's portable path (``WEBBER_POOL=portable``,
    see webber/executors/_spawn.py; the conformance suite then runs on the
    processes executor only).

    Cheapest form that still proves each version: a venv ``.venv-3.X`` with
    webber (editable) and only the ``conformance`` extra (pytest,
    pytest-timeout, hypothesis, tqdm), so the dask executor is left out there
    (it is tested on the starting interpreter); the random-DAG test runs its
    ``quick`` profile (20 flows per executor instead of 200). The versions run
    at the same time: their tests mostly wait (on workers, timeouts, sleeps),
    so on 2 cores three suites take little longer than one."""
    current = "{}.{}".format(*sys.version_info[:2])
    found: dict[str, Path] = {}
    skipped = []
    for version in SUPPORTED:
        if version == current:
            continue
        interpreter = find_python(version)
        if interpreter is None:
            skipped.append(version)
            continue
        found[version] = ensure_venv(ROOT / f".venv-{version}", "-e .[conformance]",
                                     interpreter=interpreter, lean=True)
    env = {**os.environ, "HYPOTHESIS_PROFILE": "quick"}
    failed = []
    with contextlib.ExitStack() as logs:
        suites = {
            # (test_gc: the collector's freeze counts differ between versions; test_sending:
            # the C API's buffers through ctypes, and how cloudpickle names classes)
            f"Python {version}": ([str(python), "tests/conformance", "tests/test_examples.py",
                                   "tests/test_gc.py", "tests/executors/test_sending.py"], env)
            for version, python in found.items()
        }
        suites[f"Python {current}, portable pool"] = (
            [str(PYTHON), "tests/conformance", *PORTABLE_FAULT_SUITES],
            {**env, "WEBBER_POOL": "portable"},
        )
        runs = []
        for label, ((python, *paths), suite_env) in suites.items():
            cmd = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *paths]
            print(f"\n=== {label} (started): {' '.join(cmd)}", flush=True)
            log = logs.enter_context(tempfile.TemporaryFile("w+"))
            runs.append((label, subprocess.Popen(cmd, cwd=ROOT, env=suite_env, stdout=log,
                                                 stderr=subprocess.STDOUT, text=True), log))
        for label, proc, log in runs:
            code = proc.wait()
            log.seek(0)
            print(f"\n=== {label} (exit code {code}):\n{log.read()}", end="", flush=True)
            if code != 0:
                failed.append(label)
    print(f"\n=== Python {current}: the whole suite, and conformance and faults on the "
          f"portable pool; conformance and examples on {', '.join(found) or 'no other version'}"
          f"{'; not found (skipped): ' + ', '.join(skipped) if skipped else ''}", flush=True)
    if failed:
        print(f"=== failed: {', '.join(failed)}", flush=True)
        sys.exit(1)
    if skipped and os.environ.get("WEBBER_ALL_PYTHONS"):
        print(f"=== WEBBER_ALL_PYTHONS is set: Python {', '.join(skipped)} must be "
              f"installed (pyenv install {skipped[0]})", flush=True)
        sys.exit(1)


def demo() -> None:
    """examples/hello.py, with as little installed as it needs: .venv when
    `dev.py test` made it already, else .venv-demo with webber alone (a few
    seconds; no test or docs tools)."""
    python = PYTHON if (VENV / ".webber-installed").exists() else ensure_venv(
        ROOT / ".venv-demo", "-e .", lean=True
    )
    step("demo", python, "examples/hello.py")


def bench(names: list[str]) -> None:
    ensure_venv(VENV, "-e .[dev]")
    scripts = [ROOT / "benchmarks" / f"{name}.py" for name in names] or sorted(
        p for p in (ROOT / "benchmarks").glob("*.py") if not p.name.startswith("_")
    )
    for script in scripts:
        step(f"bench {script.stem}", PYTHON, script)


def docs(args: list[str]) -> None:
    ensure_venv(VENV, "-e .[test]")
    step("docs", PYTHON, "-m", "mkdocs", *(args or ["serve"]),
         env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})


def figures() -> None:
    ensure_venv(VENV, "-e .[test]")
    step("figures", PYTHON, "docs/make_figures.py")


def main() -> None:
    command, args = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    if command == "test":
        test(args)
    elif command == "demo":
        demo()
    elif command == "package":
        package()
    elif command == "pythons":
        pythons()
    elif command == "bench":
        bench(args)
    elif command == "figures":
        figures()
    elif command == "docs":
        docs(args)
    elif command in ("-h", "--help", "help"):
        print(__doc__)
    else:
        # (a typo says which word was not understood, before the list of those that are)
        said = f"unknown command {command!r}" if command else "no command given"
        print(f"dev.py: {said}; the commands:\n{__doc__}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
