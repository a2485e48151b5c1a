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


# -- what children receive, and how skips spread -----------------------------------


def test_children_of_skip_node_see_success_and_receive_none(executor: str) -> None:
    from webber import Promise

    dag = DAG()
    parent = dag.add_node(ok)
    dag.skip_node(parent)
    on_success = dag.add_node(echo, Promise(parent))  # a data edge: Condition.Success
    on_failure = dag.add_node(echo, "failure branch")
    dag.add_edge(parent, on_failure, continue_on=Condition.Failure)
    run = dag.run(executor=executor)
    assert run.state(parent) == "skipped"
    assert run.state(on_success) == "success" and run[on_success] is None
    assert run.state(on_failure) == "skipped"
    assert run.attempts[parent] == ()  # it really did not run


def test_skip_node_as_failure_takes_the_failure_branch(executor: str) -> None:
    from webber import Promise

    dag = DAG()
    parent = dag.add_node(ok)
    dag.skip_node(parent, as_failure=True)
    normal = dag.add_node(echo, "normal")
    dag.add_edge(parent, normal)
    handler = dag.add_node(echo, Promise(parent))
    dag.update_edges((parent, handler), continue_on=Condition.Failure)
    run = dag.run(executor=executor)
    assert run.state(parent) == "skipped"  # its own state stays "skipped"
    assert run.state(normal) == "skipped"
    assert run.state(handler) == "success"
    assert run[handler] is None  # a skipped parent's value is None, even "as failure"
    assert run.failed == [] and run.ok


def test_anycase_child_receives_the_exception_of_a_failed_parent(executor: str) -> None:
    def describe(value: object) -> str:
        return f"{type(value).__name__}:{value}"

    with Flow() as flow:
        bad = task(boom)()
        good = task(ok)()
        either_bad = task(describe)(bad)
        either_good = task(describe)(good)
    flow.update_edges((bad, either_bad), (good, either_good), continue_on=Condition.AnyCase)
    run = flow.run(executor=executor)
    assert run[either_bad] == "RuntimeError:boom"
    assert run[either_good] == "str:ok"
    assert run.failed == ["boom-1"]


def test_a_skip_spreads_through_success_and_failure_edges_alike(executor: str) -> None:
    dag = DAG()
    head = dag.add_node(boom)
    skipped = dag.add_node(echo, "skipped")  # Success edge from a failure: skipped
    dag.add_edge(head, skipped)
    via_failure = dag.add_node(echo, "x")  # Failure edge from a *skipped* parent: skipped
    dag.add_edge(skipped, via_failure, continue_on=Condition.Failure)
    via_success = dag.add_node(echo, "y")
    dag.add_edge(skipped, via_success)
    any_case = dag.add_node(echo, "z")  # AnyCase: runs after anything
    dag.add_edge(via_failure, any_case, continue_on=Condition.AnyCase)
    run = dag.run(executor=executor)
    assert run.skipped == [skipped, via_failure, via_success]
    assert run[any_case] == "z"


def test_a_node_with_several_parents_needs_every_edge(executor: str) -> None:
    dag = DAG()
    good = dag.add_node(ok)
    bad = dag.add_node(boom)
    manual = dag.add_node(ok)
    dag.skip_node(manual)
    all_three = dag.add_node(echo, "ran")
    dag.add_edge(good, all_three, continue_on=Condition.Success)
    dag.add_edge(bad, all_three, continue_on=Condition.Failure)
    dag.add_edge(manual, all_three, continue_on=Condition.Success)  # skip_node: success
    one_unmet = dag.add_node(echo, "never")
    dag.add_edge(good, one_unmet, continue_on=Condition.AnyCase)
    dag.add_edge(bad, one_unmet, continue_on=Condition.AnyCase)
    dag.add_edge(manual, one_unmet, continue_on=Condition.Failure)  # unmet
    run = dag.run(executor=executor)
    assert run[all_three] == "ran"
    assert run.state(one_unmet) == "skipped"


def _boom() -> int:
    raise ConnectionError("down")


def _fine() -> int:
    return 5


def _describe(value: object) -> str:
    return type(value).__name__


def test_dsl_words_record_conditions_where_the_call_is(executor: str) -> None:
    from webber import Condition, Flow, any_case, on_failure, task

    boom, fine, describe = task(_boom), task(_fine), task(_describe)
    with Flow() as flow:
        failed, ok = boom(), fine()
        alert = describe(on_failure(failed))       # runs: its parent failed
        quiet = describe(on_failure(ok))           # skipped: its parent succeeded
        report = describe(any_case(failed))        # runs either way
        report_ok = describe(any_case(ok))
        plain = describe(failed)                   # Success edge: skipped
    assert flow.get_edge(failed, alert).continue_on is Condition.Failure
    assert flow.get_edge(failed, report).continue_on is Condition.AnyCase
    assert flow.get_edge(failed, plain).continue_on is Condition.Success
    run = flow.run(executor=executor)
    assert run[alert] == "ConnectionError" and run[report] == "ConnectionError"
    assert run[report_ok] == "int"
    assert run.state(quiet) == "skipped" and run.state(plain) == "skipped"
