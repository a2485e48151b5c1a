"""Streaming (QueueDAG and stream()), on every executor."""

from __future__ import annotations

import functools
import itertools
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_PROCESS
from webber import (
    DAG,
    ExecutorError,
    Flow,
    GraphError,
    OptionError,
    Promise,
    QueueDAG,
    TaskDefinitionError,
    stream,
    task,
)
from webber._task_errors import TaskTimeoutError


class Counter:
    """A root that counts 0, 1, 2, ... in whatever process it runs (its state
    lives where its stage's worker is)."""

    def __init__(self) -> None:
        self.n = -1

    def __call__(self) -> int:
        self.n += 1
        return self.n


def square(x: int) -> int:
    return x * x


def label(x: int) -> str:
    return f"#{x}"


def flaky_on(x: int, item: int, folder: str) -> int:
    """Fails the first try on ``item``; a file remembers the try across processes."""
    marker = Path(folder) / f"tried-{x}"
    if x == item and not marker.exists():
        marker.write_text("x")
        raise ValueError(f"first try of {x} fails")
    return x


def bad_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("bad item")
    return x


@task
def parse(line: str) -> int:
    return int(line)


@task
def double(x: int) -> int:
    return 2 * x


def chain(n: int = 6) -> QueueDAG:
    qdag = QueueDAG()
    numbers = qdag.add_node(Counter(), iterator=n)
    squares = qdag.add_node(square, Promise(numbers))
    qdag.add_node(label, Promise(squares))
    return qdag


def test_a_chain_streams_every_output_in_order(executor: str) -> None:
    assert chain(6).execute(executor=executor) == ["#0", "#1", "#4", "#9", "#16", "#25"]
    assert chain(40).execute(executor=executor, maxsize=2) == [f"#{i * i}" for i in range(40)]


def test_halt_condition_stops_after_the_output_that_meets_it(executor: str) -> None:
    qdag = QueueDAG()
    numbers = qdag.add_node(Counter(), halt_condition=lambda out: out >= 4, max_iter=100)
    qdag.add_node(square, Promise(numbers))
    assert qdag.execute(executor=executor) == [0, 1, 4, 9, 16]

    capped = QueueDAG()
    capped.add_node(Counter(), halt_condition=lambda out: False, max_iter=3)
    assert capped.execute(executor=executor) == [0, 1, 2]


def test_a_stage_retries_an_item_and_the_order_holds(executor: str, tmp_path: Path) -> None:
    qdag = QueueDAG()
    numbers = qdag.add_node(Counter(), iterator=8)
    checked = qdag.add_node(flaky_on, Promise(numbers), 2, str(tmp_path))
    qdag.retry_node(checked, 1)
    qdag.add_node(square, Promise(checked))
    assert qdag.execute(executor=executor) == [i * i for i in range(8)]
    assert (tmp_path / "tried-2").exists()


def test_a_failing_item_stops_the_stream_naming_item_and_stage(executor: str) -> None:
    qdag = QueueDAG()
    numbers = qdag.add_node(Counter(), iterator=1000)
    checked = qdag.add_node(bad_on_three, Promise(numbers))
    qdag.add_node(square, Promise(checked))
    with pytest.raises(ValueError, match="bad item") as caught:
        qdag.execute(executor=executor, maxsize=4)
    (note,) = caught.value.__notes__
    assert "item 3 of the stream" in note and "stage 2 of 3, 'bad_on_three-1'" in note
    assert "after 1 attempt" in note


def test_stream_in_a_flow_and_outside(executor: str) -> None:
    assert stream(["1", "2", "3"], parse, double, executor=executor) == [2, 4, 6]

    @task
    def lines() -> list[str]:
        return ["4", "5", "6"]

    with Flow() as flow:
        doubled = stream(lines(), parse, double, label, executor=executor)
    run = flow.run(executor="inline")
    assert run[doubled] == ["#8", "#10", "#12"]
    assert flow.get_node(doubled).name == "stream(parse, double, label)"


def test_a_queue_dag_is_a_node_of_a_dag(executor: str) -> None:
    outer = DAG()
    streamed = outer.add_node(chain(4).execute, "threads")
    joined = outer.add_node(", ".join, Promise(streamed))
    run = outer.run(executor=executor)
    assert run[joined] == "#0, #1, #4, #9"


@pytest.mark.parametrize("executor", IN_PROCESS)
def test_a_fast_source_waits_for_room(executor: str) -> None:
    pulled = 0
    seen: list[int] = []
    lock = threading.Lock()

    def source() -> Any:
        nonlocal pulled
        for i in range(300):
            with lock:
                pulled += 1
            yield i

    def last(x: int) -> int:
        with lock:
            seen.append(pulled - x)  # items pulled beyond this one
        return x

    out = stream(source(), square, abs, last, executor=executor, maxsize=2)
    assert out == [i * i for i in range(300)] or out == list(range(300))
    # 3 stages x (2 waiting or running): never the whole source at once
    assert max(seen) <= 3 * 2 + 1


def test_the_graph_must_be_a_chain() -> None:
    qdag = QueueDAG()
    a = qdag.add_node(Counter(), iterator=2)
    b = qdag.add_node(square, Promise(a))
    with pytest.raises(GraphError, match="already feeds 'square-1'; a QueueDAG node has a maximum"):
        qdag.add_node(label, Promise(a))
    c = qdag.add_node(label, 3)
    with pytest.raises(GraphError, match="'Counter-1' already feeds 'square-1'"):
        qdag.add_edge(a, c)
    with pytest.raises(GraphError, match="is not one chain: Counter-1, label-1 have no parent"):
        qdag.execute(executor="inline")
    with pytest.raises(GraphError, match="takes the outputs of 2 nodes"):
        qdag.add_node(print, Promise(b), Promise(c))
    assert len(qdag) == 3  # nothing half-added


def test_a_root_that_would_run_forever_is_refused() -> None:
    qdag = QueueDAG()
    qdag.add_node(Counter())
    with pytest.raises(TaskDefinitionError, match="would run forever; give it iterator=N"):
        qdag.execute(executor="inline")
    with pytest.raises(TaskDefinitionError, match="iterator=-1 is not valid; it must be a whole"):
        QueueDAG().add_node(Counter(), iterator=-1)


def test_add_node_refuses_repeat_settings_it_can_tell_are_wrong() -> None:
    # Before: both were taken, and told only by execute() (the first) or by
    # the root's first output, as the stream ran (the second).
    qdag = QueueDAG()
    root = qdag.add_node(Counter(), iterator=3)
    with pytest.raises(TaskDefinitionError, match=(
            r"^queuedag 'queue_dag': node of 'square': iterator=3 is given, but this node takes "
            r"the output of 'Counter-1', so it is no root: only the root repeats; remove "
            r"iterator= here")):
        qdag.add_node(square, Promise(root), iterator=3)
    with pytest.raises(TaskDefinitionError, match=(
            r"^queuedag 'queue_dag': node of 'Counter': halt_condition=.*<lambda>\(\) cannot "
            r"take 1 positional argument.*; it is called with the root's output: "
            r"halt_condition=lambda out: out is None")):
        QueueDAG().add_node(Counter(), halt_condition=lambda: True, max_iter=3)
    assert len(qdag) == 1  # nothing half-added
    qdag.add_node(square, Promise(root))
    assert qdag.execute(executor="inline") == [0, 1, 4]


def test_stream_says_what_is_wrong_with_its_arguments() -> None:
    with pytest.raises(TaskDefinitionError, match=r"^stream\(\) needs at least one stage"):
        stream([1, 2])
    with pytest.raises(TaskDefinitionError, match=r"^stream\(\): stage 1 is str 'abs', not a "):
        stream([1], "abs")  # type: ignore[arg-type]
    # the stages first, the items last: the error says which comes first
    with pytest.raises(TaskDefinitionError, match=r"^stream\(\): the items are Task .* not an "
                                                  r"iterable; pass the items first, then the "
                                                  r"stages: stream\(lines, parse, \.\.\.\)$"):
        stream(task(abs), [1, 2], executor="inline")  # type: ignore[arg-type]
    with Flow(), pytest.raises(TaskDefinitionError, match=r"the items are int 5, not an "):
        stream(5, abs)  # type: ignore[arg-type]


def test_stream_refuses_bad_values_at_the_call_naming_the_argument() -> None:
    # Before: a str streamed its characters, a misspelt keyword raised Python's
    # bare TypeError, maxsize=0 said neither which call nor what it is, and in a
    # flow a bad maxsize or executor was recorded and failed the run later.
    with pytest.raises(TaskDefinitionError, match=r"^stream\(\): the items are a str 'ab c'; a "
                                                  r"str would stream one character at a "
                                                  r"time: pass a list.*splitlines\(\)"):
        stream("ab c", str.upper, executor="inline")
    with pytest.raises(TaskDefinitionError, match=r"the items are a bytes b'12'; a bytes "):
        stream(b"12", abs, executor="inline")
    for bad in (0, -1, 2.5, "8", None, True):
        with pytest.raises(TaskDefinitionError, match=(
                rf"^stream\(\): maxsize={re.escape(repr(bad))} is not valid; it must be a "
                rf"whole number >= 1 \(how many items may wait or run between two stages; "
                rf"the default is 16\)$")):
            stream([1], abs, executor="inline", maxsize=bad)  # type: ignore[arg-type]
    with pytest.raises(OptionError, match=r"^stream\(\) takes no max_size=; did you mean "
                                          r"maxsize=\? its options: executor=, maxsize=, lazy=$"):
        stream([1], abs, executor="inline", max_size=2)  # type: ignore[call-arg]
    promised = Flow()
    with promised:
        rows = task(list)(range(3))
    with pytest.raises(TaskDefinitionError, match=(
            r"^stream\(\): the items are Promise\('list-1'\), the result of a task of a flow; "
            r"call stream\(\) inside `with Flow\(\):` to stream it when the flow runs, or "
            r"pass the result: stream\(run\[promise\], \.\.\.\)$")):
        stream(rows, abs, executor="inline")
    with Flow() as flow:
        with pytest.raises(TaskDefinitionError, match=r"^stream\(\): maxsize=0 is not valid"):
            stream([1], abs, executor="inline", maxsize=0)
        with pytest.raises(ExecutorError, match=r"unknown executor 'thread'.*executor='threads'"):
            stream([1], abs, executor="thread")
        with pytest.raises(TaskDefinitionError, match=r"the items are a str 'abc'"):
            stream("abc", abs, executor="inline")
    assert len(flow) == 0  # nothing recorded


def test_a_promised_str_is_refused_when_the_stream_runs() -> None:
    with Flow() as flow:
        text = task(str)(123)
        streamed = stream(text, int, executor="inline")
    run = flow.run(executor="inline")
    with pytest.raises(TaskDefinitionError, match=r"^stream\(\): the items are a str '123'"):
        run[streamed]


def test_queue_dag_execute_refuses_bad_values_naming_the_argument() -> None:
    qdag = chain(2)
    with pytest.raises(TaskDefinitionError, match=(
            r"^queuedag 'queue_dag': execute\(\): maxsize=0 is not valid; it must be a whole "
            r"number >= 1")):
        qdag.execute("inline", maxsize=0)
    for flag in ("return_ref", "print_exc"):
        with pytest.raises(OptionError, match=(
                rf"^queuedag 'queue_dag': execute\(\): {flag}='yes' is not a bool; "
                rf"{flag}= takes True or False")):
            qdag.execute("inline", **{flag: "yes"})
    assert qdag.execute("inline", return_ref=True, print_exc=False) == ["#0", "#1"]


def _breaks_after_two() -> Any:
    yield 1
    yield 2
    raise OSError("source broke")


def test_items_that_raise_halfway_stop_the_stream_saying_so(
    executor: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Before: the error came bare, unlike a stage's: no note, nothing logged.
    with pytest.raises(OSError, match="source broke") as caught:
        stream(_breaks_after_two(), square, label, executor=executor)
    assert caught.value.__notes__ == [
        "webber: the stream's items raised as item 2 (counting from 0) was read; "
        "every stage was stopped"
    ]
    assert "the stream's items raised as item 2" in caplog.text


@task(retries=3, retry_on=ConnectionError)
def _refuses_for_good(x: int) -> int:
    raise ValueError(f"item {x} is malformed")


def test_a_stage_retries_only_what_its_retry_on_names(executor: str, tmp_path: Path) -> None:
    # Before: a stream retried every failure, retry_on= or not (4 attempts here).
    with pytest.raises(ValueError, match="item 0 is malformed") as caught:
        stream([0], _refuses_for_good, executor=executor)
    assert caught.value.__notes__[0].endswith("'refuses_for_good-1', after 1 attempt")
    qdag = QueueDAG()
    numbers = qdag.add_node(Counter(), iterator=1)
    qdag.add_node(_refuses_for_good, Promise(numbers))
    with pytest.raises(ValueError, match="item 0 is malformed") as caught:
        qdag.execute(executor=executor)
    assert caught.value.__notes__[0].endswith("after 1 attempt")
    flaky = functools.partial(flaky_on, item=2, folder=str(tmp_path))
    retried = task(retries=1, retry_on=lambda e: "first try" in str(e))(flaky)
    assert stream(range(4), retried, executor=executor) == [0, 1, 2, 3]
    assert (tmp_path / "tried-2").exists()


@pytest.mark.timeout(60)  # (a hang guard: before, the retry waited behind the stuck attempt)
def test_a_thread_stage_past_its_timeout_retries_on_a_new_thread() -> None:
    # A stage on threads has one thread; the attempt past its limit keeps it
    # (a thread cannot be killed). Before, the retry and the items behind it
    # waited for that attempt to end: for good, for a call that never returns.
    release = threading.Event()
    tries: list[int] = []

    @task(timeout=0.2, retries=1)
    def stuck_once(x: int) -> int:
        tries.append(x)
        if x == 1 and tries.count(1) == 1:
            release.wait()  # returns only once the stream is over
        return x

    try:
        assert stream(range(5), stuck_once, square, executor="threads") == [0, 1, 4, 9, 16]
    finally:
        release.set()
    assert tries.count(1) == 2


class _Item:
    """An item in flight (in life, a 100 MB array)."""


_made: list[Any] = []


def _make_item() -> _Item:
    import weakref

    item = _Item()
    _made.append(weakref.ref(item))
    return item


def _refuse(item: _Item) -> None:
    raise ValueError("bad item")


def test_a_failed_stream_lets_its_items_go(executor: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # (reliability row 39) The stream's frames in the error's traceback held
    # the error and the stream: a reference cycle kept the items in flight
    # until a full collection. Made in this process (the root runs here).
    import gc
    import logging
    import time

    monkeypatch.setattr(logging.getLogger("webber"), "propagate", False)  # (pytest keeps records)
    _made.clear()
    qdag = QueueDAG()
    root = qdag.add_node(_make_item, iterator=3)
    qdag.add_node(_refuse, Promise(root))
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        with pytest.raises(ValueError, match="bad item"):
            qdag.execute(executor=executor)
        if executor == "inline":  # (its frames are the caller's: see docs/guide/executors.md)
            gc.collect()
        deadline = time.monotonic() + 10  # (a stage's thread may still be winding down)
        while any(ref() is not None for ref in _made) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _made and all(ref() is None for ref in _made)
    finally:
        if was_enabled:
            gc.enable()


def _late_on_one(x: int) -> int:
    import time

    if x == 1:
        time.sleep(1.0)  # past its limit: cut short where a task can be, else returns late
    return x


def test_an_item_past_its_stage_timeout_fails_on_every_executor(executor: str) -> None:
    # Inline cannot cut a task short, but, as in a run, one that returns past
    # its limit fails with TaskTimeoutError: the stream returned it as if in time.
    limited = task(timeout=0.3)(_late_on_one)
    with pytest.raises(TaskTimeoutError, match=r"timed out after 0\.3 s on item 1") as caught:
        stream(range(3), limited, executor=executor)
    assert "item 1 of the stream" in caught.value.__notes__[0]
    assert stream([0, 2], limited, executor=executor) == [0, 2]


def test_a_lazy_stream_gives_the_outputs_in_order_as_the_list_would(executor: str) -> None:
    outputs = stream(["1", "2", "3"], parse, double, executor=executor, lazy=True)
    assert not isinstance(outputs, list)
    assert list(outputs) == stream(["1", "2", "3"], parse, double, executor=executor) == [2, 4, 6]


def test_leaving_a_lazy_stream_of_an_endless_source_stops_every_stage(executor: str) -> None:
    # (an endless source is what a lazy stream is for: a list would never be made)
    pulled: list[int] = []

    def endless() -> Any:
        for i in itertools.count():
            pulled.append(i)
            yield i

    taken = []
    for output in stream(endless(), square, abs, executor=executor, lazy=True, maxsize=4):
        taken.append(output)
        if len(taken) == 5:
            break
    assert taken == [0, 1, 4, 9, 16]
    # read only as the stages took them: each holds 4 at most, and the outputs in hand
    assert len(pulled) <= 5 + 4 * 3
    # the next stream runs (nothing of this one holds its executor or workers)
    assert stream([3], square, executor=executor) == [9]


def test_a_lazy_stream_raises_a_failure_where_the_loop_reads_it(executor: str) -> None:
    got: list[int] = []
    outputs = stream(range(10), bad_on_three, executor=executor, lazy=True)
    with pytest.raises(ValueError, match="bad item") as caught:
        got.extend(outputs)
    assert "item 3 of the stream" in caught.value.__notes__[0]
    # what was out before the failure, in order: all of it where one worker runs
    # the stage's items one after another; on dask's two, those out by then
    assert got == [0, 1, 2] if executor != "dask" else got == [0, 1, 2][: len(got)]


def test_a_lazy_stream_is_refused_in_a_flow_and_lazy_must_be_a_bool() -> None:
    with Flow(), pytest.raises(TaskDefinitionError, match=r"stream\(lazy=True\) inside"):
        stream(["1"], parse, lazy=True)
    with pytest.raises(OptionError, match=r"^stream\(\): lazy='yes' is not a bool"):
        stream(["1"], parse, lazy="yes")  # type: ignore[call-overload]


def test_an_executor_in_use_by_a_lazy_stream_is_refused_by_another_stream_or_run(
    executor: str,
) -> None:
    # An executor instance serves one run at a time (its start() replaces the
    # last one's session). Before, a second lazy stream on it, taken in turn
    # with the first (zip), hung for good; a stream or run in the loop's body
    # failed the first stream with "AssertionError: submit() before start()".
    from webber.executors import resolve_executor

    shared = resolve_executor(executor)
    first = stream(range(12), square, abs, executor=shared, lazy=True, maxsize=2)
    assert next(first) == 0
    second = stream(range(12), abs, square, executor=shared, lazy=True, maxsize=2)
    with pytest.raises(ExecutorError, match=r"in use by another run or stream"):
        next(second)
    with Flow() as flow:
        doubled = double(1)
    with pytest.raises(ExecutorError, match=r"in use by another run or stream"):
        flow.run(executor=shared)
    assert list(first) == [x * x for x in range(1, 12)]  # (it went on unharmed)
    # once it ended, the executor serves the next, one after another
    assert flow.run(executor=shared)[doubled] == 2
    assert stream([3], square, executor=shared) == [9]


def test_a_lazy_inline_stream_hands_out_each_output_before_running_more() -> None:
    # Inline runs each task in the consumer's thread, as it is submitted.
    # Before, the first output of an endless two-stage stream came after 80
    # calls (5 x maxsize: the loop filled every stage before handing it out),
    # and a `break` after it had read 48 items for nothing.
    calls: list[tuple[str, int]] = []

    def first(x: int) -> int:
        calls.append(("first", x))
        return x

    def second(x: int) -> int:
        calls.append(("second", x))
        return x

    outputs = stream(itertools.count(), first, second, executor="inline", lazy=True)
    assert next(outputs) == 0
    assert calls == [("first", 0), ("second", 0)]
    assert next(outputs) == 1
    assert calls[2:] == [("first", 1), ("second", 1)]
    outputs.close()
    # (the list form gives the same outputs, in order)
    assert stream(range(40), first, second, executor="inline") == list(range(40))


def test_a_failure_comes_after_the_outputs_of_the_items_before_it_still_running() -> None:
    # Item 1 fails in the first stage while item 0 is still in the second.
    # Before, the failure was raised at once: item 0's output, which would
    # have come, was lost -- on dask (items of a stage run side by side) the
    # outputs before a failure changed from run to run.
    import logging

    failed = threading.Event()

    class Tells(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "item 1 of the stream" in record.getMessage():
                failed.set()  # (the loop learned of the failure)

    def first(x: int) -> int:
        if x == 1:
            raise ValueError("bad item 1")
        return x

    def second(x: int) -> int:
        if x == 0:
            assert failed.wait(30)
        return x

    tells = Tells()
    logging.getLogger("webber").addHandler(tells)
    try:
        outputs = stream(range(6), first, second, executor="threads", lazy=True)
        assert next(outputs) == 0
        with pytest.raises(ValueError, match="bad item 1") as caught:
            next(outputs)
        assert "item 1 of the stream" in caught.value.__notes__[0]
        with pytest.raises(StopIteration):
            next(outputs)
    finally:
        logging.getLogger("webber").removeHandler(tells)
