"""The seed's explicit DAG API, method by method."""

from __future__ import annotations

import dataclasses

import pytest

import webber
from webber import DAG, Condition, Edge, Flow, Node, Promise, TaskOptions, task


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
    assert list(dag.nodes) == ["f-1", "f-2", "g-1"]
    assert DAG().add_node(lambda: 1) == "lambda-1"
    assert repr(dag) == "<DAG 'seed': 3 nodes, 3 edges>"
    assert len(dag) == 3 and list(dag) == list(dag.nodes)
    assert "f-1" in dag and Promise("g-1") in dag and "x" not in dag


def test_nodes_without_arguments_take_the_short_path_and_keep_every_rule() -> None:
    # add_node(f) again, and add_node(f, 1) (atoms only): no Promise to read,
    # no edge; still a fresh id past a clash, an own kwargs dict, a new plan. (list
    # takes no argument or one: len() without one would be refused at compile.)
    dag = DAG()
    first = dag.add_node(list, "ab")
    dag.remove_node(dag.add_node(list))  # a gap: its id is not handed out again
    plan = dag.compile()
    ids = [dag.add_node(list) for _ in range(3)] + [dag.add_node(list, "x")]
    assert len(set(ids)) == 4 and all(i.startswith("list-") and i in dag for i in ids)
    assert first not in ids and "list-2" not in ids
    records = [dag.get_node(i) for i in ids]
    assert all(r.args == () and r.kwargs == {} and r.deps == () for r in records[:3])
    assert records[3].args == ("x",)
    assert len({id(r.kwargs) for r in records}) == 4  # no dict shared between nodes
    assert dag.compile() is not plan and len(dag.compile().nodes) == 5
    assert dag.edges == []


def test_add_node_records_data_edges(dag: DAG) -> None:
    assert dag.get_edge("f-1", "f-2") == Edge("f-1", "f-2", Condition.Success, data=True)
    assert dag.get_edge("f-1", "g-1").data is False


def test_add_edge_again_is_refused_update_edges_changes_the_condition(dag: DAG) -> None:
    with pytest.raises(webber.DuplicateEdgeError, match="update_edges"):
        dag.add_edge("f-2", "g-1", continue_on=Condition.AnyCase)
    dag.update_edges(("f-2", "g-1"), continue_on=Condition.AnyCase)
    assert dag.get_edge("f-2", "g-1").continue_on is Condition.AnyCase
    assert len(dag.edges) == 3
    # the edge a Promise made may be named once, to set its condition
    assert dag.add_edge("f-1", "f-2", continue_on=Condition.AnyCase) == ("f-1", "f-2")
    assert dag.get_edge("f-1", "f-2").continue_on is Condition.AnyCase


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
    assert [n.id for n in dag.get_nodes()] == list(dag.nodes)
    assert [n.id for n in dag.get_nodes("g-1", "f-1")] == ["g-1", "f-1"]
    assert [(e.parent, e.child) for e in dag.get_edges("g-1")] == [("f-1", "g-1"), ("f-2", "g-1")]
    assert [(e.parent, e.child) for e in dag.get_edges(("f-1", "f-2"))] == [("f-1", "f-2")]
    assert len(dag.get_edges()) == 3
    with pytest.raises(webber.UnknownNodeError, match="No match found for the edge f-2 -> f-1"):
        dag.get_edge("f-2", "f-1")


def test_filters(dag: DAG) -> None:
    assert dag.filter_nodes(lambda node: node.name == "f") == ["f-1", "f-2"]
    assert dag.filter_edges(lambda edge: edge.continue_on is Condition.Failure) == [("f-1", "g-1")]
    assert dag.filter_edges(lambda edge: edge.data) == [("f-1", "f-2")]


def test_update_nodes(dag: DAG) -> None:
    assert dag.update_nodes("f-1", retries=2) == ["f-1"]
    assert dag.update_nodes(filter=lambda n: n.name == "f", timeout=5.0) == ["f-1", "f-2"]
    assert dag.get_node("f-2").timeout == 5.0 and dag.get_node("g-1").timeout is None
    with pytest.raises(ValueError, match="neither ids nor a filter"):
        dag.update_nodes(retry_delay=1.0)  # 0.4.0's rule: say which nodes
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
    assert list(dag.nodes) == ["f-1", "g-1"] and dag.edges == []
    assert dag.add_node(f) == "f-3"  # ids are never reused


def test_remove_edge_keeps_data_dependency(dag: DAG) -> None:
    dag.remove_edge("f-1", "f-2")
    assert dag.compile().nodes["f-2"].parents == {"f-1": Condition.Success}


def test_relabel_node(dag: DAG) -> None:
    dag.relabel_node("g-1", "report")
    assert dag.get_node("g-1").name == "report"
    assert list(dag.nodes)[-1] == "g-1"


def test_critical_path(dag: DAG) -> None:
    extra = dag.add_node(g)
    sub = dag.critical_path("f-2")
    assert isinstance(sub, DAG) and sub is not dag
    assert list(sub.nodes) == ["f-1", "f-2"]
    assert sub.edges == [("f-1", "f-2")]
    assert list(dag.critical_path(["g-1", extra]).nodes) == ["f-1", "f-2", "g-1", "g-2"]
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
    assert list(flow.critical_path(b).nodes) == ["h-1", "h-2"]
    flow.remove_edge(a, b)
    flow.remove_node(a)
    assert list(flow.nodes) == ["h-2"]


def test_execute_is_run(dag: DAG) -> None:
    run = dag.execute(executor="inline")
    assert isinstance(run, webber.Run)
    assert run["f-2"] == ((1,),)


# -- ids, Promises everywhere, updates, errors ---------------------------------------


def test_id_scheme() -> None:
    import functools

    @task(name="clean", retries=2, retry_delay=0.5)
    def cleaner() -> None: ...

    class Adder:
        def __call__(self, a: int, b: int) -> int:
            return a + b

    dag = DAG()
    assert dag.add_node(lambda: 1) == "lambda-1"
    assert dag.add_node(lambda: 2) == "lambda-2"
    assert dag.add_node(print) == "print-1"
    assert dag.add_node(cleaner) == "clean-1"
    assert dag.add_node(cleaner) == "clean-2"
    assert dag.add_node(task(name="my task!")(g)) == "my_task-1"
    assert dag.add_node(functools.partial(int, base=2), "101") == "int-1"
    assert dag.add_node(Adder(), 1, 2) == "Adder-1"
    assert dag.add_node(str.upper, "x") == "upper-1"
    assert dag.add_node(print) == "print-2"
    node = dag.get_node("clean-1")
    assert (node.name, node.retries, node.retry_delay, node.func) == ("clean", 2, 0.5, cleaner.fn)
    run = dag.run(executor="inline")
    assert (run["int-1"], run["Adder-1"], run["upper-1"]) == (5, 3, "X")


def test_every_method_takes_the_promise_of_a_node() -> None:
    dag = DAG()
    a, b, c = dag.add_node(f, 1), dag.add_node(f, 2), dag.add_node(g)
    pa, pb, pc = Promise(a), Promise(b), Promise(c)
    dag.add_edge(pa, pb)
    dag.add_edge(pb, pc, continue_on=Condition.AnyCase)
    assert dag.get_node(pa).id == a
    assert [n.id for n in dag.get_nodes(pc, pa)] == [c, a]
    assert dag.get_edge(pa, pb) == Edge(a, b, Condition.Success, data=False)
    assert [(e.parent, e.child) for e in dag.get_edges(pb)] == [(a, b), (b, c)]
    assert [(e.parent, e.child) for e in dag.get_edges((pa, pb))] == [(a, b)]
    assert dag.update_nodes(pa, pb, retries=1) == [a, b]
    assert dag.update_edges((pa, pb), continue_on=Condition.Failure) == [(a, b)]
    assert dag.get_edge(a, b).continue_on is Condition.Failure
    dag.retry_node(pc, 4)
    dag.skip_node(pc, as_failure=True)
    dag.relabel_node(pc, "last")
    node = dag.get_node(c)
    assert (node.retries, node.skip, node.skip_as_failure, node.name) == (4, True, True, "last")
    assert list(dag.critical_path(pb).nodes) == [a, b]
    assert list(dag.critical_path([pc]).nodes) == [a, b, c]
    assert pa in dag and Promise("f-9") not in dag
    dag.remove_edge(pb, pc)
    assert dag.edges == [(a, b)]
    dag.remove_node(pc)
    assert list(dag.nodes) == [a, b]


def test_filter_nodes_sees_node_records() -> None:
    dag = DAG()
    a = dag.add_node(f, 1)
    b = dag.add_node(f, Promise(a))
    c = dag.add_node(g)
    dag.skip_node(c)
    dag.update_nodes(b, timeout=3.0)
    seen: list[object] = []
    assert dag.filter_nodes(lambda node: seen.append(node) or node.skip) == [c]
    assert all(isinstance(n, Node) for n in seen) and len(seen) == 3
    assert dag.filter_nodes(lambda node: node.timeout is not None) == [b]
    assert dag.filter_nodes(lambda node: node.deps == (a,)) == [b]
    assert dag.filter_nodes(lambda node: node.func is f) == [a, b]
    assert dag.filter_nodes(lambda node: False) == []


def test_filter_edges_sees_edge_records() -> None:
    dag = DAG()
    a, b, c = dag.add_node(g), dag.add_node(g), dag.add_node(f, Promise("g-1"))
    dag.add_edge(b, c, continue_on=Condition.AnyCase)
    seen: list[object] = []
    assert dag.filter_edges(lambda edge: seen.append(edge) or True) == [(a, c), (b, c)]
    assert all(isinstance(e, Edge) for e in seen)
    assert dag.filter_edges(lambda edge: edge.continue_on is Condition.AnyCase) == [(b, c)]
    assert dag.filter_edges(lambda edge: edge.child == c and edge.data) == [(a, c)]


def test_update_edges_selection_rules() -> None:
    dag = DAG()
    a, b, c = dag.add_node(g), dag.add_node(g), dag.add_node(g)
    dag.add_edge(a, b)
    dag.add_edge(b, c)
    dag.add_edge(a, c)
    every = dag.update_edges(filter=lambda e: True, continue_on=Condition.AnyCase)
    assert every == [(a, b), (a, c), (b, c)]
    assert {e.continue_on for e in dag.get_edges()} == {Condition.AnyCase}
    # 0.4.0's rule: pairs or a filter, exactly one of them
    for pairs, chooser in (((), None), (((a, b),), lambda e: True)):
        with pytest.raises(ValueError, match=r"ids (nor|and) a filter"):
            dag.update_edges(*pairs, filter=chooser, continue_on=Condition.Failure)
    assert dag.update_edges([(b, c)], continue_on=Condition.Failure) == [(b, c)]
    assert dag.get_edge(a, b).continue_on is Condition.AnyCase
    with pytest.raises(webber.UnknownNodeError, match="No match found for the edge g-3 -> g-1"):
        dag.update_edges((c, a), continue_on=Condition.Success)


def test_update_nodes_selection_rules_and_unknown_fields() -> None:
    dag = DAG()
    a, b = dag.add_node(f), dag.add_node(g)
    with pytest.raises(ValueError, match="both ids and a filter"):
        dag.update_nodes(a, b, filter=lambda n: n.name == "g", retries=1)
    assert dag.update_nodes(filter=lambda n: n.name == "g", retries=1) == [b]
    assert dag.get_node(a).retries == 0
    assert dag.update_nodes(filter=lambda n: False, retries=5) == []
    with pytest.raises(TypeError, match="cannot set id"):
        dag.update_nodes(a, id="x")
    with pytest.raises(webber.UnknownNodeError, match="did you mean 'g-1'"):
        dag.update_nodes("g-2", retries=1)


def test_update_nodes_with_an_unknown_field_is_a_webber_error() -> None:
    # Regression test: webber's own errors all derive from WebberError (see
    # webber/_errors.py); an unknown field should be a TaskDefinitionError
    # (which is a TypeError, so `except TypeError` keeps working).
    dag = DAG()
    a = dag.add_node(f)
    for field in ("bogus", "id", "deps", "fan_out", "options"):
        with pytest.raises(webber.TaskDefinitionError, match=f"cannot set {field}"):
            dag.update_nodes(a, **{field: 1})


def test_lookups_of_unknown_ids_fail_at_once_with_the_closest_match() -> None:
    dag = DAG()
    dag.add_node(task(name="load")(g))
    calls = [
        lambda: dag.add_edge("load-1", "laod-1"),
        lambda: dag.add_edge("lod-1", "load-1"),
        lambda: dag.get_node("load-2"),
        lambda: dag.get_nodes("load-1", "loads-1"),
        lambda: dag.get_edge("load-1", "lod-1"),
        lambda: dag.get_edges("lod-1"),
        lambda: dag.retry_node(Promise("lod-1"), 1),
        lambda: dag.skip_node("lod-1"),
        lambda: dag.relabel_node("lod-1", "x"),
        lambda: dag.remove_node("lod-1"),
        lambda: dag.remove_edge("lod-1", "load-1"),
        lambda: dag.critical_path("lod-1"),
        lambda: dag.update_nodes("lod-1", retries=1),
    ]
    for call in calls:
        with pytest.raises(webber.UnknownNodeError, match=r"did you mean 'load-1'\?") as info:
            call()
        assert isinstance(info.value, KeyError) and isinstance(info.value, webber.WebberError)
    assert list(dag.nodes) == ["load-1"] and dag.edges == []  # nothing changed on the way


def test_remove_node_removes_its_edges_both_ways() -> None:
    dag = DAG()
    a, b, c = dag.add_node(g), dag.add_node(g), dag.add_node(g)
    dag.add_edge(a, b)
    dag.add_edge(b, c)
    dag.remove_node(b)
    assert dag.edges == []
    assert dag.compile().levels == [[a, c]]
    with pytest.raises(webber.UnknownNodeError):
        dag.get_edge(a, b)


def test_critical_path_keeps_conditions_settings_and_skips_unrelated_nodes() -> None:
    dag = DAG()
    a = dag.add_node(g)
    b = dag.add_node(f, Promise(a))
    unrelated = dag.add_node(g)
    c = dag.add_node(f, "c")
    dag.add_edge(b, c, continue_on=Condition.AnyCase)
    dag.add_edge(c, unrelated)  # a descendant: not part of c's critical path
    dag.retry_node(b, 2)
    sub = dag.critical_path(c)
    assert list(sub.nodes) == [a, b, c]
    assert sub.get_edge(b, c).continue_on is Condition.AnyCase
    assert sub.get_node(b).retries == 2
    assert sub.add_node(g) == "g-3"  # new ids do not clash with the original's
    dag.retry_node(b, 0)
    assert sub.get_node(b).retries == 2  # an independent copy
    run = sub.run(executor="inline")
    assert run[c] == ("c",) and run.state(b) == "success"


def test_skip_node_flags() -> None:
    dag = DAG()
    n = dag.add_node(g)
    dag.skip_node(n)
    assert (dag.get_node(n).skip, dag.get_node(n).skip_as_failure) == (True, False)
    dag.skip_node(n, as_failure=True)
    assert (dag.get_node(n).skip, dag.get_node(n).skip_as_failure) == (True, True)
    dag.skip_node(n, skip=False)
    assert dag.get_node(n).skip is False
    assert dag.run(executor="inline")[n] == "g"


def test_retry_node_and_relabel_node_show_in_the_run() -> None:
    dag = DAG()
    n = dag.add_node(g)
    dag.retry_node(n, 3)
    dag.relabel_node(n, "renamed")
    assert n == "g-1" and list(dag.nodes) == ["g-1"]
    plan = dag.compile()
    assert (plan.nodes[n].name, plan.nodes[n].options.retries) == ("renamed", 3)


def test_edge_and_node_records_are_slotted() -> None:
    node = Node("x-1", TaskOptions("x"), g)
    edge = Edge("a", "b")
    for record in (node, edge):
        assert not hasattr(record, "__dict__")
        with pytest.raises((AttributeError, TypeError)):
            record.extra = 1  # type: ignore[attr-defined]
    assert edge.continue_on is Condition.Success and edge.data is False
    assert (node.retries, node.retry_delay, node.retry_backoff, node.timeout) == (0, 0.0, 1.0, None)
    options = dataclasses.replace(node.options, retries=2)
    assert dataclasses.replace(node, options=options).retries == 2 and node.retries == 0


def test_execute_and_run_give_the_same_result() -> None:
    dag = DAG()
    a = dag.add_node(f, 1)
    b = dag.add_node(f, Promise(a))
    one, two = dag.run(executor="inline"), dag.execute(executor="inline")
    assert one[b] == two[b] == ((1,),)
    assert one.states == two.states


def test_promises_of_a_flow_work_on_its_critical_path() -> None:
    # critical_path keeps the ids, so the flow's Promises must keep working on
    # the new graph (and on its runs) -- also once foreign Promises are refused.
    @task
    def h(x: int = 0) -> int:
        return x + 1

    with Flow("full") as flow:
        a = h()
        b = h(a)
        h(b)
    sub = flow.critical_path(b)
    assert sub.get_node(b).id == "h-2"
    assert sub.get_edge(a, b).data is True
    run = sub.run(executor="inline")
    assert run[b] == 2 and run.state(a) == "success"


def test_to_dict_and_to_json_describe_structure_and_arguments() -> None:
    import json

    from webber import Flow, task

    @task(retries=2, retry_delay=0.5, timeout=3.0)
    def fetch(url: str) -> str:
        return url

    @task
    def parse(text: str) -> int:
        return len(text)

    with Flow("described") as flow:
        pages = fetch.map(["a", "b"])
        sizes = parse(pages)
        cleanup = task(lambda: None)()
        cleanup >> sizes
    flow.update_edges((pages, sizes), continue_on=Condition.AnyCase)
    flow.skip_node(cleanup, as_failure=True)
    d = flow.to_dict(strict=False)  # the lambda: strict=True refuses it (tests/test_json.py)
    assert (d["format"], d["version"], d["name"]) == ("webber.dag", 1, "described")
    by_id = {n["id"]: n for n in d["nodes"]}
    assert list(by_id) == ["fetch-1", "parse-1", "lambda-1"]
    assert by_id["fetch-1"] == {
        "id": "fetch-1", "name": "fetch",
        "function": "tests.test_dag_api.test_to_dict_and_to_json_describe_structure_and_arguments"
                    ".<locals>.fetch",
        "args": [["a", "b"]], "kwargs": {}, "inputs": [], "fan_out": True, "partial": False,
        "fan_out_slot": 0, "fan_out_zip": False,
        "retries": 2, "retry_delay": 0.5, "retry_backoff": 1.0,
        "timeout": 3.0, "retry_on": None, "cache": True, "version": None, "limit": None,
        "skip": False, "skip_as_failure": False,
    }
    assert by_id["parse-1"]["inputs"] == ["fetch-1"]
    assert by_id["lambda-1"]["skip"] and by_id["lambda-1"]["skip_as_failure"]
    assert sorted(d["edges"], key=lambda e: e["parent"]) == [
        {"parent": "fetch-1", "child": "parse-1", "continue_on": "AnyCase", "data": True},
        {"parent": "lambda-1", "child": "parse-1", "continue_on": "Success", "data": False},
    ]
    assert by_id["parse-1"]["args"] == [{"$promise": "fetch-1"}]
    assert json.loads(flow.to_json(strict=False)) == d
    assert "\n" not in flow.to_json(indent=None, strict=False)


def test_a_nodes_keyword_arguments_changed_in_place_stay_its_own() -> None:
    # webber 0.4.0 code may edit a node's data in place; no dict is shared
    # between nodes, not even an empty one.
    dag = DAG()
    a = dag.add_node(print, 1)
    b = dag.add_node(print, 2)
    dag.get_node(a)["kwargs"]["sep"] = "-"
    assert dag.get_node(b).kwargs == {}


def test_a_bound_method_names_the_node_that_runs_it() -> None:
    class Steps:
        def load(self) -> int:
            return 1

        def save(self) -> int:
            return 2

    steps, other = Steps(), Steps()
    dag = DAG()
    first, second = dag.add_node(steps.load), dag.add_node(steps.save)
    # Each read of steps.load is a new method object: the same method of the same object.
    assert dag.get_node(steps.load).id == first
    assert dag.add_edge(steps.load, steps.save) == (first, second)
    assert len(dag.nodes) == 2  # no second node made for a method already run
    with pytest.raises(webber.UnknownNodeError, match=r"no node of dag 'dag' runs 'load'"):
        dag.get_node(other.load)  # another object's method is another callable


def test_a_node_named_by_something_else_says_what_to_pass() -> None:
    dag = DAG()
    a = dag.add_node(abs, -1)
    with pytest.raises(webber.TaskDefinitionError, match=r"^int 3 names no node: a node must be "
                       r"a string or a Python callable \(its id, a Promise of it, or its "
                       r"function\); pass what add_node\(\) or a task call inside "
                       r"'with Flow\(\):' returned$"):
        dag.add_edge(a, 3)


def test_from_json_refuses_what_is_no_json_text_nor_path_naming_it() -> None:
    # A dict (json.load's result) or a number failed inside pathlib with
    # "expected str, bytes or os.PathLike object"; JSON text of a list was
    # taken for a path ("No such file or directory: '[1, 2]'"), bytes too.
    dag = DAG()
    dag.add_node(len, "abc")
    assert len(DAG.from_json(dag.to_json().encode())) == 1
    with pytest.raises(webber.FormatError, match=r"not dict .*DAG\.from_dict\(d\)"):
        DAG.from_json(dag.to_dict())  # type: ignore[arg-type]
    with pytest.raises(webber.FormatError, match="JSON text or the path of a JSON file, not int"):
        DAG.from_json(5)  # type: ignore[arg-type]
    with pytest.raises(webber.FormatError, match="expected a JSON object"):
        DAG.from_json("[1, 2]")
