"""What the dashboard's page is fed -- states, attempts, printed lines and
tracebacks of the run, in order -- on every executor (the page itself is
tested in a browser in tests/test_dashboard.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from webber import DAG, Dashboard, Promise


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
    log = dashboard.board.log
    kinds = [entry[0] for entry in log]
    assert kinds[-1] == "done" and log[-1][2] is False  # the run's end, not ok
    ends = {entry[1]: entry[2] for entry in log if entry[0] == "end"}
    assert ends == {ok: "success", bad: "failed", after: "skipped"}
    assert ["line", ok, "stdout", "<hi>"] in log
    tracebacks = [entry[2] for entry in log if entry[0] == "tb" and entry[1] == bad]
    assert tracebacks and "ValueError: invalid literal for int()" in tracebacks[-1]
    # Each task's attempt is there, after its start (when the executor reports
    # starts) and before its end.
    for node in (ok, bad):
        steps = [e[0] for e in log if e[1] == node and e[0] in ("start", "attempt", "end")]
        assert steps[-2:] == ["attempt", "end"]
        assert steps[0] in ("start", "attempt")
    assert run.to_html().count('"\\u003chi\\u003e"') == 1  # the line, escaped, in the report
