"""Compile: validate a graph and lower it to a Plan (plain data).

``compile_graph`` is the only way from the authoring layer to the engine. It
refuses, before anything runs, what cannot run: a cycle (named in order), a
Promise of an unknown id (with the closest match), a task that is not callable
or has out-of-range settings, an edge condition that is not a Condition. The
levels come from the standard library's ``graphlib``: level k holds the nodes
whose parents all sit in levels < k. The engine does not wait for whole levels
(a node starts when its own parents are final); the levels are for reading,
drawing and checking. Everything is O(nodes + edges).
"""

from __future__ import annotations

import gc
import graphlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from webber._errors import CycleError, TaskDefinitionError, UnknownNodeError
from webber._graph import Condition, Node
from webber._promise import Promise, substitute
from webber._task import validate_options

__all__ = ["Plan", "PlanNode", "compile_graph"]


@dataclass(frozen=True, slots=True)
class PlanNode:
    """One node of a Plan: its graph record, and where it sits in the plan."""

    node: Node
    #: the arguments, with every Promise naming its parent by id
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    #: parent id -> the condition of the edge from it
    parents: Mapping[str, Condition]
    children: tuple[str, ...]
    #: ids of the parents whose results the arguments take
    deps: tuple[str, ...]
    level: int
    #: the only child, when this node is its only parent (a link of a chain):
    #: the executor may run it right after this one, where this one ran
    fused: str | None = None

    # The task's own settings, read through from its (frozen) graph record.
    id = property(lambda self: self.node.id)
    name = property(lambda self: self.node.name)
    func = property(lambda self: self.node.func)
    retries = property(lambda self: self.node.retries)
    retry_delay = property(lambda self: self.node.retry_delay)
    retry_backoff = property(lambda self: self.node.retry_backoff)
    timeout = property(lambda self: self.node.timeout)
    skip = property(lambda self: self.node.skip)
    skip_as_failure = property(lambda self: self.node.skip_as_failure)
    map = property(lambda self: self.node.map)
    partial = property(lambda self: self.node.partial)
    map_slot = property(lambda self: self.node.map_slot)
    map_zip = property(lambda self: self.node.map_zip)


@dataclass(frozen=True, slots=True)
class Plan:
    """A validated graph, in topological levels: what the engine runs.

    ``levels[k]`` lists the ids of the nodes whose parents all sit in earlier
    levels. ``print(plan)`` shows one line per level.

    >>> from webber import DAG, Promise
    >>> dag = DAG("p")
    >>> a, b = dag.add_node(len, "ab"), dag.add_node(len, "cd")
    >>> total = dag.add_node(max, Promise(a), Promise(b))
    >>> plan = dag.compile()
    >>> plan.levels, len(plan), plan.nodes[total].deps
    ([['len-1', 'len-2'], ['max-1']], 3, ('len-1', 'len-2'))
    >>> print(plan)
    Plan 'p': 3 tasks in 2 levels
      level 0: len-1, len-2
      level 1: max-1
    """

    name: str
    nodes: Mapping[str, PlanNode]
    levels: list[list[str]]

    def __len__(self) -> int:
        return len(self.nodes)

    def __str__(self) -> str:
        lines = [
            f"Plan {self.name!r}: {len(self.nodes)} task{'s' * (len(self.nodes) != 1)} "
            f"in {len(self.levels)} level{'s' * (len(self.levels) != 1)}"
        ]
        lines += [f"  level {k}: {', '.join(ids)}" for k, ids in enumerate(self.levels)]
        return "\n".join(lines)


def compile_graph(
    name: str,
    nodes: Mapping[str, Node],
    pred: Mapping[str, Mapping[str, Condition]],
    resolve: Callable[[Any], str],
) -> Plan:
    """Validate ``nodes`` and their incoming edges ``pred``; return the Plan.

    ``resolve`` maps a Promise key (an id or a callable) to a node id, raising
    UnknownNodeError when it names none.
    """
    # Compiling allocates a few containers per node and no reference cycles;
    # with the cyclic GC running, its full collections over a large graph
    # made the cost per node grow with the graph (2x at 100,000 nodes).
    paused = gc.isenabled()
    gc.disable()
    try:
        return _compile(name, nodes, pred, resolve)
    finally:
        if paused:
            gc.enable()


def _compile(
    name: str,
    nodes: Mapping[str, Node],
    pred: Mapping[str, Mapping[str, Condition]],
    resolve: Callable[[Any], str],
) -> Plan:
    parents: dict[str, dict[str, Condition]] = {}
    deps: dict[str, tuple[str, ...]] = {}
    checked: set[tuple[Any, ...]] = set()  # settings tuples already validated
    arguments: dict[str, tuple[tuple[Any, ...], Mapping[str, Any]]] = {}
    for n, node in nodes.items():
        settings = (node.retries, node.retry_delay, node.retry_backoff, node.timeout,
                    node.skip, node.skip_as_failure, node.map)
        try:
            fresh = settings not in checked
        except TypeError:  # an unhashable setting: certainly wrong, let the check say so
            fresh = True
        if fresh or not callable(node.func):
            _check_node(node)
            checked.add(settings)
        incoming = dict(pred[n])
        for u, condition in incoming.items():
            if condition.__class__ is not Condition:
                raise TaskDefinitionError(
                    f"edge {u} -> {n}: continue_on={condition!r} is not a Condition; "
                    f"use Condition.Success, Condition.Failure or Condition.AnyCase"
                )
        parents[n] = incoming
        if not node.deps:
            deps[n] = ()
            continue
        resolved: dict[Any, str] = {}
        for key in node.deps:
            try:
                resolved[key] = parent = resolve(key)
            except UnknownNodeError as e:
                raise UnknownNodeError(f"task {n!r} takes {Promise(key)!r}, but {e}", e.key) from e
            # A Promise argument is an edge even if it was never added (or removed).
            incoming.setdefault(parent, Condition.Success)
        deps[n] = tuple(dict.fromkeys(resolved.values()))
        if any(not isinstance(key, str) for key in resolved):
            # Promise(callable) -> Promise(id): executors look results up by id.
            def by_id(p: Promise, resolved: dict[Any, str] = resolved) -> Promise:
                return Promise(resolved[p.key])

            arguments[n] = substitute((node.args, dict(node.kwargs)), by_id)

    children: dict[str, list[str]] = {n: [] for n in nodes}
    for n, incoming in parents.items():
        for u in incoming:
            children[u].append(n)
    levels = _levels(nodes, parents, children)
    level_of = {n: k for k, ids in enumerate(levels) for n in ids}
    fused = _chains(nodes, parents, children)
    plan_nodes = {
        n: PlanNode(
            node,
            *arguments.get(n, (node.args, node.kwargs)),
            parents[n],
            tuple(children[n]),
            deps[n],
            level_of[n],
            fused.get(n),
        )
        for n, node in nodes.items()
    }
    return Plan(name, plan_nodes, levels)


def _chains(
    nodes: Mapping[str, Node],
    parents: Mapping[str, Mapping[str, Condition]],
    children: Mapping[str, list[str]],
) -> dict[str, str]:
    """parent -> child for every edge that links a chain: the child's only
    parent, the parent's only child, a Success edge, and neither a fan-out,
    a skip, nor a task with a timeout (those need the engine between them)."""

    def plain(node: Node) -> bool:
        return not node.map and not node.skip and node.timeout is None

    fused = {}
    for n, kids in children.items():
        if len(kids) == 1:
            child = kids[0]
            incoming = parents[child]
            if (len(incoming) == 1 and incoming.get(n) is Condition.Success
                    and plain(nodes[n]) and plain(nodes[child])):
                fused[n] = child
    return fused


def _levels(
    nodes: Mapping[str, Node],
    parents: Mapping[str, Mapping[str, Condition]],
    children: Mapping[str, list[str]],
) -> list[list[str]]:
    """A node's level is one more than its parents' highest (0 without any);
    in insertion order within a level.

    Graphs are usually built parents first, so one pass in insertion order
    computes every level; only when a node comes before one of its parents
    does Kahn's algorithm (a level at a time) take over.
    """
    level_of: dict[str, int] = {}
    for n, incoming in parents.items():
        level = 0
        for u in incoming:
            parent_level = level_of.get(u)
            if parent_level is None:  # a parent added later (or a cycle)
                return _kahn_levels(nodes, parents, children)
            if parent_level >= level:
                level = parent_level + 1
        level_of[n] = level
    levels: list[list[str]] = [[] for _ in range(max(level_of.values(), default=-1) + 1)]
    for n, level in level_of.items():
        levels[level].append(n)
    return levels


def _kahn_levels(
    nodes: Mapping[str, Node],
    parents: Mapping[str, Mapping[str, Condition]],
    children: Mapping[str, list[str]],
) -> list[list[str]]:
    """Kahn's algorithm, a level at a time; in insertion order within a level."""
    index = {n: i for i, n in enumerate(nodes)}
    waiting = {n: len(incoming) for n, incoming in parents.items()}
    level = [n for n, count in waiting.items() if count == 0]
    levels: list[list[str]] = []
    placed = 0
    while level:
        levels.append(level)
        placed += len(level)
        ready = []
        for u in level:
            for v in children[u]:
                waiting[v] -= 1
                if waiting[v] == 0:
                    ready.append(v)
        level = sorted(ready, key=index.__getitem__)
    if placed < len(nodes):
        # Some nodes never became ready: they sit on or behind a cycle. Let
        # graphlib find one cycle among them (this path runs only on error).
        stuck = [n for n, count in waiting.items() if count > 0]
        sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
        for n in stuck:
            sorter.add(n, *(u for u in parents[n] if waiting[u] > 0))
        try:
            sorter.prepare()
        except graphlib.CycleError as e:
            raise _cycle_error(list(e.args[1]), nodes) from None
        raise AssertionError("unreachable: stuck nodes without a cycle")  # pragma: no cover
    return levels


def _check_node(node: Node) -> None:
    if not callable(node.func):
        raise TaskDefinitionError(
            f"task {node.id!r}: {type(node.func).__name__} {node.func!r} is not callable; "
            f"add_node() takes the function first, then its arguments"
        )
    validate_options(node.id, node.retries, node.retry_delay, node.retry_backoff, node.timeout)
    for flag in ("skip", "skip_as_failure", "map"):
        if not isinstance(getattr(node, flag), bool):
            raise TaskDefinitionError(
                f"task {node.id!r}: {flag}={getattr(node, flag)!r} must be True or False"
            )


def _cycle_error(cycle: list[str], nodes: Mapping[str, Node]) -> CycleError:
    # graphlib returns the cycle in edge order with the first node repeated
    # last; start it at the earliest-added node so the message is stable.
    ring = cycle[:-1]
    index = {n: i for i, n in enumerate(nodes)}
    start = min(range(len(ring)), key=lambda i: index[ring[i]])
    ring = ring[start:] + ring[:start]
    path = [*ring, ring[0]]
    names = " -> ".join(path)
    if len(ring) == 1:
        message = f"task {ring[0]!r} depends on itself ({names}); remove the self-edge"
    else:
        message = (
            f"the graph has a cycle: {names}; a task cannot wait for its own result: "
            f"remove one of these edges (remove_edge)"
        )
    return CycleError(message, path)
