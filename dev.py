"""The project's one entry point: ``python3 dev.py test | demo | bench [script]``.

Needs only Python (>= 3.10) and pip: it creates ``.venv`` beside this file,
installs webber there in editable mode with what the command needs (again
only when pyproject.toml changed), and runs the command with the venv's tools.

    python3 dev.py test [pytest args]   ruff, mypy --strict, import layers, the docs site, pytest
    python3 dev.py demo                 examples/hello.py
    python3 dev.py bench [name]         benchmarks/<name>.py (default: all)
    python3 dev.py figures              docs/img/*.svg, drawn by webber from examples/
    python3 dev.py docs [mkdocs args]   serve the docs site (mkdocs serve; or: build)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def step(title: str, *cmd: str | Path, env: dict[str, str] | None = None) -> None:
    """Run one command from the repo root; exit with its code if it fails."""
    print(f"\n=== {title}: {' '.join(map(str, cmd))}", flush=True)
    code = subprocess.call([str(c) for c in cmd], cwd=ROOT, env=env)
    if code != 0:
        print(f"=== {title} failed (exit code {code})", flush=True)
        sys.exit(code)


def ensure_venv(extra: str) -> None:
    """Create .venv and install webber[extra] unless that is done already."""
    if not PYTHON.exists():
        print(f"=== creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
        step("upgrade pip", PYTHON, "-m", "pip", "install", "-q", "--upgrade", "pip")
    stamp = VENV / ".webber-installed"
    want = f"{extra}:{hashlib.sha256((ROOT / 'pyproject.toml').read_bytes()).hexdigest()}"
    if stamp.exists() and stamp.read_text() == want:
        return
    step("install", PYTHON, "-m", "pip", "install", "-q", "-e", f".[{extra}]")
    stamp.write_text(want)


def ensure_chromium() -> None:
    """The dashboard's tests drive a real headless browser: Debian's chromium and
    its driver. Installed here when missing and we are root (as on CI); else
    those tests skip and say why."""
    if shutil.which("chromium") and shutil.which("chromedriver"):
        return
    if os.name == "posix" and os.geteuid() == 0 and shutil.which("apt-get"):
        step("install chromium", "sh", "-c",
             "apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null")
    else:
        print("=== warning: chromium and chromedriver are missing and this is not root: "
              "the dashboard's browser tests will skip", flush=True)


def test(args: list[str]) -> None:
    ensure_venv("test")
    ensure_chromium()
    step("ruff", PYTHON, "-m", "ruff", "check", ".")
    step("mypy", PYTHON, "-m", "mypy", "--strict", "webber", "examples")
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


def demo() -> None:
    ensure_venv("test")
    step("demo", PYTHON, "examples/hello.py")


def bench(names: list[str]) -> None:
    ensure_venv("dev")
    scripts = [ROOT / "benchmarks" / f"{name}.py" for name in names] or sorted(
        p for p in (ROOT / "benchmarks").glob("*.py") if not p.name.startswith("_")
    )
    for script in scripts:
        step(f"bench {script.stem}", PYTHON, script)


def docs(args: list[str]) -> None:
    ensure_venv("test")
    step("docs", PYTHON, "-m", "mkdocs", *(args or ["serve"]),
         env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})


def figures() -> None:
    ensure_venv("test")
    step("figures", PYTHON, "docs/make_figures.py")


def main() -> None:
    command, args = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    if command == "test":
        test(args)
    elif command == "demo":
        demo()
    elif command == "bench":
        bench(args)
    elif command == "figures":
        figures()
    elif command == "docs":
        docs(args)
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
