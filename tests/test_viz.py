"""Diagrams: the DOT source of flows and runs; files need Graphviz's dot."""

from __future__ import annotations

import shutil
from pathlib import Path

import graphviz
import pytest

import webber
from webber import DAG, Condition, Flow, Promise, task


@task
def load() -> list[int]:
    return [1, 2]


@task
def double(x: int) -> int:
    return 2 * x


@task
def boom(rows: list[int]) -> None:
    raise ValueError("no")


def build() -> Flow:
    with Flow("viz") as flow:
        rows = load()
        doubled = double.map(rows)
        failing = boom(rows)
        after = task(print)(failing)
        doubled >> after
    flow.update_edges((failing, after), continue_on=Condition.AnyCase)
    return flow


def test_flow_source_shows_tasks_conditions_and_ordering_edges() -> None:
    dot = build().visualize()
    assert isinstance(dot, graphviz.Digraph)
    src = dot.source
    assert '"load-1" [label="load\\nload-1"]' in src
    assert "(map)" in src and "peripheries=2" in src
    assert '"boom-1" -> "print-1" [label="any case"' in src
    assert '"double-1" -> "print-1" [color="#2e7d32" style=dashed]' in src
    assert "rank=same" in src


def test_run_source_colours_by_state() -> None:
    run = build().run(executor="inline")
    src = run.visualize().source
    assert '"boom-1" [label="boom\\nboom-1\\n' in src and 'fillcolor="#ffcdd2"' in src
    assert 'fillcolor="#c8e6c9"' in src


def test_seed_dag_visualize() -> None:
    dag = DAG()
    a = dag.add_node(lambda: "Hello")
    dag.add_node(print, Promise(a))
    assert "lambda-1" in dag.visualize().source


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
@pytest.mark.parametrize("ext", ["svg", "png", "pdf"])
def test_writes_files(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"flow.{ext}"
    build().visualize(str(path))
    assert path.stat().st_size > 100
    if ext == "svg":
        assert "<svg" in path.read_text()


def test_missing_dot_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot on this PATH
    with pytest.raises(webber.WebberError, match="apt-get install graphviz") as info:
        build().visualize(str(tmp_path / "x.svg"))
    assert ".visualize().source" in str(info.value)


def test_path_needs_an_extension(tmp_path: Path) -> None:
    with pytest.raises(webber.WebberError, match=r"\.svg"):
        build().visualize(str(tmp_path / "noext"))
