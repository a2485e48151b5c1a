"""task.map: one task per element, at run time; one Promise of the list."""

from __future__ import annotations

from pathlib import Path

import pytest

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
    assert flow.get_node(squares).map is True
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
