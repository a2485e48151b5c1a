"""Item 2 of the 0.4.0 drop-in: node and edge records, and queries, as 0.4.0 code reads them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.compat._small import add, double, small_dag
from webber import DAG, Condition, Promise


@pytest.fixture
def dag() -> DAG:
    return small_dag()


def test_node_records_answer_0_4_0_field_names(dag: DAG) -> None:
    node = dag.get_node("add-1")
    assert node["callable"] is add and node.callable is add and node.func is add
    assert node["args"] == node.args and isinstance(node["args"][0], Promise)
    assert node["kwargs"] == {"y": 1} == node.kwargs
    assert node["name"] == "add" == node.name
    assert node["id"] == "add-1" == node.id
    assert node["retry"] == 0 == node.retry == node.retries
    assert node.get("missing") is None and node.get("missing", 7) == 7
    assert {"callable", "args", "kwargs", "name", "id"} <= set(node.keys())
    assert dict(node)["callable"] is add
    assert "callable" in node and "nope" not in node
    with pytest.raises(KeyError):
        node["nope"]


def test_edge_records_answer_0_4_0_field_names(dag: DAG) -> None:
    edge = dag.get_edge("double-1", "print-1")
    assert edge["Condition"] is Condition.AnyCase is edge.Condition is edge.continue_on
    assert edge["parent"] == "double-1" == edge.parent
    assert edge["child"] == "print-1" == edge.child
    assert edge["id"] == ("double-1", "print-1") == edge.id
    assert edge["continue_on"] is Condition.AnyCase
    assert edge.get("nope") is None
    with pytest.raises(KeyError):
        edge["nope"]


def test_the_seed_readmes_edge_filter(dag: DAG) -> None:
    # the README's `lambda e: e.Condition == condition.OnSuccess`, with the names 0.4.0 shipped
    assert dag.filter_edges(lambda e: e.Condition == Condition.Success) == [("double-1", "add-1")]
    assert dag.filter_edges(lambda e: e["Condition"] == Condition.AnyCase) == [
        ("double-1", "print-1")
    ]


def test_get_nodes_takes_ids_or_one_list(dag: DAG) -> None:
    ids = ["print-1", "double-1"]
    assert [n["id"] for n in dag.get_nodes(*ids)] == ids
    assert [n["id"] for n in dag.get_nodes(ids)] == ids
    assert [n["id"] for n in dag.get_nodes(double, print)] == ["double-1", "print-1"]
    assert [n["id"] for n in dag.get_nodes([double, "add-1"])] == ["double-1", "add-1"]
    assert len(dag.get_nodes()) == 3
    assert [n["id"] for n in dag.get_nodes(tuple(ids))] == ids  # one tuple, as 0.4.0 took it


def test_update_nodes_takes_one_tuple_of_ids(dag: DAG) -> None:
    assert dag.update_nodes(("double-1", "add-1"), data={"retry": 2}) == ["double-1", "add-1"]
    assert [n.retries for n in dag.get_nodes()] == [2, 2, 0]


@pytest.mark.parametrize("bad", [("double-1",), ("double-1", "add-1", "print-1")])
def test_get_edges_refuses_a_tuple_that_is_not_a_pair(dag: DAG, bad: tuple[str, ...]) -> None:
    # a third item was taken for get_edge's data= (and the edge given back without it);
    # one item failed with get_edge()'s missing-argument TypeError
    with pytest.raises(ValueError, match=rf"tuple of {len(bad)}.*\(parent, child\) pair"):
        dag.get_edges(bad)


def test_data_keyword_of_the_queries(dag: DAG) -> None:
    pairs = [("double-1", "add-1"), ("double-1", "print-1")]
    assert dag.get_edges(data=False) == pairs
    assert [e["id"] for e in dag.get_edges()] == pairs  # data=True: records
    assert dag.get_edges(*pairs, data=False) == pairs
    assert dag.get_edge("double-1", "add-1", data=False) == ("double-1", "add-1")
    assert dag.get_edge(double, add).Condition is Condition.Success
    assert dag.filter_nodes(lambda n: n.name != "print") == ["double-1", "add-1"]
    records = dag.filter_nodes(lambda n: n["name"] == "print", data=True)
    assert [r["args"] for r in records] == [("side",)]
    edges = dag.filter_edges(lambda e: e.child == "add-1", data=True)
    assert [e["Condition"] for e in edges] == [Condition.Success]


def test_nodes_is_a_read_only_mapping(dag: DAG) -> None:
    nodes = dag.nodes
    assert len(nodes) == 3 and "add-1" in nodes and "zzz-1" not in nodes
    assert list(nodes) == ["double-1", "add-1", "print-1"]
    assert nodes["add-1"]["callable"] is add
    assert [r["name"] for r in nodes.values()] == ["double", "add", "print"]
    with pytest.raises(TypeError):
        nodes["x"] = 1  # type: ignore[index]


def test_root_and_graph_view(dag: DAG) -> None:
    assert dag.root == ["double-1"]
    graph = dag.graph
    assert list(graph.nodes) == ["double-1", "add-1", "print-1"]
    assert list(graph.edges) == [("double-1", "add-1"), ("double-1", "print-1")]
    assert graph.nodes["add-1"]["callable"] is add
    assert graph.edges[("double-1", "print-1")]["Condition"] is Condition.AnyCase
    assert graph.edges["double-1", "add-1"]["Condition"] is Condition.Success
    assert ("double-1", "add-1") in graph.edges and len(graph.edges) == 2


def test_code_that_reads_records_runs_the_same(dag: DAG, executor: str) -> None:
    # typical 0.4.0 code: look nodes up by record fields, then read the results
    chosen: Any = [n["id"] for n in dag.get_nodes() if n["callable"] in (double, add)]
    run = dag.execute(executor)
    assert [run[n] for n in chosen] == [4, 5]
    assert run.state(dag.filter_nodes(lambda n: n.callable is print)[0]) == "success"
