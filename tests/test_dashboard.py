"""The dashboard, driven in a real headless browser (Debian's chromium and
chromium-driver with selenium; ``python3 dev.py test`` installs them as root).

One browser serves the whole module. Tasks that must still be running when the
page is looked at wait on a threading.Event the test sets: no sleeps as sync.
"""

from __future__ import annotations

import os
import re
import runpy
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import webber
from tests.conftest import decoded, looks_only_when_woken, waiting_for_a_run
from webber import DAG, Dashboard, Promise

pytestmark = pytest.mark.timeout(120)

WAIT = 30  # seconds a condition in the page may take under load (2 shared cores)


#: docs/make_figures.py photographs the page with the same browser setup
FIGURES = runpy.run_path(str(Path(__file__).resolve().parent.parent / "docs" / "make_figures.py"),
                         run_name="figures")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if FIGURES["chromium"]() is None:
        pytest.skip("needs Debian's chromium and chromium-driver, and selenium "
                    "(`python3 dev.py test` installs them when run as root)")
    with FIGURES["headless_chromium"](1280, 900) as driver:
        yield driver


@pytest.fixture
def dashboard() -> Iterator[Dashboard]:
    board = Dashboard()
    yield board
    board.stop()


def wait_for(driver: Any, condition: Callable[[], Any], what: str) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT, poll_frequency=0.05).until(
        lambda _: condition(), message=f"timed out waiting for {what}"
    )


def state(driver: Any, node: str) -> str | None:
    """The state the page shows for ``node`` (None while it is not drawn)."""
    found = driver.execute_script(
        "var g = document.querySelector('g.node[data-node=\"' + arguments[0] + '\"]');"
        "return g ? g.getAttribute('data-state') : null;", node)
    return found if found is None else str(found)


def status(driver: Any) -> str:
    return str(driver.execute_script("return document.getElementById('status').textContent"))


def test_page_loads_with_the_graph_and_counts(browser: Any, dashboard: Dashboard) -> None:
    dag = DAG("loads")
    a = dag.add_node(sum, [1, 2])
    b = dag.add_node(str, Promise(a))
    run = dag.run(executor="inline", dashboard=dashboard)
    assert run.ok
    browser.get(dashboard.url)
    wait_for(browser, lambda: state(browser, b) == "success", "b to show success")
    assert state(browser, a) == "success"
    assert browser.title == "webber: loads"
    assert status(browser).startswith("finished")
    counts = browser.find_element("id", "counts").text
    assert "2/2 done" in counts and "0 failed" in counts


def test_a_node_turns_from_running_to_success_while_the_run_goes_on(
    browser: Any, dashboard: Dashboard
) -> None:
    release = threading.Event()
    dag = DAG("live")
    first = dag.add_node(release.wait, WAIT * 2)
    after = dag.add_node(print, Promise(first))
    browser.get(dashboard.url)  # no run yet: the page waits, then its stream brings it
    runs: list[webber.Run] = []
    runner = threading.Thread(
        target=lambda: runs.append(dag.run(executor="threads", dashboard=dashboard))
    )
    runner.start()
    try:
        wait_for(browser, lambda: state(browser, first) == "running", "the task to run")
        assert state(browser, after) == "pending"
        assert status(browser) == "running"
    finally:
        release.set()
        runner.join(WAIT * 2)
    wait_for(browser, lambda: state(browser, first) == "success", "the task to succeed")
    wait_for(browser, lambda: status(browser).startswith("finished"), "the run to finish")
    assert state(browser, after) == "success"
    assert runs and runs[0].ok
    # The timeline drew a lane: its canvas is taller than an empty one.
    assert browser.execute_script("return document.getElementById('lanes').height") > 0


def timeline(driver: Any) -> str:
    """What the timeline says it shows (its canvas's label)."""
    return str(driver.execute_script(
        "return document.getElementById('lanes').getAttribute('aria-label')"))


def look(driver: Any, nodes: list[str]) -> dict[str, Any]:
    """The states of ``nodes``, the timeline's label, the status and the counts,
    read in one script: the page cannot change between them (reads in separate
    calls can mix what it showed of two runs)."""
    return dict(driver.execute_script(
        "var of = function (n) {"
        "  var g = document.querySelector('g.node[data-node=\"' + n + '\"]');"
        "  return g ? g.getAttribute('data-state') : null; };"
        "return {states: arguments[0].map(of),"
        "  timeline: document.getElementById('lanes').getAttribute('aria-label'),"
        "  status: document.getElementById('status').textContent,"
        "  counts: document.getElementById('counts').textContent};", nodes))


def look_until(driver: Any, nodes: list[str], ready: Callable[[dict[str, Any]], bool],
               what: str) -> dict[str, Any]:
    """The first :func:`look` at the page for which ``ready`` holds: what the
    test asserts next is read from that same moment."""

    def seen() -> dict[str, Any] | None:
        shown = look(driver, nodes)
        return shown if ready(shown) else None

    return dict(wait_for(driver, seen, what))


def test_the_next_run_shows_every_tasks_end_at_once_and_its_timeline_at_the_next_look(
    browser: Any, dashboard: Dashboard, monkeypatch: pytest.MonkeyPatch
) -> None:
    dag = DAG("again")
    nodes = [dag.add_node(abs, -i) for i in range(3)]
    dag.run(executor="inline", dashboard=dashboard)
    # What the page shows of the next run came with the run's end.
    looks_only_when_woken(monkeypatch)
    waits = waiting_for_a_run(monkeypatch)
    browser.get(dashboard.url)
    wait_for(browser, lambda: timeline(browser) == "timeline: 3 attempts on 1 lanes",
             "the first run's timeline")
    (page,) = dashboard.streams
    first = dashboard.board
    assert waits(dashboard, first, WAIT), "the page's thread did not wait for the next run"
    dag.run(executor="inline", dashboard=dashboard)
    assert dashboard.board is not first and page.board is dashboard.board and page.later

    end = look_until(browser, nodes, lambda shown: shown["states"] == ["success"] * 3
                     and shown["timeline"] == "timeline: 0 attempts on 0 lanes",
                     "the next run's end")
    assert end["status"].startswith("finished")
    assert "3/3 done" in end["counts"]
    with dashboard.changed:  # the page's next look
        dashboard.changed.notify_all()
    rest = look_until(browser, nodes,
                      lambda shown: shown["timeline"] == "timeline: 3 attempts on 1 lanes",
                      "the next run's attempts")
    assert rest["states"] == ["success"] * 3 and rest["status"].startswith("finished")


def test_a_failed_task_shows_its_error_and_traceback(
    browser: Any, dashboard: Dashboard
) -> None:
    def parse(text: str) -> int:
        return int(text)

    dag = DAG("fails")
    bad = dag.add_node(parse, "x1")
    dag.add_node(print, Promise(bad))
    run = dag.run(executor="threads", dashboard=dashboard)
    assert not run.ok
    browser.get(dashboard.url)
    wait_for(browser, lambda: state(browser, bad) == "failed", "the failure")
    failure = browser.find_element("css selector", f'details.failure[data-node="{bad}"]')
    wait_for(browser, lambda: "Traceback" in failure.text, "the traceback")
    assert "ValueError: invalid literal for int() with base 10: 'x1'" in failure.text
    assert "in parse" in failure.text
    assert status(browser).startswith("failed")


def test_script_in_a_task_name_and_output_shows_as_text(
    browser: Any, dashboard: Dashboard
) -> None:
    evil = "<script>alert(1)</script>"
    dag = DAG(evil)
    n = dag.add_node(print, evil)
    dag.relabel_node(n, evil)
    run = dag.run(executor="threads", dashboard=dashboard)
    assert run.ok
    browser.get(dashboard.url)
    wait_for(browser, lambda: state(browser, n) == "success", "the task")
    output = browser.find_element("id", "output")
    wait_for(browser, lambda: evil in output.text, "the printed line")
    tip = browser.execute_script(
        "return document.querySelector('g.node[data-node=\"' + arguments[0] + '\"] title')"
        ".textContent", n)
    assert tip.startswith(f"{evil} ({n})")  # the box shows it cut short, the tooltip whole
    assert browser.title == f"webber: {evil}"
    # Only the page's own two <script> elements exist, and no alert opened.
    assert browser.execute_script("return document.scripts.length") == 2
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - reading it is the check


def test_requests_without_the_token_or_from_another_host_are_refused(
    dashboard: Dashboard,
) -> None:
    dag = DAG("safe")
    dag.add_node(sum, [1])
    dag.run(executor="inline", dashboard=dashboard)
    base = dashboard.url.partition("?")[0]
    assert base.startswith("http://127.0.0.1:")  # bound to this machine only
    assert len(dashboard.token) >= 32
    with urllib.request.urlopen(dashboard.url) as page:
        assert page.status == 200
        assert page.headers["Referrer-Policy"] == "no-referrer"
    for url, headers in [
        (base, {}),
        (base + "?token=wrong", {}),
        (base + "events", {}),
        (base + "?token=%C3%A9%C3%A9", {}),  # not ASCII
        (dashboard.url, {"Host": "evil.example:80"}),  # DNS rebinding
    ]:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(url, headers=headers))
        assert refused.value.code == 403, url


def test_allow_hosts_lets_a_named_host_in() -> None:
    board = Dashboard(allow_hosts=["box.lan"])
    try:
        request = urllib.request.Request(board.url, headers={"Host": "box.lan:8000"})
        with urllib.request.urlopen(request) as page:
            assert page.status == 200
    finally:
        board.stop()


def test_to_html_opens_offline_and_shows_the_states(browser: Any, tmp_path: Path) -> None:
    dag = DAG("report")
    ok = dag.add_node(sum, [1, 2])
    bad = dag.add_node(int, "x")
    skipped = dag.add_node(print, Promise(bad))
    run = dag.run(executor="inline")
    path = tmp_path / "run.html"
    text = run.to_html(str(path))
    assert path.read_text(encoding="utf-8") == text
    # Nothing to fetch: the only address in it is the SVG namespace's name.
    assert "://" not in text.replace('"http://www.w3.org/2000/svg"', "")
    assert " src=" not in text and " href=" not in text
    browser.get(path.as_uri())
    wait_for(browser, lambda: state(browser, bad) == "failed", "the failed node")
    assert state(browser, ok) == "success"
    assert state(browser, skipped) == "skipped"
    assert status(browser).startswith("failed")


def test_run_dashboard_after_the_run_and_shutdown_stops_it(browser: Any) -> None:
    dag = DAG("after")
    n = dag.add_node(sum, [1, 2])
    board = dag.run(executor="inline").dashboard()
    try:
        assert board.serving
        browser.get(board.url)
        wait_for(browser, lambda: state(browser, n) == "success", "the report")
        url = board.url
    finally:
        webber.shutdown()
    assert not board.serving
    assert not [t for t in threading.enumerate() if t.name == "webber-dashboard"]
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=5)


def test_a_watched_run_keeps_its_printed_lines_in_to_html(dashboard: Dashboard) -> None:
    dag = DAG("lines")
    dag.add_node(print, "first line")
    run = dag.run(executor="threads", dashboard=dashboard)
    assert '"first line"' in run.to_html()
    assert run.dashboard() is dashboard  # still serving it: the same page


def test_thousands_of_tasks_collapse_into_boxes(browser: Any) -> None:
    dag = DAG("wide")
    sources = [dag.add_node(abs, -i) for i in range(2000)]
    dag.add_node(sum, [Promise(s) for s in sources])
    run = dag.run(executor="inline")
    path = Path(tempfile.mkdtemp()) / "wide.html"
    run.to_html(str(path))
    try:
        browser.get(path.as_uri())
        wait_for(browser, lambda: status(browser).startswith("finished"), "the report")
        boxes = browser.execute_script("return document.querySelectorAll('g.node').length")
        assert boxes == 2  # abs x2000, and sum
        group = browser.find_element("css selector", 'g.node[data-group="abs"]')
        assert group.get_attribute("data-state") == "success"
        assert "2000/2000 done" in browser.find_element("id", "graph").text
    finally:
        shutil.rmtree(path.parent)


def test_nothing_is_imported_without_a_dashboard() -> None:
    code = (
        "import sys, webber\n"
        "dag = webber.DAG(); dag.add_node(sum, [1])\n"
        "run = dag.run(executor='inline'); run.timeline()\n"
        "assert 'webber._dashboard' not in sys.modules\n"
        "assert 'http.server' not in sys.modules\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_cli_dashboard_prints_the_url_and_writes_the_report(tmp_path: Path) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text("from webber import DAG\ndag = DAG('cli')\ndag.add_node(print, 'hi <b>')\n")
    report = tmp_path / "run.html"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        [sys.executable, "-m", "webber", "run", str(flow), "-e", "inline", "--dashboard",
         "--report", str(report)],
        capture_output=True, text=True, env=env, check=False, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert "webber: dashboard at http://127.0.0.1:" in result.stderr
    assert "?token=" in result.stderr
    assert '"hi \\u003cb\\u003e"' in report.read_text(encoding="utf-8")  # its printed line


def test_in_jupyter_the_page_shows_in_the_cell(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    shown: list[Any] = []
    ipython = types.ModuleType("IPython")
    display = types.ModuleType("IPython.display")
    ipython.get_ipython = lambda: types.SimpleNamespace(kernel=object())  # type: ignore[attr-defined]
    display.display = shown.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    dag = DAG("cell")
    dag.add_node(sum, [1])
    board = Dashboard()
    try:
        dag.run(executor="inline", dashboard=board)
        assert shown == [board]
        frame = board._repr_html_()
        assert frame.startswith("<iframe src=\"http://127.0.0.1:") and "token=" in frame
    finally:
        board.stop()


def test_dashboard_true_serves_every_run_from_one_server(
    capsys: pytest.CaptureFixture[str],
) -> None:
    dag = DAG("twice")
    n = dag.add_node(sum, [1, 2])
    try:
        first = dag.run(executor="inline", dashboard=True)
        second = dag.run(executor="inline", dashboard=True)
        urls = [line for line in capsys.readouterr().err.splitlines() if "dashboard at" in line]
        assert len(urls) == 2 and urls[0] == urls[1]  # one server, printed per run
        page = second.dashboard()  # still shown there: the same page
        assert page.url in urls[0]
        assert first.dashboard() is not page  # the first run's report gets a page of its own
        with urllib.request.urlopen(page.url) as response:
            assert f'"{n}"' in response.read().decode()
    finally:
        webber.shutdown()


def test_clicking_a_task_shows_only_its_lines(browser: Any, dashboard: Dashboard) -> None:
    dag = DAG("click")
    a = dag.add_node(print, "from a")
    dag.add_node(print, "from b")
    dag.run(executor="threads", dashboard=dashboard)
    browser.get(dashboard.url)
    output = browser.find_element("id", "output")
    wait_for(browser, lambda: "from a" in output.text and "from b" in output.text, "both lines")
    browser.find_element("css selector", f'g.node[data-node="{a}"]').click()
    assert "from a" in output.text and "from b" not in output.text
    browser.find_element("css selector", f'g.node[data-node="{a}"]').click()  # all again
    assert "from b" in output.text


def test_printed_lines_are_capped_per_task_and_per_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from webber import _dashboard_board

    monkeypatch.setattr(_dashboard_board, "LINES_PER_TASK", 3)
    monkeypatch.setattr(_dashboard_board, "LINES_PER_RUN", 6)  # lines printed, kept or not
    board = _dashboard_board.Board()
    for i in range(5):
        board.line("a", "stdout", f"a{i}")
    for i in range(4):
        board.line("b", "stderr", f"b{i}")
    texts = [entry[2] for entry in board.lines]
    assert texts[:3] == ["a0", "a1", "a2"]
    assert texts[3].startswith("(more than 3 lines")
    assert texts[4] == "b0"
    assert texts[5].startswith("(more than 6 lines")
    assert len(texts) == 6


def test_a_run_cut_short_is_marked_when_the_next_one_starts(dashboard: Dashboard) -> None:
    from webber import _dashboard_board

    dag = DAG("cut")
    dag.add_node(sum, [1])
    plan = dag.compile()
    first = _dashboard_board.Board(dashboard)
    first.on_run_start(plan)  # ... and Ctrl-C: no on_run_end
    _dashboard_board.Board(dashboard).on_run_start(plan)
    assert first.finished and first.outcome == (None, None)
    assert first._capture is None  # no longer collects printed lines


def test_a_run_interrupted_is_marked_at_once(dashboard: Dashboard) -> None:
    from webber import Listener

    class Interrupt(Listener):  # Ctrl-C while the engine tells a listener
        def on_task_end(self, *args: Any) -> None:
            raise KeyboardInterrupt

    dag = DAG("interrupted")
    dag.add_node(sum, [1])
    with pytest.raises(KeyboardInterrupt):
        dag.run(executor="inline", dashboard=dashboard, listeners=[Interrupt()])
    board = dashboard.board
    assert board is not None and board.finished and board.outcome == (None, None)
    assert board._capture is None  # no longer collects printed lines
    with urllib.request.urlopen(dashboard.url.replace("/?", "/events?"), timeout=WAIT) as events:
        batch = False
        for raw in events:  # the page says so: the run's end, with no outcome
            batch = raw.startswith(b"id: ") or (batch and not raw.startswith(b"event: "))
            if batch and raw.startswith(b"data: "):
                assert decoded(raw[6:].rstrip(b"\n"))["done"] == [None, None]
                break


def test_what_cannot_be_a_dashboard_is_refused_at_the_call() -> None:
    dag = DAG("wrong")
    dag.add_node(sum, [1])
    for wrong in ("yes", "0.0.0.0:8000", 8000):
        with pytest.raises(webber.DashboardError, match="dashboard= takes True, False or a"):
            dag.run(executor="inline", dashboard=wrong)  # type: ignore[arg-type]
    for kwargs, what in (({"port": "8000"}, "port"), ({"port": 70000}, "port"),
                         ({"port": True}, "port"), ({"host": 127}, "host"),
                         ({"allow_hosts": "myhost"}, "allow_hosts")):
        with pytest.raises(webber.DashboardError, match=rf"Dashboard\({what}="):
            Dashboard(**kwargs)  # type: ignore[arg-type]
    assert dag.run(executor="inline", dashboard=False).ok  # off, as None is
    assert dag.run(executor="inline", dashboard=None).ok  # type: ignore[arg-type]


def test_a_port_in_use_or_a_host_not_of_this_machine_is_a_dashboard_error() -> None:
    # They raised a bare OSError ("Address already in use"), naming neither
    # the dashboard nor the fix.
    dag = DAG("taken")
    dag.add_node(sum, [1])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(webber.DashboardError,
                           match=rf"Dashboard\(host='127.0.0.1', port={port}\).*port=0") as info:
            dag.run(executor="inline", dashboard=Dashboard(port=port))
        assert isinstance(info.value.__cause__, OSError)
    with pytest.raises(webber.DashboardError, match="an address of this machine"):
        dag.run(executor="inline", dashboard=Dashboard(host="192.0.2.1"))  # (TEST-NET-1)
    assert dag.run(executor="inline", dashboard=Dashboard(port=0)).ok


def test_open_browser_opens_the_page_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import webbrowser

    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", opened.append)
    dag = DAG("open")
    dag.add_node(sum, [1])
    board = Dashboard(open_browser=True)
    try:
        dag.run(executor="inline", dashboard=board)
        dag.run(executor="inline", dashboard=board)  # the open page moves on by itself
        assert opened == [board.url]
    finally:
        board.stop()


def test_an_open_page_moves_on_to_the_next_run_without_reloading(
    browser: Any, dashboard: Dashboard
) -> None:
    first = DAG("first")
    a = first.add_node(sum, [1, 2])
    first.run(executor="inline", dashboard=dashboard)
    browser.get(dashboard.url)
    wait_for(browser, lambda: state(browser, a) == "success", "the first run")
    browser.execute_script("window.sameDocument = true")
    second = DAG("second")
    b = second.add_node(str, 3)
    second.run(executor="threads", dashboard=dashboard)
    wait_for(browser, lambda: state(browser, b) == "success", "the second run")
    assert browser.title == "webber: second"
    assert state(browser, a) is None  # the first run's graph is gone
    assert browser.execute_script("return window.sameDocument") is True  # not reloaded


def _fails_the_second_time(marker: str) -> str:
    if os.path.exists(marker):
        raise ValueError("second time")
    open(marker, "w").close()
    return "first time"


def test_the_next_run_of_the_same_flow_keeps_the_graph_the_page_has(
    browser: Any, dashboard: Dashboard, tmp_path: Path
) -> None:
    dag = DAG("again")
    a = dag.add_node(sum, [1, 2])
    b = dag.add_node(_fails_the_second_time, str(tmp_path / "marker"))
    dag.run(executor="inline", dashboard=dashboard)
    browser.get(dashboard.url)
    wait_for(browser, lambda: state(browser, b) == "success", "the first run")
    graphs: list[bytes] = []
    first_graph = threading.Event()

    def listen(stream: Any) -> None:  # a second page's stream: the graph of each run shown
        for line in stream:
            if line.startswith(b"data: ") and b'"nodes":' in line:
                graphs.append(line)
                first_graph.set()
                if len(graphs) == 2:
                    return

    events = dashboard.url.replace("/?", "/events?") + "&run=0"
    with urllib.request.urlopen(events, timeout=WAIT) as stream:
        reader = threading.Thread(target=listen, args=(stream,), daemon=True)
        reader.start()
        # Its thread takes the run shown at its first look: were the next run
        # shown before, that would be the only graph it ever sends.
        assert first_graph.wait(WAIT), "the second page got no graph"
        browser.execute_script("window.sameDocument = true")
        dag.run(executor="threads", dashboard=dashboard)
        # The run's end, in one look: a batch sent while it went on can show b
        # failed and a still running (the two are not ordered).
        end = look_until(browser, [a, b], lambda shown: shown["status"].startswith("failed"),
                         "the second run's end")
        reader.join(WAIT)
    assert end["states"] == ["success", "failed"]
    assert browser.execute_script("return window.sameDocument") is True  # not reloaded
    assert len(graphs) == 2 and b'"nodes":{"id":' in graphs[0]
    assert b'"nodes":"same"' in graphs[1]  # the graph went once: the page keeps it


def test_a_retried_attempt_and_a_fan_out_reach_the_page(browser: Any, tmp_path: Path) -> None:
    from webber import Flow, task
    from webber._dashboard_page import batch

    tries: list[int] = []

    @task(retries=1)
    def flaky() -> int:
        tries.append(1)
        if len(tries) == 1:
            raise OSError("first try fails")
        return 1

    @task
    def double(x: int) -> int:
        return 2 * x

    with Flow("columns") as flow:
        made, mapped = flaky(), double.map([1, 2, 3])
    run = flow.run(executor="inline")
    assert run.ok
    f, m = str(made.key), str(mapped.key)
    from webber._dashboard_board import Board

    board = Board.of_run(run)
    news = decoded(batch(board)[2])
    att = news["att"]
    ids = list(board.plan.nodes) if board.plan is not None else []
    nodes = [ids[p] for p in news["node"]]
    rows = set(zip(nodes, att["index"], att["number"], att["ok"], att["error"], strict=True))
    assert rows == {(f, None, 1, False, "OSError: first try fails"), (f, None, 2, True, None),
                    (m, 0, 1, True, None), (m, 1, 1, True, None), (m, 2, 1, True, None)}
    # Every attempt's start, duration and worker, exactly as the run has them.
    workers = [att["workers"][w] for w in news["worker"]]
    assert sorted(zip(nodes, news["started"], news["duration"], workers, strict=True)) == sorted(
        (a.node, a.started, a.duration, a.worker) for tries in run.attempts.values() for a in tries)
    assert sorted(ids[p] for p in news["ended"]) == sorted([f, m])
    path = tmp_path / "columns.html"
    run.to_html(str(path))
    browser.get(path.as_uri())
    wait_for(browser, lambda: state(browser, f) == "retried", "the retried task")
    assert state(browser, m) == "success"
    assert "3 items" in browser.find_element("css selector", f'g.node[data-node="{m}"]').text


def test_a_reconnecting_page_gets_only_what_it_has_not_seen(dashboard: Dashboard) -> None:
    dag = DAG("resume")
    dag.add_node(print, "one line")
    dag.add_node(sum, [1])
    run = dag.run(executor="inline", dashboard=dashboard)
    board = dashboard.board
    assert board is not None
    events = dashboard.url.replace("/?", "/events?") + f"&run={board.number}"

    def first_batch(headers: dict[str, str]) -> dict[str, Any]:
        request = urllib.request.Request(events, headers=headers)
        with urllib.request.urlopen(request, timeout=WAIT) as stream:
            for raw in stream:
                if raw.startswith(b"data: "):
                    return decoded(raw[6:].rstrip(b"\n"))
        raise AssertionError("the stream ended without a batch")

    whole = first_batch({})
    assert whole["from"] == [0, 0, 0, 0] and whole["to"] == [2, 2, 1, 0]
    assert len(whole["node"]) == 2 and whole["done"][1] is True
    rest = first_batch({"Last-Event-ID": f"{board.number}:2.1.1.0"})
    assert rest["from"] == [2, 1, 1, 0] and len(rest["ended"]) == 0
    (position,) = rest["node"]
    assert board.plan is not None
    second = [a.node for tries in run.attempts.values() for a in tries][1]
    assert list(board.plan.nodes)[position] == second and rest["line"] == []


def read_until(stream: Any, want: bytes) -> list[bytes]:
    """The stream's lines up to the first that starts with ``want`` (the
    stream's timeout, WAIT, fails the test if it never comes)."""
    lines = []
    for raw in stream:
        lines.append(raw)
        if raw.startswith(want):
            return lines
    raise AssertionError(f"the stream ended before {want!r}")


def batches(stream: Any) -> Iterator[dict[str, Any]]:
    """The batches on an event stream (the data line after each ``id:``), decoded."""
    for raw in stream:
        if raw.startswith(b"id: "):
            yield decoded(next(stream)[6:].rstrip(b"\n"))


def test_a_page_opened_in_the_middle_of_a_run_gets_all_of_it(dashboard: Dashboard) -> None:
    release = threading.Event()
    dag = DAG("midway")
    first = dag.add_node(sum, [1, 2])
    second = dag.add_node(release.wait, WAIT * 2)
    dag.add_edge(first, second)
    runner = threading.Thread(target=dag.run, kwargs={"executor": "threads",
                                                      "dashboard": dashboard})
    runner.start()
    try:
        # The first task ended with no page open: nothing was put in columns for it.
        deadline = time.monotonic() + WAIT
        while (dashboard.board is None or not dashboard.board.told) \
                and time.monotonic() < deadline:
            time.sleep(0.01)
        board = dashboard.board
        assert board is not None and board.told and board.columns.to == (0, 0)
        events = dashboard.url.replace("/?", "/events?")
        with urllib.request.urlopen(events, timeout=WAIT) as stream:
            read_until(stream, b"event: run")
            ids = list(board.plan.nodes) if board.plan is not None else []
            news = [next(batches(stream))]
            # The attempt that ended before the page came, while the run goes on
            # (and nothing else happens in it).
            assert [ids[p] for p in news[0]["node"]] == [first] and news[0]["done"] is None
            release.set()
            for batch in batches(stream):
                news.append(batch)
                if batch["done"] is not None:
                    break
    finally:
        release.set()
        runner.join(WAIT)
    assert sorted(ids[p] for batch in news for p in batch["node"]) == sorted([first, second])
    assert sorted(ids[p] for batch in news for p in batch["ended"]) == sorted([first, second])


def test_a_sleeping_page_wakes_up_when_a_run_is_shown(
    dashboard: Dashboard, monkeypatch: pytest.MonkeyPatch
) -> None:
    from webber import _dashboard_http

    # Asleep at once (not looking every BATCH), and no keep-alive to wake it.
    monkeypatch.setattr(_dashboard_http, "AWAKE", 0.0)
    monkeypatch.setattr(_dashboard_http, "KEEP_ALIVE", 3600.0)
    release = threading.Event()
    dag = DAG("sleeper")
    dag.add_node(release.wait, WAIT * 2)
    runner = threading.Thread(target=dag.run, kwargs={"executor": "threads",
                                                      "dashboard": dashboard})
    events = dashboard.url.replace("/?", "/events?")
    with urllib.request.urlopen(events, timeout=WAIT) as stream:
        deadline = time.monotonic() + WAIT
        while dashboard.asleep == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert dashboard.asleep == 1
        runner.start()
        try:
            read_until(stream, b"event: run")  # while the run goes on
            assert runner.is_alive()
        finally:
            release.set()
            runner.join(WAIT)


def test_printed_lines_of_tasks_on_many_threads_reach_the_page_run_after_run(
    dashboard: Dashboard,
) -> None:
    from webber import Flow, task

    @task
    def say(n: int) -> int:
        print(f"line {n}")
        return n

    boards = []

    def runs() -> None:
        for size in (4, 6):  # the second run's lines go through the same handler
            with Flow(f"lines-{size}") as flow:
                say.map(list(range(size)))
            flow.run(executor="threads", dashboard=dashboard)
            boards.append(dashboard.board)

    runner = threading.Thread(target=runs, daemon=True)
    runner.start()
    runner.join(WAIT)
    assert not runner.is_alive(), "a run with printing tasks hung"
    for board, size in zip(boards, (4, 6), strict=True):
        assert board is not None
        assert sorted(line[2] for line in board.lines) == sorted(f"line {n}" for n in range(size))


def test_a_retry_that_starts_in_the_batch_of_its_failed_attempt_stays_running() -> None:
    from webber import _dashboard_board

    board = _dashboard_board.Board()
    board.on_batch([("a", 1, None, "w1", 1.0)], [], [])
    # One wake-up of the engine brings attempt 1's end and attempt 2's start.
    failed = ("a", 1, None, False, 1.0, 0.5, "w1", "ValueError: no")
    board.on_batch([("a", 2, None, "w2", 2.0)], [failed], [])
    assert board.running == {("a", None): (2, "w2", 2.0)}
    done = ("a", 2, None, True, 2.0, 0.5, "w2", None)
    board.on_batch([], [done], [("a", "success")])
    assert board.running == {}


@pytest.mark.parametrize("executor", ["threads", "processes"])
def test_a_failed_tasks_traceback_reaches_the_page_once(
    dashboard: Dashboard, executor: str
) -> None:
    from webber._dashboard_board import watched as _watched

    def parse(text: str) -> int:
        return int(text)

    dag = DAG("fails once")
    bad = dag.add_node(parse, "x1")
    run = dag.run(executor=executor, dashboard=dashboard)
    assert not run.ok
    tracebacks = _watched[run].tracebacks
    assert [node for node, _ in tracebacks] == [bad]
    assert "invalid literal for int()" in tracebacks[0][1]


def wait_file(path: str) -> str:
    """A task that runs until ``path`` exists (the test makes it: the task is
    in a worker process, where no threading.Event of the test reaches)."""
    while not os.path.exists(path):
        time.sleep(0.01)
    return path


@pytest.fixture
def columns_used(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The nodes of each span the run record got (plain tasks that went as columns)."""
    from webber._run import Recorder

    spans: list[list[str]] = []
    column = Recorder.column

    def counted(self: Recorder, nodes: list[str], *args: Any) -> None:
        spans.append(list(nodes))
        column(self, nodes, *args)

    monkeypatch.setattr(Recorder, "column", counted)
    return spans


def test_on_processes_each_task_of_a_workers_column_runs_then_succeeds_in_turn(
    browser: Any, dashboard: Dashboard, tmp_path: Path, columns_used: list[list[str]]
) -> None:
    from webber.executors import ProcessExecutor

    dag = DAG("column")
    first = dag.add_node(wait_file, str(tmp_path / "first"))
    second = dag.add_node(wait_file, str(tmp_path / "second"))
    browser.get(dashboard.url)
    runs: list[webber.Run] = []
    executor = ProcessExecutor(max_workers=1)  # one worker: the two tasks in one column
    runner = threading.Thread(
        target=lambda: runs.append(dag.run(executor=executor, dashboard=dashboard)))
    runner.start()
    try:
        wait_for(browser, lambda: state(browser, first) == "running", "the first to run")
        assert state(browser, second) == "pending"  # behind it in its worker's column
        (tmp_path / "first").touch()
        wait_for(browser, lambda: state(browser, first) == "success", "the first to succeed")
        wait_for(browser, lambda: state(browser, second) == "running", "the second to run")
        assert status(browser) == "running"
        (tmp_path / "second").touch()
        wait_for(browser, lambda: status(browser).startswith("finished"), "the run to finish")
    finally:
        (tmp_path / "first").touch()
        (tmp_path / "second").touch()
        runner.join(WAIT * 2)
    assert state(browser, second) == "success"
    assert runs and runs[0].ok and [first] in columns_used and [second] in columns_used
    counts = browser.find_element("id", "counts").text
    assert "2/2 done" in counts and "0 failed" in counts
    assert browser.execute_script("return document.getElementById('lanes').height") > 0


def test_on_processes_a_columns_attempts_lines_and_failures_reach_the_report(
    dashboard: Dashboard, columns_used: list[list[str]]
) -> None:
    from webber._dashboard_board import watched as _watched

    def say(n: int) -> int:
        print(f"line {n}")
        if n == 7:
            raise ValueError("seven")
        return n

    dag = DAG("wide")
    nodes = [dag.add_node(say, n) for n in range(40)]
    run = dag.run(executor="processes", dashboard=dashboard)
    assert run.failed == [nodes[7]] and sum(map(len, columns_used)) >= 30
    board = _watched[run]
    assert board.lengths()[:2] == (40, 40)
    assert sorted(line[2] for line in board.lines) == sorted(f"line {n}" for n in range(40))
    assert [node for node, _ in board.tracebacks] == [nodes[7]]
    assert "ValueError: seven" in board.tracebacks[0][1]
    # The page's columns are the run's attempts, each in its place.
    columns = board.pack()
    ids = list(run.plan.nodes)
    attempts = sorted((a.node, a.started, a.duration, a.worker, a.ok)
                      for tries in run.attempts.values() for a in tries)
    packed = sorted(zip([ids[p] for p in columns.node], columns.started, columns.duration,
                        [columns.workers[w] for w in columns.worker],
                        [columns.ok.slice(i, i + 1) for i in range(len(columns.node))],
                        strict=True))
    assert packed == attempts
    html = run.to_html()
    assert '"line 39"' in html and "ValueError: seven" in html
    assert run.dashboard() is dashboard


def test_on_processes_a_listener_of_each_task_beside_the_page_turns_the_columns_off(
    dashboard: Dashboard, columns_used: list[list[str]]
) -> None:
    from webber import Listener
    from webber._dashboard_board import watched as _watched

    class Ends(Listener):
        def __init__(self) -> None:
            self.ended: list[str] = []

        def on_task_end(self, node: str, state: Any, attempt: int, duration: float,
                        worker: str) -> None:
            self.ended.append(node)

    dag = DAG("beside")
    nodes = [dag.add_node(abs, -n) for n in range(20)]
    ends = Ends()
    run = dag.run(executor="processes", dashboard=dashboard, listeners=[ends])
    assert run.ok and columns_used == [] and sorted(ends.ended) == sorted(nodes)
    assert _watched[run].lengths()[:2] == (20, 20)
    dag.run(executor="processes", dashboard=dashboard)  # the dashboard alone: columns
    assert sum(map(len, columns_used)) == 20


def test_a_flag_or_a_host_a_dashboard_cannot_use_is_refused_at_the_line() -> None:
    # open_browser="no" (a non-empty str, so true) opened the browser; a host
    # written as a URL or with its port failed only when the first run started
    # the server, told "Name or service not known" and to pass "another port".
    for wrong in ("no", 1, None):
        with pytest.raises(webber.DashboardError,
                           match=rf"^Dashboard\(open_browser={re.escape(repr(wrong))}\): "
                                 r"open_browser is True or False"):
            Dashboard(open_browser=wrong)  # type: ignore[arg-type]
    for host, fix in (("http://127.0.0.1", r"host='127\.0\.0\.1'"),
                      ("http://localhost:8000/", r"host='localhost', port=8000"),
                      ("127.0.0.1:8000", r"host='127\.0\.0\.1', port=8000"),
                      (" 127.0.0.1", r"host='127\.0\.0\.1'")):
        with pytest.raises(webber.DashboardError,
                           match=rf"^Dashboard\(host={re.escape(repr(host))}\): the host is a "
                                 rf"name or an address alone, without a scheme, port, path or "
                                 rf"spaces: pass {fix}$"):
            Dashboard(host=host)
    for host in ("::1", "localhost", "0.0.0.0"):  # (an IPv6 address has colons of its own)
        Dashboard(host=host).stop()


def test_to_html_into_a_folder_that_does_not_exist_is_a_diagram_error(tmp_path: Path) -> None:
    # It raised FileNotFoundError from open(), after the report was made.
    dag = DAG("report")
    dag.add_node(sum, [1])
    run = dag.run(executor="inline")
    path = tmp_path / "no" / "such" / "run.html"
    with pytest.raises(webber.DiagramError,
                       match=rf"^cannot write {re.escape(repr(str(path)))} \(FileNotFoundError: "
                             r"No such file or directory\): pass a path in a folder that exists "
                             r"and you may write to$") as info:
        run.to_html(str(path))
    assert isinstance(info.value.__cause__, FileNotFoundError)
    assert not path.parent.exists()


def test_tasks_running_when_a_run_is_stopped_show_as_stopped(
    browser: Any, dashboard: Dashboard
) -> None:
    # After Ctrl-C the page said "stopped before the end" and, beside it,
    # "2 running", the tasks blue: they had been stopped with the run.
    from webber import Listener

    class CtrlC(Listener):  # Ctrl-C as the engine tells a listener that `quick` ended
        def on_task_end(self, node: str, state: str, attempt: int, duration: float,
                        worker: str) -> None:
            raise KeyboardInterrupt

    held, quick_gate = threading.Event(), threading.Event()
    dag = DAG("stopped")
    slow = dag.add_node(held.wait, WAIT * 2)
    quick = dag.add_node(quick_gate.wait, WAIT * 2)
    after = dag.add_node(print, Promise(slow))
    stopped: list[BaseException] = []

    def run() -> None:
        try:
            dag.run(executor="threads", dashboard=dashboard, listeners=[CtrlC()])
        except KeyboardInterrupt as e:
            stopped.append(e)

    browser.get(dashboard.url)
    runner = threading.Thread(target=run)
    runner.start()
    try:
        wait_for(browser, lambda: state(browser, slow) == state(browser, quick) == "running",
                 "both tasks to run")
        quick_gate.set()
        runner.join(WAIT)
        assert stopped
        wait_for(browser, lambda: status(browser) == "stopped before the end", "the stop")
        wait_for(browser, lambda: state(browser, slow) == "stopped", "slow to show stopped")
        assert state(browser, after) == "pending"
        counts = browser.find_element("id", "counts").text
        assert "0 running" in counts and "1 stopped" in counts, counts
    finally:
        held.set()
        quick_gate.set()
        runner.join(WAIT)


def test_allow_hosts_that_no_host_header_can_match_are_refused_at_the_line() -> None:
    # A browser's Host header is compared without its port: "box.lan:8000",
    # "http://box.lan" or a pattern "*.lan" matched nothing, and the page
    # answered 403, "this Host is not allowed", to the host the user had allowed.
    for entry, fix in (("box.lan:8000", r"\['box\.lan'\]"), ("http://box.lan/", r"\['box\.lan'\]"),
                       ("[::1]:8000", r"\['::1'\]")):
        with pytest.raises(webber.DashboardError,
                           match=rf"^Dashboard\(allow_hosts=\[{re.escape(repr(entry))}\]\): "
                                 rf"{re.escape(repr(entry))} is not a host name alone \(a "
                                 rf"browser's Host is compared without its scheme or port\): "
                                 rf"pass allow_hosts={fix}$"):
            Dashboard(allow_hosts=[entry])
    for entry in ("*.lan", "box*", ""):
        with pytest.raises(webber.DashboardError,
                           match=rf"^Dashboard\(allow_hosts=\[{re.escape(repr(entry))}\]\): "
                                 r"allow_hosts takes exact host names, or '\*' alone for any"):
            Dashboard(allow_hosts=[entry])
    Dashboard(allow_hosts=["box.lan", "*", "::1", "10.0.0.7"]).stop()
    # A generator was read by the check, and the Dashboard allowed no host.
    assert Dashboard(allow_hosts=(h for h in ["Box.lan"])).allow_hosts == {"box.lan"}


def test_run_dashboard_given_what_is_no_dashboard_says_what_to_pass() -> None:
    # run.dashboard(8000) raised AttributeError: 'int' object has no attribute 'show'.
    dag = DAG("after")
    dag.add_node(sum, [1])
    run = dag.run(executor="inline")
    for wrong in (8000, "127.0.0.1", True):
        with pytest.raises(webber.DashboardError,
                           match=rf"^run\.dashboard\({re.escape(repr(wrong))}\): takes a "
                                 r"webber\.Dashboard, or nothing \(a new one on a free port\); "
                                 r"to choose where it listens: "
                                 r"run\.dashboard\(webber\.Dashboard\(port=8000\)\)$"):
            run.dashboard(wrong)  # type: ignore[arg-type]
