"""Fixtures of the webber 0.4.0 drop-in suite: the executors each item must hold on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

#: 0.4.0 ran tasks on threads; ours defaults to processes; inline is for debugging.
#: Every drop-in item holds on all three (dask is covered by tests/conformance).
EXECUTORS = ["inline", "threads", "processes"]

HERE = Path(__file__).resolve().parent


@pytest.fixture(params=EXECUTORS, ids=EXECUTORS)
def executor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def run_script(
    code: str, tmp_path: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as a script in a fresh interpreter (its own logging setup,
    its own sys.stdout), in ``tmp_path``, with ``env`` added to the environment."""
    script = tmp_path / "script.py"
    script.write_text(code, encoding="utf-8")
    full = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    full.pop("WEBBER_EXECUTOR", None)  # the caller's setting must not leak in
    full.update(env or {})
    return subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
        env=full, timeout=120, check=False,
    )
