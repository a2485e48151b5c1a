"""Without dask installed, the dask executor says how to install it (runs
with and without dask: with it, ``import distributed`` is made to fail)."""

from __future__ import annotations

import sys

import pytest

import webber
from webber import DAG


def add(a: int, b: int) -> int:
    return a + b


@pytest.mark.timeout(60)
def test_without_dask_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` fails
    dag = DAG()
    dag.add_node(add, 1, 2)
    assert webber.DaskExecutor.name == "dask"  # the class itself needs no dask
    for attempt in (lambda: webber.DaskExecutor(), lambda: dag.run(executor="dask")):
        with pytest.raises(webber.ExecutorError) as info:
            attempt()
        assert "    pip install 'webber[dask]'" in str(info.value).splitlines()
