"""docs/make_figures.py draws the README's figures from examples/ with webber itself."""

from __future__ import annotations

import re
import runpy
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(120)
@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_make_figures_draws_the_quickstart_and_a_timeline(tmp_path: Path) -> None:
    make = runpy.run_path(str(ROOT / "docs" / "make_figures.py"), run_name="figures")
    written = make["main"](tmp_path)
    names = ["quickstart.svg", "quickstart-run.svg", "timeline.svg"]
    if make["chromium"]() is not None:  # the live dashboard, photographed by chromium
        names.append("dashboard.png")
    assert [p.name for p in written] == names
    flow = (tmp_path / "quickstart.svg").read_text()
    for node in ("load", "clean", "square", "total", "report"):
        assert f">{node}</text>" in flow
    assert "legend" in flow
    timeline = (tmp_path / "timeline.svg").read_text()
    lanes = re.findall(r'<text class="lane"[^>]*>([^<]+)</text>', timeline)
    assert len(lanes) == 2 and all(lane.startswith("process ") for lane in lanes)
    assert timeline.count('data-node="count_primes-1"') == 8
    assert timeline.count('data-node="add-1"') == 1
    if "dashboard.png" in names:
        assert (tmp_path / "dashboard.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The committed figures are the ones this script draws (same files, same names).
    for path in written:
        assert (ROOT / "docs" / "img" / path.name).exists()
