"""The dashboard's columns (``_dashboard_columns``): what a page is sent is
exactly the run's attempts and ends, whatever a batch holds."""

from __future__ import annotations

import random
from typing import Any

import pytest

from webber import DAG, Flow, Listener, Promise
from webber._dashboard_board import Board
from webber._dashboard_columns import Columns, Layout, Runs, nodes_of, settle
from webber._task import task


def add(columns: Columns, rows: list[Any], ends: list[tuple[str, str]], layout: Layout) -> None:
    columns.add(rows, [e[0] for e in ends], [e[1] for e in ends], layout)


def expand(runs: Runs) -> list[Any]:
    value = runs.slice(0, runs.size)
    return value if isinstance(value, list) else [value] * runs.size


def test_runs_give_one_value_for_a_slice_of_one_run_else_every_value() -> None:
    runs = Runs()
    runs.add(None, 3)
    runs.add(None, 2)  # the same value: the same run
    runs.extend([4, None])
    runs.add(True, 2)
    runs.add(1, 1)  # equal to True, but another value
    assert runs.starts == [0, 5, 6, 7, 9] and runs.size == 10
    assert runs.slice(0, 5) is None and runs.slice(1, 3) is None and runs.slice(7, 9) is True
    assert runs.slice(3, 7) == [None, None, 4, None]
    assert runs.slice(8, 10) == [True, 1] and type(runs.slice(8, 10)[1]) is int
    assert runs.slice(4, 4) == [] and runs.slice(9, 10) == 1
    assert expand(runs) == [None] * 5 + [4, None, True, True, 1]


def rows_of(count: int, seed: int) -> tuple[list[Any], list[tuple[str, str]]]:
    """Attempt rows and ends as a run makes them, some of them unusual."""
    rng = random.Random(seed)
    rows, ends = [], []
    for i in range(count):
        node = f"n{rng.randrange(50)}"
        ok = rng.random() > 0.1
        rows.append((node, rng.choice([1, 1, 1, 2]), rng.choice([None, None, 0, 3]), ok,
                     1.7e9 + rng.random(), rng.random(), rng.choice(["w1", "w2", "w3"]),
                     None if ok else f"ValueError: {i}"))
        if rng.random() > 0.2:
            ends.append((node, rng.choice(["success", "success", "failed", "skipped"])))
    return rows, ends


def check(columns: Columns, rows: list[Any], ends: list[tuple[str, str]],
          ids: list[str]) -> None:
    n = len(rows)
    assert columns.to == (len(ends), n)
    assert [ids[p] for p in columns.node] == [r[0] for r in rows]
    assert expand(columns.number) == [r[1] for r in rows]
    assert expand(columns.index) == [r[2] for r in rows]
    assert expand(columns.ok) == [r[3] for r in rows]
    assert list(columns.started) == [r[4] for r in rows]
    assert list(columns.duration) == [r[5] for r in rows]
    assert [columns.workers[w] for w in columns.worker] == [r[6] for r in rows]
    assert expand(columns.error) == [r[7] for r in rows]
    assert [ids[p] for p in columns.end] == [e[0] for e in ends]
    assert expand(columns.state) == [e[1] for e in ends]


def test_columns_hold_every_attempt_and_end_exactly_however_they_come() -> None:
    ids = [f"n{i}" for i in range(50)]
    positions = Layout({n: i for i, n in enumerate(ids)}, False)
    for seed in range(20):
        rows, ends = rows_of(200, seed)
        columns = Columns()
        # In batches of every kind: usual ones (one worker, first tries that
        # succeeded, their ends right after), and mixed ones.
        usual = [(r[0], 1, None, True, r[4], r[5], "w1", None) for r in rows[:60]]
        usual_ends = [(r[0], "success") for r in usual]
        add(columns, usual, usual_ends, positions)
        add(columns, usual[:1], [], positions)  # a worker seen before, alone
        at = 0
        for size in (1, 7, 0, 50, 142):
            add(columns, rows[at:at + size], ends[at:at + size], positions)
            at += size
        add(columns, [], ends[at:], positions)
        check(columns, usual + usual[:1] + rows, usual_ends + ends, ids)
        # A plan where no node retries or fans out: only whether they succeeded is looked at.
        plain = Columns()
        failed = [(*r[:3], False, *r[4:7], "E: no") for r in usual[:5]]
        for batch in (usual, failed, usual):
            add(plain, batch, [], Layout(positions.positions, True))
        check(plain, usual + failed + usual, [], ids)


def test_catching_up_with_a_record_in_steps_or_whole_gives_the_same_columns() -> None:
    ids = [f"n{i}" for i in range(50)]
    layout = Layout({n: i for i, n in enumerate(ids)}, False)
    for seed in range(5):
        rows, ends = rows_of(300, seed)
        states = dict(ends)
        ends = list(states.items())  # (a record's states: one per task)
        growing: list[Any] = []
        grown: dict[str, str] = {}
        steps = Columns()
        for told, ended in ((0, 0), (10, 4), (10, 4), (150, len(ends) // 2), (300, len(ends))):
            growing += rows[len(growing):told]
            grown.update(ends[len(grown):ended])
            steps.catch_up(growing, told, grown, ended, layout)
            assert steps.to == (ended, told)
        check(steps, rows, ends, ids)
        whole = Columns()
        whole.catch_up(rows, len(rows), states, len(states), layout, whole=True)
        check(whole, rows, ends, ids)
        whole.catch_up(rows, len(rows), states, len(states), layout, whole=True)
        assert whole.to == (len(ends), len(rows))  # nothing twice


def test_a_plan_with_retries_or_a_fan_out_is_not_all_first_tries() -> None:
    def layout(**options: Any) -> Layout:
        dag = DAG()
        dag.add_node(int)
        dag.add_node(task(len, **options) if options else len, "ab")
        return Layout.of(dag.compile())

    assert layout().firsts and not layout(retries=1).firsts
    with Flow("mapped") as flow:
        task(len).map(["ab", "c"])
    fanned = Layout.of(flow.compile())
    assert not fanned.firsts and len(fanned.positions) == 1


def test_settle_keeps_what_still_runs() -> None:
    running: dict[tuple[str, int | None], tuple[int, str, float]] = {}
    settle(running, [("a", 1, None, "w", 1.0), ("m", 1, 0, "w", 1.0), ("m", 1, 1, "w", 1.0),
                     ("b", 2, None, "w", 1.0)], [])
    # m's element 1 ended, not its element 0; b's first try ended (its retry is on).
    rows = [("m", 1, 1, True, 1.0, 0.1, "w", None), ("b", 1, None, False, 0.5, 0.1, "w", "E"),
            ("c", 1, None, True, 1.0, 0.1, "w", None)]
    settle(running, [], rows)
    assert running == {("a", None): (1, "w", 1.0), ("m", 0): (1, "w", 1.0),
                       ("b", None): (2, "w", 1.0)}
    last = [("b", 2, None, True, 1.0, 0.1, "w", None), ("m", 1, 0, True, 1.0, 0.1, "w", None)]
    settle(running, [], last)
    assert running == {("a", None): (1, "w", 1.0)}


def test_settle_drops_the_attempts_of_final_tasks_without_searching_the_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from webber import _dashboard_columns

    searched: list[int] = []

    def counted(rows: Any) -> list[str]:
        searched.append(len(rows))
        return nodes_of(rows)

    monkeypatch.setattr(_dashboard_columns, "nodes_of", counted)
    running: dict[tuple[str, int | None], tuple[int, str, float]] = {}
    started = [("a", 1, None, "w", 1.0), ("m", 1, 0, "w", 1.0), ("m", 1, 1, "w", 1.0)]
    rows: list[Any] = [(f"t{i}", 1, None, True, 1.0, 0.1, "w", None) for i in range(100)]
    rows += [("a", 1, None, True, 1.0, 0.1, "w", None), ("m", 1, 0, True, 1.0, 0.1, "w", None),
             ("m", 1, 1, True, 1.0, 0.1, "w", None)]
    # a and the fan-out m are final: every attempt of theirs ended
    settle(running, started, rows, {"a": "success", "m": "success", "t0": "success"})
    assert running == {} and searched == []
    # b is not final (its retry may follow): its row is looked for
    settle(running, [("b", 1, None, "w", 1.0), ("c", 1, None, "w", 1.0)],
           [*rows, ("b", 1, None, False, 1.0, 0.1, "w", "E")], {"a": "success"})
    assert running == {("c", None): (1, "w", 1.0)} and searched == [104]


def test_settle_of_a_batch_where_every_task_started_and_ended_is_not_quadratic(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The inline executor tells every attempt as started, and a wide run's
    # rows come in one batch: 20,000 tasks searched each among 20,000 rows
    # took 2 s (70,000: 44 s) with a dashboard.
    from webber import _dashboard_columns

    searched = [0]

    class Counted(list):  # type: ignore[type-arg]
        def index(self, *args: Any) -> int:
            searched[0] += 1
            return super().index(*args)

    monkeypatch.setattr(_dashboard_columns, "nodes_of", lambda rows: Counted(nodes_of(rows)))
    n = 2000
    running: dict[tuple[str, int | None], tuple[int, str, float]] = {}
    started = [(f"t{i}", 1, None, "main", 1.0) for i in range(n)]
    rows: list[Any] = [(f"t{i}", 1, None, True, 1.0, 0.1, "main", None) for i in range(n - 1)]
    rows.append(("m", 1, 3, True, 1.0, 0.1, "main", None))  # another task's element
    started.append(("r", 2, None, "main", 2.0))  # its first try ended, its retry is on
    rows.append(("r", 1, None, False, 1.0, 0.1, "main", "E"))
    settle(running, started, rows)
    assert running == {(f"t{n - 1}", None): (1, "main", 1.0), ("r", None): (2, "main", 2.0)}
    assert searched[0] <= 64


def test_a_board_packs_what_it_was_told_and_lets_the_record_go_at_the_end() -> None:
    from webber import Dashboard
    from webber._events import Hooks

    dag = DAG("kept")
    for _ in range(3):
        dag.add_node(int)
    run = dag.run(executor="inline")
    rows = [(a.node, a.number, a.index, a.ok, a.started, a.duration, a.worker, a.error)
            for tries in run.attempts.values() for a in tries]
    ends = list(run.states.items())
    board = Board()
    board.plan = run.plan
    board.on_batch([], rows[:1], ends[:1])
    board.on_batch([], rows[1:], ends[1:])
    assert board.rows == rows and board.states == dict(ends) and board.columns.to == (0, 0)
    assert board.lengths() == (3, 3, 0, 0)
    board.pack()
    assert board.columns.to == (3, 3) and board.lengths() == (3, 3, 0, 0)
    check(board.columns, rows, ends, list(run.plan.nodes))
    # The engine's record, handed over as it grows: only what was told is packed.
    record: list[Any] = []
    states: dict[str, str] = {}
    live = Board()
    live.plan = run.plan
    hooks = Hooks([live])
    record += rows[:2]
    states.update(ends[:1])
    hooks.batch(record, states)
    record.append(rows[2])  # not told yet
    states.update(ends[1:])
    assert live.rows is record and live.states is states and live.pack().to == (1, 2)
    hooks.batch(record, states)
    assert live.pack().to == (3, 3)
    check(live.columns, rows, ends, list(run.plan.nodes))
    # At a run's end with a page open, its end is made; a run that went well
    # leaves its attempts to the page's next look, which packs all of them
    # and lets the record go.
    dashboard = Dashboard()
    try:
        watched = Board(dashboard)
        dashboard.pages = 1
        watched.plan = run.plan
        watched.on_batch([], rows, ends)
        watched.on_run_end(run)
        assert watched.whole is not None and watched.later
        assert watched.rows is not None and watched.columns.to == (0, 0)
        assert watched.pack().to == (3, 3) and watched.lengths() == (3, 3, 0, 0)
        assert watched.rows is None and watched.states is None
    finally:
        dashboard.pages = 0
        dashboard.stop()


def test_on_batch_gets_every_final_state_alone_or_beside_per_task_listeners() -> None:
    class Batches(Listener):
        def __init__(self) -> None:
            self.ended: list[tuple[str, str]] = []
            self.batches = 0

        def on_batch(self, started: Any, attempts: Any, ended: Any) -> None:
            self.ended += ended
            self.batches += 1

    class Ends(Listener):
        def __init__(self) -> None:
            self.ended: list[tuple[str, str]] = []

        def on_task_end(self, node: str, state: Any, attempt: int, duration: float,
                        worker: str) -> None:
            self.ended.append((node, state))

    dag = DAG("finals")
    ok = dag.add_node(int, "1")
    bad = dag.add_node(int, "x")
    dag.add_edge(bad, dag.add_node(int, "2"))
    previous = ok
    for _ in range(5):  # a chain: one batch per link, at least
        previous = dag.add_node(abs, Promise(previous))
    for executor in ("inline", "threads"):
        alone, beside, ends = Batches(), Batches(), Ends()
        first = dag.run(executor=executor, listeners=[alone])
        dag.run(executor=executor, listeners=[beside, ends])
        assert alone.batches >= 1 and beside.batches >= 1
        # In the order the tasks ended (the same run's on_task_end says it).
        assert beside.ended == ends.ended
        assert sorted(alone.ended) == sorted(ends.ended) == sorted(first.states.items())
        assert len(alone.ended) == 8
        assert (ok, "success") in alone.ended and (bad, "failed") in alone.ended


def test_hooks_tell_on_batch_the_states_and_rows_each_batch_added() -> None:
    from webber._events import Hooks

    class Batches(Listener):
        def __init__(self) -> None:
            self.calls: list[tuple[Any, Any, Any]] = []

        def on_batch(self, started: Any, attempts: Any, ended: Any) -> None:
            self.calls.append((list(started), list(attempts), list(ended)))

    class Columnar(Listener):
        """Is handed the record itself (as the dashboard's Board is)."""

        def __init__(self) -> None:
            self.calls: list[tuple[Any, Any, Any]] = []
            self.told = self.ended = 0

        def on_batch(self, started: Any, attempts: Any, ended: Any) -> None:
            raise AssertionError("on_batch_columns is called instead")

        def on_batch_columns(self, started: Any, rows: Any, told: int, states: Any,
                             ended: int, spans: Any, counted: int) -> None:
            finals = list(states.items())[self.ended:ended]
            self.calls.append((list(started), rows[self.told:told], finals))
            self.told, self.ended = told, ended

    seen, columnar = Batches(), Columnar()
    hooks = Hooks([columnar, seen])
    rows: list[Any] = []
    states: dict[str, Any] = {}
    hooks.batch(rows, states)  # nothing yet: no call
    rows.append(("a", 1, None, True, 1.0, 0.1, "w", None))
    states["a"] = "success"
    hooks.started.append(("b", 1, None, "w", 1.0))
    hooks.batch(rows, states)
    hooks.started.append(("c", 1, None, "w", 2.0))
    hooks.batch(rows, states)  # a start alone
    rows += [("b", 1, None, True, 1.0, 0.1, "w", None), ("c", 1, None, True, 2.0, 0.1, "w", None)]
    states.update(c="success", b="skipped", d="skipped")
    hooks.batch(rows, states)
    hooks.batch(rows, states)  # nothing new: no call
    assert seen.calls == [
        ([("b", 1, None, "w", 1.0)], [rows[0]], [("a", "success")]),
        ([("c", 1, None, "w", 2.0)], [], []),
        ([], rows[1:], [("c", "success"), ("b", "skipped"), ("d", "skipped")]),
    ]
    assert columnar.calls == seen.calls


def test_positions_and_lanes_are_16_bits_until_they_need_more() -> None:
    ids = [f"n{i}" for i in range(3)]
    rows = [(ids[i % 3], 1, None, True, 1.0, 0.5, f"w{i}", None) for i in range(70_000)]
    columns = Columns()
    add(columns, rows[:10], [], Layout({n: i for i, n in enumerate(ids)}, True))
    assert columns.node.typecode == columns.worker.typecode == "H"
    add(columns, rows[10:], [(ids[0], "success")], Layout({n: i for i, n in enumerate(ids)}, True))
    assert columns.worker.typecode == "I" and len(columns.workers) == 70_000
    check(columns, rows, [(ids[0], "success")], ids)
    wide = Columns()
    add(wide, rows[:5], [], Layout({n: i for i, n in enumerate(ids)}, True, "I"))
    assert wide.node.typecode == wide.end.typecode == "I"
    check(wide, rows[:5], [], ids)


def test_a_batch_leaves_out_the_ends_nodes_when_they_are_the_attempts() -> None:
    from tests.conftest import decoded
    from webber._dashboard_page import batch

    dag = DAG("same")
    first = dag.add_node(int, "1")
    dag.add_edge(first, dag.add_node(int, "x"))
    run = dag.run(executor="inline")
    board = Board.of_run(run)
    whole = decoded(batch(board)[2])
    assert whole["end"]["same"] and whole["size"] == [2, 2]
    assert whole["ended"] == whole["node"] and len(whole["node"]) == 2
    # From the middle of the attempts, the ends' own nodes are sent.
    part = decoded(batch(board, (0, 1, 0, 0))[2])
    assert not part["end"]["same"] and len(part["node"]) == 1 and len(part["ended"]) == 2


def test_a_page_that_keeps_its_graph_gets_the_events_made_at_the_runs_end(
    monkeypatch: Any,
) -> None:
    import urllib.request

    from webber import Dashboard, _dashboard_http

    # A page looks only when woken (at a run's end): nothing is sent in the middle.
    monkeypatch.setattr(_dashboard_http, "BATCH", 3600.0)
    dashboard = Dashboard()
    dag = DAG("whole")
    dag.add_node(sum, [1, 2])
    dag.add_node(int, "x")
    try:
        dag.run(executor="inline", dashboard=dashboard)
        first = dashboard.board
        events = dashboard.url.replace("/?", "/events?")
        with urllib.request.urlopen(events, timeout=60) as stream:

            def run_events() -> bytes:
                lines = [next(stream) for _ in range(3)]  # event: run, data, blank
                return b"".join(lines + [next(stream) for _ in range(3)])  # id, data, blank

            assert b'"nodes":{"id":' in run_events()  # the first run, with its graph
            assert first is not None and first.whole is None  # no page when it ended
            dag.run(executor="threads", dashboard=dashboard)
            board = dashboard.board
            assert board is not None and board.whole is not None
            sent = run_events()
        assert sent == board.whole[1] and b'"nodes":"same"' in sent
        assert board.whole[0] == board.lengths() and board.whole[0][:3] == (2, 2, 0)
        assert decoded_last(sent)["done"][1] is False
    finally:
        dashboard.stop()


def decoded_last(events: bytes) -> dict[str, Any]:
    from tests.conftest import decoded

    return decoded(events.rstrip(b"\n").rsplit(b"\ndata: ", 1)[1])


def test_runs_of_one_worker_and_workers_taking_turns_get_their_lanes() -> None:
    ids = ["a"]
    layout = Layout({"a": 0}, True)
    order = ["p1"] * 40 + ["p2"] * 40 + ["t1", "t2", "t1"] + ["p2"] * 50 + ["p3"] * 33
    rows = [("a", 1, None, True, float(i), 0.5, w, None) for i, w in enumerate(order)]
    columns = Columns()
    add(columns, rows[:80], [], layout)  # two runs
    add(columns, rows[80:], [], layout)  # turns, then runs: one lookup per row
    add(columns, rows[-33:], [], layout)  # one run, to the end
    check(columns, rows + rows[-33:], [], ids)
    assert columns.workers == ["p1", "p2", "t1", "t2", "p3"]


def test_positions_of_tasks_in_the_plans_order_or_not_are_exact() -> None:
    ids = [f"n{i}" for i in range(200)]
    layout = Layout({n: i for i, n in enumerate(ids)}, True)
    shuffled = ids[100:140]
    random.Random(1).shuffle(shuffled)
    nodes = ids[:40] + ids[60:100] + shuffled + ["n5", "n7", "n5"] + ids[150:200]
    order = ["p1"] * 40 + ["p2"] * 40 + ["p1"] * 40 + ["t1", "t2", "t1"] + ["p3"] * 50
    rows = [(n, 1, None, True, float(i), 0.5, w, None)
            for i, (n, w) in enumerate(zip(nodes, order, strict=True))]
    columns = Columns()
    add(columns, rows, [(n, "success") for n in nodes], layout)
    check(columns, rows, [(n, "success") for n in nodes], ids)


def test_the_engine_keeps_columns_only_for_listeners_of_batches() -> None:
    from webber._events import Hooks

    class Ends(Listener):
        def on_task_end(self, node: str, state: Any, attempt: int, duration: float,
                        worker: str) -> None:
            pass

    class Batches(Listener):
        def on_batch(self, started: Any, attempts: Any, ended: Any) -> None:
            pass

    class Results(Listener):
        def on_task_result(self, node: str, state: Any, value: Any) -> None:
            pass

    assert Hooks([]).columns and Hooks([Board()]).columns
    assert Hooks([Batches()]).columns and Hooks([Board(), Batches()]).columns  # (rows by batch)
    for other in (Ends(), Results()):
        assert not Hooks([Board(), other]).columns and not Hooks([other]).columns


def test_spans_of_the_record_are_packed_in_their_places_among_the_rows() -> None:
    from webber._run import Recorder

    ids = [f"n{i}" for i in range(300)]
    layout = Layout({n: i for i, n in enumerate(ids)}, False)
    for seed in range(5):
        rng = random.Random(seed)
        rows, _ = rows_of(120, seed)
        record, states = Recorder(), {}
        steps = Columns()
        free = iter(ids[50:])  # a span's nodes: first attempts of their own
        for row in rows:
            record.rows.append(row)
            if rng.random() < 0.2:
                nodes = [next(free) for _ in range(rng.randrange(1, 5))]
                record.column(nodes, [rng.random() for _ in nodes], [rng.random() for _ in nodes],
                              rng.choice(["w1", "w4"]))
                states.update(dict.fromkeys(nodes, "success"))
            if rng.random() < 0.3:  # the record told so far
                steps.catch_up(record.rows, len(record.rows), states, len(states), layout,
                               spans=record.columns, counted=len(record.columns))
        spans, told = list(record.columns), len(record.rows)
        whole = Columns()
        whole.catch_up(record.rows, told, states, len(states), layout, whole=True,
                       spans=spans, counted=len(spans))
        steps.catch_up(record.rows, told, states, len(states), layout,
                       spans=spans, counted=len(spans))
        every = record.all_rows()
        assert len(every) == told + sum(len(s[1]) for s in spans)
        for columns in (steps, whole):
            check(columns, every, list(states.items()), ids)


def test_the_task_at_the_head_of_each_workers_column_is_the_one_running() -> None:
    from webber._events import Hooks
    from webber.executors._base import Column

    board = Board()
    hooks = Hooks([board])
    rows: list[Any] = []
    states: dict[str, str] = {}
    spans: list[Any] = []
    one = Column(len, "len", ["a", "b", "c"], [("x",)] * 3)
    two = Column(len, "len", ["d", "e"], [("x",)] * 2)
    # Each worker got to its column: its first task runs.
    hooks.started += [("a", 1, None, "w1", 1.0), ("d", 1, None, "w2", 1.0)]
    hooks.batch(rows, states, spans)
    assert board.running == {("a", None): (1, "w1", 1.0), ("d", None): (1, "w2", 1.0)}
    # w1 answered a and b: c runs there since b ended; w2 is still on d.
    spans.append((0, ["a", "b"], [1.0, 1.5], [0.5, 0.5], "w1"))
    states.update(a="success", b="success")
    hooks.column_on(one, 2, "w1", 2.0)
    hooks.batch(rows, states, spans)
    assert board.running == {("c", None): (1, "w1", 2.0), ("d", None): (1, "w2", 1.0)}
    assert board.lengths() == (2, 2, 0, 0)
    # Both columns done: nothing runs.
    spans += [(0, ["c"], [2.0], [0.1], "w1"), (0, ["d", "e"], [1.0, 1.2], [0.2, 0.2], "w2")]
    states.update(c="success", d="success", e="success")
    hooks.column_on(one, 3, "w1", 2.1)
    hooks.column_on(two, 2, "w2", 1.4)
    hooks.batch(rows, states, spans)
    assert board.running == {} and board.lengths() == (5, 5, 0, 0)
