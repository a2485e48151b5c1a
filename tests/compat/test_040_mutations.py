"""Item 3 of the 0.4.0 drop-in: mutations called and answered as 0.4.0 did."""

from __future__ import annotations

import pytest

from webber import DAG, Condition, Promise


def first() -> int:
    return 1


def second(x: int = 10) -> int:
    return x + 1


def third(x: int = 100) -> int:
    return x * 3


def test_add_edge_and_remove_edge_return_the_pair() -> None:
    dag = DAG()
    a, b = dag.add_node(first), dag.add_node(second)
    assert dag.add_edge(a, b) == ("first-1", "second-1")
    assert dag.remove_edge(first, second) == ("first-1", "second-1")
    assert dag.get_edges(data=False) == []


def test_relabel_node_returns_the_label() -> None:
    dag = DAG()
    a = dag.add_node(first)
    assert dag.relabel_node(a, "one") == "one"
    assert dag.get_node(a)["name"] == "one"


def test_add_edge_of_new_callables_adds_them(executor: str) -> None:
    dag = DAG()
    pair = dag.add_edge(first, second)
    assert pair == ("first-1", "second-1") and len(dag.nodes) == 2
    assert dag.add_edge(second, third) == ("second-1", "third-1")
    run = dag.execute(executor)
    assert [run[f] for f in (first, second, third)] == [1, 11, 300]
    (t1,), (t2,), (t3,) = (run.attempts[f] for f in (first, second, third))
    assert t1.started + t1.duration <= t2.started + 1e-3
    assert t2.started + t2.duration <= t3.started + 1e-3


def test_update_nodes_forms(executor: str) -> None:
    dag = DAG()
    a, b, c = dag.add_node(first), dag.add_node(second), dag.add_node(third)
    dag.update_nodes(b, c, args=[1])  # ids as arguments
    assert dag.get_node(b)["args"] == (1,) == dag.get_node(c)["args"]
    dag.update_nodes([b, c], kwargs={"x": 2}, args=[])  # one list
    assert dag.get_node(c)["kwargs"] == {"x": 2}
    dag.update_nodes(filter=lambda n: n.name == "third", callable=second)
    assert dag.get_node(c)["callable"] is second and dag.get_node(c)["name"] == "second"
    dag.update_nodes(a, data={"name": "one", "args": []})
    assert dag.get_node(a)["name"] == "one"
    dag.update_nodes(b, args=[Promise(a)], kwargs={})  # a Promise records its edge
    assert dag.get_edges(data=False) == [(a, b)]
    run = dag.execute(executor)
    assert (run[a], run[b], run[c]) == (1, 2, 3)


def test_update_nodes_needs_ids_or_a_filter_not_both() -> None:
    dag = DAG()
    a = dag.add_node(first)
    with pytest.raises(ValueError, match="filter"):
        dag.update_nodes(args=[1])
    with pytest.raises(ValueError, match="filter"):
        dag.update_nodes(a, filter=lambda n: True, args=[1])
    assert dag.get_node(a)["args"] == ()


def test_update_edges_forms(executor: str) -> None:
    dag = DAG()
    a, b = dag.add_node(first), dag.add_node(second)
    c = dag.add_node(third)
    dag.add_edge(a, b)
    dag.add_edge(b, c)
    dag.update_edges((a, b), continue_on=Condition.Failure)
    assert dag.get_edge(a, b)["Condition"] is Condition.Failure
    dag.update_edges([(a, b), (b, c)], continue_on=Condition.AnyCase)
    assert {e.Condition for e in dag.get_edges()} == {Condition.AnyCase}
    dag.update_edges(filter=lambda e: e.child == c, continue_on=Condition.Success)
    assert dag.get_edge(b, c)["Condition"] is Condition.Success
    dag.update_edges((first, second), data={"continue_on": Condition.Failure})
    assert dag.get_edge(a, b).Condition is Condition.Failure
    dag.update_edges((b, c), data={"Condition": Condition.Failure})
    assert dag.get_edge(b, c).Condition is Condition.Failure
    with pytest.raises(ValueError, match="filter"):
        dag.update_edges(continue_on=Condition.Success)
    with pytest.raises(ValueError, match="filter"):
        dag.update_edges((a, b), filter=lambda e: True, continue_on=Condition.Success)
    run = dag.execute(executor)  # a succeeds: b (on failure) and c (its child) skip
    assert (run.state(a), run.state(b), run.state(c)) == ("success", "skipped", "skipped")


def test_condition_is_an_int_enum_with_0_4_0_values() -> None:
    assert [(c.name, int(c)) for c in Condition] == [("Success", 0), ("Failure", 1), ("AnyCase", 3)]
    assert Condition(3) is Condition.AnyCase and Condition.Failure == 1
    assert isinstance(Condition.Success, int)
    assert repr(Condition.Failure) == "Condition.Failure"


def test_update_nodes_with_an_empty_name_gives_back_the_functions_name() -> None:
    # 0.4.0: "Requested node name must be a non-null Python string, will default
    # to callable when not set": a name of "" or None is reset to the callable's.
    dag = DAG()
    a = dag.add_node(first)
    dag.relabel_node(a, "one")
    dag.update_nodes(a, data={"name": ""})
    assert dag.get_node(a)["name"] == "first"
    dag.relabel_node(a, "one")
    dag.update_nodes(a, data={"name": None})
    assert dag.get_node(a)["name"] == "first"
    dag.update_nodes(a, data={"name": "", "callable": second})
    assert dag.get_node(a)["name"] == "second"
    with pytest.raises(TypeError, match="name=5 must be a non-empty str"):
        dag.update_nodes(a, data={"name": 5})
