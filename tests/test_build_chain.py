"""add_node()'s short path for a chain's link (GraphEdits._add_link and
GraphStore.add_link) records what the general path (GraphEdits._add) does."""

from __future__ import annotations

import pytest

import webber
from webber import DAG, Promise, QueueDAG
from webber._graph import plain_options


def f(x: object = None) -> object:
    return x


def two(x: object, y: object) -> object:
    return (x, y)


def _general(dag: DAG, fn: object, parent: str) -> str:
    """add_node(fn, Promise(parent)) through _add, its Promises given."""
    options = dag._plain[2] if dag._plain[0] is fn else plain_options("f")
    promise = Promise(parent)
    return dag._add(fn, options, (promise,), {}, True, promises=[promise])  # type: ignore[arg-type]


def test_a_link_is_recorded_as_the_general_path_records_it() -> None:
    short, general = DAG(), DAG()
    ids = [short.add_node(f)]
    others = [general.add_node(f)]
    for _ in range(5):
        ids.append(short.add_node(f, Promise(ids[-1])))
        others.append(_general(general, f, others[-1]))
    assert ids == others
    for n in ids:
        x, y = short._store.nodes[n], general._store.nodes[n]
        assert (x.id, x.options, x.func, x.kwargs, x.deps, x.fan_out, x.skip) == (
            y.id, y.options, y.func, y.kwargs, y.deps, y.fan_out, y.skip)
        assert [p.key for p in x.args] == [p.key for p in y.args]
    assert short._store.pending == general._store.pending == ids[1:]
    assert short.get_edges() == general.get_edges()
    assert short.run(executor="inline").ok


def test_a_link_gets_a_fresh_id_past_a_relabelled_or_taken_one() -> None:
    dag = DAG()
    first = dag.add_node(f)
    taken = dag.add_node(two, 1, 2)
    dag.relabel_node(taken, "f")  # a name does not change an id: f-2 is free
    second = dag.add_node(f, Promise(first))
    dag.remove_node(second)
    third = dag.add_node(f, Promise(first))
    assert (first, second, third) == ("f-1", "f-2", "f-3")
    assert dag.compile().nodes[first].children == (third,)


def test_a_function_that_cannot_take_one_argument_is_refused_after_one_that_can() -> None:
    dag = DAG()
    previous = dag.add_node(f)
    for _ in range(3):
        previous = dag.add_node(f, Promise(previous))
    with pytest.raises(webber.TaskDefinitionError, match="cannot take"):
        dag.add_node(two, Promise(previous))
    assert dag.add_node(f, Promise(previous)) == "f-5"


def test_a_queue_dag_stores_the_edge_of_a_link_at_once() -> None:
    qdag = QueueDAG()
    first = qdag.add_node(f)
    second = qdag.add_node(f, Promise(first))
    assert qdag._store.pending == []
    assert [(e.parent, e.child) for e in qdag.get_edges()] == [(first, second)]
