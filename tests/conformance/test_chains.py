"""Fused chains: a linear run of tasks goes to the executor in one hand-off.
Every rule of a run still holds link by link."""

from __future__ import annotations

from pathlib import Path

import pytest

import webber
from webber import DAG, Condition, Promise


def inc(x: int) -> int:
    return x + 1


def fail_at(x: int, bad: int) -> int:
    if x == bad:
        raise ValueError(f"bad {x}")
    return x + 1


def fail_once_at(x: int, bad: int, marker: str) -> int:
    if x == bad and not Path(marker).exists():
        Path(marker).write_text("x")
        raise ValueError(f"bad {x}")
    return x + 1


def chain(dag: DAG, length: int, func: object = inc, *extra: object) -> list[str]:
    ids = [dag.add_node(int, 0)]
    for _ in range(length):
        ids.append(dag.add_node(func, Promise(ids[-1]), *extra))  # type: ignore[arg-type]
    return ids


def test_plan_fuses_only_plain_one_to_one_links() -> None:
    dag = DAG()
    ids = chain(dag, 4)
    side = dag.add_node(inc, Promise(ids[2]))  # ids[2] now has two children
    plan = dag.compile()
    assert [plan.nodes[n].next_link for n in ids] == [ids[1], ids[2], None, ids[4], None]
    assert plan.nodes[side].next_link is None
    dag.update_nodes(ids[3], timeout=5.0)  # a timeout needs the engine between tasks
    assert dag.compile().nodes[ids[3]].next_link is None
    dag.add_edge(ids[0], ids[1], continue_on=Condition.AnyCase)
    assert dag.compile().nodes[ids[0]].next_link is None


def test_chain_values_and_attempts(executor: str) -> None:
    dag = DAG()
    ids = chain(dag, 50)
    run = dag.run(executor=executor)
    assert [run[n] for n in ids] == list(range(51))
    assert all(len(run.attempts[n]) == 1 for n in ids)


def test_failure_mid_chain_skips_the_rest(executor: str) -> None:
    dag = DAG()
    ids = chain(dag, 10, fail_at, 5)
    handler = dag.add_node(str, "handled")
    dag.add_edge(ids[6], handler, continue_on=Condition.Failure)
    run = dag.run(executor=executor)
    assert [run.state(n) for n in ids] == ["success"] * 6 + ["failed"] + ["skipped"] * 4
    assert run[handler] == "handled"
    with pytest.raises(ValueError, match="bad 5"):
        run[ids[6]]


def test_retry_mid_chain_resumes_the_chain(executor: str, tmp_path: Path) -> None:
    dag = DAG()
    ids = chain(dag, 10, fail_once_at, 5, str(tmp_path / "m"))
    dag.update_nodes(*ids[1:], retries=1)
    run = dag.run(executor=executor)
    assert run.ok
    assert run[ids[-1]] == 10
    assert [len(run.attempts[n]) for n in ids] == [1] * 6 + [2] + [1] * 4


def fail_first_call_at(x: int, bad: int, calls: str) -> int:
    if x == bad:
        with open(calls, "a") as f:
            f.write("x")
        if Path(calls).read_text() == "x":
            raise ValueError(f"bad {x}")
    return x + 1


def test_link_retried_later_runs_only_as_its_retry(executor: str, tmp_path: Path) -> None:
    # Its parent's success and its failure come in together: the parent's
    # success must not submit it anew while its retry waits for its delay.
    dag = DAG()
    calls = tmp_path / "calls"
    ids = chain(dag, 6, fail_first_call_at, 3, str(calls))
    dag.update_nodes(*ids[1:], retries=1, retry_delay=0.3)
    run = dag.run(executor=executor)
    assert run.ok
    assert run[ids[-1]] == 6
    assert calls.read_text() == "xx"  # its first attempt and its retry, no more
    assert [len(run.attempts[n]) for n in ids] == [1] * 4 + [2] + [1] * 2
    first, retry = run.attempts[ids[4]]
    assert (first.number, retry.number) == (1, 2)
    assert retry.started >= first.started + first.duration + 0.25  # after its delay


def _crash_at(x: int, bad: int) -> int:
    import os

    if x == bad:
        os._exit(4)
    return x + 1


def test_crash_mid_chain_on_processes() -> None:
    dag = DAG()
    ids = chain(dag, 8, _crash_at, 3)
    other = dag.add_node(str, "independent")
    run = dag.run(executor="processes", max_workers=1)
    assert [run.state(n) for n in ids] == ["success"] * 4 + ["failed"] + ["skipped"] * 4
    assert run[other] == "independent"
    with pytest.raises(webber.WorkerCrashedError, match="exit code 4"):
        run[ids[4]]
    webber.shutdown()
