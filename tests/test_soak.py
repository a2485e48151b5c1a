"""A short soak (benchmarks/soak.py): 10 runs mixing every fault leak nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(240)
def test_ten_faulty_runs_leave_no_processes_fds_threads_segments_or_memory() -> None:
    pytest.importorskip("numpy")
    pytest.importorskip("psutil")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "soak.py"), "10"],
        capture_output=True, text=True, env=env, timeout=200, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "soak: 10 runs on processes" in result.stdout
    for row in ("child processes", "open fds", "threads", "/dev/shm segments", "RSS (MB)"):
        assert row in result.stdout
    assert result.stdout.rstrip().endswith("no growth")
