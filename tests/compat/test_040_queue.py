"""0.4.0's QueueDAG: its record of repeat settings, a root told to run 0 times, its error type."""

from __future__ import annotations

import pytest

import webber
from webber import Promise, QueueDAG


def halt(out: int) -> bool:
    return out >= 3


def test_conditions_records_each_nodes_repeat_settings() -> None:
    qdag = QueueDAG()
    counted = qdag.add_node(int, "7", iterator=5)
    child = qdag.add_node(abs, Promise(counted))
    assert qdag.conditions[counted] == {"halt_condition": None, "iter_limit": 5}
    assert qdag.conditions[child] == {"halt_condition": None, "iter_limit": None}
    other = QueueDAG()
    watched = other.add_node(int, "1", halt_condition=halt, max_iter=10)
    assert other.conditions == {watched: {"halt_condition": halt, "iter_limit": 10}}
    assert len(qdag.conditions) == 2  # its own nodes only (0.4.0 shared one dict)


def test_a_root_told_to_run_zero_times_runs_nothing(executor: str) -> None:
    # a count computed from data (iterator=len(jobs)) may be 0: 0.4.0 returned []
    qdag = QueueDAG()
    root = qdag.add_node(int, "7", iterator=0)
    qdag.add_node(abs, Promise(root))
    assert qdag.execute(executor) == []
    capped = QueueDAG()
    capped.add_node(int, "7", halt_condition=halt, max_iter=0)
    assert capped.execute(executor) == []


def test_a_branch_raises_0_4_0_s_assertion_error() -> None:
    qdag = QueueDAG()
    root = qdag.add_node(int, "7", iterator=1)
    qdag.add_node(abs, Promise(root))
    other = qdag.add_node(abs, 3)
    with pytest.raises(AssertionError, match="'int-1' already feeds 'abs-1'") as caught:
        qdag.add_edge(root, other)
    assert isinstance(caught.value, webber.ChainError)
    assert isinstance(caught.value, webber.GraphError)
    with pytest.raises(webber.ChainError, match="takes the outputs of 2 nodes"):
        qdag.add_node(print, Promise(root), Promise(other))


def test_a_misspelt_option_of_execute_names_the_one_meant() -> None:
    qdag = webber.QueueDAG()
    qdag.add_node(abs, -1, iterator=2)
    for method in (qdag.execute, qdag.run):
        with pytest.raises(webber.OptionError, match=r"execute\(\) takes no exector=; did you "
                                                     r"mean executor=\?"):
            method(exector="inline")  # type: ignore[call-arg]
    assert qdag.execute(executor="inline") == [1, 1]


def test_a_stage_without_its_parent_s_output_is_refused_before_any_item_runs() -> None:
    # 0.4.0 ran it on every item, each call failing, and returned []
    calls: list[int] = []
    qdag = QueueDAG()
    root = qdag.add_node(calls.append, 1, iterator=2)
    qdag.add_edge(root, qdag.add_node(abs))
    with pytest.raises(TypeError, match=r"task 'abs-1': .* cannot take 0 positional arguments"):
        qdag.execute(executor="threads")
    assert calls == []
