"""The seed's explicit DAG API, method by method."""

from __future__ import annotations

import dataclasses

import pytest

import webber
from webber import DAG, Condition, Edge, Flow, Node, Promise, task


def f(*args: object) -> object:
    return args


def g() -> str:
    return "g"


@pytest.fixture
def dag() -> DAG:
    d = DAG("seed")
    a = d.add_node(f, 1)
    b = d.add_node(f, Promise(a))
    c = d.add_node(g)
    d.add_edge(a, c, continue_on=Condition.Failure)
    d.add_edge(b, c)
    return d


def test_ids_are_readable_and_deterministic(dag: DAG) -> None:
    assert dag.nodes == ["f-1", "f-2", "g-1"]
    assert DAG().add_node(lambda: 1) == "lambda-1"
    assert repr(dag) == "<DAG 'seed': 3 nodes, 3 edges>"
    assert len(dag) == 3 and list(dag) == dag.nodes
    assert "f-1" in dag and Promise("g-1") in dag and "x" not in dag


def test_add_node_records_data_edges(dag: DAG) -> None:
    assert dag.get_edge("f-1", "f-2") == Edge("f-1", "f-2", Condition.Success, data=True)
    assert dag.get_edge("f-1", "g-1").data is False


def test_add_edge_again_sets_the_condition(dag: DAG) -> None:
    dag.add_edge("f-2", "g-1", continue_on=Condition.AnyCase)
    assert dag.get_edge("f-2", "g-1").continue_on is Condition.AnyCase
    assert len(dag.edges) == 3


def test_promise_by_callable(dag: DAG) -> None:
    n = dag.add_node(f, Promise(g))
    assert dag.get_node(n).deps == (g,)
    assert dag.compile().nodes[n].parents == {"g-1": Condition.Success}
    with pytest.raises(webber.UnknownNodeError, match="3 nodes"):
        dag.node_id(f)  # f runs in three nodes now: ambiguous


def test_records_are_frozen_and_strict(dag: DAG) -> None:
    node = dag.get_node("f-1")
    assert isinstance(node, Node) and node.name == "f" and node.args == (1,)
    with pytest.raises(AttributeError):
        node.retires  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(dataclasses.FrozenInstanceError):
        node.retries = 3  # type: ignore[misc]
    edge = dag.get_edge("f-1", "g-1")
    with pytest.raises(AttributeError):
        edge.condition  # type: ignore[attr-defined]  # noqa: B018


def test_get_nodes_and_edges(dag: DAG) -> None:
    assert [n.id for n in dag.get_nodes()] == dag.nodes
    assert [n.id for n in dag.get_nodes("g-1", "f-1")] == ["g-1", "f-1"]
    assert [(e.parent, e.child) for e in dag.get_edges("g-1")] == [("f-1", "g-1"), ("f-2", "g-1")]
    assert [(e.parent, e.child) for e in dag.get_edges(("f-1", "f-2"))] == [("f-1", "f-2")]
    assert len(dag.get_edges()) == 3
    with pytest.raises(webber.UnknownNodeError, match="no edge f-2 -> f-1"):
        dag.get_edge("f-2", "f-1")


def test_filters(dag: DAG) -> None:
    assert dag.filter_nodes(lambda node: node.name == "f") == ["f-1", "f-2"]
    assert dag.filter_edges(lambda edge: edge.continue_on is Condition.Failure) == [("f-1", "g-1")]
    assert dag.filter_edges(lambda edge: edge.data) == [("f-1", "f-2")]


def test_update_nodes(dag: DAG) -> None:
    assert dag.update_nodes("f-1", retries=2) == ["f-1"]
    assert dag.update_nodes(filter=lambda n: n.name == "f", timeout=5.0) == ["f-1", "f-2"]
    assert dag.get_node("f-2").timeout == 5.0 and dag.get_node("g-1").timeout is None
    assert dag.update_nodes(retry_delay=1.0) == dag.nodes  # no selection: every node
    # new Promise arguments record their edges
    dag.update_nodes("g-1", args=(Promise("f-1"),))
    assert dag.get_edge("f-1", "g-1").data is True


def test_update_edges(dag: DAG) -> None:
    changed = dag.update_edges(
        filter=lambda e: e.continue_on is Condition.Success, continue_on=Condition.AnyCase
    )
    assert changed == [("f-1", "f-2"), ("f-2", "g-1")]
    assert dag.update_edges(("f-1", "g-1"), continue_on=Condition.Success) == [("f-1", "g-1")]
    assert {e.continue_on for e in dag.get_edges()} == {Condition.AnyCase, Condition.Success}


def test_retry_and_skip_node(dag: DAG) -> None:
    dag.retry_node("f-1", 3)
    dag.skip_node("g-1", as_failure=True)
    node = dag.get_node("g-1")
    assert dag.get_node("f-1").retries == 3
    assert (node.skip, node.skip_as_failure) == (True, True)
    run = dag.run(executor="inline")
    assert run.state("g-1") == "skipped"


def test_remove_node_and_edge(dag: DAG) -> None:
    dag.remove_edge("f-1", "g-1")
    assert ("f-1", "g-1") not in dag.edges
    dag.remove_node("f-2")
    assert dag.nodes == ["f-1", "g-1"] and dag.edges == []
    assert dag.add_node(f) == "f-3"  # ids are never reused


def test_remove_edge_keeps_data_dependency(dag: DAG) -> None:
    dag.remove_edge("f-1", "f-2")
    assert dag.compile().nodes["f-2"].parents == {"f-1": Condition.Success}


def test_relabel_node(dag: DAG) -> None:
    dag.relabel_node("g-1", "report")
    assert dag.get_node("g-1").name == "report"
    assert dag.nodes[-1] == "g-1"


def test_critical_path(dag: DAG) -> None:
    extra = dag.add_node(g)
    sub = dag.critical_path("f-2")
    assert isinstance(sub, DAG) and sub is not dag
    assert sub.nodes == ["f-1", "f-2"]
    assert sub.edges == [("f-1", "f-2")]
    assert dag.critical_path(["g-1", extra]).nodes == ["f-1", "f-2", "g-1", "g-2"]
    run = sub.run(executor="inline")
    assert run["f-2"] == ((1,),)
    assert len(dag) == 4  # the original is untouched


def test_critical_path_of_a_long_chain_is_iterative() -> None:
    dag = DAG()
    prev = dag.add_node(g)
    for _ in range(20_000):
        prev = dag.add_node(f, Promise(prev))
    assert len(dag.critical_path(prev)) == 20_001


def test_flow_is_a_dag_and_takes_promises() -> None:
    @task
    def h() -> int:
        return 1

    with Flow() as flow:
        a = h()
        b = h()
    assert isinstance(flow, DAG)
    flow.add_edge(a, b, continue_on=Condition.AnyCase)
    flow.retry_node(b, 1)
    flow.relabel_node(a, "first")
    assert flow.get_node(a).name == "first"
    assert flow.get_edge(a, b).continue_on is Condition.AnyCase
    assert flow.critical_path(b).nodes == ["h-1", "h-2"]
    flow.remove_edge(a, b)
    flow.remove_node(a)
    assert flow.nodes == ["h-2"]


def test_execute_is_run(dag: DAG) -> None:
    run = dag.execute(executor="inline")
    assert isinstance(run, webber.Run)
    assert run["f-2"] == ((1,),)
