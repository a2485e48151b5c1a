"""Events (Listener), the progress bar built on them, and resume -- on every executor."""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import webber
from tests.conftest import appears
from webber import DAG, Condition, Flow, Listener, task


class Recorder(Listener):
    """Every event, with the thread it arrived in."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.threads: set[int] = set()

    def _add(self, *event: Any) -> None:
        self.threads.add(threading.get_ident())
        self.events.append(event)

    def on_run_start(self, plan: webber.Plan) -> None:
        self._add("run_start", len(plan))

    def on_task_start(self, node: str, attempt: int, index: int | None, worker: str) -> None:
        assert worker, "every start names its worker"
        self._add("start", node, attempt, index)

    def on_attempt_end(self, attempt: webber.Attempt) -> None:
        self._add("attempt", attempt.node, attempt.number, attempt.index, attempt.ok)

    def on_task_end(
        self, node: str, state: str, attempt: int, duration: float, worker: str
    ) -> None:
        assert duration >= 0.0 and (worker != "") == (attempt > 0)
        self._add("end", node, state, attempt)

    def on_run_end(self, run: webber.Run) -> None:
        self._add("run_end", run.ok)

    def of(self, node: str) -> list[tuple[Any, ...]]:
        return [e for e in self.events if len(e) > 1 and e[1] == node]


def raising(event: str) -> Any:
    """A listener whose ``event`` callback raises; ``.calls`` counts its calls."""

    def callback(self: Any, *args: Any) -> None:
        self.calls += 1
        raise KeyError("listener bug")

    listener = type("Broken", (Listener,), {event: callback})()
    listener.calls = 0
    return listener


def flaky(marker: str) -> str:
    path = Path(marker)
    if not path.exists():
        path.write_text("tried")
        raise ValueError("first try fails")
    return "second try"


def fail() -> None:
    raise RuntimeError("no")


def test_events_arrive_in_the_callers_thread_in_order(executor: str, tmp_path: Path) -> None:
    dag = DAG()
    ok = dag.add_node(str.upper, "a")
    retried = dag.add_node(flaky, str(tmp_path / "marker"))
    dag.retry_node(retried, 1)
    bad = dag.add_node(fail)
    after_bad = dag.add_node(print, "never")
    dag.add_edge(bad, after_bad)
    plain = dag.add_node(abs, -1)
    recorder = Recorder()
    run = dag.run(executor=executor, listeners=[recorder])

    assert recorder.threads == {threading.get_ident()}
    assert recorder.events[0] == ("run_start", 5)
    assert recorder.events[-1] == ("run_end", False)
    assert recorder.of(ok) == [
        ("start", ok, 1, None), ("attempt", ok, 1, None, True), ("end", ok, "success", 1),
    ]
    assert recorder.of(retried) == [
        ("start", retried, 1, None), ("attempt", retried, 1, None, False),
        ("start", retried, 2, None), ("attempt", retried, 2, None, True),
        ("end", retried, "success", 2),
    ]
    assert recorder.of(bad)[-1] == ("end", bad, "failed", 1)
    assert recorder.of(after_bad) == [("end", after_bad, "skipped", 0)]
    assert recorder.of(plain)[-1] == ("end", plain, "success", 1)
    # The run record is built from the same events.
    assert [a.number for a in run.attempts[retried]] == [1, 2]


def test_fan_out_elements_each_start_and_end(executor: str) -> None:
    @task
    def double(x: int) -> int:
        return 2 * x

    # Regression test: 20 small jobs go to 2 worker processes in batches, and the
    # pool announced only the job at the head of each worker's queue (12 of 20).
    with Flow() as flow:
        out = double.map(range(20))
    recorder = Recorder()
    run = flow.run(executor=executor, listeners=[recorder], max_workers=2)
    assert run[out] == [2 * i for i in range(20)]
    events = recorder.of("double-1")
    assert sorted(e[3] for e in events if e[0] == "start") == list(range(20))
    assert sorted(e[3] for e in events if e[0] == "attempt") == list(range(20))
    assert events[-1] == ("end", "double-1", "success", 1)
    # Each element's start comes before its end.
    for index in range(20):
        starts = [i for i, e in enumerate(events) if e[0] == "start" and e[3] == index]
        ends = [i for i, e in enumerate(events) if e[0] == "attempt" and e[3] == index]
        assert starts[0] < ends[0]


class Batches(Listener):
    """Every on_batch call, and when the run ended relative to them."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[Any], list[Any], list[Any]]] = []
        self.threads: set[int] = set()
        self.calls_at_run_end = -1

    def on_batch(self, started: Any, attempts: Any, ended: Any) -> None:
        self.threads.add(threading.get_ident())
        self.calls.append((list(started), list(attempts), list(ended)))

    def on_run_end(self, run: webber.Run) -> None:
        self.calls_at_run_end = len(self.calls)


def test_on_batch_tells_every_attempt_and_end_once_in_order(
    executor: str, tmp_path: Path
) -> None:
    @task
    def double(x: int) -> int:
        return 2 * x

    with Flow() as flow:
        failed = task(fail)()
        promises: list[Any] = [double.map(range(30)),
                               task(retries=1)(flaky)(str(tmp_path / "marker")),
                               failed, task(print)(failed)]
    many, retried, bad, after_bad = (flow.node_id(p) for p in promises)
    batches, recorder = Batches(), Recorder()
    run = flow.run(executor=executor, listeners=[batches, recorder], max_workers=2)

    assert batches.threads == {threading.get_ident()}
    assert batches.calls and all(any(part) for part in batches.calls)
    assert batches.calls_at_run_end == len(batches.calls)  # the last one before on_run_end
    told = [row for _, attempts, _ in batches.calls for row in attempts]
    # The rows are the run record's attempts, all of them, each once.
    record = [a for tries in run.attempts.values() for a in tries]
    assert len(told) == len(record)
    assert all(webber.Attempt(*row) in record for row in told)
    assert sorted((r[0], r[1], r[2]) for r in told) == sorted(
        [(many, 1, i) for i in range(30)] + [(retried, 1, None), (retried, 2, None),
                                             (bad, 1, None)])
    ended = [e for _, _, ends in batches.calls for e in ends]
    assert sorted(ended) == sorted(run.states.items())
    assert (after_bad, "skipped") in ended
    # A task's end comes after its attempts: in an earlier call, or later in the same one.
    position = {}
    for k, (_, attempts, ends) in enumerate(batches.calls):
        for row in attempts:
            position[row[0]] = k
        for node, _ in ends:
            assert position.get(node, -1) <= k
    # A start told is one of the attempts that ran, and never after its end.
    ran = {(r[0], r[1], r[2]): k for k, (_, attempts, _) in enumerate(batches.calls)
           for r in attempts}
    for k, (started, _, _) in enumerate(batches.calls):
        for node, attempt, index, worker, at in started:
            assert worker and at > 0
            assert ran[node, attempt, index] >= k
    # The per-task events of the other listener are not changed by it.
    assert [e for e in recorder.events if e[0] == "end"] and \
        len([e for e in recorder.events if e[0] == "attempt"]) == len(told)


def test_a_listener_that_raises_in_on_batch_is_dropped_and_the_run_goes_on(
    executor: str, caplog: pytest.LogCaptureFixture
) -> None:
    broken = raising("on_batch")
    with Flow() as flow:
        out = task(abs).map(range(-5, 0))
    batches = Batches()
    with caplog.at_level(logging.ERROR, logger="webber"):
        run = flow.run(executor=executor, listeners=[broken, batches])
    assert run[out] == [5, 4, 3, 2, 1]
    assert broken.calls == 1
    assert sum(len(attempts) for _, attempts, _ in batches.calls) == 5  # the others go on
    assert "on_batch" in caplog.text and "KeyError: 'listener bug'" in caplog.text


def test_a_listener_that_raises_is_logged_and_dropped(
    executor: str, caplog: pytest.LogCaptureFixture
) -> None:
    broken = raising("on_task_end")
    dag = DAG()
    a = dag.add_node(str.upper, "a")
    b = dag.add_node(str.lower, "B")
    dag.add_edge(a, b)
    recorder = Recorder()
    with caplog.at_level(logging.ERROR, logger="webber"):
        run = dag.run(executor=executor, listeners=[broken, recorder])
    assert run.ok and run[b] == "b"
    assert broken.calls == 1  # dropped after its first error
    assert recorder.events[-1] == ("run_end", True)  # the others go on
    assert "listener" in caplog.text and "on_task_end" in caplog.text
    assert "KeyError: 'listener bug'" in caplog.text


def test_progress_bar_plain_fallback(
    executor: str, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # as if tqdm were not installed
    dag = DAG()
    dag.add_node(str.upper, "a")
    bad = dag.add_node(fail)
    dag.add_edge(bad, dag.add_node(print, "never"))
    dag.run(executor=executor, progress=True)
    err = capfd.readouterr().err
    assert err.count("webber: [") == 1  # not a terminal: only the final state, once
    assert "webber: [####################] 3/3 done (1 failed, 1 skipped)" in err


def test_progress_bar_uses_tqdm_when_installed(
    executor: str, capfd: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("tqdm")
    dag = DAG()
    for i in range(4):
        dag.add_node(abs, -i)
    bad = dag.add_node(fail)
    dag.add_edge(bad, dag.add_node(print, "never"))
    dag.run(executor=executor, progress=True)
    err = capfd.readouterr().err
    final = err.replace("\r", "\n").strip().splitlines()[-1]
    assert final.startswith("webber: 100%")
    assert "6/6" in final and "1 failed, 1 skipped" in final


def test_progress_bar_shows_where_a_run_stopped(
    executor: str, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # the plain bar: its lines are plain

    class Interrupt(Listener):  # Ctrl-C while the engine tells a listener
        def on_task_end(self, *args: Any) -> None:
            raise KeyboardInterrupt

    dag = DAG()
    dag.add_node(abs, -1)
    dag.add_node(abs, -2)
    with pytest.raises(KeyboardInterrupt):
        dag.run(executor=executor, progress=True, listeners=[Interrupt()])
    err = capfd.readouterr().err
    # The bar as it stood, on a line of its own: what is printed next starts a new line.
    assert err.count("webber: [") == 1 and err.endswith(" 1/2 done (0 failed, 0 skipped)\n")


def test_progress_off_creates_no_bar(executor: str, capfd: pytest.CaptureFixture[str]) -> None:
    dag = DAG()
    dag.add_node(abs, -1)
    dag.run(executor=executor)
    assert "webber" not in capfd.readouterr().err


# -- resume -------------------------------------------------------------------------


def counting(log: str, tag: str, *inputs: object) -> str:
    """Appends its tag to ``log`` (a file: works in worker processes too)."""
    with open(log, "a") as f:
        f.write(tag + "\n")
    return tag + "".join(f"({x})" for x in inputs)


def fails_once(log: str, marker: str, value: str) -> str:
    counting(log, "flaky")
    path = Path(marker)
    if not path.exists():
        path.write_text("x")
        raise ConnectionError("the database blinked")
    return value + "!"


def calls(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def test_resume_runs_only_the_failed_task_and_its_descendants(
    executor: str, tmp_path: Path
) -> None:
    log, marker = str(tmp_path / "calls"), str(tmp_path / "marker")
    dag = DAG()
    a = dag.add_node(counting, log, "a")
    b = dag.add_node(counting, log, "b", webber.Promise(a))
    flaky_node = dag.add_node(fails_once, log, marker, webber.Promise(a))
    c = dag.add_node(counting, log, "c", webber.Promise(flaky_node))
    d = dag.add_node(counting, log, "d", webber.Promise(c), webber.Promise(b))
    handler = dag.add_node(counting, log, "handler")
    dag.add_edge(flaky_node, handler, continue_on=Condition.Failure)

    first = dag.run(executor=executor)
    assert first.failed == [flaky_node] and first.skipped == [c, d]
    assert sorted(calls(Path(log))) == ["a", "b", "flaky", "handler"]
    Path(log).unlink()

    second = dag.run(executor=executor, resume=first)
    assert second.ok
    assert sorted(calls(Path(log))) == ["c", "d", "flaky"]  # nothing else ran
    assert sorted(second.reused) == sorted([a, b])
    assert second[d] == "d(c(a!))(b(a))"
    assert second.state(handler) == "skipped"  # its parent succeeded this time
    assert second.attempts[a] == ()  # reused: no attempt in this run

    Path(log).unlink()
    third = dag.run(executor=executor, resume=second)  # all done: nothing runs
    assert calls(Path(log)) == []
    assert third.reused == [a, b, flaky_node, c, d]
    assert third.state(handler) == "skipped"
    assert third[d] == second[d]


def test_resume_reruns_a_changed_task_and_its_descendants(
    executor: str, tmp_path: Path
) -> None:
    log = str(tmp_path / "calls")
    dag = DAG()
    a = dag.add_node(counting, log, "a")
    b = dag.add_node(counting, log, "b", webber.Promise(a))
    c = dag.add_node(counting, log, "c", webber.Promise(b))
    other = dag.add_node(counting, log, "other")
    first = dag.run(executor=executor)
    assert first.ok
    Path(log).unlink()

    dag.update_nodes(b, args=(log, "B", webber.Promise(a)))
    second = dag.run(executor=executor, resume=first)
    assert sorted(calls(Path(log))) == ["B", "c"]
    assert sorted(second.reused) == sorted([a, other])
    assert second[c] == "c(B(a))"


def test_resume_of_a_rebuilt_flow_compares_functions_and_arguments(
    executor: str, tmp_path: Path
) -> None:
    log = str(tmp_path / "calls")

    def build(tag: str) -> tuple[DAG, str, str]:
        dag = DAG()
        a = dag.add_node(counting, log, "a")
        b = dag.add_node(counting, log, tag, webber.Promise(a))
        return dag, a, b

    dag, a, b = build("b")
    first = dag.run(executor=executor)
    Path(log).unlink()
    same, _, _ = build("b")  # new Node records, same function and arguments
    assert same.run(executor=executor, resume=first).reused == [a, b]
    assert calls(Path(log)) == []
    changed, _, _ = build("B")
    assert changed.run(executor=executor, resume=first).reused == [a]
    assert calls(Path(log)) == ["B"]


def test_resume_refuses_what_is_not_a_run_of_this_flow() -> None:
    dag = DAG()
    dag.add_node(abs, -1)
    with pytest.raises(webber.ResumeError, match=r"^resume= takes the Run an earlier run\(\) of "
                       r"this process returned, not str; to reuse the results of another "
                       r"process .*run with cache=DIR"):
        dag.run(executor="inline", resume="last time")  # type: ignore[arg-type]
    other = DAG("other")
    other.add_node(len, "x")
    with pytest.raises(webber.WebberError, match="shares no node id"):
        dag.run(executor="inline", resume=other.run(executor="inline"))


def test_a_plain_object_with_some_callbacks_is_a_listener_too(executor: str) -> None:
    class Ends:  # not a Listener subclass: only the callbacks it defines are called
        def __init__(self) -> None:
            self.ended: list[tuple[str, str]] = []

        def on_task_end(
            self, node: str, state: str, attempt: int, duration: float, worker: str
        ) -> None:
            self.ended.append((node, state))

    dag = DAG()
    a = dag.add_node(str.upper, "a")
    ends = Ends()
    dag.run(executor=executor, listeners=[ends])  # type: ignore[list-item]
    assert ends.ended == [(a, "success")]


def test_what_hears_no_event_is_refused_at_the_call() -> None:
    dag = DAG()
    dag.add_node(abs, -1)
    for wrong in (print, "a listener", [print], [object()], [Listener()]):
        with pytest.raises(webber.ListenerError, match=r"listeners= takes webber\.Listener"):
            dag.run(executor="inline", listeners=wrong)  # type: ignore[arg-type]
    with pytest.raises(TypeError):  # (a ListenerError is a TypeError too)
        dag.run(executor="inline", listeners=[len])  # type: ignore[list-item]
    for wrong in (print, 5):  # 0.4.0's hooks come in a DAGCallbacks
        with pytest.raises(webber.ListenerError, match=r"callbacks= takes a webber\.DAGCallbacks"):
            dag.execute(executor="inline", callbacks=wrong)  # type: ignore[arg-type]


@pytest.mark.parametrize("wrong", ["yes", "no", 1, 0, [], "False"])
def test_a_progress_that_is_not_a_bool_is_refused_at_the_call(
    wrong: object, capfd: pytest.CaptureFixture[str]
) -> None:
    # progress="no" (a non-empty str, so true) drew a bar, progress=0 none:
    # a typo'd flag did as its truth said, silently.
    dag = DAG("flagged")
    dag.add_node(abs, -1)
    pattern = rf"^dag 'flagged': progress={re.escape(repr(wrong))} is not a bool; progress= "
    fix = r"takes True \(draw a progress bar\) or False, e\.g\. run\(progress=True\)$"
    for call in (dag.run, dag.execute):
        with pytest.raises(webber.OptionError, match=pattern + fix):
            call(executor="inline", progress=wrong)  # type: ignore[operator]
    with pytest.raises(webber.OptionError, match=pattern):
        asyncio.run(dag.arun(executor="inline", progress=wrong))
    assert "webber" not in capfd.readouterr().err  # no bar was drawn


def test_a_listener_class_passed_for_an_instance_is_told_to_make_one() -> None:
    # listeners=[Ends] (no parentheses) said Ends had "none of its on_...
    # methods" and to "subclass webber.Listener and override", which it did.
    class Ends(Listener):
        def on_task_end(self, *args: object) -> None: ...

    dag = DAG()
    dag.add_node(abs, -1)
    with pytest.raises(webber.ListenerError, match=r"not classes.*listeners=\[Ends\(\)\]"):
        dag.run(executor="inline", listeners=[Ends])  # type: ignore[list-item]


def test_a_misspelt_event_of_a_listener_is_named(caplog: pytest.LogCaptureFixture) -> None:
    # on_task_finish is no event: it was never called, and nothing said so.
    class Finishes(Listener):
        def on_task_start(self, node: str, attempt: int, index: int | None,
                          worker: str) -> None:
            pass

        def on_task_finish(self, *args: Any) -> None:
            raise AssertionError("never called")

    dag = DAG()
    dag.add_node(abs, -1)
    assert dag.run(executor="inline", listeners=[Finishes()]).ok
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1, warned
    assert warned[0].startswith("listener Finishes has on_task_finish(), which is no event, so "
                                "it is never called (did you mean on_task_end?); the events: ")


class MarksStarts(Listener):
    """Creates ``<dir>/<node>`` when the node's start event arrives."""

    def __init__(self, where: Path) -> None:
        self.where = where

    def on_task_start(self, node: str, attempt: int, index: int | None, worker: str) -> None:
        (self.where / node).touch()


@pytest.mark.timeout(180)
def test_start_events_come_before_the_task_runs(executor: str, tmp_path: Path) -> None:
    # A progress bar shows a task while it runs: inline used to send every
    # start after the task had ended (and the task here would wait in vain).
    dag = DAG()
    # Each task waits for the file its start event makes (a worker process is
    # told of its job at the same time as the caller reports its start).
    first = dag.add_node(appears, str(tmp_path / "appears-1"))
    second = dag.add_node(appears, str(tmp_path / "appears-2"))
    dag.add_edge(first, second)
    run = dag.run(executor=executor, listeners=[MarksStarts(tmp_path)])
    assert (run[first], run[second]) == (True, True)


def test_a_listener_whose_event_cannot_take_its_arguments_is_refused_at_the_call() -> None:
    # on_task_end(self, node, state) was called with five arguments, raised
    # TypeError at the first task's end, and was dropped: the run went on, and
    # the listener heard nothing, its only word a log line.
    class TwoArguments(Listener):
        def on_task_end(self, node: str, state: str) -> None:  # type: ignore[override]
            raise AssertionError("never called")

    class OneMore(Listener):
        def on_batch(self, started: Any, attempts: Any, ended: Any, extra: Any) -> None:
            raise AssertionError("never called")

    dag = DAG()
    dag.add_node(abs, -1)
    with pytest.raises(webber.ListenerError,
                       match=r"^listener TwoArguments: on_task_end\(node, state\) cannot take "
                             r"the event's arguments \(too many positional arguments\); define "
                             r"it as on_task_end\(self, node, state, attempt, duration, "
                             r"worker\)$"):
        dag.run(executor="inline", listeners=[TwoArguments()])
    with pytest.raises(webber.ListenerError,
                       match=r"^listener OneMore: on_batch\(started, attempts, ended, extra\) "
                             r"cannot take the event's arguments \(missing a required argument: "
                             r"'extra'\); define it as on_batch\(self, started, attempts, "
                             r"ended\)$"):
        dag.run(executor="inline", listeners=[OneMore()])

    class Loose(Listener):  # what binds is taken: *args, defaults, a staticmethod
        def on_task_end(self, *args: Any, **kwargs: Any) -> None: ...

        def on_run_end(self, run: Any, extra: int = 0) -> None: ...

        @staticmethod
        def on_run_start(plan: Any) -> None: ...

    assert dag.run(executor="inline", listeners=[Loose()]).ok


def test_an_async_listener_event_is_refused_at_the_call() -> None:
    # An async def event made a coroutine no one awaited: nothing ran, and the
    # only sign was Python's "coroutine was never awaited" warning.
    class Awaits(Listener):
        async def on_task_end(  # type: ignore[override]
            self, node: str, state: str, attempt: int, duration: float, worker: str
        ) -> None:
            raise AssertionError("never called")

    dag = DAG()
    dag.add_node(abs, -1)
    with pytest.raises(webber.ListenerError,
                       match=r"^listener Awaits: on_task_end is async def, but events are "
                             r"called, not awaited, in the thread that called run\(\): its "
                             r"body would never run; make it a plain def"):
        dag.run(executor="inline", listeners=[Awaits()])


def test_a_dag_callbacks_hook_on_a_listener_is_named_with_its_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # 0.4.0's hook names on a Listener were told as misspelt events, with the
    # wrong one meant: on_dag_start "did you mean on_task_start?", on_task_error
    # "did you mean on_task_end?", on_dag_complete with none.
    class Hooks040(Listener):
        def on_dag_start(self, total: int) -> None: ...

        def on_task_complete(self, node: str, name: str, result: Any) -> None: ...

        def on_task_error(self, node: str, name: str, exc: BaseException) -> None: ...

        def on_progress(self, *counts: int) -> None: ...

        def on_dag_complete(self, *counts: Any) -> None: ...

        def on_task_end(self, *args: Any) -> None: ...

    dag = DAG()
    dag.add_node(abs, -1)
    assert dag.run(executor="inline", listeners=[Hooks040()]).ok
    warned = sorted(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    meant = {"on_dag_complete": "on_run_end(run)", "on_dag_start": "on_run_start(plan)",
             "on_progress": "on_task_end(node, state, attempt, duration, worker)",
             "on_task_complete": "on_task_result(node, state, value), state 'success'",
             "on_task_error": "on_task_result(node, state, value), state 'failed'"}
    assert len(warned) == len(meant), warned
    for message, (hook, event) in zip(warned, sorted(meant.items()), strict=True):
        assert message == (
            f"listener Hooks040 has {hook}(), a hook of webber.DAGCallbacks (0.4.0's "
            f"callbacks), not a Listener event, so it is never called: on a Listener, "
            f"{event}; or pass the hook as run(callbacks=DAGCallbacks({hook}=...))")


def test_an_event_written_in_another_case_or_without_underscores_is_named(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # onTaskEnd and ontaskend are on_task_end as a newcomer may write it; only
    # names starting with "on_" were looked at, so nothing said they were never called.
    class Camel(Listener):
        def onTaskEnd(self, *args: Any) -> None:
            raise AssertionError("never called")

        def ontaskstart(self, *args: Any) -> None:
            raise AssertionError("never called")

        def on_run_end(self, run: Any) -> None: ...

        def only_a_helper(self) -> None: ...

    dag = DAG()
    dag.add_node(abs, -1)
    assert dag.run(executor="inline", listeners=[Camel()]).ok
    warned = sorted(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert [w.split("; the events")[0] for w in warned] == [
        "listener Camel has onTaskEnd(), which is no event, so it is never called (did you "
        "mean on_task_end?)",
        "listener Camel has ontaskstart(), which is no event, so it is never called (did you "
        "mean on_task_start?)",
    ]
