"""What the dashboard's page is fed -- states, attempts, printed lines and
tracebacks of the run, in order -- on every executor (the page itself is
tested in a browser in tests/test_dashboard.py)."""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator

import pytest

from webber import DAG, Dashboard, Promise
from webber._dashboard_http import batch


def shout(word: str) -> str:
    print(f"<{word}>")
    return word.upper()


def parse(text: str) -> int:
    return int(text)


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
    fed = batch(dashboard.board)  # all of it, as a page that opens now gets it
    assert fed["done"][1] is False and fed["run"] == []  # the run's end, not ok
    ids = list(run.plan.nodes)

    def nodes(packed: str) -> list[str]:  # positions in the graph, little-endian uint32
        raw = base64.b64decode(packed)
        return [ids[p] for p in struct.unpack(f"<{len(raw) // 4}I", raw)]

    ends = dict(zip(nodes(fed["end"]["node"]), fed["end"]["state"], strict=True))  # not att's
    assert ends == {ok: "success", bad: "failed", after: "skipped"}
    assert (ok, "stdout", "<hi>") in fed["line"]
    tracebacks = [text for node, text in fed["tb"] if node == bad]
    assert tracebacks and "ValueError: invalid literal for int()" in tracebacks[-1]
    # Each task that ran has its attempt, in columns; a column with one value
    # for all is that value.
    att = fed["att"]
    assert sorted(nodes(att["node"])) == sorted([ok, bad])
    row = {name: list(att[name]) if isinstance(att[name], (list, tuple)) else [att[name]] * 2
           for name in ("number", "ok", "error")}
    row["node"] = nodes(att["node"])
    lanes = (struct.unpack("<2I", base64.b64decode(att["worker"]))
             if isinstance(att["worker"], str) else [att["worker"]] * 2)
    row["worker"] = [att["workers"][i] for i in lanes]
    by_node = {n: i for i, n in enumerate(row["node"])}
    assert row["ok"][by_node[ok]] is True and row["ok"][by_node[bad]] is False
    assert row["error"][by_node[bad]] == "ValueError: invalid literal for int() with base 10: 'x'"
    assert att["number"] == 1 and all(row["worker"])
    # Start times and durations: little-endian doubles, in base64.
    started = struct.unpack("<2d", base64.b64decode(att["started"]))
    durations = struct.unpack("<2d", base64.b64decode(att["duration"]))
    by_attempt = {a.node: a for tries in run.attempts.values() for a in tries}
    for node in (ok, bad):
        assert started[by_node[node]] == by_attempt[node].started
        assert durations[by_node[node]] == by_attempt[node].duration
    assert fed["to"] == (3, 2, len(fed["line"]), len(fed["tb"]))
    # A page that has seen it all gets nothing more.
    again = batch(dashboard.board, fed["to"])
    assert again["att"]["node"] == again["end"]["node"] == ""
    assert again["line"] == again["tb"] == []
    assert run.to_html().count('"\\u003chi\\u003e"') == 1  # the line, escaped, in the report
