"""0.4.0's ``dag.graph`` was a networkx DiGraph: code reads it with networkx's read API."""

from __future__ import annotations

import pytest

import webber
from tests.compat._small import add, double, small_dag
from webber import DAG, Condition


@pytest.fixture
def dag() -> DAG:
    return small_dag()


def test_neighbours_degrees_and_membership(dag: DAG) -> None:
    g = dag.graph
    assert list(g.successors("double-1")) == ["add-1", "print-1"]
    assert list(g.neighbors("double-1")) == ["add-1", "print-1"]
    assert list(g.predecessors("add-1")) == ["double-1"]
    assert g.in_degree("add-1") == 1 and g.out_degree("double-1") == 2
    assert g.in_degree["double-1"] == 0 and g.degree("double-1") == 2
    assert dict(g.in_degree) == {"double-1": 0, "add-1": 1, "print-1": 1}
    assert [n for n, d in g.in_degree() if d == 0] == ["double-1"]  # the roots, 0.4.0's way
    assert g.in_degree(["add-1", "print-1"]) == [("add-1", 1), ("print-1", 1)]
    assert g.has_node("add-1") and not g.has_node("nope") and "add-1" in g
    assert g.has_edge("double-1", "add-1") and not g.has_edge("add-1", "double-1")
    assert len(g) == g.number_of_nodes() == g.order() == 3 and list(g) == list(dag.nodes)
    assert g.number_of_edges() == g.size() == 2 and g.number_of_edges("add-1", "print-1") == 0
    assert g.is_directed() and not g.is_multigraph()


def test_adjacency_and_data_views(dag: DAG) -> None:
    g = dag.graph
    assert list(g["double-1"]) == ["add-1", "print-1"] == list(g.adj["double-1"])
    assert g.succ["double-1"]["print-1"]["Condition"] is Condition.AnyCase
    assert list(g.pred["print-1"]) == ["double-1"]
    assert g.nodes(data="name") == [("double-1", "double"), ("add-1", "add"), ("print-1", "print")]
    assert [n for n, data in g.nodes(data=True) if data["callable"] is add] == ["add-1"]
    assert g.nodes() is not None and list(g.nodes()) == list(g.nodes)
    assert dag.nodes(data="name")[0] == ("double-1", "double")  # 0.4.0's dag.nodes too
    assert list(g.edges()) == [("double-1", "add-1"), ("double-1", "print-1")]
    assert g.edges(data="Condition") == [
        ("double-1", "add-1", Condition.Success), ("double-1", "print-1", Condition.AnyCase),
    ]
    assert [c for _, c, e in g.edges(data=True) if e["Condition"] is Condition.AnyCase] == [
        "print-1"
    ]
    assert g.edges("add-1") == [] and g.out_edges("double-1", data="missing", default=0)[0][2] == 0
    assert g.in_edges("print-1") == [("double-1", "print-1")]


def test_edge_data_neighbour_checks_nbunch_and_adjacency(dag: DAG) -> None:
    g = dag.graph
    assert g.get_edge_data("double-1", "print-1")["Condition"] is Condition.AnyCase
    assert g.get_edge_data("add-1", "double-1") is None  # no such edge: the default
    assert g.get_edge_data("nope", "add-1", default={}) == {}  # nor such a node
    assert g.has_successor("double-1", "add-1") and not g.has_successor("add-1", "double-1")
    assert g.has_predecessor("add-1", "double-1") and not g.has_predecessor("double-1", "add-1")
    assert list(g.nbunch_iter()) == ["double-1", "add-1", "print-1"]
    assert list(g.nbunch_iter("add-1")) == ["add-1"]
    assert list(g.nbunch_iter(["print-1", "nope"])) == ["print-1"]  # non-nodes left out
    with pytest.raises(webber.UnknownNodeError, match="nope"):
        g.nbunch_iter("nope")
    assert [(n, list(children)) for n, children in g.adjacency()] == [
        ("double-1", ["add-1", "print-1"]), ("add-1", []), ("print-1", []),
    ]


def test_unknown_nodes_raise_a_key_error_naming_them(dag: DAG) -> None:
    for read in (lambda: list(dag.graph.successors("nope")), lambda: dag.graph.in_degree("nope"),
                 lambda: dag.graph["nope"]):
        with pytest.raises(KeyError, match="nope"):
            read()
    with pytest.raises(webber.UnknownNodeError):
        dag.graph.edges(["double-1", "nope"])


def test_the_view_follows_edits(dag: DAG) -> None:
    g = dag.graph
    dag.remove_edge("double-1", "print-1")
    assert list(g.successors("double-1")) == ["add-1"] and g.in_degree("print-1") == 0


def test_networkx_s_algorithms_read_it(dag: DAG) -> None:
    nx = pytest.importorskip("networkx")
    assert list(nx.topological_sort(dag.graph)) == ["double-1", "add-1", "print-1"]
    assert nx.ancestors(dag.graph, "add-1") == {"double-1"}
    assert nx.number_weakly_connected_components(dag.graph) == 1  # (reads g._succ)
    assert nx.shortest_path(dag.graph, "double-1", "print-1") == ["double-1", "print-1"]
    assert len(list(nx.edge_bfs(dag.graph, "double-1"))) == 2  # (reads g.nbunch_iter)


def test_networkx_builds_a_graph_of_it_for_its_algorithms(dag: DAG) -> None:
    nx = pytest.importorskip("networkx")
    g = nx.DiGraph(dag.graph)
    assert next(iter(nx.topological_sort(g))) == "double-1"
    assert nx.descendants(g, "double-1") == {"add-1", "print-1"}
    assert g.nodes["add-1"]["callable"] is add
    assert g.edges["double-1", "print-1"]["Condition"] is Condition.AnyCase


def test_a_dag_of_a_dags_graph_keeps_arguments_and_runs(dag: DAG) -> None:
    copy = DAG(dag.graph)  # add needs its argument: given after every node exists
    assert [p.key for p in copy.get_node("add-1").args] == ["double-1"]
    assert copy.edges == dag.edges
    assert copy.execute("inline")["add-1"] == 5


def test_an_undirected_graph_is_refused_as_0_4_0_refused_it() -> None:
    nx = pytest.importorskip("networkx")
    g = nx.Graph()
    g.add_edge(double, add)  # no direction: which runs first is not said
    with pytest.raises(TypeError, match=r"Graph is undirected.*networkx\.DiGraph") as caught:
        DAG(g)
    assert isinstance(caught.value, webber.TaskDefinitionError)
