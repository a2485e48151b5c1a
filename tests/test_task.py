"""@task: signature, settings, plain calls, validation."""

from __future__ import annotations

import inspect

import pytest

import webber
from webber import Flow, Promise, task


@task
def documented(a: int, b: str = "x") -> str:
    """Join a and b."""
    return f"{a}{b}"


def test_wraps_keep_name_doc_and_signature() -> None:
    assert documented.__name__ == "documented"
    assert documented.__doc__ == "Join a and b."
    assert inspect.signature(documented) == inspect.signature(documented.fn)
    assert list(inspect.signature(documented).parameters) == ["a", "b"]
    assert documented.__wrapped__ is documented.fn  # type: ignore[attr-defined]


def test_plain_call_outside_a_flow() -> None:
    assert documented(1, "y") == "1y"


def test_call_inside_a_flow_records_a_node() -> None:
    with Flow("f") as flow:
        p = documented(1)
    assert isinstance(p, Promise)
    assert p.key == "documented-1"
    node = flow.get_node(p)
    assert node.func is documented.fn
    assert node.args == (1,)


def test_configured_decorator_and_name() -> None:
    @task(name="renamed", retries=3, retry_delay=0.5, retry_backoff=2, timeout=9)
    def f() -> None: ...

    assert f.options.name == "renamed"
    with Flow() as flow:
        p = f()
    node = flow.get_node(p)
    assert (node.id, node.name) == ("renamed-1", "renamed")
    assert (node.retries, node.retry_delay, node.retry_backoff, node.timeout) == (3, 0.5, 2.0, 9.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"retries": -1}, "retries=-1"),
        ({"retries": 1.5}, "retries=1.5"),
        ({"retries": True}, "retries=True"),
        ({"retry_delay": -0.1}, "retry_delay"),
        ({"retry_backoff": float("nan")}, "retry_backoff"),
        ({"timeout": 0}, "timeout=0"),
        ({"timeout": "5"}, "timeout='5'"),
    ],
)
def test_bad_settings_are_refused_at_decoration(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(webber.TaskDefinitionError, match=match) as info:
        task(**kwargs)(print)  # type: ignore[call-overload]
    assert "print" in str(info.value)


def test_not_a_function() -> None:
    with pytest.raises(webber.TaskDefinitionError, match="needs a function"):
        task(42)  # type: ignore[call-overload]


def test_lambda_and_builtin_names() -> None:
    with Flow() as flow:
        a = task(lambda: 1)()
        b = task(print)("x")
        c = task(lambda: 2)()
    assert [a.key, b.key, c.key] == ["lambda-1", "print-1", "lambda-2"]
    assert flow.get_node(a).name == "lambda"


def test_flows_nest_and_threads_have_their_own() -> None:
    import threading

    seen: list[object] = []
    with Flow("outer") as outer:
        a = documented(1)
        with Flow("inner") as inner:
            b = documented(2)
        c = documented(3)
        t = threading.Thread(target=lambda: seen.append(documented(4)))
        t.start()
        t.join()
    assert outer.nodes == ["documented-1", "documented-2"]
    assert inner.nodes == ["documented-1"]
    assert (a.key, b.key, c.key) == ("documented-1", "documented-1", "documented-2")
    assert seen == ["4x"]  # the other thread sees no active flow: a plain call
