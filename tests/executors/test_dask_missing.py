"""Without dask installed, the dask executor says how to install it, on one line
(runs with and without dask: with it, ``import distributed`` is made to fail)."""

from __future__ import annotations

import builtins
import sys
from pathlib import Path
from typing import Any

import pytest

import webber
from webber import DAG
from webber._cli import main

INSTALL = ("the dask executor needs dask.distributed, which is not installed: "
           "pip install 'webber[dask]'")


def add(a: int, b: int) -> int:
    return a + b


@pytest.mark.timeout(60)
def test_without_dask_the_error_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` fails
    dag = DAG()
    dag.add_node(add, 1, 2)
    assert webber.DaskExecutor.name == "dask"  # the class itself needs no dask
    for attempt in (lambda: webber.DaskExecutor(), lambda: dag.run(executor="dask")):
        with pytest.raises(webber.ExecutorError) as info:
            attempt()
        assert str(info.value) == INSTALL
        assert info.value.__cause__ is None and info.value.__suppress_context__
    script = tmp_path / "pipeline.py"
    script.write_text("from webber import DAG\ndag = DAG()\ndag.add_node(len, 'ab')\n")
    assert main(["run", str(script), "--executor", "dask"]) == 2
    assert capsys.readouterr().err == f"webber: ExecutorError: {INSTALL}\n"


def test_a_dask_that_fails_to_import_is_named_on_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = builtins.__import__

    def broken(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "distributed":
            raise ImportError("cannot import name 'gen' from 'tornado'\n(more lines)")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", broken)
    with pytest.raises(webber.ExecutorError) as info:
        webber.DaskExecutor()
    assert str(info.value) == (
        "the dask executor needs dask.distributed, which is installed but fails to import "
        "(ImportError: cannot import name 'gen' from 'tornado'); reinstall it: "
        "pip install 'webber[dask]'"
    )
    assert isinstance(info.value.__cause__, ImportError)
