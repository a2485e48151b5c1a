"""Compile: validate a graph and lower it to a Plan (plain data).

``compile_graph`` is the only way from the authoring layer to the engine. It
refuses, before anything runs, what cannot run: a cycle (named in order), a
Promise of an unknown id (with the closest match), a task that is not callable
or has out-of-range settings, an edge condition that is not a Condition. It
lowers every Promise in the arguments to a :class:`~webber._refs.Ref` naming
the parent by id, so nothing downstream sees an authoring object. The levels:
level k holds the nodes whose parents all sit in levels < k. The engine does
not wait for whole levels (a node starts when its own parents are final); the
levels are for reading, drawing and checking. Everything is O(nodes + edges).
It knows no executor: ``run()`` asks the executor it chose to check the Plan.
"""

from __future__ import annotations

import graphlib
import inspect
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from webber._checks import check_node, cycle_error
from webber._errors import TaskDefinitionError, UnknownNodeError
from webber._gc import paused
from webber._graph import Condition, Node
from webber._plan import Plan, PlanNode
from webber._promise import Promise
from webber._refs import Ref, substitute, walked

__all__ = ["compile_graph"]


def compile_graph(
    name: str,
    nodes: Mapping[str, Node],
    pred: Mapping[str, Mapping[str, Condition]],
    node_id: Callable[[Any], str],
    succ: Mapping[str, Mapping[str, Condition]],
) -> Plan:
    """Validate ``nodes`` and their incoming edges ``pred`` (``succ``: the same
    edges by parent); return the Plan.

    ``node_id`` maps a Promise key (an id or a callable) to a node id, raising
    UnknownNodeError when it names none.
    """
    with paused:
        return _compile(name, nodes, pred, node_id, succ)


#: the parents of every node that has none: one mapping, shared, so refusing changes
_NO_PARENTS: Mapping[str, Condition] = MappingProxyType({})


def _compile(
    name: str,
    nodes: Mapping[str, Node],
    pred: Mapping[str, Mapping[str, Condition]],
    node_id: Callable[[Any], str],
    succ: Mapping[str, Mapping[str, Condition]],
) -> Plan:
    # Only nodes with parents (or Promise arguments) get entries here: most
    # nodes of a wide graph have neither, and each dict slot costs (see _store).
    parents: dict[str, dict[str, Condition]] = {}
    unlisted: list[tuple[str, str]] = []  # Promise edges the graph does not hold
    deps: dict[str, tuple[str, ...]] = {}
    checked: set[int] = set()  # ids of the TaskOptions already validated
    arguments: dict[str, tuple[tuple[Any, ...], Mapping[str, Any]]] = {}
    # Nodes that cannot be a chain's link, found while each record is at hand
    # (read again later, 100,000 records scattered in memory cost a cache miss each).
    unlinkable = _Unlinkable()
    for n, node in nodes.items():
        check_node(node, checked)
        edges = pred.get(n)
        if edges:
            incoming = parents[n] = dict(edges)
            for condition in incoming.values():
                if condition.__class__ is not Condition:
                    u = next(u for u, c in incoming.items() if c is condition)
                    raise TaskDefinitionError(
                        f"edge {u} -> {n}: continue_on={condition!r} is not a Condition; "
                        f"use Condition.Success, Condition.Failure or Condition.AnyCase"
                    )
        if edges or node.deps or n in succ:
            unlinkable.note(n, node)
        if node.deps:
            incoming = parents.setdefault(n, {})
            deps[n], arguments[n] = _resolve(n, node, incoming, unlisted, nodes, node_id)

    children = {u: tuple(kids) for u, kids in succ.items() if kids}
    for u, n in unlisted:
        children[u] = (*children.get(u, ()), n)
    levels, level_of = _levels(nodes, parents, children, deps)
    chains = _chains(parents, children, unlinkable.nodes)
    plan_nodes: dict[str, PlanNode] = dict.fromkeys(nodes)  # type: ignore[assignment]  # sized once
    for n, node in nodes.items():
        lowered = arguments.get(n)
        args, kwargs = (node.args, node.kwargs) if lowered is None else lowered
        plan_nodes[n] = PlanNode(
            node, args, kwargs, parents.get(n, _NO_PARENTS), children.get(n, ()),
            deps.get(n, ()), level_of.get(n, 0), chains.get(n),
        )
    return Plan(name, plan_nodes, levels)


def _resolve(
    n: str,
    node: Node,
    incoming: dict[str, Condition],
    unlisted: list[tuple[str, str]],
    nodes: Mapping[str, Node],
    node_id: Callable[[Any], str],
) -> tuple[tuple[str, ...], tuple[tuple[Any, ...], Mapping[str, Any]]]:
    """The ids of the parents whose results ``node``'s arguments take, and the
    arguments with a Ref for each Promise. A Promise argument is an edge even
    if the graph does not hold it (never added, or removed): added to
    ``incoming`` and to ``unlisted``."""
    ids: dict[Any, str] = {}
    for key in node.deps:
        if key.__class__ is str and key in nodes:
            ids[key] = parent = key  # an id (the common case: no lookup by callable)
        else:
            try:
                ids[key] = parent = node_id(key)
            except UnknownNodeError as e:
                raise UnknownNodeError(f"task {n!r} takes {Promise(key)!r}, but {e}", e.key) from e
        if parent not in incoming:
            incoming[parent] = Condition.Success
            unlisted.append((parent, n))
    found = (parent,) if len(ids) == 1 else tuple(dict.fromkeys(ids.values()))
    return found, _lower(node, ids)


def _lower(node: Node, ids: Mapping[Any, str]) -> tuple[tuple[Any, ...], Mapping[str, Any]]:
    """``node``'s arguments with each Promise replaced by a Ref to its parent's id."""
    if not node.kwargs:  # each argument a Promise or a value that holds none: no walk
        args = []  # (chains, lattices)
        for a in node.args:
            if a.__class__ is Promise:
                a = Ref(ids[a.key])
            elif walked(a):
                break
            args.append(a)
        else:
            return tuple(args), node.kwargs
    args, kwargs = substitute((node.args, dict(node.kwargs)), Promise, lambda p: Ref(ids[p.key]))
    return args, kwargs


class _Unlinkable:
    """The nodes that cannot be a link of a chain: a fan-out, a skip, a task
    with a timeout (those need the engine between links), or an ``async def``
    task (it runs on an event loop, not a worker's thread)."""

    def __init__(self) -> None:
        self.nodes: set[str] = set()
        self._coroutines: dict[int, bool] = {}  # id(func) -> async def? (asked once each)

    def note(self, n: str, node: Node) -> None:
        if node.fan_out or node.skip or node.options.timeout is not None:
            self.nodes.add(n)
            return
        func = node.func
        is_async = self._coroutines.get(id(func))
        if is_async is None:
            is_async = self._coroutines[id(func)] = inspect.iscoroutinefunction(func)
        if is_async:
            self.nodes.add(n)


def _chains(
    parents: Mapping[str, Mapping[str, Condition]],
    children: Mapping[str, tuple[str, ...]],
    unlinkable: set[str],
) -> dict[str, str]:
    """parent -> child for every edge that links a chain: the child's only
    parent, the parent's only child, a Success edge, and neither end
    ``unlinkable`` (see :class:`_Unlinkable`)."""
    links = {}
    for n, kids in children.items():
        if len(kids) == 1:
            child = kids[0]
            incoming = parents[child]  # a child has a parent: it has an entry
            if (len(incoming) == 1 and incoming.get(n) is Condition.Success
                    and n not in unlinkable and child not in unlinkable):
                links[n] = child
    return links


def _levels(
    nodes: Mapping[str, Node],
    parents: Mapping[str, Mapping[str, Condition]],
    children: Mapping[str, tuple[str, ...]],
    deps: Mapping[str, tuple[str, ...]],
) -> tuple[list[list[str]], dict[str, int]]:
    """The levels, and the level of each node above level 0: a node's level
    is one more than its parents' highest (0 without any); in insertion order
    within a level. ``parents`` and ``children`` hold only the nodes that have
    some, ``parents`` in the order of ``nodes``.

    Graphs are usually built parents first, so one pass in insertion order
    computes every level; only when a node comes before one of its parents
    does Kahn's algorithm (a level at a time) take over.
    """
    above: dict[str, int] = {}  # level of each node with parents, once computed
    for n, incoming in parents.items():
        level = 1
        for u in incoming:
            if u in parents:  # not a root: its level must be known by now
                parent_level = above.get(u)
                if parent_level is None:  # a parent added later (or a cycle)
                    kahn = _kahn_levels(nodes, parents, children, deps)
                    return kahn, {n: k for k, ids in enumerate(kahn) for n in ids if k}
                if parent_level >= level:
                    level = parent_level + 1
        above[n] = level
    if not above:  # one level (or none): nothing to sort out
        return ([list(nodes)] if nodes else []), above
    levels: list[list[str]] = [[] for _ in range(max(above.values()) + 1)]
    for n in nodes:
        levels[above.get(n, 0)].append(n)
    return levels, above


def _kahn_levels(
    nodes: Mapping[str, Node],
    parents: Mapping[str, Mapping[str, Condition]],
    children: Mapping[str, tuple[str, ...]],
    deps: Mapping[str, tuple[str, ...]],
) -> list[list[str]]:
    """Kahn's algorithm, a level at a time; in insertion order within a level."""
    index = {n: i for i, n in enumerate(nodes)}
    waiting = {n: len(parents.get(n, ())) for n in nodes}
    level = [n for n, count in waiting.items() if count == 0]
    levels: list[list[str]] = []
    placed = 0
    while level:
        levels.append(level)
        placed += len(level)
        ready = []
        for u in level:
            for v in children.get(u, ()):
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
            raise cycle_error(list(e.args[1]), nodes, deps=deps) from None
        raise AssertionError("unreachable: stuck nodes without a cycle")  # pragma: no cover
    return levels
