"""Promise: what it refuses while the flow is built, and >> edges."""

from __future__ import annotations

import pickle

import pytest

import webber
from webber import DAG, Flow, Promise, task
from webber._promise import find_promises, substitute


@task
def one() -> int:
    return 1


def test_truth_iteration_and_len_are_refused_with_a_hint() -> None:
    with Flow():
        p = one()
        with pytest.raises(TypeError, match="put the `if` inside a task"):
            bool(p)
        with pytest.raises(TypeError, match=r"\.map\("):
            iter(p)
        with pytest.raises(TypeError, match="no length"):
            len(p)


def test_promise_of_another_flow_is_refused_naming_both() -> None:
    with Flow("first"):
        p = one()
    with Flow("second"), pytest.raises(webber.ForeignPromiseError) as info:
        task(print)(p)
    assert "flow 'first'" in str(info.value) and "flow 'second'" in str(info.value)
    dag = DAG("plain")
    with pytest.raises(webber.ForeignPromiseError, match="dag 'plain'"):
        dag.add_node(print, [p])


def test_rshift_chains_and_lists() -> None:
    with Flow() as flow:
        a, b, c, d = one(), one(), one(), one()
        a >> b >> [c, d]
        [c, d] >> Promise("one-1")  # a plain Promise resolves in the active flow
    assert sorted(flow.edges) == [
        ("one-1", "one-2"), ("one-2", "one-3"), ("one-2", "one-4"),
        ("one-3", "one-1"), ("one-4", "one-1"),
    ]
    with pytest.raises(webber.CycleError):
        flow.compile()


def test_promise_constructor() -> None:
    assert Promise("x").key == "x"
    assert Promise(print).key is print
    assert Promise(Promise("y")).key == "y"
    with pytest.raises(TypeError, match="node id"):
        Promise(3)  # type: ignore[arg-type]
    assert repr(Promise("load-1")) == "Promise('load-1')"
    assert pickle.loads(pickle.dumps(Promise("z"))).key == "z"


def test_find_and_substitute_are_iterative() -> None:
    nested: object = Promise("a")
    for _ in range(100_000):
        nested = [nested]
    assert [p.key for p in find_promises(nested)] == ["a"]
    out = substitute(nested, lambda p: 42)
    for _ in range(100_000):
        assert isinstance(out, list)
        out = out[0]
    assert out == 42


def test_substitute_keeps_types_and_unrelated_objects() -> None:
    from collections import namedtuple

    Pair = namedtuple("Pair", "a b")
    marker = object()
    value = {"t": (Promise("a"), 1), "s": {2}, "l": [marker], "n": Pair(1, 2)}
    out = substitute(value, lambda p: "A")
    assert out == {"t": ("A", 1), "s": {2}, "l": [marker], "n": Pair(1, 2)}
    assert out["l"][0] is marker and type(out["n"]) is Pair


def test_self_containing_list_does_not_loop() -> None:
    loop: list[object] = [Promise("a")]
    loop.append(loop)
    assert [p.key for p in find_promises(loop)] == ["a"]
