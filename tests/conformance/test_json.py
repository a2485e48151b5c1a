"""The JSON round trip: a graph written by to_json() and read by from_json()
runs the same, on every executor."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from tests.conftest import check_graph_document
from webber import DAG, Condition, Flow, FormatError, Promise, task


def load_rows(n: int) -> list[int]:
    return list(range(n))


def total(rows: list[int], scale: float = 1.0) -> float:
    return sum(rows) * scale


def fail(message: str) -> None:
    raise RuntimeError(message)


@task(retries=2, timeout=30.0)
def pair(x: int, label: str) -> tuple[int, str]:
    return (x, label)


def build() -> DAG:
    dag = DAG("report")
    rows = dag.add_node(load_rows, 4)
    dag.add_node(total, Promise(rows), scale=0.5)
    bad = dag.add_node(fail, "boom")
    handler = dag.add_node(print, "handled")
    dag.add_edge(bad, handler, continue_on=Condition.Failure)
    skipped = dag.add_node(len, "never")
    dag.skip_node(skipped)
    dag.add_node(list, ({"$odd": [1, (2, 3)], "k": None}, {"b": 1.5, "a": True}))
    dag.add_node(pair, Promise(rows), label="rows")
    dag.retry_node(bad, 1)
    dag.relabel_node(handler, "on failure")
    return dag


def test_a_graph_survives_the_round_trip_and_runs_the_same(
    executor: str, tmp_path: Path
) -> None:
    dag = build()
    path = tmp_path / "report.json"
    text = dag.to_json(path)
    document = json.loads(path.read_text())
    assert json.loads(text) == document == dag.to_dict()
    check_graph_document(document)
    assert (document["format"], document["version"]) == ("webber.dag", 1)

    copy = DAG.from_json(path, registry={"pair": pair})
    assert copy.name == "report" and list(copy.nodes) == list(dag.nodes)
    assert copy.to_dict() == document  # nothing lost, nothing added
    for before, after in zip(dag.get_nodes(), copy.get_nodes(), strict=True):
        # id, name, function, settings (Promises compare by identity: by repr here)
        assert after.__repr__() == before.__repr__() and after.func is before.func
        assert repr(after.args) == repr(before.args) and after.deps == before.deps
    assert copy.get_node("list-1").args == (
        ({"$odd": [1, (2, 3)], "k": None}, {"b": 1.5, "a": True}),
    )
    assert sorted(copy.edges) == sorted(dag.edges)
    assert copy.get_edge("fail-1", "print-1").continue_on is Condition.Failure

    original, again = dag.run(executor=executor), copy.run(executor=executor)
    assert original.states == again.states
    for n, state in again.states.items():
        if state == "success":
            assert again[n] == original[n]
    assert again["total-1"] == 3.0 and again["pair-1"] == ([0, 1, 2, 3], "rows")
    assert len(again.attempts["fail-1"]) == 2  # its retry survived


def test_from_json_takes_text_and_a_flow_built_with_tasks(executor: str) -> None:
    with Flow("flow") as flow:
        rows = task(load_rows)(3)
        pairs = pair.map([1, 2], "x")
        summed = task(total)(rows)
    copy = Flow.from_json(flow.to_json(indent=None))
    assert isinstance(copy, Flow)
    run = copy.run(executor=executor)
    # by plain id: the Promises belong to the original flow, whose ids this run refuses
    assert run[str(summed.key)] == 3 and run[str(pairs.key)] == [(1, "x"), (2, "x")]
    node = copy.get_node(str(pairs.key))
    assert node.fan_out and node.retries == 2 and node.timeout == 30.0


def test_exporting_names_the_node_that_cannot_be_written() -> None:
    dag = DAG()
    dag.add_node(len, "fine")
    dag.add_node(lambda: 1)
    with pytest.raises(FormatError, match=r"node 'lambda-1' cannot be exported: it runs a lambda"):
        dag.to_json()
    odd = DAG()
    odd.add_node(len, {1, 2})
    with pytest.raises(FormatError, match=r"node 'len-1'.*\{1, 2\} \(set\) is not JSON") as e:
        odd.to_dict()
    assert e.value.node == "len-1"
    partial = DAG()
    partial.add_node(functools.partial(total, scale=2.0), [1])
    with pytest.raises(FormatError, match=r"functools\.partial"):
        partial.to_dict()
    nan = DAG()
    nan.add_node(abs, float("nan"))
    with pytest.raises(FormatError, match="nan"):
        nan.to_dict()
    # strict=False writes them anyway, as text that cannot be read back
    described = odd.to_dict(strict=False)
    assert described["nodes"][0]["args"] == [{"$repr": "{1, 2}"}]
    with pytest.raises(FormatError, match=r"node 'len-1': its argument '\{1, 2\}' was written"):
        DAG.from_dict(described)


def test_reading_names_the_node_whose_function_is_missing(tmp_path: Path) -> None:
    def local(x: int) -> int:
        return x

    dag = DAG()
    dag.add_node(local, 1)
    document = dag.to_dict()
    with pytest.raises(FormatError, match=r"node 'local-1': no function 'local' in the registry"):
        DAG.from_dict(document)
    assert DAG.from_dict(document, registry={"local": local}).run(
        executor="inline")["local-1"] == 1
    document["nodes"][0]["function"] = "tests.conformance.test_json.no_such_function"
    with pytest.raises(FormatError, match=r"cannot import its function 'tests\.conformance"):
        DAG.from_dict(document)


def test_reading_refuses_another_version_or_format(tmp_path: Path) -> None:
    document = build().to_dict()
    document["version"] = 2
    with pytest.raises(FormatError, match="format version 2; this webber reads version 1"):
        DAG.from_dict(document)
    with pytest.raises(FormatError, match="not a webber graph"):
        DAG.from_json('{"nodes": []}')
    with pytest.raises(FormatError, match="not valid JSON"):
        DAG.from_json("{oops")
    with pytest.raises(FileNotFoundError):
        DAG.from_json(tmp_path / "missing.json")


def test_the_schema_is_shipped_and_refuses_a_bad_document() -> None:
    import jsonschema

    document = build().to_dict()
    document["nodes"][0]["retries"] = -1
    with pytest.raises(jsonschema.ValidationError):
        check_graph_document(document)
