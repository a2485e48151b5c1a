"""Item 4 of the 0.4.0 drop-in: every mutator checks its input and raises at
the line that is wrong, in the WebberError tree and under 0.4.0's built-in
base class; a refused call changes nothing."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

import webber
from webber import DAG, Condition, Flow, Promise, task
from webber.xcoms import InvalidCallable


def f() -> int:
    return 1


def g(x: int = 0) -> int:
    return x + 1


def build() -> tuple[DAG, str, str]:
    dag = DAG("checked")
    a, b = dag.add_node(f), dag.add_node(g)
    dag.add_edge(a, b)
    return dag, a, b


def snapshot(dag: DAG) -> tuple[Any, ...]:
    return (
        [(n.id, n.name, n.func, n.args, n.kwargs, n.retries, n.skip) for n in dag.get_nodes()],
        [(e.parent, e.child, e.Condition) for e in dag.get_edges()],
    )


CASES: dict[str, tuple[Callable[[DAG, str, str], object], type[Exception], type[Exception]]] = {
    # name: (call, our leaf, 0.4.0's built-in)
    "non-callable node": (lambda d, a, b: d.add_node(5), webber.TaskDefinitionError, TypeError),
    "promise of unknown node": (
        lambda d, a, b: d.add_node(g, Promise("nope-1")), webber.UnknownPromiseError,
        InvalidCallable,
    ),
    "promise of another dag": (
        lambda d, a, b: d.add_node(g, Promise(DAG("other").add_node(f))),
        webber.ForeignPromiseError, InvalidCallable,
    ),
    "self-loop": (lambda d, a, b: d.add_edge(a, a), webber.CycleError, ValueError),
    "edge closing a cycle": (lambda d, a, b: d.add_edge(b, a), webber.CycleError, ValueError),
    "duplicate edge": (
        lambda d, a, b: d.add_edge(a, b, continue_on=Condition.Failure),
        webber.DuplicateEdgeError, ValueError,
    ),
    "bad continue_on": (
        lambda d, a, b: d.add_edge(a, b, continue_on="yes"),  # type: ignore[arg-type]
        webber.TaskDefinitionError, TypeError,
    ),
    "bad continue_on in update_edges": (
        lambda d, a, b: d.update_edges((a, b), continue_on=1),  # type: ignore[arg-type]
        webber.TaskDefinitionError, TypeError,
    ),
    "negative retries": (lambda d, a, b: d.retry_node(a, -1), webber.TaskDefinitionError,
                         ValueError),
    "non-int retries": (lambda d, a, b: d.retry_node(a, 1.5), webber.TaskDefinitionError,
                        ValueError),  # type: ignore[arg-type]
    "non-bool skip": (lambda d, a, b: d.skip_node(a, skip="yes"), webber.TaskDefinitionError,
                      ValueError),  # type: ignore[arg-type]
    "str args": (lambda d, a, b: d.update_nodes(a, args="abc"), webber.TaskDefinitionError,
                 TypeError),
    "non-dict kwargs": (lambda d, a, b: d.update_nodes(a, kwargs=[1]), webber.TaskDefinitionError,
                        TypeError),
    "non-callable callable": (lambda d, a, b: d.update_nodes(a, callable=3),
                              webber.TaskDefinitionError, TypeError),
    "int label": (lambda d, a, b: d.relabel_node(a, 123), webber.TaskDefinitionError,
                  ValueError),  # type: ignore[arg-type]
    "empty label": (lambda d, a, b: d.relabel_node(a, ""), webber.TaskDefinitionError,
                    ValueError),
    "unknown node": (lambda d, a, b: d.retry_node("h-1", 1), webber.UnknownNodeError, ValueError),
    "missing edge": (lambda d, a, b: d.remove_edge(b, a), webber.UnknownNodeError, ValueError),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_call_raises_where_it_is_made(case: str) -> None:
    call, leaf, builtin = CASES[case]
    dag, a, b = build()
    before = snapshot(dag)
    with pytest.raises(leaf) as caught:
        call(dag, a, b)
    assert isinstance(caught.value, webber.WebberError)
    assert isinstance(caught.value, builtin)
    assert snapshot(dag) == before, "a refused call must change nothing"


def test_messages_name_the_task_and_the_fix() -> None:
    dag, a, b = build()
    with pytest.raises(webber.CycleError) as cycle:
        dag.add_edge(b, a)
    assert cycle.value.cycle == ["f-1", "g-1", "f-1"]
    assert "f-1" in str(cycle.value) and "g-1" in str(cycle.value)
    with pytest.raises(webber.DuplicateEdgeError, match="update_edges"):
        dag.add_edge(a, b)
    with pytest.raises(webber.TaskDefinitionError, match=r"f-1.*non-negative integer"):
        dag.retry_node(a, -1)


def test_the_cycle_check_allows_edges_against_insertion_order_that_close_none() -> None:
    # (a long cycle, refused: tests/test_compile.py, the 10,000-node one)
    dag = DAG()
    ids = [dag.add_node(g) for _ in range(20)]
    dag.add_edge(ids[0], ids[10])
    dag.add_edge(ids[10], ids[19])
    late, early = dag.add_node(f), dag.add_node(f)
    dag.add_edge(early, late)
    dag.add_edge(late, ids[0])
    with pytest.raises(webber.CycleError) as caught:
        dag.add_edge(ids[19], early)
    assert caught.value.cycle == [ids[0], ids[10], ids[19], early, late, ids[0]]
    level = {n: k for k, ids_ in enumerate(dag.compile().levels) for n in ids_}
    assert level[early] < level[late] < level[ids[0]] < level[ids[10]] < level[ids[19]]


def test_a_promise_edge_that_closes_a_cycle_is_refused() -> None:
    dag, a, b = build()
    with pytest.raises(webber.CycleError):
        dag.update_nodes(a, args=[Promise(b)])
    assert dag.get_node(a).args == ()


def test_the_seed_readme_pattern_promise_then_add_edge_is_no_duplicate(executor: str) -> None:
    dag = DAG()
    a = dag.add_node(f)
    b = dag.add_node(g, Promise(a))
    assert dag.add_edge(a, b) == (a, b)  # the Promise's edge, now named explicitly
    with pytest.raises(webber.DuplicateEdgeError):
        dag.add_edge(a, b)
    assert dag.execute(executor)[b] == 2


def test_the_flow_dsl_raises_for_a_cycle_at_the_line_and_compile_still_checks() -> None:
    one, two = task(g, name="one"), task(g, name="two")
    with Flow():
        x, y = one(), two()
        x >> y
        with pytest.raises(webber.CycleError):
            y >> x
    # In a flow a task may name a node to come (Promise by id): that cycle
    # closes only when the block has recorded both, so compile() finds it.
    with Flow() as flow:
        x = one(Promise("two-1"))
        two(x)
    with pytest.raises(webber.CycleError, match="one-1 -> two-1 -> one-1"):
        flow.compile()


def reaches(succ: dict[int, set[int]], start: int, goal: int) -> bool:
    stack, seen = [start], {start}
    while stack:
        w = stack.pop()
        if w == goal:
            return True
        for x in succ[w] - seen:
            seen.add(x)
            stack.append(x)
    return False


@pytest.mark.parametrize("placed_first", [True, False])
def test_the_incremental_order_agrees_with_a_full_search(placed_first: bool) -> None:
    """TopoOrder (webber/_order.py) against brute force on 200 random graphs:
    it refuses exactly the edges that close a cycle, reports a real cycle,
    and keeps a valid topological order of the edges it accepts -- with every
    node placed first, or each placed by its first edge (as the graph store does)."""
    import random

    from webber._order import TopoOrder

    for seed in range(200):
        rng = random.Random(seed)
        n = rng.randrange(2, 25)
        order: TopoOrder[int] = TopoOrder()
        succ: dict[int, set[int]] = {i: set() for i in range(n)}
        pred: dict[int, set[int]] = {i: set() for i in range(n)}
        for i in range(n if placed_first else 0):
            order.add(i)
        for _ in range(3 * n):
            u, v = rng.randrange(n), rng.randrange(n)
            if v in succ[u]:
                continue
            cycle = order.check((u, v), succ, pred)
            assert (cycle is not None) == (u == v or reaches(succ, v, u)), (seed, u, v)
            if cycle is not None:
                assert cycle[0] == cycle[-1] == v and cycle[-2] == u
                assert all(b in succ[a] for a, b in itertools.pairwise(cycle[:-1]))
                continue
            succ[u].add(v)
            pred[v].add(u)
            assert all(order.index[a] < order.index[b] for a in succ for b in succ[a])
            if placed_first:
                assert sorted(order.index.values()) == list(range(n))
            else:
                assert len(set(order.index.values())) == len(order.index)
