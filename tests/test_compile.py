"""compile(): levels, printing, and every bad input refused with a message that helps."""

from __future__ import annotations

import contextlib
import itertools

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
    with pytest.raises(webber.CycleError) as info:
        dag.add_edge(c, a)  # refused where it is added, not at compile()
    assert info.value.cycle == ["f-1", "f-2", "f-3", "f-1"]
    assert "edge f-3 -> f-1 would close the cycle f-1 -> f-2 -> f-3 -> f-1" in str(info.value)
    assert isinstance(info.value, ValueError)
    assert dag.edges == [(a, b), (b, c)]


def test_self_edge() -> None:
    dag = DAG()
    a = dag.add_node(f)
    with pytest.raises(webber.CycleError, match=r"'f-1' depend on itself \(f-1 -> f-1\)"):
        dag.add_edge(a, a)


def test_unknown_promise_id_gives_the_closest_match() -> None:
    dag = DAG()
    dag.add_node(f)
    load = dag.add_node(task(name="load")(f))
    assert load == "load-1"
    with pytest.raises(webber.UnknownNodeError, match="did you mean 'load-1'") as info:
        dag.add_node(f, Promise("lod-1"))
    assert "task 'f'" in str(info.value) and "Promise('lod-1')" in str(info.value)
    assert info.value.key == "lod-1"
    assert len(dag) == 2


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


def test_forward_references_are_fine_in_a_flow() -> None:
    with Flow() as flow:
        later = task(f)(Promise("f-2"))  # a flow may name a node it records later
        first = task(f)()
    assert flow.compile().levels == [[first.key], [later.key]]


def test_not_callable() -> None:
    dag = DAG()
    with pytest.raises(webber.TaskDefinitionError, match="str 'not a function' is not a callable"):
        dag.add_node("not a function")  # type: ignore[arg-type]


@pytest.mark.parametrize("count", [-1, 2.5, "3", None])
def test_bad_retry_counts(count: object) -> None:
    dag = DAG()
    a = dag.add_node(f)
    with pytest.raises(webber.TaskDefinitionError, match=rf"task 'f-1': retries={count!r}"):
        dag.retry_node(a, count)  # type: ignore[arg-type]
    assert dag.get_node(a).retries == 0


def test_bad_settings_through_update_nodes() -> None:
    dag = DAG()
    a = dag.add_node(f)
    with pytest.raises(webber.TaskDefinitionError, match="timeout=-5"):
        dag.update_nodes(a, timeout=-5)
    with pytest.raises(TypeError, match="cannot set bogus"):
        dag.update_nodes(a, bogus=1)


def test_bad_condition() -> None:
    dag = DAG()
    a, b = dag.add_node(f), dag.add_node(f)
    with pytest.raises(webber.TaskDefinitionError, match="continue_on='failure'"):
        dag.add_edge(a, b, continue_on="failure")  # type: ignore[arg-type]


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
    assert dag.compile().nodes["f-1"].options.retries == 1


# -- more levels, more bad inputs --------------------------------------------------


def test_levels_are_in_insertion_order_within_a_level() -> None:
    dag = DAG()
    x = dag.add_node(f)
    y = dag.add_node(f)
    from_y = dag.add_node(f, Promise(y))  # added first, discovered second
    from_x = dag.add_node(f, Promise(x))
    plan = dag.compile()
    assert plan.levels == [[x, y], [from_y, from_x]]
    assert [plan.nodes[n].level for n in (x, y, from_y, from_x)] == [0, 0, 1, 1]
    assert set(plan.nodes) == {x, y, from_y, from_x}


def test_every_level_depends_only_on_earlier_levels() -> None:
    dag = DAG()
    ids = [dag.add_node(f) for _ in range(12)]
    for i, n in enumerate(ids):
        for j in (i - 1, i - 3, i - 7):
            if j >= 0 and (i * j) % 3 != 1:
                dag.add_edge(ids[j], n)
    plan = dag.compile()
    level_of = {n: k for k, level in enumerate(plan.levels) for n in level}
    assert sorted(level_of) == sorted(ids)
    for u, v in dag.edges:
        assert level_of[u] < level_of[v]
    for k, level in enumerate(plan.levels[1:], start=1):  # and as early as possible
        for n in level:
            assert max(level_of[u] for u in plan.nodes[n].parents) == k - 1


def test_str_of_small_plans() -> None:
    assert str(DAG("empty").compile()) == "Plan 'empty': 0 tasks in 0 levels"
    dag = DAG("one")
    dag.add_node(f)
    assert str(dag.compile()) == "Plan 'one': 1 task in 1 level\n  level 0: f-1"
    with Flow("etl") as flow:
        task(name="load")(f)()
    assert str(flow.compile()).splitlines()[0] == "Plan 'etl': 1 task in 1 level"


def test_cycle_behind_other_nodes_names_only_the_cycle() -> None:
    dag = DAG()
    a, b, c, d = (dag.add_node(f) for _ in range(4))
    dag.add_edge(a, b)
    dag.add_edge(b, c)
    dag.add_edge(c, d)
    with pytest.raises(webber.CycleError) as info:
        dag.add_edge(c, b)  # the cycle
    assert info.value.cycle == ["f-2", "f-3", "f-2"]
    assert "the cycle f-2 -> f-3 -> f-2" in str(info.value)
    assert "f-1" not in str(info.value) and "f-4" not in str(info.value)


def test_cycle_through_promise_arguments_is_found_by_compile() -> None:
    with Flow() as flow:  # forward references close the loop: only compile() sees it
        task(f)(Promise("f-3"))
        task(f)(Promise("f-1"))
        task(f)(Promise("f-2"))
    with pytest.raises(webber.CycleError, match="f-1 -> f-2 -> f-3 -> f-1") as info:
        flow.compile()
    assert info.value.cycle == ["f-1", "f-2", "f-3", "f-1"]
    with pytest.raises(webber.CycleError):
        flow.run(executor="inline")  # run() compiles first: nothing runs
    # remove_edge cannot remove an edge that a Promise argument makes: the
    # message must not send the user there (it then fails, or does nothing).
    assert "remove_edge" not in str(info.value)
    assert "Promise argument" in str(info.value)


def test_cycle_of_an_argument_and_an_edge_names_the_edge_to_remove() -> None:
    with Flow() as flow:
        task(f)(Promise("f-2"))  # a forward reference: f-2 -> f-1
        task(f)()
    flow.add_edge("f-1", "f-2")  # f-1 -> f-2 closes the loop (seen by compile)
    with pytest.raises(webber.CycleError) as info:
        flow.compile()
    assert "remove_edge('f-1', 'f-2')" in str(info.value)
    assert "remove_edge('f-2', 'f-1')" not in str(info.value)
    flow.remove_edge("f-1", "f-2")  # the fix named works
    flow.compile()


def test_cycle_through_rshift_in_a_flow() -> None:
    @task
    def step() -> None: ...

    with Flow() as flow:
        a, b = step(), step()
        a >> b
        with pytest.raises(webber.CycleError, match="step-1 -> step-2 -> step-1"):
            b >> a
    assert flow.edges == [("step-1", "step-2")]
    assert flow.run(executor="inline").ok


def test_promise_of_a_removed_node() -> None:
    dag = DAG()
    a = dag.add_node(f)
    b = dag.add_node(f, Promise(a))
    dag.remove_node(a)
    with pytest.raises(webber.UnknownNodeError) as info:
        dag.compile()
    assert str(info.value).startswith(f"task {b!r} takes Promise('f-1'), but dag 'dag' has no node")
    assert info.value.key == "f-1"
    assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)


def test_promise_of_a_callable_that_no_node_runs() -> None:
    def helper() -> None: ...

    dag = DAG()
    with pytest.raises(webber.UnknownNodeError, match="no node of dag 'dag' runs 'helper'"):
        dag.add_node(f, Promise(helper))


def test_unknown_id_without_a_close_match() -> None:
    dag = DAG()
    dag.add_node(f)
    with pytest.raises(webber.UnknownNodeError) as info:
        dag.add_node(f, Promise("completely-different"))
    assert "did you mean" not in str(info.value)
    assert "use an id that add_node() returned" in str(info.value)


@pytest.mark.parametrize("count", [-1, -5, 1.0, "2", True])
def test_bad_retries_through_update_nodes(count: object) -> None:
    dag = DAG()
    a = dag.add_node(f)
    with pytest.raises(webber.TaskDefinitionError, match=rf"task 'f-1': retries={count!r}") as info:
        dag.update_nodes(a, retries=count)
    assert "must be a non-negative integer" in str(info.value)
    assert dag.get_node(a).retries == 0  # refused: nothing changed
    dag.retry_node(a, 2)
    assert dag.compile().nodes[a].options.retries == 2


@pytest.mark.parametrize(
    ("field", "value"),
    [("retry_delay", -1), ("retry_backoff", "x"), ("timeout", 0), ("skip", "yes")],
)
def test_other_bad_settings_through_update_nodes(field: str, value: object) -> None:
    dag = DAG()
    a = dag.add_node(f)
    with pytest.raises(webber.TaskDefinitionError, match=rf"task 'f-1': {field}={value!r}"):
        dag.update_nodes(a, **{field: value})


def test_bad_condition_through_update_edges_and_none() -> None:
    dag = DAG()
    a, b, c = dag.add_node(f), dag.add_node(f), dag.add_node(f)
    dag.add_edge(a, b)
    with pytest.raises(webber.TaskDefinitionError, match=r"continue_on=None is not a Condition"):
        dag.add_edge(b, c, continue_on=None)  # type: ignore[arg-type]
    with pytest.raises(webber.TaskDefinitionError, match=r"use Condition\.Success, Condition\.F"):
        dag.update_edges((a, b), continue_on=True)  # type: ignore[arg-type]
    assert dag.get_edge(a, b).continue_on is Condition.Success


def test_a_ten_thousand_node_chain_compiles_without_recursion() -> None:
    import sys

    dag = DAG()
    prev = dag.add_node(f)
    for _ in range(9_999):
        prev = dag.add_node(f, Promise(prev))
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(200, len(__import__("inspect").stack()) + 150))
    try:
        plan = dag.compile()
    finally:
        sys.setrecursionlimit(limit)
    assert len(plan.levels) == 10_000
    assert plan.levels[-1] == [prev]
    run = dag.run(executor="inline")
    assert run.ok and len(run.succeeded) == 10_000


def test_a_ten_thousand_node_cycle_is_reported_without_recursion() -> None:
    dag = DAG()
    ids = [dag.add_node(f) for _ in range(10_000)]
    for u, v in itertools.pairwise(ids):
        dag.add_edge(u, v)
    with pytest.raises(webber.CycleError) as info:
        dag.add_edge(ids[-1], ids[0])
    assert info.value.cycle[0] == info.value.cycle[-1] == "f-1"
    assert len(info.value.cycle) == 10_001


def test_levels_are_the_same_whether_parents_come_first_or_not() -> None:
    # compile() takes one pass when every parent was added before its children,
    # and falls back to Kahn's algorithm otherwise: both must give the same plan.
    import random

    from webber._compile import _kahn_levels

    rng = random.Random(7)
    for _ in range(50):
        n = rng.randrange(1, 40)
        edges = {(rng.randrange(0, v), v) for v in range(1, n) for _ in range(rng.randrange(0, 3))}
        for order in (list(range(n)), rng.sample(range(n), n)):
            dag = DAG()
            ids = {i: dag.add_node(f, i) for i in order}
            for u, v in edges:
                dag.add_edge(ids[u], ids[v])
            plan = dag.compile()
            # as compile() passes them: only the nodes that have parents (children)
            parents = {k: dict(node.parents) for k, node in plan.nodes.items() if node.parents}
            children = {k: list(node.children) for k, node in plan.nodes.items() if node.children}
            deps = {k: node.deps for k, node in plan.nodes.items()}
            kahn = _kahn_levels(plan.nodes, parents, children, deps)
            assert plan.levels == kahn
            assert {k: node.level for k, node in plan.nodes.items()} == {
                k: level for level, ids in enumerate(kahn) for k in ids}


@pytest.mark.parametrize("enabled", [True, False])
def test_compile_puts_the_gc_back_as_it_found_it_also_on_error(enabled: bool) -> None:
    import gc

    @task
    def f(x: object = None) -> object:
        return x

    with Flow() as flow:
        f(Promise("never-added"))  # a forward reference that never comes: compile raises
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        with pytest.raises(webber.UnknownNodeError):
            flow.compile()
        assert gc.isenabled() is enabled
        with Flow() as ok:
            f(f())
        ok.compile()
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()


def test_concurrent_compiles_share_one_gc_pause() -> None:
    # The GC's switch is global: the compile that paused it, ending while
    # another thread's compile runs, must not switch it back on under that one.
    import gc
    import threading

    from webber._compile import compile_graph

    def g() -> int:
        return 1

    dag = DAG()
    dag.add_node(g)
    dag.add_node(print, Promise(g))  # a Promise of a callable: compile asks node_id
    store = dag._store
    plans: list[object] = []

    def held_compile() -> tuple[threading.Thread, threading.Event, threading.Event]:
        inside, go = threading.Event(), threading.Event()

        def held(key: object) -> str:
            inside.set()
            assert go.wait(60)
            return dag.node_id(key)  # type: ignore[arg-type]

        thread = threading.Thread(target=lambda: plans.append(
            compile_graph("held", store.nodes, store.pred, held, store.succ)))
        thread.start()
        assert inside.wait(60)
        return thread, inside, go

    assert gc.isenabled()
    first, _, first_go = held_compile()  # found the GC on, paused it
    second, _, second_go = held_compile()
    try:
        assert not gc.isenabled()
        first_go.set()
        first.join(60)
        assert not gc.isenabled()  # the second compile is still running
    finally:
        first_go.set()
        second_go.set()
        first.join(60)
        second.join(60)
    assert gc.isenabled()
    assert len(plans) == 2


def _plan_fields(dag: DAG) -> dict[str, tuple[object, ...]]:
    plan = dag.compile()
    return {n: (list(p.parents.items()), p.children, p.deps, p.level, p.next_link, repr(p.args))
            for n, p in plan.nodes.items()}


def test_promise_edges_compile_the_same_whether_stored_yet_or_not() -> None:
    # A node whose Promises name nodes present has its edges stored only when
    # something reads the edges; compile() reads them from its arguments.
    # Either way the plan, and the edges read after, must be the same.
    import random

    rng = random.Random(11)
    for _ in range(30):
        shape = [rng.sample(range(i), min(i, rng.randrange(0, 4))) for i in range(30)]
        extra = [tuple(sorted(rng.sample(range(21), 2))) for _ in range(rng.randrange(0, 6))]
        dags = []
        for read_first in (False, True):
            dag = DAG()
            ids: list[str] = []
            for i, parents in enumerate(shape):
                ids.append(dag.add_node(f, *(Promise(ids[p]) for p in parents)))
                if extra and i == 20:  # an edge added in the middle stores what is pending
                    for u, v in extra:
                        # (a Promise's edge may be named once: it gets the condition)
                        with contextlib.suppress(webber.DuplicateEdgeError):
                            dag.add_edge(ids[u], ids[v], continue_on=Condition.AnyCase)
            if read_first:
                dag.get_edges()  # stores the pending edges before compile
            dags.append(dag)
        plain, stored = dags
        assert _plan_fields(plain) == _plan_fields(stored)
        assert plain.get_edges() == stored.get_edges()


def test_children_keep_the_order_of_their_edges_around_a_removed_promise_edge() -> None:
    dag = DAG()
    root = dag.add_node(f)
    first = dag.add_node(f, Promise(root))
    dag.remove_edge(root, first)  # its Promise still makes it wait for root
    second = dag.add_node(f, Promise(root))
    third = dag.add_node(f, Promise(root))
    plan = dag.compile()
    assert plan.nodes[root].children == (second, third, first)  # stored edges first
    assert [e.child for e in dag.get_edges()] == [second, third]
    assert plan.nodes[first].parents == {root: Condition.Success}


def test_a_chain_of_promises_is_linked_and_its_edges_read_back() -> None:
    dag = DAG()
    ids = [dag.add_node(f)]
    for _ in range(4):
        ids.append(dag.add_node(f, Promise(ids[-1])))
    plan = dag.compile()
    assert [plan.nodes[n].next_link for n in ids] == [*ids[1:], None]
    assert [plan.nodes[n].level for n in ids] == [0, 1, 2, 3, 4]
    assert plan.levels == [[n] for n in ids]
    assert [(e.parent, e.child, e.data) for e in dag.get_edges()] == [
        (u, v, True) for u, v in itertools.pairwise(ids)]
    dag.add_edge(ids[0], ids[2])  # a second child: no longer a chain link
    plan = dag.compile()
    assert plan.nodes[ids[0]].next_link is None
    assert plan.nodes[ids[0]].children == (ids[1], ids[2])


def test_compile_checks_each_node_of_a_run_of_one_function() -> None:
    """Nodes that call the function of the node before, with its options (a
    wide flow's), are checked in short (see _compile._check_nodes): a bad
    flag or function among them is still refused, naming its node."""
    import dataclasses

    dag = DAG()
    ids = [dag.add_node(f) for _ in range(3)]
    store = dag._store
    good = store.nodes[ids[2]]
    store.nodes[ids[2]] = dataclasses.replace(good, skip="yes")
    store.version += 1
    with pytest.raises(webber.TaskDefinitionError, match="task 'f-3': skip='yes' must be a bool"):
        dag.compile()
    store.nodes[ids[2]] = dataclasses.replace(good, func="not a function")
    store.version += 1
    with pytest.raises(webber.TaskDefinitionError,
                       match="task 'f-3' is not assigned a callable Python function: str 'not a"):
        dag.compile()
    store.nodes[ids[2]] = good
    store.version += 1
    plan = dag.compile()
    assert plan.levels == [ids]
    # a root's PlanNode is made without its __init__: the same record
    from webber._plan import PlanNode

    assert [plan.nodes[n] for n in ids] == [
        PlanNode(store.nodes[n], (), {}, {}, (), (), 0, None) for n in ids]
    assert all(plan.nodes[n].parents == {} for n in ids)
