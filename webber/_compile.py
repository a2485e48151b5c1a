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

from webber._checks import check_call, check_node, cycle_error
from webber._errors import TaskDefinitionError, UnknownNodeError
from webber._gc import HOLD_FROM, paused
from webber._graph import Condition, Node
from webber._plan import Plan, PlanNode
from webber._promise import Promise
from webber._refs import WALKED, Ref, substitute

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
    with paused.holding():
        _check_nodes(nodes)
        plan = _compile(name, nodes, pred, node_id, succ)
        if len(nodes) >= HOLD_FROM:  # what it made frozen (if its build's is held), not
            paused.hold()  # walked by the next young collection
        return plan


#: (read once: an enum member read from its class costs 0.1 us on Python 3.11)
_SUCCESS = Condition.Success
_new = object.__new__
#: the parents of every node that has none: one mapping, shared, so refusing changes
_NO_PARENTS: Mapping[str, Condition] = MappingProxyType({})


def _compile(
    name: str,
    nodes: Mapping[str, Node],
    pred: Mapping[str, Mapping[str, Condition]],
    node_id: Callable[[Any], str],
    succ: Mapping[str, Mapping[str, Condition]],
) -> Plan:
    # (The nodes are checked: compile_graph.) One pass in insertion order makes each PlanNode,
    # with its level if its parents came first (else _kahn). A Promise edge not stored
    # (GraphStore.raw) gives its parent the child (and chain link) at once, or waits in
    # ``more``; _children puts stored edges first. A node not made yet reads as None.
    plan: dict[str, PlanNode] = dict.fromkeys(nodes)  # type: ignore[assignment]
    more: dict[str, list[str]] = {}
    unlinkable = _Unlinkable()
    note, bad = unlinkable.note, unlinkable.nodes
    ordered = True  # every node's parents came before it
    for n, node in nodes.items():
        edges = pred.get(n)
        deps = node.deps
        if not (edges or deps):
            if n in succ:
                note(n, node)
            me = _new(PlanNode)  # (its __init__ not called: half the cost, for every root)
            me.node, me.args, me.kwargs, me.parents = node, node.args, node.kwargs, _NO_PARENTS
            me.children, me.deps, me.level, me.next_link = (), (), 0, None
            plan[n] = me
            continue
        args = node.args
        if (edges or len(deps) != 1 or len(args) != 1 or node.kwargs
                or args[0].__class__ is not Promise or (u := deps[0]).__class__ is not str
                or (parent := plan.get(u)) is None):
            ordered &= _general(n, node, edges, plan, more, unlinkable, nodes, node_id)
            continue
        # A chain's link (one Promise argument, of a parent made already, its edge not
        # stored): what _general does for it, without its dicts and calls (100,000 links).
        # (noted as the last linkable node was if it runs its function with its options)
        if (node.func is not unlinkable.func or node.options is not unlinkable.options
                or node.fan_out or node.skip):
            note(n, node)
        ref = _new(Ref)  # (as _lower makes it)
        ref.id = args[0].key  # type: ignore[assignment]  # (its key is u: an id)
        me = _new(PlanNode)
        me.node, me.args, me.kwargs, me.parents = node, (ref,), node.kwargs, {u: _SUCCESS}
        me.children, me.level, me.next_link = (), parent.level + 1, None
        me.deps = deps  # type: ignore[assignment]  # (u, an id)
        if parent.children or u in more:
            more.setdefault(u, []).append(n)
        else:  # (as _link: its only parent, by a Success edge; the parent's first child)
            parent.children = (n,)
            if not parent.parents:  # a root is noted with its first child
                note(u, parent.node)
            if u not in bad and n not in bad:
                parent.next_link = n
        plan[n] = me
    _children(plan, succ, more, unlinkable)
    if not ordered:
        _kahn(plan, nodes)
    return Plan(name, plan)


def _general(
    n: str,
    node: Node,
    edges: Mapping[str, Condition] | None,
    plan: dict[str, PlanNode],
    more: dict[str, list[str]],
    unlinkable: _Unlinkable,
    nodes: Mapping[str, Node],
    node_id: Callable[[Any], str],
) -> bool:
    """Plan ``n``, a node with parents (stored ``edges``, or Promises in its
    arguments); False if some parent is not planned yet (_kahn then sets levels)."""
    if (node.func is not unlinkable.func or node.options is not unlinkable.options
            or node.fan_out or node.skip):  # (else noted as the last linkable node was)
        unlinkable.note(n, node)
    ordered = True
    fresh = node.deps  # (Promises: some of their edges may not be stored)
    incoming = {}
    if edges:
        incoming = dict(edges)
        for condition in incoming.values():
            if condition.__class__ is not Condition:
                _bad_condition(n, incoming, condition)
    deps, args, kwargs = _resolve(n, node, incoming, nodes, node_id) if fresh else (
        (), node.args, node.kwargs)
    me = PlanNode(node, args, kwargs, incoming, (), deps, 0)
    level = 1
    for u in incoming:
        parent = plan.get(u)
        if parent is None:  # a parent added later (or a cycle), or no such node
            if u not in nodes:
                _unknown(n, u, node_id)
            ordered = False
        elif parent.level >= level:
            level = parent.level + 1
        if fresh and (edges is None or u not in edges):  # not stored: give it the child
            if parent is not None and not parent.children and u not in more:
                parent.children = (n,)
                _link(parent, me, unlinkable)
            else:
                more.setdefault(u, []).append(n)
    me.level = level
    plan[n] = me  # (after its parents: a node that takes its own result is not one)
    return ordered


def _check_nodes(nodes: Mapping[str, Node]) -> None:
    """check_node() and check_call() of each node, but of one that calls the
    function of the node before it, with its options and as many positional
    arguments alone, and its flags all False (a wide flow's, a chain's): that
    one is valid as the node before was. (A flag compared with ``is False``
    is not read for its class: about 140 instructions less a node.)"""
    checked: set[int] = set()  # ids of the TaskOptions already validated
    func: object = None
    options: object = None
    count = -1
    for node in nodes.values():
        if (node.func is not func or node.options is not options or node.kwargs
                or len(node.args) != count or node.skip is not False
                or node.skip_as_failure is not False or node.fan_out is not False):
            check_node(node, checked)
            check_call(node.func, node.args, node.kwargs, node.id)
            func, options, count = node.func, node.options, len(node.args)


def _bad_condition(n: str, incoming: Mapping[str, object], condition: object) -> None:
    u = next(u for u, c in incoming.items() if c is condition)
    raise TaskDefinitionError(
        f"edge {u} -> {n}: continue_on={condition!r} is not a Condition; "
        f"use Condition.Success, Condition.Failure or Condition.AnyCase"
    )


def _resolve(
    n: str,
    node: Node,
    incoming: dict[str, Condition],
    nodes: Mapping[str, Node],
    node_id: Callable[[Any], str],
) -> tuple[tuple[str, ...], tuple[Any, ...], Mapping[str, Any]]:
    """The ids of the parents whose results ``node``'s arguments take, and the
    arguments with a Ref for each Promise. A Promise argument is an edge even
    if the graph does not hold it (pending, never added, or removed): added
    to ``incoming``. A key that is an id is taken at its word here: _compile
    raises, reading its parent, if no node has it."""
    deps = node.deps
    for key in deps:
        if key.__class__ is not str:  # a callable: each key looked up, in order
            return _resolve_named(n, node, incoming, nodes, node_id)
        if key not in incoming:
            incoming[key] = _SUCCESS
    if len(deps) > 1 and len(set(deps)) < len(deps):
        deps = tuple(dict.fromkeys(deps))
    args, kwargs = _lower(node, None)
    return deps, args, kwargs  # type: ignore[return-value]  # each key an id


def _resolve_named(
    n: str,
    node: Node,
    incoming: dict[str, Condition],
    nodes: Mapping[str, Node],
    node_id: Callable[[Any], str],
) -> tuple[tuple[str, ...], tuple[Any, ...], Mapping[str, Any]]:
    """_resolve() where some key is a callable (the node that runs it)."""
    ids: dict[Any, str] = {}
    for key in node.deps:
        if key.__class__ is str and key in nodes:
            parent: str = key
        else:
            try:
                parent = node_id(key)
            except UnknownNodeError as e:
                raise UnknownNodeError(f"task {n!r} takes {Promise(key)!r}, but {e}", e.key) from e
        ids[key] = parent
        if parent not in incoming:
            incoming[parent] = _SUCCESS
    args, kwargs = _lower(node, ids)
    return tuple(dict.fromkeys(ids.values())), args, kwargs


def _unknown(n: str, key: str, node_id: Callable[[Any], str]) -> None:
    """Raise UnknownNodeError for ``n``'s Promise of ``key``, which no node has."""
    try:
        node_id(key)
    except UnknownNodeError as e:
        raise UnknownNodeError(f"task {n!r} takes {Promise(key)!r}, but {e}", e.key) from e


def _lower(
    node: Node, ids: Mapping[Any, str] | None
) -> tuple[tuple[Any, ...], Mapping[str, Any]]:
    """``node``'s arguments with each Promise replaced by a Ref to its
    parent's id (``ids``: key -> id; None: each key is an id)."""
    if not node.kwargs:  # each argument a Promise or a value that holds none: no walk
        if len(node.args) == 1 and node.args[0].__class__ is Promise:  # a chain's link
            key = node.args[0].key
            ref = _new(Ref)  # (Ref(key) without its __init__: a chain has 100,000 links)
            ref.id = key if ids is None else ids[key]  # type: ignore[assignment]
            return (ref,), node.kwargs
        args = []  # (lattices)
        for a in node.args:
            if a.__class__ is Promise:
                a = Ref(a.key if ids is None else ids[a.key])  # type: ignore[arg-type]
            elif a.__class__ in WALKED:
                break
            args.append(a)
        else:
            return tuple(args), node.kwargs
    args, kwargs = substitute(
        (node.args, dict(node.kwargs)), Promise,
        lambda p: Ref(p.key if ids is None else ids[p.key]),  # type: ignore[arg-type]
    )
    return args, kwargs


class _Unlinkable:
    """The nodes that cannot be a link of a chain: a fan-out, a skip, a task
    with a timeout (those need the engine between links), or an ``async def``
    task (it runs on an event loop, not a worker's thread). Only the nodes
    that have edges are noted."""

    def __init__(self) -> None:
        self.nodes: set[str] = set()
        self._coroutines: dict[int, bool] = {}  # id(func) -> async def? (asked once each)
        #: the function and options of the last node noted as linkable: a node
        #: with both, and no fan-out or skip, is linkable too (no note needed)
        self.func: object = None
        self.options: object = None

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
        else:
            self.func, self.options = func, node.options


def _link(parent: PlanNode, child: PlanNode, unlinkable: _Unlinkable) -> None:
    """Make ``child`` the next link of ``parent``'s chain if it can be: the
    child's only parent, the parent's only child (so far: see _children), a
    Success edge, and neither end unlinkable."""
    incoming = child.parents
    u = parent.node.id
    if len(incoming) == 1 and incoming.get(u) is _SUCCESS:
        if not parent.parents:  # a root is noted with its first child
            unlinkable.note(u, parent.node)
        if u not in unlinkable.nodes and child.node.id not in unlinkable.nodes:
            parent.next_link = child.node.id


def _children(
    plan: Mapping[str, PlanNode],
    succ: Mapping[str, Mapping[str, Condition]],
    more: Mapping[str, list[str]],
    unlinkable: _Unlinkable,
) -> None:
    """Give the parents with stored edges, or more than one child, all their
    children (the stored edges first) and their chain link, if any."""
    for u in dict.fromkeys((*succ, *more)) if more else succ:  # (each parent once)
        parent = plan[u]
        stored = succ.get(u)
        if parent.children or u in more:
            kids = (*(stored or ()), *parent.children, *more.get(u, ()))
        elif stored:  # (the common case: every edge stored)
            kids = tuple(stored)
        else:
            continue
        parent.children = kids
        parent.next_link = None
        if len(kids) == 1:
            _link(parent, plan[kids[0]], unlinkable)


def _kahn(plan: Mapping[str, PlanNode], nodes: Mapping[str, Node]) -> None:
    """Set each node's level with Kahn's algorithm (some parent came after its
    child); raise CycleError naming a cycle if there is one."""
    parents = {n: node.parents for n, node in plan.items() if node.parents}
    children = {n: node.children for n, node in plan.items() if node.children}
    deps = {n: node.deps for n, node in plan.items()}
    for k, level in enumerate(_kahn_levels(nodes, parents, children, deps)):
        for n in level:
            plan[n].level = k


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
