"""What the dashboard's page is fed -- states, attempts, printed lines and
tracebacks of the run, in order -- on every executor (the page itself is
tested in a browser in tests/test_dashboard.py)."""

from __future__ import annotations

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
    assert dict(fed["end"]) == {ok: "success", bad: "failed", after: "skipped"}
    assert (ok, "stdout", "<hi>") in fed["line"]
    tracebacks = [text for node, text in fed["tb"] if node == bad]
    assert tracebacks and "ValueError: invalid literal for int()" in tracebacks[-1]
    # Each task that ran has its attempt, with its worker and times in
    # microseconds from the run's start.
    attempts = {a[0]: a for a in fed["att"]}
    assert set(attempts) == {ok, bad}
    assert attempts[ok][3] is True and attempts[bad][3] is False
    assert attempts[bad][7] == "ValueError: invalid literal for int() with base 10: 'x'"
    assert all(isinstance(a[4], int) and isinstance(a[5], int) and a[6] for a in fed["att"])
    assert fed["to"] == (3, 2, len(fed["line"]), len(fed["tb"]))
    # A page that has seen it all gets nothing more.
    again = batch(dashboard.board, fed["to"])
    assert (again["att"], again["end"], again["line"], again["tb"]) == ([], [], [], [])
    assert run.to_html().count('"\\u003chi\\u003e"') == 1  # the line, escaped, in the report
