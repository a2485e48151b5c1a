"""Random DAGs compute the same states and values on every executor as inline.

A first cut of the property test (issue 7 grows it): 1-25 nodes, random edges
(earlier -> later), conditions, skips, retries, and tasks that fail
deterministically from their inputs.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webber import DAG, Condition, Promise

CONDITIONS = [Condition.Success, Condition.Failure, Condition.AnyCase]
EXAMPLES = int(os.environ.get("WEBBER_RANDOM_DAGS", "40"))  # more locally: =500


def combine(seed: int, *parents: Any) -> int:
    """Fails when the sum of its numeric inputs is divisible by 5; deterministic."""
    total = seed + sum(p for p in parents if isinstance(p, int))
    if total % 5 == 0:
        raise ValueError(f"total {total}")
    return total


@st.composite
def dags(draw: st.DrawFn) -> list[tuple[int, list[tuple[int, Condition, bool]], bool, bool, int]]:
    n = draw(st.integers(1, 25))
    spec = []
    for i in range(n):
        parents = draw(st.lists(st.integers(0, i - 1), max_size=3, unique=True)) if i else []
        edges = [(p, draw(st.sampled_from(CONDITIONS)), draw(st.booleans())) for p in parents]
        skip = draw(st.booleans()) and draw(st.booleans())  # rarer
        as_failure = draw(st.booleans())
        retries = draw(st.integers(0, 1))
        spec.append((draw(st.integers(0, 9)), edges, skip, as_failure, retries))
    return spec


def build(spec: list[Any]) -> DAG:
    dag = DAG("random")
    ids: list[str] = []
    for seed, edges, skip, as_failure, retries in spec:
        data = [Promise(ids[p]) for p, _, passes_data in edges if passes_data]
        n = dag.add_node(combine, seed, *data)
        for p, condition, _ in edges:
            dag.add_edge(ids[p], n, continue_on=condition)
        if skip:
            dag.skip_node(n, as_failure=as_failure)
        dag.retry_node(n, retries)
        ids.append(n)
    return dag


def outcome(dag: DAG, executor: str) -> dict[str, tuple[str, Any, int]]:
    run = dag.run(executor=executor)
    result = {}
    for n in dag.nodes:
        state = run.state(n)
        value = run[n] if state == "success" else repr(run.error(n)) if state == "failed" else None
        result[n] = (state, value, len(run.attempts[n]))
    return result


@pytest.mark.parametrize("executor", ["threads", "processes"])
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=dags())
def test_same_as_inline(executor: str, spec: list[Any]) -> None:
    dag = build(spec)
    assert outcome(dag, executor) == outcome(dag, "inline")
