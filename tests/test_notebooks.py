"""notebooks/*.ipynb run to completion (executed again here, with nbclient)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def execute(path: Path, tmp_path: Path) -> Any:
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    notebook = nbformat.read(copy, as_version=4)
    for cell in notebook.cells:  # run from scratch: stored outputs must not count
        if cell.cell_type == "code":
            cell.outputs = []
    # As notebooks/build.py runs them: after a "Restart the kernel" cell, in a
    # new kernel. Raises CellExecutionError on the first failing cell.
    _build().execute(notebook, tmp_path, timeout=240)
    return notebook


def _build() -> Any:
    import importlib.util

    path = ROOT / "notebooks" / "build.py"
    spec = importlib.util.spec_from_file_location("_notebooks_build", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def text(cell: Any) -> str:
    parts = []
    for out in cell.outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif "data" in out:
            parts.append(out.data.get("text/plain", ""))
    return "".join(parts)


def test_there_are_four_notebooks() -> None:
    assert [p.name for p in NOTEBOOKS] == [
        "01-quickstart.ipynb", "02-control-flow.ipynb", "03-performance.ipynb",
        "04-caching.ipynb",
    ]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_to_completion(path: Path, tmp_path: Path) -> None:
    if shutil.which("dot") is None and path.stem != "03-performance":
        pytest.skip("Graphviz's dot is not installed (this notebook draws diagrams)")
    notebook = execute(path, tmp_path)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.outputs or not c.source.strip() for c in code[:1])
    everything = "\n".join(text(c) for c in code)
    assert "Traceback" not in everything or path.stem == "02-control-flow"
    if path.stem == "01-quickstart":
        kernel = re.search(r"this kernel's pid: (\d+)", everything)
        printed = re.search(r"greet: hello notebook, from pid (\d+)", everything)
        assert kernel and printed, everything
        assert printed.group(1) != kernel.group(1)  # the lambda ran in a worker process
        assert "a different process: True" in everything
        assert "(30, 'total is 30', 'success')" in everything
        progress = "".join(o.text for c in code for o in c.outputs
                           if o.output_type == "stream" and o.name == "stderr")
        assert "5/5" in progress and "Warning" not in progress  # the bar, in the cell
        svgs = [o for c in code for o in c.outputs if "image/svg+xml" in o.get("data", {})]
        assert len(svgs) == 3  # the flow, the run, the timeline
    elif path.stem == "02-control-flow":
        assert "alert! ZeroDivisionError: division by zero" in everything
        assert "reused: ['extract-1']" in everything
        assert "'connected'" in everything
    elif path.stem == "04-caching":
        pids = re.findall(r"a new kernel, pid (\d+)", everything)
        assert len(pids) == 1
        assert "first run:" in everything and "loaded from the cache: []" in everything
        # After the restart: the slow steps were loaded, not run.
        after = everything.split("a new kernel")[1]
        assert "loaded from the cache: ['download-1', 'train-1']" in after
        assert after.index("training at rate 0.2") > after.index("after the restart")
        assert "downloading" not in after and "training at rate 0.1" not in after
    else:
        assert re.search(r"processes +\d+\.\d+ s +speedup", everything)
