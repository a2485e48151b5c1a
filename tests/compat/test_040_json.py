"""The 0.4.0 drop-in, its JSON: graphs 0.4.0's ``to_json()`` wrote are read by
``from_json``/``from_dict`` with its ``registry=`` and ``module=``, and
``to_json(file=...)`` writes as 0.4.0's did."""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest

from webber import DAG, Condition, FormatError, Promise


def load(n: int) -> list[int]:
    return list(range(n))


def total(rows: list[int], scale: float = 1.0) -> float:
    return sum(rows) * scale


def shout(text: str) -> str:
    raise RuntimeError(text)


#: what webber 0.4.0's ``to_json()`` wrote for this graph (printed by 0.4.0 itself):
#: load(5) -> total(Promise(load), scale=0.5); a retried load; shout, skipped
#: as a failure; notify on load's failure (its explicit edge, condition 1).
WRITTEN_BY_040 = """{
  "version": "0.4",
  "nodes": [
    {"id": "load__63cc6f90-3af5-4087-8077-db0d88a14166", "name": "load",
     "args": [5], "kwargs": {}, "retry": 2},
    {"id": "total__dabb993a-52df-48d7-8563-ece75b70c185", "name": "total",
     "args": [{"__promise__": "load__63cc6f90-3af5-4087-8077-db0d88a14166"}],
     "kwargs": {"scale": 0.5}},
    {"id": "shout__0b1d", "name": "shout", "args": ["never"], "kwargs": {},
     "skip": [true, true]},
    {"id": "notify__46929993", "name": "notify", "args": ["load failed"], "kwargs": {}}
  ],
  "edges": [
    {"parent": "load__63cc6f90-3af5-4087-8077-db0d88a14166",
     "child": "total__dabb993a-52df-48d7-8563-ece75b70c185", "condition": 0},
    {"parent": "load__63cc6f90-3af5-4087-8077-db0d88a14166",
     "child": "notify__46929993", "condition": 1}
  ]
}"""

REGISTRY = {"load": load, "total": total, "shout": shout, "notify": print}


def test_a_graph_0_4_0_wrote_is_read_with_fresh_ids(tmp_path: Path, executor: str) -> None:
    path = tmp_path / "dag.json"
    path.write_text(WRITTEN_BY_040, encoding="utf-8")
    for source in (str(path), WRITTEN_BY_040):  # a path, or the text (as 0.4.0 took)
        dag = DAG.from_json(source, registry=REGISTRY)
        assert list(dag.nodes) == ["load-1", "total-1", "shout-1", "print-1"]
        assert dag.get_node("print-1").name == "notify"  # its 0.4.0 name, as 0.4.0 relabelled
        assert dag.get_node("load-1").retries == 2
        assert dag.get_node("shout-1").skip and dag.get_node("shout-1").skip_as_failure
        (promise,) = dag.get_node("total-1").args
        assert isinstance(promise, Promise) and promise.key == "load-1"
        assert dag.get_node("total-1").kwargs == {"scale": 0.5}
        assert dag.get_edge("load-1", "print-1").continue_on is Condition.Failure
        run = dag.run(executor=executor)
        assert run["total-1"] == 5.0
        assert run.states == {"load-1": "success", "total-1": "success",
                              "shout-1": "skipped", "print-1": "skipped"}


def test_module_names_the_functions_as_in_0_4_0() -> None:
    module = types.ModuleType("steps")
    module.load, module.total, module.shout = load, total, shout  # type: ignore[attr-defined]
    # The registry comes first; the module gives the rest by name.
    dag = DAG.from_dict(json.loads(WRITTEN_BY_040), registry={"notify": print}, module=module)
    assert dag.run(executor="inline")["total-1"] == 5.0
    # This webber's own format takes a module too.
    again = DAG.from_json(dag.to_json(), module=module, registry={"notify": print})
    assert again.run(executor="inline")["total-1"] == 5.0


def test_a_function_not_found_is_named_with_the_fix() -> None:
    with pytest.raises(FormatError) as caught:
        DAG.from_json(WRITTEN_BY_040, registry={"load": load, "total": total})
    message = str(caught.value)
    assert "'notify', 'shout'" in message
    assert "registry=" in message and "module=" in message
    assert isinstance(caught.value, ValueError)  # what 0.4.0 raised: caught the same way


def test_a_promise_of_no_node_and_a_bad_edge_are_named() -> None:
    data = json.loads(WRITTEN_BY_040)
    data["nodes"][1]["args"] = [{"__promise__": "gone__1"}]
    with pytest.raises(FormatError, match=r"node 'total__dabb.*names node 'gone__1'"):
        DAG.from_dict(data, registry=REGISTRY)
    data = json.loads(WRITTEN_BY_040)
    data["edges"][0]["condition"] = 7
    with pytest.raises(FormatError, match=r"condition\" of 0 \(Success\), 1 \(Failure\)"):
        DAG.from_dict(data, registry=REGISTRY)


def test_to_json_file_keyword_writes_the_file(tmp_path: Path) -> None:
    dag = DAG()
    dag.add_node(load, 3)
    path = tmp_path / "out.json"
    text = dag.to_json(file=str(path))  # 0.4.0's keyword
    assert path.read_text(encoding="utf-8") == text + "\n"
    assert DAG.from_json(str(path)).run(executor="inline")["load-1"] == [0, 1, 2]
