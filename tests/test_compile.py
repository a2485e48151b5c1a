"""compile(): levels, printing, and every bad input refused with a message that helps."""

from __future__ import annotations

import pytest

import webber
from webber import DAG, Condition, Flow, Promise, task


def f(*args: object) -> None:
    return None


def test_levels_follow_dependencies_not_insertion() -> None:
    dag = DAG("levels")
    a = dag.add_node(f)
    b = dag.add_node(f)
    c = dag.add_node(f, Promise(a))
    d = dag.add_node(f, Promise(c), Promise(b))
    e = dag.add_node(f)
    dag.add_edge(d, e)
    plan = dag.compile()
    assert plan.levels == [["f-1", "f-2"], ["f-3"], ["f-4"], ["f-5"]]
    assert plan.nodes[d].parents == {"f-3": Condition.Success, "f-2": Condition.Success}
    assert plan.nodes[d].deps == ("f-3", "f-2")
    assert plan.nodes[a].children == ("f-3",)
    assert len(plan) == 5
    assert str(plan) == (
        "Plan 'levels': 5 tasks in 4 levels\n"
        "  level 0: f-1, f-2\n"
        "  level 1: f-3\n"
        "  level 2: f-4\n"
        "  level 3: f-5"
    )


def test_plan_is_plain_comparable_data() -> None:
    dag = DAG()
    dag.add_node(f, 1)
    assert dag.compile() == dag.compile()
    with pytest.raises(AttributeError):
        dag.compile().levels = []  # type: ignore[misc]


def test_cycle_is_named_in_order() -> None:
    dag = DAG()
    a, b, c = dag.add_node(f), dag.add_node(f), dag.add_node(f)
    dag.add_edge(a, b)
    dag.add_edge(b, c)
    dag.add_edge(c, a)
    with pytest.raises(webber.CycleError) as info:
        dag.compile()
    assert info.value.cycle == ["f-1", "f-2", "f-3", "f-1"]
    assert "f-1 -> f-2 -> f-3 -> f-1" in str(info.value)
    assert isinstance(info.value, ValueError)
    with pytest.raises(webber.CycleError):
        dag.run(executor="inline")  # run() compiles first: nothing runs


def test_self_edge() -> None:
    dag = DAG()
    a = dag.add_node(f)
    dag.add_edge(a, a)
    with pytest.raises(webber.CycleError, match=r"'f-1' depends on itself \(f-1 -> f-1\)"):
        dag.compile()


def test_unknown_promise_id_gives_the_closest_match() -> None:
    dag = DAG()
    dag.add_node(f)
    load = dag.add_node(task(name="load")(f))
    assert load == "load-1"
    dag.add_node(f, Promise("lod-1"))
    with pytest.raises(webber.UnknownNodeError, match="did you mean 'load-1'") as info:
        dag.compile()
    assert "f-2" in str(info.value) and "Promise('lod-1')" in str(info.value)
    assert info.value.key == "lod-1"


def test_unknown_ids_in_lookups_are_refused_at_once() -> None:
    dag = DAG()
    a = dag.add_node(f)
    for call in (
        lambda: dag.add_edge(a, "f-9"),
        lambda: dag.get_node("F-1"),
        lambda: dag.remove_node("g-1"),
        lambda: dag.retry_node("f1", 2),
    ):
        with pytest.raises(webber.UnknownNodeError, match="did you mean 'f-1'"):
            call()


def test_forward_references_are_fine() -> None:
    dag = DAG()
    later = dag.add_node(f, Promise("f-2"))
    first = dag.add_node(f)
    assert dag.compile().levels == [[first], [later]]


def test_not_callable() -> None:
    dag = DAG()
    dag.add_node("not a function")  # type: ignore[arg-type]
    with pytest.raises(webber.TaskDefinitionError, match="str 'not a function' is not callable"):
        dag.compile()


@pytest.mark.parametrize("count", [-1, 2.5, "3", None])
def test_bad_retry_counts(count: object) -> None:
    dag = DAG()
    a = dag.add_node(f)
    dag.retry_node(a, count)  # type: ignore[arg-type]
    with pytest.raises(webber.TaskDefinitionError, match=rf"task 'f-1': retries={count!r}"):
        dag.compile()


def test_bad_settings_through_update_nodes() -> None:
    dag = DAG()
    a = dag.add_node(f)
    dag.update_nodes(a, timeout=-5)
    with pytest.raises(webber.TaskDefinitionError, match="timeout=-5"):
        dag.compile()
    with pytest.raises(TypeError, match="cannot set bogus"):
        dag.update_nodes(a, bogus=1)


def test_bad_condition() -> None:
    dag = DAG()
    a, b = dag.add_node(f), dag.add_node(f)
    dag.add_edge(a, b, continue_on="failure")  # type: ignore[arg-type]
    with pytest.raises(webber.TaskDefinitionError, match="edge f-1 -> f-2: continue_on='failure'"):
        dag.compile()


def test_foreign_promise_in_compile_of_a_flow() -> None:
    with Flow("one"):
        p = task(f)()
    with Flow("two") as two, pytest.raises(webber.ForeignPromiseError, match="flow 'one'"):
        task(f)(p)
    assert len(two) == 0  # nothing was recorded


def test_all_errors_are_webber_errors() -> None:
    for name in webber.__all__:
        obj = getattr(webber, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, webber.WebberError)
            assert obj.__module__ == "webber"


def test_plan_is_reused_until_the_graph_changes() -> None:
    dag = DAG()
    a = dag.add_node(f)
    plan = dag.compile()
    assert dag.compile() is plan
    assert dag.compile(executor="threads") is not plan  # checked for another executor
    changes = [
        lambda: dag.add_node(f),
        lambda: dag.add_edge(a, "f-2"),
        lambda: dag.update_edges(("f-1", "f-2"), continue_on=Condition.AnyCase),
        lambda: dag.retry_node(a, 1),
        lambda: dag.relabel_node(a, "renamed"),
        lambda: dag.remove_edge(a, "f-2"),
        lambda: dag.remove_node("f-2"),
    ]
    for change in changes:
        before = dag.compile()
        change()
        after = dag.compile()
        assert after is not before
    assert dag.compile().nodes["f-1"].name == "renamed"
    assert dag.compile().nodes["f-1"].retries == 1
