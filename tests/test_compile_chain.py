"""compile()'s short path for a chain's link (one Promise argument, its edge
not stored, the parent planned already) plans what the general path plans."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

import webber
from webber import DAG, Condition, Promise, task
from webber import _compile as compile_module
from webber._refs import Ref


def f(*args: object, **kwargs: object) -> None:
    return None


async def slow(x: object) -> object:
    await asyncio.sleep(0)
    return x


@task(timeout=5.0)
def timed(x: object) -> object:
    return x


def _fields(dag: DAG) -> dict[str, tuple[object, ...]]:
    plan = dag.compile()
    return {n: (list(p.parents.items()), p.children, p.deps, p.level, p.next_link,
                repr(p.args), p.kwargs, p.node.id)
            for n, p in plan.nodes.items()}


def _both_ways(build: Callable[[DAG], object]) -> dict[str, tuple[object, ...]]:
    """The plan of ``build``'s graph compiled with its Promise edges pending (the
    short path) and stored (every node through _general): they must agree."""
    pending, stored = DAG(), DAG()
    build(pending)
    build(stored)
    stored.get_edges()  # stores the pending edges: compile reads them as stored edges
    plan = _fields(pending)
    assert plan == _fields(stored)
    assert pending.compile().levels == stored.compile().levels
    assert pending.get_edges() == stored.get_edges()
    return plan


def _chain(dag: DAG, link: Callable[..., object] = f, length: int = 6) -> list[str]:
    ids = [dag.add_node(f)]
    for _ in range(length - 1):
        ids.append(dag.add_node(link, Promise(ids[-1])))
    return ids


def test_a_plain_chain_takes_the_short_path(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    general = compile_module._general

    def counted(n: str, *args: object) -> bool:
        calls.append(n)
        return general(n, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(compile_module, "_general", counted)
    dag = DAG()
    ids = _chain(dag)
    plan = dag.compile()
    assert calls == []
    assert [plan.nodes[n].args for n in ids] == [(), *((Ref(n),) for n in ids[:-1])]
    assert [plan.nodes[n].next_link for n in ids] == [*ids[1:], None]
    assert [plan.nodes[n].level for n in ids] == list(range(6))
    assert [plan.nodes[n].children for n in ids] == [(n,) for n in ids[1:]] + [()]
    stored = DAG()
    _chain(stored)
    stored.get_edges()  # stored edges: every link through _general, the same plan
    assert _fields(stored) == _fields(dag)
    assert calls == ids[1:]


def test_a_chain_plans_the_same_either_way() -> None:
    _both_ways(_chain)


@pytest.mark.parametrize("link", [slow, timed], ids=["async", "timeout"])
def test_a_chain_of_unlinkable_tasks_has_no_links(link: Callable[..., object]) -> None:
    def build(dag: DAG) -> None:
        _chain(dag, link)

    plan = _both_ways(build)
    assert [fields[4] for fields in plan.values()] == [None] * 6


def test_a_link_with_a_skip_or_fan_out_neighbour_is_not_linked() -> None:
    def build(dag: DAG) -> None:
        ids = _chain(dag)
        dag.update_nodes(ids[2], skip=True)
        dag.add_node(f, Promise(dag.add_node(f, Promise(ids[-1]))))

    plan = _both_ways(build)
    links = [fields[4] for fields in plan.values()]
    assert links[1] is None and links[2] is None and links[3] is not None


def test_a_parent_with_two_promise_children() -> None:
    def build(dag: DAG) -> None:
        ids = _chain(dag, length=3)
        dag.add_node(f, Promise(ids[1]))  # a second child of ids[1]
        dag.add_node(f, Promise(ids[1]))
        dag.add_node(f, Promise(ids[-1]))

    plan = _both_ways(build)
    assert plan["f-2"][1] == ("f-3", "f-4", "f-5") and plan["f-2"][4] is None


def test_links_with_a_keyword_a_nested_promise_or_a_condition() -> None:
    def build(dag: DAG) -> None:
        ids = _chain(dag, length=3)
        ids.append(dag.add_node(f, x=Promise(ids[-1])))
        ids.append(dag.add_node(f, [Promise(ids[-1])]))
        ids.append(dag.add_node(f, webber.any_case(Promise(ids[-1]))))
        ids.append(dag.add_node(f, Promise(ids[-1]), Promise(ids[-1])))
        _chain(dag, length=2)

    _both_ways(build)


def test_a_chain_with_a_removed_edge_and_an_added_one() -> None:
    def build(dag: DAG) -> None:
        ids = _chain(dag)
        dag.remove_edge(ids[1], ids[2])  # its Promise still makes ids[2] wait
        dag.add_node(f, Promise(ids[-1]))
        dag.add_edge(ids[3], ids[5], continue_on=Condition.AnyCase)

    plan = _both_ways(build)
    assert plan["f-4"][1] == ("f-5", "f-6") and plan["f-4"][4] is None


def test_a_link_whose_parent_comes_after_it() -> None:
    def build(dag: DAG) -> None:
        ids = _chain(dag, length=4)
        later = dag.add_node(f, Promise(ids[0]))
        dag.update_nodes(ids[1], args=[Promise(later)])  # ids[1] now waits for a later node
        dag.add_node(f, Promise(ids[-1]))

    plan = _both_ways(build)
    assert [fields[3] for fields in plan.values()] == [0, 2, 3, 4, 1, 5]


def test_unlinkable_links_among_links_of_one_function() -> None:
    # The short path notes a link as the last linkable one was when it runs the same
    # function with the same options: one of them with a skip (set in place, its edge
    # still pending) or a timeout, or an async one, between them is still unlinkable.
    import dataclasses

    def build(dag: DAG) -> None:
        ids = _chain(dag, length=4)
        store = dag._store
        store.nodes[ids[2]] = dataclasses.replace(store.nodes[ids[2]], skip=True)
        store.version += 1
        for link in (f, timed, f, f, slow, f):
            ids.append(dag.add_node(link, Promise(ids[-1])))

    plan = _both_ways(build)
    links = [fields[4] is not None for fields in plan.values()]
    assert links == [True, False, False, True, False, False, True, False, False, False]
