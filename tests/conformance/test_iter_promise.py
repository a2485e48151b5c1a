"""IterPromise: 0.4.0's run-time fan-out in the DAG API, on Task.map's machinery."""

from __future__ import annotations

from pathlib import Path

import pytest

from webber import DAG, IterPromise, Promise, QueueDAG, TaskDefinitionError, xcoms


def words(text: str) -> list[str]:
    return text.split()


def shout(word: str, suffix: str = "!") -> str:
    return word.upper() + suffix


def join(pair: tuple[str, int], sep: str) -> str:
    return f"{pair[0]}{sep}{pair[1]}"


def picky(word: str) -> str:
    if word.startswith("b"):
        raise ValueError(f"no b-words: {word}")
    return word


def flaky(word: str, folder: str) -> str:
    marker = Path(folder) / word
    if word == "b" and not marker.exists():
        marker.write_text("x")
        raise ConnectionError("first try of b")
    return word


def test_a_node_runs_once_per_element_and_children_get_the_list(executor: str) -> None:
    dag = DAG()
    source = dag.add_node(words, "alpha beta gamma")
    loud = dag.add_node(shout, IterPromise(source), suffix="?")
    by_keyword = dag.add_node(shout, suffix=".", word=IterPromise(words))  # by callable
    total = dag.add_node(" ".join, Promise(loud))
    run = dag.run(executor=executor)
    assert run[loud] == ["ALPHA?", "BETA?", "GAMMA?"]
    assert run[by_keyword] == ["ALPHA.", "BETA.", "GAMMA."]
    assert run[total] == "ALPHA? BETA? GAMMA?"
    assert sorted(a.index or 0 for a in run.attempts[loud]) == [0, 1, 2]  # one per element
    assert dag.get_node(loud).fan_out and dag.get_edge(source, loud).data


def test_zip_runs_once_per_tuple_the_shortest_source_wins(executor: str) -> None:
    dag = DAG()
    names = dag.add_node(words, "a b c")
    numbers = dag.add_node(list, range(10))
    pairs = dag.add_node(join, IterPromise(names, numbers, zip=True), ":")
    empty = dag.add_node(list, [])
    none = dag.add_node(shout, IterPromise(empty))
    run = dag.run(executor=executor)
    assert run[pairs] == ["a:0", "b:1", "c:2"]
    assert run[none] == []


def test_partial_keeps_the_failed_elements_exception_in_place(executor: str) -> None:
    dag = DAG()
    source = dag.add_node(words, "apple banana cherry")
    kept = dag.add_node(picky, IterPromise(source, partial=True))
    strict = dag.add_node(picky, IterPromise(source))
    run = dag.run(executor=executor)
    assert run.state(kept) == "success"
    apple, banana, cherry = run[kept]
    assert (apple, cherry) == ("apple", "cherry")
    assert isinstance(banana, ValueError) and "no b-words: banana" in str(banana)
    assert run.state(strict) == "failed"
    with pytest.raises(ValueError, match="no b-words: banana") as caught:
        run[strict]
    assert any("element 1 (counting from 0)" in note for note in caught.value.__notes__)


def test_elements_retry_on_their_own(executor: str, tmp_path: Path) -> None:
    dag = DAG()
    source = dag.add_node(words, "a b c")
    out = dag.add_node(flaky, IterPromise(source), str(tmp_path))
    dag.retry_node(out, 1)
    run = dag.run(executor=executor)
    assert run[out] == ["a", "b", "c"]
    assert sorted((a.index, a.number) for a in run.attempts[out]) == [
        (0, 1), (1, 1), (1, 2), (2, 1),
    ]


def test_an_iter_promise_node_survives_the_json_round_trip(executor: str) -> None:
    dag = DAG()
    source = dag.add_node(words, "x y")
    numbers = dag.add_node(list, [0, 1])
    pairs = dag.add_node(join, IterPromise(source, numbers, zip=True, partial=True), sep="=")
    copy = DAG.from_json(dag.to_json())
    node = copy.get_node(str(pairs))  # the copy's id: the same string
    settings = (node.fan_out, node.fan_out_zip, node.partial, node.fan_out_slot)
    assert settings == (True, True, True, 0)
    assert copy.run(executor=executor)[str(pairs)] == ["x=0", "y=1"]


def test_mistakes_are_refused_where_they_are_written() -> None:
    assert xcoms.IterPromise is IterPromise
    dag = DAG()
    a, b = dag.add_node(words, "a"), dag.add_node(words, "b")
    with pytest.raises(TypeError, match="2 sources needs zip=True"):
        IterPromise(a, b)
    with pytest.raises(TypeError, match="needs at least one source"):
        IterPromise()
    with pytest.raises(TaskDefinitionError, match="takes 2 IterPromises"):
        dag.add_node(join, IterPromise(a), IterPromise(b))
    with pytest.raises(TaskDefinitionError, match="IterPromise inside a list, tuple"):
        dag.add_node(len, [IterPromise(a)])
    assert repr(IterPromise(a, b, zip=True)) == "IterPromise('words-1', 'words-2', zip=True)"
    with pytest.raises(TaskDefinitionError,
                       match="takes an IterPromise, but IterPromise is not supported in a stream"):
        QueueDAG().add_node(shout, IterPromise(a))
    not_a_list = dag.add_node(len, "abc")
    fans = dag.add_node(shout, IterPromise(not_a_list))
    run = dag.run(executor="inline")
    with pytest.raises(TypeError, match=r"needs an iterable, got int.*IterPromise's source"):
        run[fans]


def test_an_iter_promise_in_a_task_call_inside_a_flow(executor: str) -> None:
    from webber import Flow, task

    with Flow() as flow:
        source = task(words)("one two")
        shouted = task(shout)(IterPromise(source), suffix="")
    assert flow.run(executor=executor)[shouted] == ["ONE", "TWO"]
