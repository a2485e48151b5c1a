"""Item 1 of the 0.4.0 drop-in: what failed silently (a wrong result, no error).

- task output vanished after ``logging.basicConfig()`` (root at WARNING);
- ``DAG(networkx_digraph)`` built an empty DAG;
- an id of one DAG silently named another DAG's node with the same id.
"""

from __future__ import annotations

import json
import logging
import pickle
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import webber
from tests.compat.conftest import run_script
from webber import DAG, Condition, Flow, Promise, task

SEED_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} +(\S+): (.*)$")

# -- task output and the root logger's level ---------------------------------------

BASIC_CONFIG = """
import logging, webber
logging.basicConfig({config})
dag = webber.DAG()
dag.add_node(print, "Hello")
run = dag.execute({executor!r})
assert run.ok
"""


def test_output_after_basic_config_reaches_the_users_handler(
    executor: str, tmp_path: Path
) -> None:
    result = run_script(BASIC_CONFIG.format(config="", executor=executor), tmp_path)
    assert result.returncode == 0, result.stderr
    # basicConfig's handler (stderr, its own format) gets the line: it did not vanish
    assert result.stderr.splitlines() == ["INFO:webber:Hello"]
    assert result.stdout == ""


def test_output_after_basic_config_keeps_the_task_name_for_the_users_format(
    executor: str, tmp_path: Path
) -> None:
    config = "format='%(task)s|%(message)s', level=logging.ERROR"
    result = run_script(BASIC_CONFIG.format(config=config, executor=executor), tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["print|Hello"]


def test_without_logging_setup_output_is_in_the_seed_format(
    executor: str, tmp_path: Path
) -> None:
    code = BASIC_CONFIG.replace("logging.basicConfig({config})\n", "")
    result = run_script(code.format(executor=executor), tmp_path)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    match = SEED_LINE.match(line)
    assert match and match.groups() == ("print", "Hello"), line
    assert line.endswith("           print: Hello")  # name right-aligned in 15 columns
    assert result.stderr == ""


STREAMS = """
import sys, webber

def warn(text):
    print(text, file=sys.stderr)

dag = webber.DAG()
dag.add_node(print, "to stdout")
dag.add_node(warn, "to stderr")
run = dag.execute({executor!r})
assert run.ok
"""


def test_what_a_task_writes_to_stderr_stays_on_stderr(executor: str, tmp_path: Path) -> None:
    # 0.4.0 left a task's stderr alone: `python job.py 2> errors.log` split them
    result = run_script(STREAMS.format(executor=executor), tmp_path)
    assert result.returncode == 0, result.stderr
    (out,), (err,) = result.stdout.splitlines(), result.stderr.splitlines()
    assert out.endswith("print: to stdout") and err.endswith(" warn: to stderr")


@pytest.fixture
def quiet_webber_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("webber")
    saved = logger.level
    logger.setLevel(logging.WARNING)
    yield logger
    logger.setLevel(saved)


def test_a_level_set_on_the_webber_logger_is_still_obeyed(
    quiet_webber_logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    dag = DAG()
    dag.add_node(print, "muted")
    dag.execute("inline")
    assert [r for r in caplog.records if hasattr(r, "stream")] == []
    assert quiet_webber_logger.level == logging.WARNING


# -- a graph as the first argument ---------------------------------------------------


def load() -> list[int]:
    return [3, 1, 2]


def total(rows: list[int] | None = None) -> int:
    return -1 if rows is None else sum(rows)


def report() -> str:
    return "done"


class FakeGraph:
    """Duck-typed like networkx.DiGraph: ``.nodes`` and ``.edges`` (with data)."""

    def __init__(self, nodes: list[Any], edges: dict[tuple[Any, Any], dict[str, Any]]) -> None:
        self.nodes = nodes
        self.edges = edges  # iterating gives the (u, v) pairs; [u, v] gives the data


def test_a_graph_of_callables_builds_the_dag(executor: str) -> None:
    graph = FakeGraph(
        [load, total, report],
        {(load, total): {}, (total, report): {"Condition": Condition.AnyCase}},
    )
    dag = DAG(graph)
    assert len(dag.nodes) == 3
    assert [dag.get_node(n).callable for n in dag.nodes] == [load, total, report]
    assert dag.get_edge(load, total).Condition is Condition.Success
    assert dag.get_edge(total, report).Condition is Condition.AnyCase
    assert dag.root == [dag.node_id(load)]
    run = dag.execute(executor)
    assert run.ok and run[report] == "done" and run[total] == -1  # no data passes


def test_a_real_networkx_digraph(executor: str) -> None:
    nx = pytest.importorskip("networkx")
    graph = nx.DiGraph()
    graph.add_edge(load, total)
    graph.add_edge(load, report, Condition=Condition.Failure)
    dag = DAG(graph)
    run = dag.execute(executor)
    assert run.state(total) == "success" and run.state(report) == "skipped"


def test_a_graph_of_ids_with_callables_in_the_node_data(executor: str) -> None:
    original = DAG()
    a = original.add_node(load)
    original.add_node(total, Promise(a))
    copy = DAG(original.graph)  # a DAG's graph view is such a graph
    assert copy.get_edges(data=False) == [("load-1", "total-1")]
    assert copy.execute(executor)["total-1"] == 6


def test_a_bad_graph_raises_at_the_constructor() -> None:
    with pytest.raises(TypeError, match="not callable"):
        DAG(FakeGraph(["a", "b"], {("a", "b"): {}}))  # ids without callables
    with pytest.raises(webber.CycleError):
        DAG(FakeGraph([load, total], {(load, total): {}, (total, load): {}}))
    with pytest.raises(TypeError, match="networkx"):
        DAG(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        DAG(["not", "a", "graph"])  # type: ignore[arg-type]
    assert DAG("named").name == "named"  # a str is still the name


# -- ids remember their DAG ------------------------------------------------------------


def test_an_id_is_a_str_that_pickles_and_serializes_as_one() -> None:
    n = DAG().add_node(report)
    assert isinstance(n, str) and n == "report-1" and hash(n) == hash("report-1")
    assert json.dumps({n: [n]}) == '{"report-1": ["report-1"]}'
    again = pickle.loads(pickle.dumps(n))
    assert again == "report-1" and type(again) is str
    assert {n: 1}["report-1"] == 1 and f"{n}" == "report-1"


def test_an_id_of_another_dag_raises_at_once_naming_both() -> None:
    first, second = DAG("first"), DAG("second")
    a = first.add_node(lambda: 1)
    second.add_node(lambda: 2)  # also "lambda-1"
    with pytest.raises(webber.ForeignPromiseError, match=r"first.*second|second.*first"):
        second.add_node(print, Promise(a))
    with pytest.raises(webber.ForeignPromiseError, match="'first'"):
        second.get_node(a)
    with pytest.raises(webber.ForeignPromiseError):
        second.add_edge(a, "lambda-1")
    with pytest.raises(webber.xcoms.InvalidCallable):  # what 0.4.0 code catches
        second.add_node(print, Promise(a))
    assert len(second.nodes) == 1  # nothing was added


def test_plain_strings_keep_working_in_any_dag(executor: str) -> None:
    first, second = DAG(), DAG()
    first.add_node(lambda: 1)
    b = second.add_node(lambda: 2)
    c = second.add_node(total, [Promise("lambda-1")])
    assert second.get_node("lambda-1").id == b
    assert second.execute(executor)[c] == 2


def test_a_run_refuses_an_id_or_promise_of_another_flow(executor: str) -> None:
    first, second = DAG("first"), DAG("second")
    a = first.add_node(lambda: "first's")
    second.add_node(lambda: "second's")
    run = second.execute(executor)
    with pytest.raises(webber.ForeignPromiseError, match="first"):
        run[a]
    assert run["lambda-1"] == "second's"  # a plain string still reads it
    # run.states, .attempts and .durations took the id by its text alone, and
    # gave second's "lambda-1" for first's.
    for table in (run.states, run.attempts, run.durations):
        with pytest.raises(webber.ForeignPromiseError, match="first"):
            table[a]
        with pytest.raises(webber.ForeignPromiseError, match="first"):
            table.get(a)
        with pytest.raises(webber.ForeignPromiseError, match="first"):
            a in table  # noqa: B015  (what `in` says is the point)
    assert run.states["lambda-1"] == "success" and len(run.attempts["lambda-1"]) == 1
    assert run.states.get("nothing", "none") == "none" and "nothing" not in run.states
    assert "lambda-1" in run.states and run.states.get("lambda-1") == "success"

    one = task(lambda: 1, name="one")
    with Flow("f1"):
        p = one()
    with Flow("f2") as f2:
        one()
    with pytest.raises(webber.ForeignPromiseError, match="f1"):
        f2.execute(executor)[p]


def test_ids_of_a_critical_path_still_belong(executor: str) -> None:
    dag = DAG()
    a = dag.add_node(load)
    b = dag.add_node(total, Promise(a))
    sub = dag.critical_path(b)
    assert sub.execute(executor)[b] == 6
