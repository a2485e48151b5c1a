"""A page's event stream: who writes a run's end to it, and when (no browser
needed: the stream is read as the page's EventSource reads it)."""

from __future__ import annotations

import itertools
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import decoded, looks_only_when_woken, waiting_for_a_run
from webber import DAG, Dashboard

pytestmark = pytest.mark.timeout(120)

WAIT = 30  # seconds a page may take under load (2 shared cores)


@pytest.fixture
def dashboard() -> Iterator[Dashboard]:
    board = Dashboard()
    yield board
    board.stop()


def events(stream: Any) -> Iterator[tuple[str, bytes]]:
    """The stream's events as (its ``id:`` or ``event:`` line, its data)."""
    head = ""
    for raw in stream:
        if raw.startswith((b"id: ", b"event: ")):
            head = raw.decode().strip()
        elif raw.startswith(b"data: "):
            yield head, raw[6:].rstrip(b"\n")


def next_batch(found: Iterator[tuple[str, bytes]]) -> tuple[int, dict[str, Any]]:
    """The next batch (skipping a run event before it): its run's number and data."""
    for head, data in found:
        if head.startswith("id: "):
            return int(head[4:].partition(":")[0]), decoded(data)
    raise AssertionError("the stream ended")


def open_page(dashboard: Dashboard) -> Any:
    stream = urllib.request.urlopen(dashboard.url.replace("/?", "/events?"), timeout=WAIT)
    deadline = time.monotonic() + WAIT
    while not dashboard.streams and time.monotonic() < deadline:
        time.sleep(0.01)
    return stream


def noops(name: str, n: int = 20) -> DAG:
    dag = DAG(name)
    for i in range(n):
        dag.add_node(abs, i)
    return dag


def test_the_next_runs_end_is_written_by_the_engines_thread_its_attempts_by_the_pages(
    dashboard: Dashboard, monkeypatch: pytest.MonkeyPatch
) -> None:
    dag = noops("same")
    dag.run(executor="threads", dashboard=dashboard)
    looks_only_when_woken(monkeypatch)
    waits = waiting_for_a_run(monkeypatch)
    with open_page(dashboard) as stream:
        found = events(stream)
        number, first = next_batch(found)
        assert first["done"] is not None and first["to"][:2] == [20, 20]
        (page,) = dashboard.streams
        assert waits(dashboard, dashboard.board, WAIT), "the page's thread did not wait"
        for _ in range(3):
            dag.run(executor="processes", dashboard=dashboard)
            board = dashboard.board
            # The run went well: its end says so of every task, without the
            # attempts (the page had those of the run before: it moved on).
            assert board is not None and page.board is board and page.done and page.later
            number_next, batch = next_batch(found)
            assert number_next == board.number > number
            assert batch["from"] == [0, 0, 0, 0] and batch["to"][:2] == [20, 0]
            assert batch["done"][1] is True and batch["att"]["n"] == 0
            assert batch["end"]["all"] == "success"
            number = number_next
        # The page's next look sends the attempts of the run it shows.
        with dashboard.changed:
            dashboard.changed.notify_all()
        number_next, batch = next_batch(found)
        assert number_next == number and batch["from"][:2] == [20, 0]
        assert batch["to"][:2] == [20, 20] and batch["att"]["n"] == 20 and batch["done"]
        assert page.done and not page.later
        # Another flow: the page needs its graph; its thread is woken to send it.
        other = noops("other", 3)
        other.run(executor="threads", dashboard=dashboard)
        head, data = next(found)
        assert head == "event: run" and b'"nodes":{"id":' in data
        number_next, batch = next_batch(found)
        assert number_next > number and batch["to"][:2] == [3, 3]
        # A task failed: the end has every attempt, at once.
        dag.add_node(int, "not a number")
        dag.run(executor="threads", dashboard=dashboard)
        while True:
            number_next, batch = next_batch(found)
            if batch["done"] is not None:
                break
        assert batch["to"][:2] == [21, 21] and batch["done"][1] is False
        assert "all" not in batch["end"]


def test_a_page_gets_each_runs_end_once_and_its_attempts_at_most_once_after(
    dashboard: Dashboard,
) -> None:
    dag = noops("once")
    dag.run(executor="threads", dashboard=dashboard)
    with open_page(dashboard) as stream:
        found = events(stream)
        next_batch(found)
        for _ in range(4):
            dag.run(executor="threads", dashboard=dashboard)
            board = dashboard.board
            assert board is not None
            batches = [next_batch(found)]
            while batches[-1][1]["to"][:2] != [20, 20]:
                batches.append(next_batch(found))
            assert {number for number, _ in batches} == {board.number}
            assert batches[0][1]["from"] == [0, 0, 0, 0]
            assert all(b["from"] == a["to"] for (_, a), (_, b) in itertools.pairwise(batches))
            done = [batch["done"] is not None for _, batch in batches]
            assert done[-1] and done == sorted(done)  # once the end is sent, every batch says so
            assert len(done) - done.index(True) <= 2  # the end, then its attempts (or with them)
            time.sleep(0.25)  # (the page's thread looks in between: it sends nothing again)


def test_a_page_is_sent_the_attempts_left_for_later_when_the_dashboard_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dashboard = Dashboard()
    try:
        dag = noops("last")
        dag.run(executor="threads", dashboard=dashboard)
        looks_only_when_woken(monkeypatch)
        with open_page(dashboard) as stream:
            found = events(stream)
            next_batch(found)
            dag.run(executor="threads", dashboard=dashboard)
            (page,) = dashboard.streams
            number, end = next_batch(found)
            assert page.later and end["to"][:2] == [20, 0]
            dashboard.stop()  # (the program's end: its exit stops every dashboard)
            number_next, rest = next_batch(found)
            assert number_next == number and rest["to"][:2] == [20, 20]
            assert rest["att"]["n"] == 20
    finally:
        dashboard.stop()


def _boards(dashboard: Dashboard) -> tuple[Any, Any]:
    """Two finished Boards of one flow, shown on ``dashboard``, the second's end made."""
    from webber._dashboard_board import Board

    run = noops("pair", 5).run(executor="inline")
    first, second = Board.of_run(run, dashboard), Board.of_run(run, dashboard)
    first.graph()
    second.nodes_json = first.nodes_json  # (as Dashboard.show does for the same plan)
    second._whole()
    return first, second


def test_stream_hand_writes_only_to_an_idle_page_of_the_same_graph(
    dashboard: Dashboard,
) -> None:
    from webber._dashboard_http import Stream

    first, second = _boards(dashboard)
    near, far = socket.socketpair()
    with near, far:
        page = Stream(near, "", (0, 0, 0, 0))
        assert not page.hand(second)  # it shows no run yet
        page.board, page.done = first, False
        assert not page.hand(second)  # still sending the run before
        page.done = True
        with page.lock:  # its thread is writing
            assert not page.hand(second)
        other = type(second).of_run(noops("other", 2).run(executor="inline"), dashboard)
        other._whole()
        assert not page.hand(other)  # another graph: its thread sends it
        assert page.board is first
        assert page.hand(second)
        assert page.board is second and page.done and page.seen == second.whole[0]
        assert second.later and page.later  # (a run that went well: its attempts later)
        far.settimeout(WAIT)
        got = b""
        while len(got) < len(second.whole[1]):
            got += far.recv(1 << 16)
        assert got == second.whole[1]
        assert not page.hand(second)  # once
        # A page waiting for the attempts of that run moves on to the next one.
        third = type(second).of_run(noops("pair", 5).run(executor="inline"), dashboard)
        third.nodes_json = first.nodes_json
        third._whole()
        assert page.hand(third) and page.board is third


def test_stream_hand_leaves_what_the_socket_does_not_take_to_the_pages_thread(
    dashboard: Dashboard,
) -> None:
    from webber._dashboard_http import Stream

    first, second = _boards(dashboard)
    seen, message = second.whole
    second.whole = (seen, message + b": " + b"x" * (4 << 20) + b"\n\n")  # more than a buffer
    near, far = socket.socketpair()
    with near, far:
        page = Stream(near, "", (0, 0, 0, 0))
        page.board, page.done = first, True
        assert not page.hand(second)  # (so its thread is woken)
        assert page.board is second and page.rest and page.seen == seen
        got: list[bytes] = []
        reader = threading.Thread(target=lambda: got.extend(iter(lambda: far.recv(1 << 20), b"")))
        reader.start()
        near.sendall(page.rest)  # what its thread does first
        near.shutdown(socket.SHUT_WR)
        reader.join(WAIT)
        assert b"".join(got) == second.whole[1]


def test_a_pages_connection_sends_each_event_at_once(dashboard: Dashboard) -> None:
    noops("nodelay", 2).run(executor="inline", dashboard=dashboard)
    with open_page(dashboard):
        (page,) = dashboard.streams
        # Nagle's algorithm would hold a run's end until the page acknowledged
        # the last one (a delayed ACK: up to 40 ms).
        assert page.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
