"""The decorator style: tasks called inside ``with Flow():`` build the graph.

Run it: ``python examples/quickstart.py``. It type-checks under ``mypy --strict``
as written: inside the flow a task call stands in for its value.
"""

from __future__ import annotations

import webber
from webber import Condition, Flow, task


@task
def load(n: int) -> list[int]:
    """Pretend to read ``n`` rows."""
    print(f"loading {n} rows")
    return list(range(-2, n - 2))


@task(name="clean", retries=2, retry_delay=0.1)
def clean(rows: list[int]) -> list[int]:
    return [r for r in rows if r >= 0]


@task
def square(x: int) -> int:
    return x * x


@task
def total(values: list[int]) -> int:
    print(f"total of {len(values)} squares")
    return sum(values)


@task
def report(result: object) -> str:
    return f"report: {result}"


def build() -> Flow:
    with Flow("quickstart") as flow:
        rows = load(6)
        good = clean(rows)
        squares = square.map(good)  # one task per row, known only at run time
        result = total(squares)
        summary = report(result)
    # Report whatever happened to total(): run it on success or failure.
    flow.update_edges((result, summary), continue_on=Condition.AnyCase)
    return flow


def main() -> webber.Run:
    flow = build()
    print(flow.compile())
    run = flow.run(executor="threads")
    print(run)
    for node in run.succeeded:
        print(f"{node:>10} = {run[node]!r}")
    return run


if __name__ == "__main__":
    main()
