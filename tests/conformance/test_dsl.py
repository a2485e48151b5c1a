"""The contract's authoring examples, run on every executor."""

from __future__ import annotations

from webber import Flow, task


@task
def load(path: str) -> list[int]:
    """Read rows from ``path``."""
    return [3, -1, 2, 7]


@task(name="clean", retries=2, retry_delay=0.1, timeout=30.0)
def clean(rows: list[int]) -> list[int]:
    return [r for r in rows if r >= 0]


@task
def square(x: int) -> int:
    return x * x


def test_contract_style_one(executor: str) -> None:
    assert load("x.csv") == [3, -1, 2, 7]  # outside a flow: a plain call
    with Flow("etl") as flow:
        rows = load("x.csv")
        good = clean(rows)
        hi = task(lambda: "Hello")()
        sq = square.map(rows)
        rows >> hi
    plan = flow.compile()
    assert plan.levels == [["load-1"], ["clean-1", "lambda-1", "square-1"]]
    node = flow.get_node(good)
    assert (node.name, node.retries, node.retry_delay, node.timeout) == ("clean", 2, 0.1, 30.0)
    run = flow.run(executor=executor)
    assert run[good] == [3, 2, 7]
    assert run[hi] == "Hello"
    assert run[sq] == [9, 1, 4, 49]
    assert run.ok


def test_closures_and_lambdas(executor: str) -> None:
    offset = 10

    def add_offset(x: int) -> int:
        return x + offset

    with Flow() as flow:
        a = task(add_offset)(1)
        b = task(lambda x: x * 2)(a)
    run = flow.run(executor=executor)
    assert run[b] == 22


def test_tasks_called_inside_tasks_are_plain_calls(executor: str) -> None:
    @task
    def outer(x: int) -> int:
        return square(x) + 1  # inside a running task: no flow is active

    with Flow() as flow:
        n = outer(3)
    assert flow.run(executor=executor)[n] == 10


def test_run_options(executor: str) -> None:
    with Flow() as flow:
        n = square(4)
    run = flow.run(executor=executor, max_workers=2, progress=True)
    assert run[n] == 16
