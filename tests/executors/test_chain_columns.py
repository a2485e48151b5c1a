"""A chain whose links call one function on the result before alone goes to
the process pool as its head's Job and one chained Column (``Job.chain``,
``_chains.py``): no Job, Sent or running entry per link. What a user sees
stays exact: values, states, the Run record, and a failing link still goes
the way of a Job (retries, logs, crash blame)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

import webber
from webber import DAG, Listener, Promise
from webber.executors._base import Column, Job

pytestmark = pytest.mark.timeout(120)


def _inc(x: int) -> int:
    return x + 1


def _other(x: int) -> int:
    return x + 100


def _add(x: int, y: int) -> int:
    return x + y


def _chain(dag: DAG, length: int, func: Any = _inc, head: Any = int) -> list[str]:
    ids = [dag.add_node(head, 0)]
    for _ in range(length):
        ids.append(dag.add_node(func, Promise(ids[-1])))
    return ids


def _marks() -> Path:
    return Path(os.environ["CHAIN_TEST_MARKS"])


def _log(x: int) -> None:
    with open(_marks() / "ran", "a") as f:
        f.write(f"{x}\n")


def _ran() -> list[int]:
    return sorted(map(int, (_marks() / "ran").read_text().split()))


@pytest.fixture
def marks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory the workers see (they take the caller's environment)."""
    monkeypatch.setenv("CHAIN_TEST_MARKS", str(tmp_path))
    return tmp_path


def _fails_at_5(x: int) -> int:
    _log(x)
    if x == 5:
        raise ValueError("bad 5")
    return x + 1


def _fails_once_at_5(x: int) -> int:
    _log(x)
    mark = _marks() / "failed"
    if x == 5 and not mark.exists():
        mark.touch()
        raise ValueError("bad 5")
    return x + 1


def _dies_once_at_3(x: int) -> int:
    _log(x)
    mark = _marks() / "died"
    if x == 3 and not mark.exists():
        mark.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return x + 1


def _head_fails_once(x: int) -> int:
    mark = _marks() / "head"
    if not mark.exists():
        mark.touch()
        raise KeyError("head")
    return x


class _Unloadable:
    """Pickles in the worker, but cannot be rebuilt in the caller."""

    def __reduce__(self) -> tuple[object, ...]:
        return (_refuse, ())


def _refuse() -> None:
    raise RuntimeError("this object cannot be rebuilt")


def _unloadable_at_3(x: Any) -> Any:
    _log(-1 if isinstance(x, _Unloadable) else x)
    if isinstance(x, _Unloadable):
        return 4  # the worker goes on with it: the caller must not
    return _Unloadable() if x == 3 else x + 1


def test_a_chain_of_one_function_goes_as_one_column_and_its_record_stays_exact(
    submitted: list[Any],
) -> None:
    dag = DAG()
    ids = _chain(dag, 3000)  # answered in many messages: spans
    run = dag.run(executor="processes", max_workers=2)
    (head,) = submitted
    assert isinstance(head, Job) and head.links == () and isinstance(head.chain, Column)
    assert head.chain.nodes == ids[1:] and head.chain.chained
    assert run.ok and [run[n] for n in ids] == list(range(3001))
    assert run.succeeded == ids
    worker = run.attempts[ids[0]][0].worker
    for n in ids:
        (attempt,) = run.attempts[n]
        assert (attempt.number, attempt.index, attempt.ok, attempt.error) == (1, None, True, None)
        assert attempt.worker == worker  # a chain runs where its head ran
    starts = [run.attempts[n][0].started for n in ids]
    assert starts == sorted(starts)


def test_a_chain_of_several_functions_goes_as_jobs(submitted: list[Any]) -> None:
    dag = DAG()
    ids = _chain(dag, 4)
    ids.append(dag.add_node(_other, Promise(ids[-1])))
    ids.append(dag.add_node(_add, Promise(ids[-1]), 1))  # two arguments
    run = dag.run(executor="processes", max_workers=2)
    (head,) = submitted
    assert head.chain is None and [link.node for link in head.links] == ids[1:]
    assert [run[n] for n in ids] == [0, 1, 2, 3, 4, 104, 105]


def test_the_children_of_a_chains_end_run_after_it() -> None:
    dag = DAG()
    ids = _chain(dag, 20)
    kids = [dag.add_node(_inc, Promise(ids[-1])) for _ in range(3)]
    total = dag.add_node(sum, [Promise(k) for k in kids])
    run = dag.run(executor="processes", max_workers=2)
    assert [run[k] for k in kids] == [21] * 3 and run[total] == 63


def test_a_failing_link_fails_alone_and_the_rest_is_skipped(
    marks: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dag = DAG()
    ids = _chain(dag, 10, _fails_at_5)  # ids[6] takes 5
    run = dag.run(executor="processes", max_workers=2)
    assert [run.state(n) for n in ids] == ["success"] * 6 + ["failed"] + ["skipped"] * 4
    with pytest.raises(ValueError, match="bad 5"):
        run[ids[6]]
    assert _ran() == [0, 1, 2, 3, 4, 5]  # nothing after it ran
    assert [(a.number, a.ok, a.error) for a in run.attempts[ids[6]]] == [
        (1, False, "ValueError: bad 5")]
    assert all(not run.attempts[n] for n in ids[7:])
    assert any(ids[6] in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("delay", [0.0, 0.3])
def test_a_link_that_fails_once_is_retried_and_the_chain_goes_on(marks: Path, delay: float
                                                                 ) -> None:
    dag = DAG()
    ids = _chain(dag, 10, _fails_once_at_5)
    dag.update_nodes(*ids[1:], retries=1, retry_delay=delay)
    run = dag.run(executor="processes", max_workers=2)
    assert run.ok and [run[n] for n in ids] == list(range(11))
    assert [len(run.attempts[n]) for n in ids] == [1] * 6 + [2] + [1] * 4
    first, retry = run.attempts[ids[6]]
    assert (first.number, first.ok, retry.number, retry.ok) == (1, False, 2, True)
    assert retry.started >= first.started + first.duration + delay * 0.8
    assert _ran() == sorted([*range(10), 5])  # each once, the failed one twice


def test_a_link_that_kills_its_worker_is_blamed_and_retried_without_rerunning_the_rest(
    marks: Path,
) -> None:
    dag = DAG()
    ids = _chain(dag, 8, _dies_once_at_3)
    other = dag.add_node(str, "independent")
    dag.update_nodes(*ids[1:], retries=1)
    run = dag.run(executor="processes", max_workers=1)
    assert run.ok and [run[n] for n in ids] == list(range(9)) and run[other] == "independent"
    crash, retry = run.attempts[ids[4]]
    assert "WorkerCrashedError" in (crash.error or "") and retry.ok
    assert [len(run.attempts[n]) for n in ids] == [1] * 4 + [2] + [1] * 4
    assert _ran() == sorted([*range(8), 3])
    webber.shutdown()


def test_a_link_that_kills_its_worker_without_retries_skips_the_rest(marks: Path) -> None:
    dag = DAG()
    ids = _chain(dag, 8, _dies_once_at_3)
    run = dag.run(executor="processes", max_workers=1)
    assert [run.state(n) for n in ids] == ["success"] * 4 + ["failed"] + ["skipped"] * 4
    with pytest.raises(webber.WorkerCrashedError, match=f"task '{ids[4]}'"):
        run[ids[4]]
    assert _ran() == [0, 1, 2, 3]
    webber.shutdown()


def test_a_head_that_fails_once_brings_its_chain_again(marks: Path) -> None:
    dag = DAG()
    ids = _chain(dag, 6, head=_head_fails_once)
    dag.update_nodes(ids[0], retries=1)
    run = dag.run(executor="processes", max_workers=2)
    assert run.ok and [run[n] for n in ids] == list(range(7))
    assert [len(run.attempts[n]) for n in ids] == [2] + [1] * 6


def test_a_link_whose_result_cannot_come_back_fails_and_the_rest_is_skipped(
    marks: Path,
) -> None:
    """The worker ran the rest with the value it had; the caller cannot
    rebuild it: that link fails, and the answers of the rest do not count."""
    dag = DAG()
    ids = _chain(dag, 8, _unloadable_at_3)
    run = dag.run(executor="processes", max_workers=2)
    assert [run.state(n) for n in ids] == ["success"] * 4 + ["failed"] + ["skipped"] * 4
    with pytest.raises(TypeError, match="cannot be unpickled"):
        run[ids[4]]
    assert all(len(run.attempts[n]) == 1 for n in ids[:5])
    assert all(not run.attempts[n] for n in ids[5:])
    assert _ran() == [-1, 0, 1, 2, 3, 4, 5, 6]  # (its own worker went on: not counted)


def test_a_listener_of_batches_in_columns_sees_every_link(submitted: list[Any]) -> None:
    class Board(Listener):  # takes the record itself, as the dashboard's does
        def __init__(self) -> None:
            self.started: set[str] = set()
            self.rows = self.ended = self.spanned = 0

        def on_batch(self, started: Any, attempts: Any, ended: Any) -> None:
            raise AssertionError("on_batch_columns is called instead")

        def on_batch_columns(self, started: Any, rows: Any, told: int, states: Any,
                             ended: int, spans: Any, counted: int) -> None:
            self.started.update(s[0] for s in started)
            self.rows, self.ended = told, ended
            self.spanned = sum(len(span[1]) for span in spans[:counted])

    board = Board()
    dag = DAG()
    ids = _chain(dag, 500)
    run = dag.run(executor="processes", max_workers=2, listeners=[board])
    (head,) = submitted
    assert isinstance(head.chain, Column)  # the listener keeps the columns on
    assert run.ok and run[ids[-1]] == 500
    assert board.ended == len(ids) and board.rows + board.spanned == len(ids)
    assert board.started <= set(ids) and ids[0] in board.started
