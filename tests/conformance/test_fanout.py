"""task.map: one task per element, at run time; one Promise of the list."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import webber
from webber import Flow, task


@task
def numbers(n: int) -> list[int]:
    return list(range(n))


@task
def square(x: int) -> int:
    return x * x


@task
def scale(x: int, factor: int, *, offset: int = 0) -> int:
    return x * factor + offset


@task
def total(xs: list[int]) -> int:
    return sum(xs)


def test_map_over_a_runtime_list(executor: str) -> None:
    with Flow() as flow:
        xs = numbers(5)
        squares = square.map(xs)
        s = total(squares)
    assert flow.get_node(squares).fan_out is True
    run = flow.run(executor=executor)
    assert run[squares] == [0, 1, 4, 9, 16]
    assert run[s] == 30
    assert sorted(a.index for a in run.attempts[squares]) == [0, 1, 2, 3, 4]  # type: ignore[type-var]


def test_map_over_a_literal_and_extra_arguments(executor: str) -> None:
    with Flow() as flow:
        factor = total([1, 1])
        out = scale.map(range(4), factor, offset=1)
        empty = square.map([])
    run = flow.run(executor=executor)
    assert run[out] == [1, 3, 5, 7]
    assert run[empty] == []


def test_map_outside_a_flow_is_a_list_comprehension() -> None:
    assert square.map([1, 2, 3]) == [1, 4, 9]


def picky(x: int) -> int:
    if x % 2:
        raise ValueError(f"odd {x}")
    return x


def test_one_failing_element_fails_the_node(executor: str) -> None:
    checked = task(picky)
    with Flow() as flow:
        out = checked.map([0, 1, 2, 3])
        after = total(out)
    run = flow.run(executor=executor)
    assert run.state(out) == "failed"
    assert run.state(after) == "skipped"
    with pytest.raises(ValueError, match="odd 1"):  # the lowest failing index
        run[out]


def flaky_element(x: int, folder: str) -> int:
    marker = Path(folder) / f"{x}"
    if x == 2 and not marker.exists():
        marker.write_text("seen")
        raise ConnectionError("first try of element 2")
    return x


def test_retries_are_per_element(executor: str, tmp_path: Path) -> None:
    retrying = task(retries=1)(flaky_element)
    with Flow() as flow:
        out = retrying.map([1, 2, 3], str(tmp_path))
    run = flow.run(executor=executor)
    assert run[out] == [1, 2, 3]
    by_index = {}
    for attempt in run.attempts[out]:
        by_index.setdefault(attempt.index, []).append(attempt.ok)
    assert by_index == {0: [True], 1: [False, True], 2: [True]}


def test_map_over_a_non_iterable_fails_clearly(executor: str) -> None:
    with Flow() as flow:
        n = total([1, 2])
        out = square.map(n)
    run = flow.run(executor=executor)
    with pytest.raises(TypeError, match=r"square-1.*\.map\(\) needs an iterable, got int"):
        run[out]
    # One of webber's own errors (it was a bare TypeError), saying what to change.
    error = run.error(out)
    assert isinstance(error, webber.TaskDefinitionError), type(error)
    assert str(error).endswith("make 'total-1' return one, such as a list")


# -- which failure wins, Promises among the items, one-shot iterables ---------------


def slow_low_fast_high(x: int) -> int:
    import time

    if x == 1:
        time.sleep(0.3)  # on a parallel executor element 3 fails first
        raise ValueError("element 1")
    if x == 3:
        raise KeyError("element 3")
    return x


def test_the_lowest_failing_index_wins_not_the_first_to_fail(executor: str) -> None:
    checked = task(slow_low_fast_high)
    with Flow() as flow:
        out = checked.map([0, 1, 2, 3])
    run = flow.run(executor=executor)
    assert run.state(out) == "failed"
    with pytest.raises(ValueError, match="element 1"):
        run[out]
    by_index = {a.index: a.ok for a in run.attempts[out]}
    assert by_index == {0: True, 1: False, 2: True, 3: False}  # every element ran


def test_map_over_a_list_of_promises(executor: str) -> None:
    with Flow() as flow:
        three = total([1, 2])
        four = total([4])
        out = scale.map([three, 5, four], 10)
    assert flow.compile().levels == [["total-1", "total-2"], ["scale-1"]]
    run = flow.run(executor=executor)
    assert run[out] == [30, 50, 40]


def test_map_over_a_generator_reads_it_once(executor: str) -> None:
    reads: list[int] = []

    def numbers_once() -> object:
        for i in range(3):
            reads.append(i)
            yield i

    with Flow() as flow:
        out = square.map(numbers_once())
    assert reads == [0, 1, 2]  # materialized when recorded
    run = flow.run(executor=executor)
    assert run[out] == [0, 1, 4]
    assert flow.run(executor=executor)[out] == [0, 1, 4]  # and again
    assert reads == [0, 1, 2]


def test_retry_delay_applies_per_element(executor: str, tmp_path: Path) -> None:
    retrying = task(retries=1, retry_delay=0.1)(flaky_element)
    with Flow() as flow:
        out = retrying.map([2, 5], str(tmp_path))
    run = flow.run(executor=executor)
    assert run[out] == [2, 5]
    first, second = sorted(
        (a for a in run.attempts[out] if a.index == 0), key=lambda a: a.number
    )
    assert (first.ok, second.ok) == (False, True)
    assert second.started - (first.started + first.duration) >= 0.1 - 0.02


def test_a_failed_upstream_skips_the_map(executor: str) -> None:
    boom = task(picky)
    with Flow() as flow:
        source = boom(1)  # fails
        out = square.map(source)
    run = flow.run(executor=executor)
    assert run.state(source) == "failed"
    assert run.state(out) == "skipped"
    assert run.attempts[out] == ()


def test_a_failed_element_is_logged_with_its_index(
    executor: str, caplog: pytest.LogCaptureFixture
) -> None:
    checked = task(picky)
    with Flow() as flow:
        checked.map([0, 2, 3])
    flow.run(executor=executor)
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1
    assert "picky-1[2]" in errors[0].getMessage() and "odd 3" in errors[0].getMessage()
    assert errors[0].task == "picky"  # type: ignore[attr-defined]


# -- partial=True, and the failed element's index in its error ------------------------
def test_a_failed_elements_error_names_its_index(executor: str) -> None:
    with Flow() as flow:
        out = task(picky).map([0, 2, 3, 4])
    with pytest.raises(ValueError, match="odd 3") as caught:
        flow.run(executor=executor)[out]
    assert (
        f"webber: element 2 (counting from 0) of the fan-out of task {out.key!r} failed "
        "after 1 attempt"
    ) in caught.value.__notes__


def test_partial_leaves_each_failed_elements_exception_in_place(executor: str) -> None:
    with Flow() as flow:
        out = task(picky).map([0, 1, 2, 3], partial=True)
        kept = task(lambda xs: [x for x in xs if not isinstance(x, Exception)])(out)
    assert flow.get_node(out).partial
    run = flow.run(executor=executor)
    assert run.state(out) == "success"
    results = run[out]
    assert results[0] == 0 and results[2] == 2
    assert [type(r) for r in results[1::2]] == [ValueError, ValueError]
    assert "element 1 (counting from 0)" in results[1].__notes__[0]
    assert run[kept] == [0, 2]


def test_an_element_past_its_timeout_is_named_with_its_index(executor: str) -> None:
    # A wide margin both ways: the quick elements' ends reach the engine in
    # time even on a loaded machine (a dask event can take 0.1 s to come back).
    @task(timeout=1.0)
    def late(x: int) -> int:
        if x == 2:
            time.sleep(2.5)
        return x

    with Flow() as flow:
        out = late.map([0, 1, 2])
    error = flow.run(executor=executor).error(out)
    assert isinstance(error, webber.TaskTimeoutError)
    assert str(error).startswith("task 'late-1[2]' timed out after 1 s (attempt 1)")
    assert error.task == "late-1"  # the node's id, as for every failure of a node


@task
def refuse(x: int) -> int:
    raise ValueError(f"no {x}")


@pytest.mark.parametrize("partial", [False, True])
def test_many_failing_elements_are_logged_a_few_then_counted(
    executor: str, partial: bool, caplog: pytest.LogCaptureFixture
) -> None:
    from webber._verdicts import SHOWN

    with Flow() as flow:
        out = refuse.map(range(10), partial=partial)
    with caplog.at_level("WARNING", logger="webber"):
        run = flow.run(executor=executor)
    told = [r.getMessage() for r in caplog.records if r.name == "webber"]
    one_by_one = [m for m in told if m.startswith("task refuse-1[")]
    assert len(one_by_one) == SHOWN  # not 10 tracebacks (100,000 logged 52 MB)
    (more,) = [m for m in told if "the others are not logged" in m]
    assert more.startswith(f"task refuse-1: more than {SHOWN} of its elements failed")
    if partial:
        assert [str(e) for e in run[out]] == [f"no {i}" for i in range(10)]
        assert "its results hold their exceptions" in more
    else:
        assert str(run.error(out)) == "no 0"  # the first element's, as always
        assert "fails with the first one's error" in more
