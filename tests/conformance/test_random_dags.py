"""Random DAGs compute the same states, values and attempt counts on every
executor as on ``inline``.

Flows of 1-60 nodes with random edges (earlier -> later) and conditions, data
and ordering-only edges, skips (as success or failure), retries, fan-outs over
lists known only at run time, and tasks that fail deterministically from their
inputs (so every executor must fail the same ones).

Examples per executor: the hypothesis profile ``ci`` (the default, 200) or
``long`` (2,000): ``HYPOTHESIS_PROFILE=long python3 dev.py test tests/conformance``.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.conftest import EXECUTORS
from webber import Condition, Flow, Promise, task

#: the executor fixture's monkeypatch is set once for all examples, on purpose
SUPPRESS = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=SUPPRESS,
    derandomize=False, print_blob=True,
)
settings.register_profile(
    "long", max_examples=2000, deadline=None, suppress_health_check=SUPPRESS,
    print_blob=True,
)
settings.register_profile(
    "quick", max_examples=20, deadline=None, suppress_health_check=SUPPRESS,
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")

# dask's client threads draw random numbers (keys) while examples run: not the
# strategy using `random`, which is what hypothesis warns about.
pytestmark = pytest.mark.filterwarnings("ignore:Do not use the `random` module")

CONDITIONS = [Condition.Success, Condition.Failure, Condition.AnyCase]

#: One node: (seed, [(parent, condition, passes data)], skip, as_failure, retries, kind)
#: where kind is "int" (combine), "list" (spread) or "map" (element over the first
#: data parent's value).
Spec = list[tuple[int, list[tuple[int, Condition, bool]], bool, bool, int, str]]


def _numbers(parents: tuple[Any, ...]) -> int:
    total = 0
    for p in parents:
        if isinstance(p, bool) or p is None:
            continue
        if isinstance(p, int):
            total += p
        elif isinstance(p, list):
            total += sum(x for x in p if isinstance(x, int))
    return total


def combine(seed: int, *parents: Any) -> int:
    """Fails when its inputs sum to a multiple of 5: deterministic."""
    total = seed + _numbers(parents)
    if total % 5 == 0:
        raise ValueError(f"total {total}")
    return total


def spread(seed: int, *parents: Any) -> list[int]:
    """A list of 0-3 numbers to fan out over; fails on a multiple of 7."""
    total = seed + _numbers(parents)
    if total % 7 == 0:
        raise KeyError(total)
    return [total + k for k in range(total % 4)]


def element(x: Any, seed: int) -> int:
    """One fan-out element; fails when x + seed is a multiple of 6."""
    if not isinstance(x, int):
        raise TypeError(f"not a number: {x!r}")
    if (x + seed) % 6 == 0:
        raise ArithmeticError(x + seed)
    return x * 2 + seed


@st.composite
def dags(draw: st.DrawFn, max_nodes: int = 60) -> Spec:
    n = draw(st.integers(1, max_nodes))
    spec: Spec = []
    for i in range(n):
        parents = draw(st.lists(st.integers(0, i - 1), max_size=3, unique=True)) if i else []
        edges = [(p, draw(st.sampled_from(CONDITIONS)), draw(st.booleans())) for p in parents]
        skip = draw(st.integers(0, 5)) == 0
        as_failure = draw(st.booleans())
        retries = draw(st.integers(0, 2)) if draw(st.integers(0, 3)) == 0 else 0
        kind = draw(st.sampled_from(["int", "int", "list", "map"]))
        if kind == "map":
            # Fan out over an earlier list node (usually: another parent's value
            # is not iterable, which must fail the same way everywhere too).
            lists = [j for j in range(i) if spec[j][5] == "list"]
            if lists and draw(st.integers(0, 4)):
                source = draw(st.sampled_from(lists))
                edges = [(source, draw(st.sampled_from(CONDITIONS)), True)] + [
                    e for e in edges if e[0] != source
                ]
            elif not any(data for _, _, data in edges):
                kind = "int"  # a fan-out needs a parent to fan out over
        spec.append((draw(st.integers(0, 9)), edges, skip, as_failure, retries, kind))
    return spec


def build(spec: Spec) -> Flow:
    flow = Flow("random")
    ids: list[str] = []
    with flow:
        for seed, edges, skip, as_failure, retries, kind in spec:
            data = [Promise(ids[p]) for p, _, passes_data in edges if passes_data]
            if kind == "map":
                promise = task(element, retries=retries).map(data[0], seed)
            else:
                fn = combine if kind == "int" else spread
                promise = task(fn, retries=retries)(seed, *data)
            n = flow.node_id(promise)
            for p, condition, _ in edges:
                flow.add_edge(ids[p], n, continue_on=condition)
            if skip:
                flow.skip_node(n, as_failure=as_failure)
            ids.append(n)
    return flow


def outcome(flow: Flow, executor: str) -> dict[str, tuple[str, Any, int]]:
    run = flow.run(executor=executor)
    result = {}
    for n in flow.nodes:
        state = run.state(n)
        value = run[n] if state == "success" else repr(run.error(n)) if state == "failed" else None
        result[n] = (state, value, len(run.attempts[n]))
    return result


@pytest.mark.timeout(600)
# Through the conftest's executor fixture (indirect), so that dask runs on the
# suite's shared cluster instead of starting one per example.
@pytest.mark.parametrize("executor", [e for e in EXECUTORS if e != "inline"], indirect=True)
@settings(settings.get_profile(PROFILE))
@given(spec=dags())
# Kept from earlier failures and tricky shapes (see tests/test_engine.py for the
# chain-retry bug this family of flows found):
@example(spec=[(1, [], False, False, 1, "int"), (4, [(0, Condition.Success, True)], False,
               False, 1, "int"), (0, [(1, Condition.Success, True)], False, False, 0, "int")])
@example(spec=[(3, [], False, False, 0, "list"),
               (0, [(0, Condition.Success, True)], False, False, 2, "map"),
               (1, [(1, Condition.AnyCase, True)], False, False, 0, "int")])
@example(spec=[(7, [], False, False, 0, "list"),  # spread fails: the map gets the error
               (1, [(0, Condition.Failure, True)], False, False, 0, "map")])
@example(spec=[(2, [], True, True, 0, "int"),
               (5, [(0, Condition.Failure, False)], False, False, 0, "list"),
               (0, [(1, Condition.Success, True)], True, False, 0, "map")])
def test_same_as_inline(executor: str, spec: Spec) -> None:
    flow = build(spec)
    assert outcome(flow, executor) == outcome(flow, "inline")


@pytest.mark.timeout(600)  # 300 flows: minutes on a loaded machine
def test_the_generated_flows_cover_every_feature() -> None:
    """The strategy really produces fan-outs, failures, retries, skips and every
    condition (so a green run above means something)."""
    seen: set[str] = set()

    # Derandomized, so the same examples every run (a fan-out that succeeds
    # with elements shows up in roughly 1 example in 8; 100 random ones once
    # missed it in CI).
    @settings(max_examples=300, deadline=None, database=None, derandomize=True)
    @given(spec=dags(max_nodes=30))
    def collect(spec: Spec) -> None:
        flow = build(spec)
        run = flow.run(executor="inline")
        for n, (_, edges, skip, _, _, kind) in zip(flow.nodes, spec, strict=True):
            seen.add(kind)
            seen.add(run.state(n))
            seen.update(c.name for _, c, _ in edges)
            if skip:
                seen.add("skip")
            if len(run.attempts[n]) > 1:
                seen.add("retried")
            if kind == "map" and run.state(n) == "success" and run[n]:
                seen.add("fanned out")

    collect()
    missing = {
        "int", "list", "map", "success", "failed", "skipped", "Success", "Failure",
        "AnyCase", "skip", "retried", "fanned out",
    } - seen
    assert not missing
