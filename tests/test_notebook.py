"""Notebooks are first-class: cells' lambdas and closures run in worker
processes, and what they print shows in the cell (executed with nbclient)."""

from __future__ import annotations

import re

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

pytestmark = pytest.mark.timeout(180)

CELLS = [
    "import os, webber\nfrom webber import Flow, task",
    "k = 3\nsquare = task(lambda x: x * x + k)",
    (
        "def make(n):\n"
        "    def closure():\n"
        "        print(f'closure ran in {os.getpid()}')\n"
        "        return n\n"
        "    return closure"
    ),
    (
        "with Flow('cells') as flow:\n"
        "    a = task(make(5))()\n"
        "    b = square(a)\n"
        "run = flow.run(executor='processes')\n"
        "print('result', run[b], 'kernel', os.getpid())"
    ),
    "webber.shutdown()",
]


def test_cells_run_in_worker_processes_and_print_in_the_cell() -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    output = "".join(
        out.get("text", "") for out in notebook.cells[3].outputs if out.output_type == "stream"
    )
    worker = re.search(r"closure: closure ran in (\d+)", output)
    kernel = re.search(r"result 28 kernel (\d+)", output)
    assert worker is not None, output
    assert kernel is not None, output
    assert worker.group(1) != kernel.group(1)
