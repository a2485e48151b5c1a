"""What the dashboard's page is fed -- states, attempts, printed lines and
tracebacks of the run, in order -- on every executor (the page itself is
tested in a browser in tests/test_dashboard.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import decoded
from webber import DAG, Dashboard, Promise
from webber._dashboard_page import batch


def shout(word: str) -> str:
    print(f"<{word}>")
    return word.upper()


def parse(text: str) -> int:
    return int(text)


def column(values: Any, count: int) -> list[Any]:
    """A batch's column: a list, or one value for all ``count``."""
    return list(values) if isinstance(values, list) else [values] * count


@pytest.fixture
def dashboard() -> Iterator[Dashboard]:
    board = Dashboard()
    yield board
    board.stop()


@pytest.mark.timeout(120)
def test_the_page_gets_each_state_line_and_traceback(executor: str, dashboard: Dashboard) -> None:
    dag = DAG("fed")
    ok = dag.add_node(shout, "hi")
    bad = dag.add_node(parse, "x")
    after = dag.add_node(shout, Promise(bad))
    run = dag.run(executor=executor, dashboard=dashboard)
    assert dashboard.board is not None
    to, done, news = batch(dashboard.board)  # all of it, as a page that opens now gets it
    fed = decoded(news)
    assert done and fed["done"][1] is False and fed["run"] == []  # the run's end, not ok
    ids = list(run.plan.nodes)
    ends = dict(zip([ids[p] for p in fed["ended"]], column(fed["end"]["state"], 3), strict=True))
    assert ends == {ok: "success", bad: "failed", after: "skipped"}
    assert [ok, "stdout", "<hi>"] in fed["line"]
    tracebacks = [text for node, text in fed["tb"] if node == bad]
    assert tracebacks and "ValueError: invalid literal for int()" in tracebacks[-1]
    # Each task that ran has its attempt, in columns; a column with one value
    # for all is that value.
    att = fed["att"]
    row = {name: column(att[name], 2) for name in ("number", "ok", "error")}
    row["node"] = [ids[p] for p in fed["node"]]
    assert sorted(row["node"]) == sorted([ok, bad])
    row["worker"] = [att["workers"][i] for i in fed["worker"]]
    by_node = {n: i for i, n in enumerate(row["node"])}
    assert row["ok"][by_node[ok]] is True and row["ok"][by_node[bad]] is False
    assert row["error"][by_node[bad]] == "ValueError: invalid literal for int() with base 10: 'x'"
    assert att["number"] == 1 and all(row["worker"])
    # Start times and durations: exactly the run's (doubles).
    by_attempt = {a.node: a for tries in run.attempts.values() for a in tries}
    for node in (ok, bad):
        assert fed["started"][by_node[node]] == by_attempt[node].started
        assert fed["duration"][by_node[node]] == by_attempt[node].duration
    assert to == (3, 2, len(fed["line"]), len(fed["tb"])) and fed["to"] == list(to)
    # A page that has seen it all gets nothing more.
    again = decoded(batch(dashboard.board, to)[2])
    assert again["node"] == again["ended"] == [] and again["line"] == again["tb"] == []
    assert run.to_html().count('"\\u003chi\\u003e"') == 1  # the line, escaped, in the report


def meet(folder: str, me: str, other: str) -> str:
    """Print, then wait (up to 60 s) until ``other``'s task has started too, so
    that two runs' tasks print at the same time; print again."""
    import pathlib
    import time

    print(f"{me} first")
    here = pathlib.Path(folder)
    (here / me).touch()
    deadline = time.monotonic() + 60
    while not (here / other).exists() and time.monotonic() < deadline:
        time.sleep(0.01)  # (a handshake, not a timing: both runs are under way)
    print(f"{me} second")
    return me


@pytest.mark.timeout(180)
def test_two_runs_of_one_flow_at_once_keep_their_own_lines(
    executor: str, tmp_path: Any
) -> None:
    import threading

    # Two flows with the same ids ("meet-1"), run at the same time, each watched.
    flows = {label: DAG(label) for label in ("left", "right")}
    for label, dag in flows.items():
        dag.add_node(meet, str(tmp_path), label, "right" if label == "left" else "left")
    boards = {label: Dashboard() for label in flows}
    runs: dict[str, Any] = {}
    threads = [threading.Thread(
        target=lambda label=label: runs.__setitem__(label, flows[label].run(
            executor=executor, dashboard=boards[label]))) for label in flows]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for label, board in boards.items():
            assert runs[label].ok
            assert board.board is not None
            texts = [text for _, stream, text in board.board.lines if stream == "stdout"]
            assert texts == [f"{label} first", f"{label} second"], (label, texts)
    finally:
        for board in boards.values():
            board.stop()
