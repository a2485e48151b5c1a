"""The 0.4.0 drop-in, the rest of its public API: ``resolve_promise``,
``webber.core.QueueDAG``, ``QueueDAG.execute(return_ref=..., print_exc=...)``,
and the executor switch (``WEBBER_EXECUTOR``, ``webber.config``) for streams too."""

from __future__ import annotations

import copy
import os
import pickle

import pytest

import webber
from webber import DAG, IterPromise, Promise, QueueDAG, UnknownPromiseError, stream
from webber.xcoms import InvalidCallable


def test_resolve_promise_names_the_node_by_id() -> None:
    dag = DAG()
    a = dag.add_node(len, "ab")
    assert dag.resolve_promise(Promise(len)).key == a  # by the callable it runs
    assert dag.resolve_promise(Promise(a)).key == a
    fanned = dag.resolve_promise(IterPromise(len, partial=True))
    assert isinstance(fanned, IterPromise) and fanned.keys == (a,) and fanned.partial
    with pytest.raises(InvalidCallable) as caught:  # 0.4.0's name for it
        dag.resolve_promise(Promise(print))
    assert isinstance(caught.value, UnknownPromiseError)
    assert "Promise('print') names no node: no node of dag 'dag' runs 'print'" in str(
        caught.value)
    assert caught.value.message == str(caught.value)  # 0.4.0 code prints e.message


def test_invalid_callable_has_0_4_0_s_message_attribute() -> None:
    # it raised AttributeError: 0.4.0's InvalidCallable kept its argument as .message
    assert InvalidCallable("no such node").message == "no such node"
    assert InvalidCallable().message is None


def test_queue_dag_is_found_where_0_4_0_had_it() -> None:
    from webber.core import QueueDAG as Core

    assert Core is QueueDAG


def squares_of(count: int) -> QueueDAG:
    qdag = QueueDAG()
    n = qdag.add_node(lambda: 3, iterator=count)
    qdag.add_node(lambda x: x * x, Promise(n))
    return qdag


def test_execute_takes_0_4_0_s_keywords() -> None:
    assert squares_of(2).execute(return_ref=True, print_exc=True) == [9, 9]


def where() -> int:
    return os.getpid()


def test_streams_follow_the_executor_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    # 0.4.0 ran a QueueDAG on threads: the one-line switch must reach it too.
    here = os.getpid()
    monkeypatch.setenv("WEBBER_EXECUTOR", "threads")
    qdag = QueueDAG()
    root = qdag.add_node(where, iterator=2)
    qdag.add_node(lambda pid: (pid, os.getpid()), Promise(root))
    assert qdag.execute() == [(here, here)] * 2
    assert stream([1, 2], abs, lambda _: os.getpid()) == [here, here]
    monkeypatch.delenv("WEBBER_EXECUTOR")
    with webber.config.set(executor="inline"):
        assert qdag.execute() == [(here, here)] * 2
    # Without either: the stages run in worker processes.
    assert all(pid != here for _, pid in qdag.execute())


def test_methods_take_0_4_0_s_keyword_names() -> None:
    dag = DAG()
    a, b = dag.add_node(print, "a"), dag.add_node(print, "b")
    dag.add_edge(a, b)
    assert dag.get_node(n=a).id == a
    assert dag.get_edge(outgoing_node=a, incoming_node=b).child == b
    assert dag.filter_nodes(filter=lambda node: node.id == b) == [b]
    assert dag.filter_edges(filter=lambda edge: True) == [(a, b)]
    dag.retry_node(identifier=a, count=2)
    dag.skip_node(identifier=b, skip=True, as_failure=False)
    assert dag.relabel_node(node=a, label="first") == "first"
    assert dag.get_node(a).retries == 2 and dag.get_node(b).skip
    assert list(dag.critical_path(nodes=[b]).nodes) == [a, b]
    assert dag.remove_edge(u_of_edge=a, v_of_edge=b) == (a, b)
    # This webber's names still work, and two names of one argument are refused.
    assert dag.get_node(ref=a).name == "first"
    with pytest.raises(TypeError, match=r"got n= and ref=, two names of one argument"):
        dag.get_node(n=a, ref=a)


def test_node_id_and_from_json_take_0_4_0_s_keyword_names() -> None:
    dag = DAG()
    a = dag.add_node(print, "a")
    assert dag.node_id(identifier=a) == a == dag.node_id(print)
    with pytest.raises(TypeError, match="got ref and identifier=, two names of one argument"):
        dag.node_id(a, identifier=a)
    text = dag.to_json()
    assert DAG.from_json(source=text).node_id(identifier="print-1") == "print-1"
    assert len(DAG.from_json(text)) == 1
    with pytest.raises(TypeError, match="takes one path or JSON text"):
        DAG.from_json(text, source=text)


def test_a_dag_pickles_and_the_copy_runs(executor: str) -> None:
    # 0.4.0's DAG (a networkx graph of plain functions) pickled: saved, or sent
    # to another process
    dag = DAG()
    text = dag.add_node(str, 21)
    doubled = dag.add_node(int, Promise(text))
    copied = pickle.loads(pickle.dumps(dag))
    assert copied.edges == dag.edges and copied.get_node(doubled).callable is int
    assert copied.node_id(doubled) == doubled  # the ids the original returned
    assert copied.execute(executor)[doubled] == 21
    later = copied.add_node(abs, Promise(doubled))  # the copy keeps building
    assert copied.execute(executor)[later] == 21
    assert dag.execute(executor)[doubled] == 21  # the original is untouched
    assert len(copy.deepcopy(dag)) == 2
