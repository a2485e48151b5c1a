"""The DAG API against a plain model, over random sequences of edits and reads.

Edges come three ways (a Promise argument, ``add_edge``, both) and go two
(``remove_edge`` of an ordering edge, ``remove_node`` of a leaf); reads
(``edges``, ``root``, ``get_edge``, ``graph.edges``) come between the edits,
at random, since a store may keep some edges aside until they are read. At
the end the compiled plan's parents, children and levels, and the values of
an inline run, must be what the model says.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from webber import DAG, Promise


def comb(base: int, *inputs: int) -> int:
    return base + 2 * sum(inputs)


def check_reads(dag: DAG, rng: random.Random, edges: set[tuple[str, str]],
                nodes: list[str]) -> None:
    """One random read, checked against the model."""
    pick = rng.randrange(4)
    if pick == 0:
        assert set(dag.edges) == edges
        assert len(dag.edges) == len(edges)
    elif pick == 1:
        has_parent = {v for _, v in edges}
        assert dag.root == [n for n in nodes if n not in has_parent]
    elif pick == 2 and nodes:
        u, v = rng.choice(nodes), rng.choice(nodes)
        assert ((u, v) in dag.graph.edges) == ((u, v) in edges)
    elif pick == 3 and edges:
        u, v = rng.choice(sorted(edges))
        assert dag.get_edge(u, v).parent == u


def build(seed: int, steps: int) -> tuple[DAG, dict[str, Any], set[tuple[str, str]]]:
    rng = random.Random(seed)
    dag = DAG()
    nodes: list[str] = []
    inputs: dict[str, tuple[int, list[str]]] = {}  # node -> (base, its Promise parents)
    edges: set[tuple[str, str]] = set()
    ordering: set[tuple[str, str]] = set()  # edges made by add_edge and no Promise
    for _ in range(steps):
        op = rng.random()
        if op < 0.55 or not nodes:
            base = rng.randrange(100)
            parents = rng.sample(nodes, min(len(nodes), rng.randrange(4)))
            node = dag.add_node(comb, base, *(Promise(p) for p in parents))
            nodes.append(node)
            inputs[node] = (base, parents)
            edges.update((p, node) for p in parents)
        elif op < 0.75 and len(nodes) >= 2:
            i, j = sorted(rng.sample(range(len(nodes)), 2))
            u, v = nodes[i], nodes[j]  # earlier -> later: never a cycle
            if (u, v) not in ordering and (u, v) not in edges:
                dag.add_edge(u, v)
                ordering.add((u, v))
                edges.add((u, v))
        elif op < 0.85 and ordering:
            u, v = rng.choice(sorted(ordering))
            dag.remove_edge(u, v)
            ordering.discard((u, v))
            edges.discard((u, v))
        elif op < 0.9:
            leaves = [n for n in nodes if not any(u == n for u, _ in edges)]
            if leaves:
                gone = rng.choice(leaves)
                dag.remove_node(gone)
                nodes.remove(gone)
                del inputs[gone]
                edges = {(u, v) for u, v in edges if v != gone}
                ordering = {(u, v) for u, v in ordering if v != gone}
        if rng.random() < 0.3:
            check_reads(dag, rng, edges, nodes)
    return dag, inputs, edges


@pytest.mark.parametrize("seed", range(40))
def test_random_edits_read_and_compile_as_the_model_says(seed: int) -> None:
    dag, inputs, edges = build(seed, steps=random.Random(seed).randrange(5, 120))
    assert set(dag.edges) == edges
    assert list(dag.nodes) == list(inputs)
    plan = dag.compile()
    parents = {n: {u for u, v in edges if v == n} for n in inputs}
    children = {n: {v for u, v in edges if u == n} for n in inputs}
    level: dict[str, int] = {}
    for n in inputs:  # added in an order where parents come first
        level[n] = 1 + max((level[p] for p in parents[n]), default=-1)
    for n, entry in plan.nodes.items():
        assert set(entry.parents) == parents[n], n
        assert set(entry.children) == children[n], n
    assert [set(lv) for lv in plan.levels] == [
        {n for n in inputs if level[n] == k} for k in range(len(plan.levels))]
    value: dict[str, int] = {}
    for n, (base, ps) in inputs.items():
        value[n] = comb(base, *(value[p] for p in ps))
    run = dag.run(executor="inline")
    assert run.ok
    assert {n: run[n] for n in inputs} == value



def test_threads_adding_nodes_to_one_graph_at_once_lose_none() -> None:
    # Two threads may be given one id: the first to store its node keeps it, the
    # other's gets a fresh one (an id taken meanwhile used to replace a node).
    import sys
    import threading

    from webber import DAG, Promise

    dag = DAG()
    root = dag.add_node(int, 1)
    added: list[list[tuple[str, str, str]]] = [[] for _ in range(4)]

    def add(k: int) -> None:
        previous = root
        for i in range(1000):
            plain = dag.add_node(abs, -i)
            link = dag.add_node(pow, Promise(previous), 1)
            other = dag.add_node(str, i)
            dag.add_edge(plain, other)
            added[k].append((plain, link, other))
            previous = link

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns often, as on a busy machine
    try:
        threads = [threading.Thread(target=add, args=(k,)) for k in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    ids = [n for each in added for triple in each for n in triple]
    assert len(set(ids)) == len(ids) == 12_000
    run = dag.run(executor="inline")
    assert len(run.succeeded) == 12_001
    for each in added:
        for i, (plain, link, other) in enumerate(each):
            assert (run[plain], run[link], run[other]) == (i, 1, str(i))
