"""What type checkers see of the DSL: ``mypy --strict`` checks this file in
``python3 dev.py test`` (beside webber and examples), and pytest runs it.

A task call is typed as its function's value, so that data flows between
tasks type-check as they read; the call of a task whose function returns
None is Any, so that its Promise can order others (``done >> up``)."""

from __future__ import annotations

from typing import Any

from typing_extensions import assert_type

from webber import Flow, Task, task


@task
def migrate() -> None:
    pass


@task
def serve() -> str:
    return "serving"


@task
def double(x: int) -> int:
    return 2 * x


@task
async def fetch(n: int) -> list[int]:
    return list(range(n))


class Model:
    def __init__(self, k: int) -> None:
        self.k = k

    @task
    def predict(self, x: int) -> int:
        return self.k * x

    @task
    def reset(self) -> None:
        self.k = 0


def test_a_task_call_is_typed_as_its_value_and_a_none_task_can_order() -> None:
    with Flow("typed") as flow:
        done = migrate()
        up = serve()
        done >> up
        assert_type(done, Any)
        assert_type(up, str)
        four = assert_type(double(2), int)
        eight = double(four)
        rows = assert_type(fetch(3), list[int])
        doubled = assert_type(double.map(rows), list[int])
    run = flow.run(executor="inline")
    assert (run[eight], run[doubled]) == (8, [0, 2, 4])
    assert flow.get_edge(done, up).data is False


def test_a_task_on_a_method_is_typed_as_the_bound_method() -> None:
    # Through an instance the task is of the bound method (self dropped);
    # through the class, the task of the function.
    model = Model(3)
    assert_type(model.predict(2), int)
    assert_type(Model.predict(model, 2), int)
    assert_type(model.predict.map([1, 2]), list[int])
    bound: Task[[int], int] = model.predict
    assert bound(1) == 3
    with Flow("methods") as flow:
        six = assert_type(model.predict(2), int)
        eighteen = model.predict(six)
        done = Model(1).reset()  # (its own instance: k = 0 must not race the others)
        assert_type(done, Any)
    run = flow.run(executor="inline")
    assert (run[six], run[eighteen]) == (6, 18)


def test_an_async_task_s_function_is_typed_as_a_coroutine_function() -> None:
    # In a flow its call stands for the awaited value; its function, awaited
    # outside a flow, gives that value too (the docs' `await fetch.fn(1)`).
    import asyncio

    from webber._task import AsyncTask

    assert isinstance(fetch, AsyncTask) and isinstance(fetch, Task)
    assert not isinstance(double, AsyncTask)

    async def outside() -> list[int]:
        return assert_type(await fetch.fn(2), list[int])

    assert asyncio.run(outside()) == [0, 1]


def test_a_lazy_stream_is_typed_as_an_iterator_and_the_other_as_a_list() -> None:
    from collections.abc import Iterator

    from webber import stream

    outputs = assert_type(stream([1, 2], double, executor="inline", lazy=True), Iterator[Any])
    assert list(outputs) == [2, 4]
    assert assert_type(stream([1, 2], double, executor="inline"), list[Any]) == [2, 4]
