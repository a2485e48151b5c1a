"""0.4.0 code that matches an error on its message keeps working: each of our
messages still contains the phrase 0.4.0's said it with (``pytest.raises(
ValueError, match="circular dependencies")``), beside what went wrong and the
fix, and its type is a WebberError leaf under 0.4.0's built-in type."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import webber
from webber import DAG, IterPromise, Promise, QueueDAG


def one() -> int:
    return 1


def same(x: int) -> int:
    return x


def two() -> tuple[DAG, str, str]:
    dag = DAG()
    return dag, dag.add_node(one), dag.add_node(same, 2)


def _duplicate_edge() -> None:
    dag, a, b = two()
    dag.add_edge(a, b)
    dag.add_edge(a, b)


def _self_loop() -> None:
    dag, a, _ = two()
    dag.add_edge(a, a)


def _cycle() -> None:
    dag, a, b = two()
    dag.add_edge(a, b)
    dag.add_edge(b, a)


def _promise_of_itself() -> None:
    dag, a, _ = two()
    dag.update_nodes(a, args=(Promise(a),))


def _second_parent() -> None:
    qdag = QueueDAG()
    first, second = qdag.add_node(one, iterator=1), qdag.add_node(one, iterator=1)
    child = qdag.add_node(same, Promise(first))
    qdag.add_edge(second, child)


def _second_child() -> None:
    qdag = QueueDAG()
    root = qdag.add_node(one, iterator=1)
    qdag.add_node(same, Promise(root))
    qdag.add_edge(root, qdag.add_node(same, 3))


# phrase: (what raises it, 0.4.0's type)
PHRASES: dict[str, tuple[Callable[[], object], type[Exception]]] = {
    "not a callable Python function": (lambda: DAG().add_node(5), TypeError),
    "not assigned a callable Python function": (
        lambda: (lambda d, a, b: d.update_nodes(a, callable="f"))(*two()), TypeError),
    "already has": (_duplicate_edge, ValueError),
    "circular dependencies": (_cycle, ValueError),
    "circular dependencies (self-loop)": (_self_loop, ValueError),
    "circular dependencies (Promise of itself)": (_promise_of_itself, ValueError),
    "does not exist": (lambda: (lambda d, a, b: d.remove_edge(a, b))(*two()), ValueError),
    "No match found": (lambda: (lambda d, a, b: d.get_edge(a, b))(*two()), ValueError),
    "one or more characters": (lambda: (lambda d, a, b: d.relabel_node(a, ""))(*two()),
                               ValueError),
    "Python string": (lambda: (lambda d, a, b: d.relabel_node(a, 7))(*two()), ValueError),
    "must be a string or a Python callable": (
        lambda: (lambda d, a, b: d.node_id(123))(*two()), TypeError),
    "Keys must be string IDs or callables": (lambda: Promise(123), TypeError),  # type: ignore
    "string IDs or callables (IterPromise)": (lambda: IterPromise(42), TypeError),  # type: ignore
    "at least one": (lambda: IterPromise(), TypeError),
    "IterPromise is not supported": (
        lambda: QueueDAG().add_node(same, IterPromise("x")), TypeError),
    "maximum of one child and one parent": (_second_child, AssertionError),
    "maximum of one child and one parent (parent)": (_second_parent, AssertionError),
    "non-negative integer": (lambda: (lambda d, a, b: d.retry_node(a, -1))(*two()), ValueError),
    "must be a boolean": (
        lambda: (lambda d, a, b: d.skip_node(a, skip="yes"))(*two()), ValueError),
}


@pytest.mark.parametrize("case", list(PHRASES))
def test_the_message_keeps_0_4_0_s_phrase(case: str) -> None:
    call, old_type = PHRASES[case]
    phrase = case.split(" (")[0]
    with pytest.raises(old_type, match=phrase) as caught:
        call()
    error = caught.value
    assert isinstance(error, webber.WebberError)
    # the leaf's own content stays: a message longer than the phrase, not the phrase alone
    assert len(str(error)) > len(phrase) + 20


def test_the_phrase_sits_beside_the_task_and_the_fix() -> None:
    dag, a, b = two()
    dag.add_edge(a, b)
    with pytest.raises(webber.CycleError) as caught:
        dag.add_edge(b, a)
    assert str(caught.value) == (
        "edge same-1 -> one-1 would close the cycle one-1 -> same-1 -> one-1 (circular "
        "dependencies): a task cannot wait for its own result; the edge was not added"
    )
    with pytest.raises(webber.UnknownNodeError) as missing:
        dag.remove_edge(a, a)
    assert str(missing.value) == (
        "No match found for the edge one-1 -> one-1: it does not exist in dag 'dag'; "
        "add it with add_edge('one-1', 'one-1')"
    )
