"""Edge conditions and skips: the contract's rule, on every executor."""

from __future__ import annotations

import itertools

import pytest

from webber import DAG, Condition, Flow, task


def ok() -> str:
    return "ok"


def boom() -> str:
    raise RuntimeError("boom")


def echo(value: object = None) -> object:
    return value


# parent outcome x condition -> does the child run?
TABLE = [
    ("success", Condition.Success, True),
    ("success", Condition.Failure, False),
    ("success", Condition.AnyCase, True),
    ("failed", Condition.Success, False),
    ("failed", Condition.Failure, True),
    ("failed", Condition.AnyCase, True),
    ("skipped", Condition.Success, False),
    ("skipped", Condition.Failure, False),
    ("skipped", Condition.AnyCase, True),
    ("skip_node", Condition.Success, True),
    ("skip_node", Condition.Failure, False),
    ("skip_node", Condition.AnyCase, True),
    ("skip_node_as_failure", Condition.Success, False),
    ("skip_node_as_failure", Condition.Failure, True),
    ("skip_node_as_failure", Condition.AnyCase, True),
]


@pytest.mark.parametrize(("parent", "condition", "runs"), TABLE)
def test_condition_table(executor: str, parent: str, condition: Condition, runs: bool) -> None:
    dag = DAG()
    if parent == "skipped":
        grand = dag.add_node(ok)
        dag.skip_node(grand, as_failure=True)  # grand "fails" -> parent's Success edge unmet
        p = dag.add_node(ok)
        dag.add_edge(grand, p)
    else:
        p = dag.add_node(boom if parent == "failed" else ok)
        if parent.startswith("skip_node"):
            dag.skip_node(p, as_failure=parent.endswith("as_failure"))
    child = dag.add_node(echo, "ran")
    dag.add_edge(p, child, continue_on=condition)
    run = dag.run(executor=executor)
    expected_parent = {"success": "success", "failed": "failed"}.get(parent, "skipped")
    assert run.state(p) == expected_parent
    assert run.state(child) == ("success" if runs else "skipped")
    if runs:
        assert run[child] == "ran"


def test_every_incoming_edge_must_hold(executor: str) -> None:
    dag = DAG()
    good = dag.add_node(ok)
    bad = dag.add_node(boom)
    both = dag.add_node(echo, "x")
    dag.add_edge(good, both)
    dag.add_edge(bad, both, continue_on=Condition.Failure)
    either = dag.add_node(echo, "y")
    dag.add_edge(good, either)
    dag.add_edge(bad, either)  # Success on a failed parent: skipped
    run = dag.run(executor=executor)
    assert run.state(both) == "success"
    assert run.state(either) == "skipped"


def test_skips_spread_down_a_chain_and_anycase_stops_them(executor: str) -> None:
    dag = DAG()
    head = dag.add_node(boom)
    chain = [dag.add_node(echo, i) for i in range(50)]
    dag.add_edge(head, chain[0])
    for u, v in itertools.pairwise(chain):
        dag.add_edge(u, v)
    cleanup = dag.add_node(echo, "cleanup")
    dag.add_edge(chain[-1], cleanup, continue_on=Condition.AnyCase)
    run = dag.run(executor=executor)
    assert run.skipped == chain
    assert run.state(cleanup) == "success"
    assert run.failed == [head]


def test_failure_handler_receives_the_exception(executor: str) -> None:
    @task
    def handler(error: object) -> str:
        return f"handled {type(error).__name__}: {error}"

    @task
    def risky() -> int:
        raise KeyError("missing")

    with Flow() as flow:
        r = risky()
        h = handler(r)
    flow.update_edges((r, h), continue_on=Condition.Failure)
    run = flow.run(executor=executor)
    assert run[h] == "handled KeyError: 'missing'"


def test_promise_of_a_skipped_parent_is_none(executor: str) -> None:
    dag = DAG()
    parent = dag.add_node(ok)
    dag.skip_node(parent)
    from webber import Promise

    child = dag.add_node(echo, Promise(parent))
    dag.update_edges((parent, child), continue_on=Condition.AnyCase)
    run = dag.run(executor=executor)
    assert run.state(parent) == "skipped"
    assert run[child] is None


def test_skip_node_can_be_undone(executor: str) -> None:
    dag = DAG()
    n = dag.add_node(ok)
    dag.skip_node(n)
    dag.skip_node(n, skip=False)
    assert dag.run(executor=executor)[n] == "ok"
