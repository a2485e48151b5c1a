"""`import webber` starts nothing and imports no optional or heavy module."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(60)

CHECK = """
import sys, threading
before = set(sys.modules)
import webber, webber.xcoms
loaded = set(sys.modules) - before
assert threading.active_count() == 1, threading.enumerate()
import psutil
assert psutil.Process().children() == [], psutil.Process().children()
heavy = sorted(m for m in ("graphviz", "cloudpickle", "concurrent.futures", "dask",
                           "distributed", "numpy", "subprocess", "multiprocessing") if m in loaded)
assert heavy == [], heavy
print("ok")
"""


def test_import_starts_nothing_and_stays_light() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
