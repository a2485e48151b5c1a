"""Item 5 of the 0.4.0 drop-in: execute() and visualize() called as 0.4.0 code calls them."""

from __future__ import annotations

import logging

import pytest

import webber
from webber import DAG, Promise, Run


def flaky_counter(path: str) -> str:
    """Fails on its first call, succeeds on the second (state in a file: works in processes)."""
    import os

    if not os.path.exists(path):
        open(path, "w").close()
        raise RuntimeError("first try fails")
    return "second try"


def boom() -> None:
    raise ValueError("boom")


def hello() -> str:
    return "Hello"


def test_execute_returns_a_run_with_or_without_return_ref(executor: str) -> None:
    dag = DAG()
    a = dag.add_node(hello)
    b = dag.add_node(str.upper, Promise(a))
    for run in (dag.execute(executor), dag.execute(executor, return_ref=True),
                dag.execute(executor, return_ref=False)):
        assert isinstance(run, Run) and run[b] == "HELLO"
        # what 0.4.0's DAGExecutor offered: sets of ids by outcome
        assert set(run.completed) == {a, b} and set(run.failed) == set(run.skipped) == set()


def test_0_4_0_keywords_are_accepted(executor: str) -> None:
    dag = DAG()
    a = dag.add_node(hello)
    run = dag.execute(executor, return_ref=True, print_exc=True, max_workers=2, verbose=False)
    assert run[a] == "Hello"


def test_executor_only_by_keyword_for_0_4_0_positional_return_ref() -> None:
    dag = DAG()
    a = dag.add_node(hello)
    with webber.config.set(executor="inline"):
        run = dag.execute(True)  # 0.4.0's first positional argument was return_ref
    assert run[a] == "Hello"


def test_print_exc_chooses_whether_the_traceback_is_logged(
    executor: str, caplog: pytest.LogCaptureFixture
) -> None:
    dag = DAG()
    dag.add_node(boom)
    for print_exc, with_traceback in ((True, True), (False, False), (None, True)):
        caplog.clear()
        kwargs = {} if print_exc is None else {"print_exc": print_exc}
        run = dag.execute(executor, **kwargs)
        assert not run.ok
        (failure,) = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert "boom" in failure.getMessage()  # a failure is never silent
        assert (failure.exc_info is not None) is with_traceback, print_exc


def test_verbose_false_drops_retry_chatter_not_output_or_failures(
    executor: str, caplog: pytest.LogCaptureFixture, tmp_path: object
) -> None:
    import os

    for verbose in (True, False):
        caplog.clear()
        dag = DAG()
        n = dag.add_node(flaky_counter, os.path.join(str(tmp_path), f"marker-{verbose}"))
        dag.add_node(print, "printed")
        dag.add_node(boom)
        dag.retry_node(n, 1)
        run = dag.execute(executor, verbose=verbose)
        assert run[n] == "second try"
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == (1 if verbose else 0)
        assert any(r.levelno == logging.ERROR for r in caplog.records)
        assert [r.getMessage() for r in caplog.records if hasattr(r, "stream")] == ["printed"]


def test_visualize_types() -> None:
    dag = DAG()
    dag.add_node(hello)
    # 0.4.0's "plt" drew in the notebook: the returned Digraph is that drawing
    assert dag.visualize(type="plt").source == dag.visualize().source
    assert dag.execute("inline").visualize(type="plt").source.startswith("digraph")
    with pytest.raises(webber.WebberError, match="'browser', 'gui', 'plt'"):
        dag.visualize(type="bogus")


def fail() -> None:
    raise ValueError("no")


def test_the_outcome_lists_answer_as_0_4_0_s_sets(executor: str) -> None:
    dag = DAG()
    a = dag.add_node(hello)
    b = dag.add_node(fail)
    c = dag.add_node(str.upper, Promise(b))
    run = dag.execute(executor, return_ref=True, print_exc=False)
    # 0.4.0 code compared them with sets: a list would silently never be equal
    assert run.completed == {a} and run.failed == {b} and run.skipped == {c}
    assert run.failed != set() and run.completed != {a, b}
    assert run.completed | run.failed == {a, b} and {c} | run.failed == {b, c}
    assert run.completed - {a} == set() and {a, b} - run.failed == {a}
    assert run.failed & {a, b} == {b} and run.failed ^ {a, b} == {a}
    assert run.completed <= {a, b} and run.completed < {a, b} and not run.completed >= {a, b}
    assert run.completed.union(run.failed) == {a, b} and run.failed.isdisjoint(run.completed)
    assert run.completed.issubset([a, b]) and run.skipped.issuperset(set())
    assert run.completed.intersection({a}) == {a} and run.completed.difference({a}) == set()
    # and they are still the lists, in plan order, that this webber documents
    assert run.completed == [a] and run.completed[0] == a and run.failed + run.skipped == [b, c]


def test_the_executor_s_timing_attributes(executor: str) -> None:
    dag = DAG()
    a = dag.add_node(hello)
    b = dag.add_node(fail)
    run = dag.execute(executor, return_ref=True, print_exc=False)
    assert set(run.task_durations) == set(run.task_start_times) == {a, b}
    assert run.task_durations == run.metrics.task_durations
    assert run.dag_start_time == run.started
    assert run.dag_end_time - run.dag_start_time == pytest.approx(run.duration, abs=1e-6)
