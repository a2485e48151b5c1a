"""Diagrams: the DOT source of flows and runs; files need Graphviz's dot."""

from __future__ import annotations

import html
import shutil
from pathlib import Path
from xml.etree import ElementTree

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
    small = '<BR/><FONT POINT-SIZE="9" COLOR="#616161">'
    assert f'"load-1" [label=<load{small}load-1</FONT>>]' in src
    assert f"{small}map</FONT>" in src and "peripheries=2" in src
    assert '"boom-1" -> "print-1" [label="any case"' in src
    assert '"double-1" -> "print-1" [color="#2e7d32" style=dashed]' in src
    assert "rank=same" in src


def test_run_source_colours_by_state() -> None:
    run = build().run(executor="inline")
    src = run.visualize().source
    assert '"boom-1" [label=<boom<BR/>' in src and 'fillcolor="#ffcdd2"' in src
    assert 'fillcolor="#c8e6c9"' in src
    assert " s, 1 attempt</FONT>" in src  # every task that ran: duration and attempts
    assert ", 2 items, 2 attempts</FONT>" in src  # the fan-out: items too


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


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
@pytest.mark.parametrize("name", ["C:\\exports\\", "<nightly>", 'quoted "name"'])
def test_a_flow_of_any_name_is_drawn(tmp_path: Path, name: str) -> None:
    """The flow's name is the graph's DOT id: a backslash at its end, angle
    brackets or quotes keep dot from failing, and the name shows as written."""
    with Flow(name) as flow:
        task(len, name=name)("ab")
    flow.visualize(str(tmp_path / "flow.svg"))
    flow.run(executor="inline").visualize(str(tmp_path / "run.svg"))
    shown = html.escape(name)  # the task's box: its name as written
    assert shown in (tmp_path / "flow.svg").read_text()
    assert shown in (tmp_path / "run.svg").read_text()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
@pytest.mark.parametrize("name", ["\x1b[31mred\x1b[0m", "nul\x00", "bell\x07 line\nbreak"])
def test_a_name_with_control_characters_is_drawn_and_shows_them(tmp_path: Path, name: str) -> None:
    """A name made of coloured terminal text, or holding a NUL: before, dot
    failed on the whole diagram (a syntax error), and the timeline was an
    SVG no browser or XML parser would open. They show as Python writes them."""
    with Flow(name) as flow:
        task(len, name=name)("ab")
    run = flow.run(executor="inline")
    flow.visualize(str(tmp_path / "flow.svg"))
    run.visualize(str(tmp_path / "run.svg"))
    run.timeline(str(tmp_path / "timeline.svg"))
    shown = html.escape(repr(name)[1:-1].replace("\\n", " "))
    for drawing in ("flow.svg", "run.svg", "timeline.svg"):
        text = (tmp_path / drawing).read_text()
        ElementTree.fromstring(text)  # well-formed XML
        assert shown.split(" ")[0] in text, drawing


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_a_diagram_or_timeline_into_a_folder_that_does_not_exist_raises_diagram_error(
    tmp_path: Path,
) -> None:
    # Before: FileNotFoundError from open(), after dot had drawn it all.
    run = build().run(executor="inline")
    missing = tmp_path / "no" / "such"
    message = (r"^cannot write .*flow\.svg' \(FileNotFoundError: No such file or directory\): "
               r"pass a path in a folder that exists and you may write to$")
    with pytest.raises(webber.DiagramError, match=message):
        build().visualize(str(missing / "flow.svg"))
    with pytest.raises(webber.DiagramError, match=message):
        run.visualize(str(missing / "flow.svg"))
    with pytest.raises(webber.DiagramError, match=message.replace("flow", "timeline")):
        run.timeline(str(missing / "timeline.svg"))
    assert not missing.exists()


@pytest.mark.parametrize("path", [123, ["flow.svg"]])
def test_a_path_that_is_no_path_raises_diagram_error(path: object) -> None:
    # Before: TypeError from os.path ("expected str, bytes or os.PathLike object").
    message = r"^visualize\(path=.*\): give a file path such as 'flow\.svg', or type='browser'"
    with pytest.raises(webber.DiagramError, match=message):
        build().visualize(path)  # type: ignore[arg-type]
    with pytest.raises(webber.DiagramError, match=message):
        build().run(executor="inline").visualize(path)  # type: ignore[arg-type]


def test_missing_dot_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot on this PATH
    with pytest.raises(webber.WebberError, match="apt-get install graphviz") as info:
        build().visualize(str(tmp_path / "x.svg"))
    assert ".visualize().source" in str(info.value)


def test_path_needs_an_extension(tmp_path: Path) -> None:
    with pytest.raises(webber.WebberError, match=r"\.svg"):
        build().visualize(str(tmp_path / "noext"))


def test_legend_names_every_edge_style_and_run_colours() -> None:
    src = build().visualize().source
    assert "_legend" in src
    for words in ("on success", "on failure", "in any case", "order only"):
        assert words in src
    assert "retried" not in src  # state colours only on a run's diagram
    assert "_legend" not in build().visualize(legend=False).source
    run_src = build().run(executor="inline").visualize().source
    for state, colour in webber.viz.STATE_COLORS.items():
        assert f'BGCOLOR="{colour}"' in run_src and f">{state}<" in run_src


def test_run_diagram_marks_retried_nodes_with_their_attempts(tmp_path: Path) -> None:
    marker = tmp_path / "marker"

    def flaky() -> str:
        if not marker.exists():
            marker.write_text("x")
            raise ValueError("first")
        return "ok"

    dag = DAG("r")
    n = dag.add_node(flaky)
    dag.retry_node(n, 2)
    skipped = dag.add_node(print, "never")
    dag.add_edge(n, skipped, continue_on=Condition.Failure)
    src = dag.run(executor="inline").visualize().source
    retried = webber.viz.STATE_COLORS["retried"]
    assert '"flaky-1" [label=<flaky<BR/>' in src
    assert ', 2 attempts</FONT>> fillcolor="' + retried in src
    skipped_colour = webber.viz.STATE_COLORS["skipped"]
    assert f'print-1</FONT>> fillcolor="{skipped_colour}"' in src


def test_type_browser_renders_svg_and_opens_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import webbrowser

    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **k: opened.append(url) or True)
    if shutil.which("dot") is None:
        with pytest.raises(webber.WebberError, match="needs Graphviz's `dot`"):
            build().visualize(type="browser")
        return
    dot = build().visualize(type="browser")
    assert isinstance(dot, graphviz.Digraph)
    (url,) = opened
    assert url.startswith("file://") and url.endswith(".svg")
    assert "<svg" in Path(url.removeprefix("file://")).read_text()
    DAG.visualize(build(), "browser")  # the seed's positional form
    assert len(opened) == 2


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")
def test_type_browser_without_a_browser_says_where_the_file_is(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import webbrowser

    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **k: False)  # none found
    build().visualize(type="browser")
    (message,) = [r.getMessage() for r in caplog.records]
    assert message.startswith("no browser could be opened here to show the diagram; it is "
                              "written to ")
    path = message.split("written to ")[1].split(" (")[0]
    assert path.endswith(".svg") and "<svg" in Path(path).read_text()


def test_unknown_visualize_type_is_refused_with_the_choices() -> None:
    with pytest.raises(webber.WebberError, match=r"type='svg'.*'browser', 'gui', 'plt'.*a path"):
        build().visualize(type="svg")


# -- the timeline ---------------------------------------------------------------------


def test_timeline_of_six_tasks_on_two_workers_has_two_lanes(tmp_path: Path) -> None:
    """Ordering edges pin each task to a lane: a1 >> a2 >> a3 and b1 >> b2 >> b3
    on two threads can interleave, so check lane membership by chain."""
    import re
    import threading
    import time

    barrier = threading.Barrier(2, timeout=60)  # generous: CI machines stall

    def step(tag: str) -> str:
        barrier.wait()  # both chains are always running at the same time
        time.sleep(0.02)
        return tag

    dag = DAG("lanes")
    ids = {tag: dag.add_node(step, tag) for tag in ("a1", "a2", "a3", "b1", "b2", "b3")}
    for chain in ("a", "b"):
        dag.add_edge(ids[f"{chain}1"], ids[f"{chain}2"])
        dag.add_edge(ids[f"{chain}2"], ids[f"{chain}3"])
    run = dag.run(executor="threads", max_workers=2)
    chart = run.timeline(str(tmp_path / "t.svg"))
    assert run.ok, run.attempts
    assert len(chart.lanes) == 2, (chart.lanes, run.attempts)
    assert len(chart.bars) == 6
    svg = (tmp_path / "t.svg").read_text()
    assert svg == chart.svg == chart._repr_svg_()
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    bars = re.findall(r'<g class="bar" data-node="([^"]+)" data-lane="(\d)">', svg)
    assert sorted(node for node, _ in bars) == sorted(ids.values())
    lane_of = {node: int(lane) for node, lane in bars}
    by_lane: dict[int, list[str]] = {}
    for attempt_lane, attempt in chart.bars:
        by_lane.setdefault(attempt_lane, []).append(attempt.node)
        assert lane_of[attempt.node] == attempt_lane
        # the lane is the worker that ran it
        assert chart.lanes[attempt_lane] == attempt.worker
    assert sorted(len(nodes) for nodes in by_lane.values()) == [3, 3] or len(by_lane) == 2
    for lane in chart.lanes:
        assert f">{lane}</text>" in svg
    assert chart.critical_path[-1] in (ids["a3"], ids["b3"])
    assert len(chart.critical_path) == 3


def test_timeline_on_processes_names_two_worker_processes() -> None:
    import time

    @task
    def nap(x: int) -> int:
        time.sleep(0.05)
        return x

    with Flow("p") as flow:
        for i in range(6):
            nap(i)
    run = flow.run(executor="processes", max_workers=2)
    chart = run.timeline()
    workers = {a.worker for tries in run.attempts.values() for a in tries}
    assert chart.lanes == sorted(workers, key=chart.lanes.index) and len(workers) <= 2
    assert len(chart.bars) == 6
    assert all(lane.startswith("process ") for lane in chart.lanes)


def test_timeline_marks_failed_attempts_and_the_critical_path() -> None:
    def fail() -> None:
        raise ValueError("bad")

    dag = DAG("c")
    a = dag.add_node(abs, -1)
    b = dag.add_node(abs, -2)
    dag.add_edge(a, b)
    bad = dag.add_node(fail)
    run = dag.run(executor="inline")
    chart = run.timeline()
    assert chart.critical_path in ([a, b], [bad])
    assert webber._timeline.FAILED_COLOR in chart.svg
    assert "ValueError: bad" in chart.svg  # in the failed bar's tooltip


def test_a_file_of_a_format_that_cannot_be_written_is_refused_by_name(tmp_path: Path) -> None:
    dag = DAG("files")
    dag.add_node(abs, -1)
    run = dag.run(executor="inline")
    for call in (lambda p: dag.visualize(p), lambda p: run.visualize(p)):
        with pytest.raises(webber.DiagramError, match=r"cannot write a \.html file .*end it in "
                                                      r"\.svg, \.png, \.pdf"):
            call(str(tmp_path / "out.html"))
        with pytest.raises(webber.DiagramError, match="the format of a file without a suffix"):
            call(str(tmp_path / "noext"))
    for path in ("t.png", "t.pdf"):  # SVG text in a .png was written before
        with pytest.raises(webber.DiagramError, match=r"a timeline is written as SVG: end .* in "
                                                      r"\.svg"):
            run.timeline(str(tmp_path / path))
        assert not (tmp_path / path).exists()
    run.timeline(str(tmp_path / "t.svg"))
    assert (tmp_path / "t.svg").read_text().startswith("<svg")
    for path in ("r.svg", "report"):  # not HTML text under another format's name
        with pytest.raises(webber.DiagramError, match=r"a run's report is an HTML page: end "
                                                      r".* in \.html"):
            run.to_html(str(tmp_path / path))
        assert not (tmp_path / path).exists()
    assert run.to_html(str(tmp_path / "r.HTML")) == (tmp_path / "r.HTML").read_text()


def test_a_run_is_not_iterable_and_says_what_to_use() -> None:
    dag = DAG("iter")
    dag.add_node(abs, -1)
    run = dag.run(executor="inline")
    with pytest.raises(TypeError, match=r"a Run is not iterable: use run\.states"):
        list(run)
    assert "abs-1" in run  # membership is still a lookup


def _edge_styles(src: str, child: str) -> dict[str, bool]:
    """parent -> whether its edge into ``child`` is dashed, from the DOT source."""
    styles = {}
    for line in src.splitlines():
        parent, arrow, rest = line.strip().partition(" -> ")
        if arrow and rest.startswith(f'"{child}"'):
            styles[parent.strip('"')] = "style=dashed" in rest
    return styles


@pytest.mark.parametrize("width", [3, 40])  # few parents, and a wide fan-in
def test_fan_in_draws_data_edges_solid_and_ordering_edges_dashed(width: int) -> None:
    dag = DAG("fan")
    data = [dag.add_node(abs, -i) for i in range(width)]
    order = [dag.add_node(abs, i) for i in range(width)]
    total = dag.add_node(lambda *xs: sum(xs), *map(Promise, data))
    for u in order:
        dag.add_edge(u, total)
    styles = _edge_styles(dag.visualize().source, total)
    assert styles == {**dict.fromkeys(data, False), **dict.fromkeys(order, True)}


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
@pytest.mark.parametrize("name", ["flow.svg", "flow.gv", "flow.dot"])
def test_writing_a_diagram_leaves_only_the_file(tmp_path: Path, name: str) -> None:
    build().visualize(str(tmp_path / name))
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no flow.gv source beside it
    assert "digraph" in (tmp_path / name).read_text() or name.endswith(".svg")


@pytest.mark.parametrize("how", ["echo 'Error: syntax' >&2; exit 1", "kill -9 $$"])
def test_a_failing_dot_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    bin_dir, out = tmp_path / "bin", tmp_path / "out"
    bin_dir.mkdir()
    out.mkdir()
    fake = bin_dir / "dot"  # stands for a dot that fails, or is killed on a huge graph
    fake.write_text(f"#!/bin/sh\ncat >/dev/null\n{how}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    with pytest.raises(webber.DiagramError, match=r"`dot` failed writing .*flow\.svg.* \((exit 1"
                                                  r"\): Error: syntax|killed by signal 9\)); "
                                                  r"nothing was written") as info:
        build().visualize(str(out / "flow.svg"))
    assert ".visualize().source" in str(info.value)
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("table", ["states", "durations", "attempts"])
def test_a_runs_tables_by_node_say_they_are_read_with_brackets(table: str) -> None:
    dag = DAG("tables")
    n = dag.add_node(abs, -1)
    run = dag.run(executor="inline")
    with pytest.raises(TypeError, match=rf"run\.{table} is a dict by node, not a method: "
                                        rf"write run\.{table}\[node\]"):
        getattr(run, table)(n)
    assert getattr(run, table)[n] == getattr(run, table)["abs-1"]
