"""A task whose function cannot take its arguments fails where it is added.

Not hours later in a worker: ``add_node()`` with arguments, a ``@task`` call
inside a Flow and ``.map()`` all refuse, with Python's own reason, the task's
name and its signature; a DAG API node added without arguments (which
``update_nodes()`` may give it later, as in webber 0.4.0) is checked by
``compile()``, before anything runs. Anything Python would accept is accepted
(a decorator's wrapper, ``*args``/``**kwargs``, defaults, keyword-only
arguments, methods, builtins, partials, classes, callable objects); builtins
and partials are checked by the signature ``inspect`` reads."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest

from webber import DAG, Flow, Promise, TaskDefinitionError, task
from webber._checks import check_call


def one(x: int) -> int:
    return x


def keyword_only(x: int, *, scale: int, offset: int = 0) -> int:
    return x * scale + offset


def positional_only(x: int, /, y: int = 0) -> int:
    return x + y


def many(*args: Any, **kwargs: Any) -> int:
    return len(args) + len(kwargs)


def injecting(func: Callable[..., Any]) -> Callable[..., Any]:
    """A decorator that passes its function an argument the caller does not."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, attempt=1, **kwargs)
    return wrapper


@injecting
def decorated(x: int, attempt: int) -> int:
    return x + attempt


class Scaler:
    def __init__(self, factor: int) -> None:
        self.factor = factor

    def apply(self, x: int) -> int:
        return x * self.factor

    def __call__(self, x: int) -> int:
        return x * self.factor


@task
def square(x: int) -> int:
    return x * x


@pytest.mark.parametrize(("func", "args", "kwargs", "reason"), [
    (one, (1, 2), {}, "too many positional arguments"),
    (one, (), {"y": 1}, "missing a required argument: 'x'"),
    (one, (1,), {"x": 1}, "multiple values for argument 'x'"),
    (keyword_only, (1,), {}, "missing a required argument: 'scale'"),
    (keyword_only, (1, 2), {"scale": 1}, "too many positional arguments"),
    (positional_only, (), {"x": 1}, "'x' parameter is positional only"),
    (Scaler(2).apply, (1, 2), {}, "too many positional arguments"),
    (len, ("ab", "c"), {}, "too many positional arguments"),  # a builtin's text signature
    (functools.partial(one, 1), (2,), {}, "too many positional arguments"),
])
def test_a_call_python_refuses_is_refused_where_the_task_is_added(
        func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], reason: str) -> None:
    with pytest.raises(TaskDefinitionError) as caught:
        DAG().add_node(func, *args, **kwargs)
    message = str(caught.value)
    assert reason in message and "pass the arguments its signature takes" in message
    name = getattr(func, "__name__", "one")  # (a partial's task is named after its function)
    assert f"task {name!r}" in message and "int" not in message
    assert "(x" in message or "(obj" in message or "partial(one, ...)()" in message
    assert isinstance(caught.value, TypeError)  # (what calling it would have raised)


@pytest.mark.parametrize(("func", "args", "kwargs"), [
    (one, (1,), {}), (one, (), {"x": 1}),
    (keyword_only, (1,), {"scale": 2}), (keyword_only, (1,), {"scale": 2, "offset": 1}),
    (positional_only, (1,), {}), (positional_only, (1,), {"y": 2}),
    (many, (), {}), (many, (1, 2, 3), {"a": 1}),
    (decorated, (1,), {}),  # (the wrapper's signature is checked, not the function's)
    (Scaler(2).apply, (1,), {}), (Scaler(2), (1,), {}), (dict, (), {"a": 1}),
    (print, ("a", "b"), {"sep": "-"}), (sum, ([1, 2],), {}), (max, (1, 2, 3), {}),
    (functools.partial(keyword_only, scale=3), (1,), {}),
    (lambda: 1, (), {}), (lambda x, y=2: x + y, (1,), {}),
])
def test_a_call_python_accepts_is_accepted_and_runs(
        func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    flow = DAG()
    node = flow.add_node(func, *args, **kwargs)
    run = flow.run(executor="inline")
    assert run.ok and run[node] == func(*args, **kwargs)


def test_a_promise_counts_as_the_argument_it_stands_for() -> None:
    flow = DAG()
    first = flow.add_node(one, 1)
    flow.add_node(one, Promise(first))
    with pytest.raises(TaskDefinitionError, match="too many positional arguments"):
        flow.add_node(one, Promise(first), 2)


def test_the_dsl_and_map_refuse_at_the_line_that_is_wrong() -> None:
    with Flow(), pytest.raises(TaskDefinitionError, match="task 'square'"):
        square(1, 2)  # type: ignore[call-arg]  # (mypy sees it too)
    with Flow(), pytest.raises(TaskDefinitionError, match="too many positional arguments"):
        square.map([1, 2], 3)
    with Flow() as flow:
        squares = square.map([1, 2])
    assert flow.run(executor="inline")[squares] == [1, 4]


def test_a_node_added_without_arguments_may_get_them_later_and_is_checked_at_compile() -> None:
    # (webber 0.4.0: add_node(f) or add_edge(f, g), then update_nodes(args=...))
    flow = DAG()
    node = flow.add_node(one)
    flow.update_nodes(node, args=[5])
    assert flow.run(executor="inline")[node] == 5
    flow.update_nodes(node, args=[5, 6])  # (set later: told before anything runs)
    with pytest.raises(TaskDefinitionError, match=r"task 'one-1': one\(x\) cannot take 2"):
        flow.compile()
    with pytest.raises(TaskDefinitionError, match="too many positional arguments"):
        flow.run(executor="inline")
    wide = DAG()
    for _ in range(3):
        wide.add_node(many)
    wide.add_node(one)
    with pytest.raises(TaskDefinitionError, match=r"task 'one-1'.*missing a required argument"):
        wide.compile()


def test_a_signature_that_cannot_be_read_is_left_to_the_run() -> None:
    check_call(int.__add__, (1, 2, 3), {}, "add")  # (no error here: the run tells)


def test_a_task_setting_passed_as_an_argument_says_where_it_goes() -> None:
    # webber 0.4.0 users write dag.add_node(f, retries=2): the function never
    # takes it, and "pass the arguments its signature takes" did not say so.
    dag = DAG()
    with pytest.raises(TaskDefinitionError) as refused:
        dag.add_node(one, 1, retries=2)
    message = str(refused.value)
    assert "retries= is a task setting" in message
    assert "dag.add_node(task(one, retries=2), ...)" in message
    with pytest.raises(TaskDefinitionError, match="pass the arguments its signature takes"):
        dag.add_node(one, 1, scale=2)  # not a setting: the usual advice
    n = dag.add_node(many, 1, retries=2)  # a function that takes it gets it
    assert dag.run(executor="inline")[n] == 2
