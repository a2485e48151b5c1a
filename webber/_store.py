"""The graph store: nodes, edges and ids of one graph, and nothing else.

Storage is two adjacency dicts (``pred[child][parent]`` and
``succ[parent][child]``, both holding the edge's Condition) and one dict of
frozen Node records; Edge records are made only when asked for, which keeps a
100,000-node graph cheap to build. A node gets its adjacency entries with its
first edge (:class:`Adjacency`): a node without edges costs one record and
one slot in ``nodes``, as most nodes of a wide graph have no edges. Every
change bumps ``version``, which the facade keys its cached Plan by.

The store refuses an edge that would close a cycle (:meth:`GraphStore.connect`,
used for every new edge) without a traversal of the graph per edge: ``order``
keeps a topological order up to date (``_order.py``), so an edge that agrees
with it costs O(1). ``implied`` holds the edges that only a Promise argument
made: the facade lets ``add_edge`` name such an edge once.

A new node whose Promise arguments all name nodes present (a chain, a lattice)
has its edges stored only when something reads the edges (``pending``): those
edges can close no cycle, and its ``deps`` already say which they are. Stored
at insert, each cost two small dicts, an entry in ``implied`` and one in the
order (about 3 us and 500 bytes an edge, twice a wide node's whole cost), and
``compile()`` reads them from ``deps`` all the same (see :meth:`GraphStore.raw`).

The store speaks ids. What else names a node -- a Promise, a ``@task``, a
callable -- is turned into an id by :meth:`GraphStore.node_id`, which uses
:func:`~webber._graph.find_id` (as the Run does over a Plan); an authoring
object takes part through its ``_webber_key`` attribute, so this module
imports nothing of the authoring layer.
"""

from __future__ import annotations

import functools
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from webber._checks import cycle_error
from webber._drafts import make_node
from webber._errors import UnknownNodeError
from webber._gc import EVERY, HOLD_FROM, frozen
from webber._graph import OPTION_FIELDS, Condition, Edge, Node, TaskOptions, find_id, slug
from webber._order import TopoOrder

__all__ = ["Adjacency", "GraphStore"]

#: (read once: an enum member read from its class costs 0.1 us on Python 3.11)
_SUCCESS = Condition.Success
#: held while a store stores its pending edges (rare: once per build, mostly)
_SETTLING = threading.Lock()
#: ``slug`` of the names nodes were given lately (most builds add many nodes of few names)
_slug = functools.lru_cache(maxsize=256)(slug)
#: ``len(nodes) & _HOLD_MASK == 0`` every EVERY nodes (from HOLD_FROM on, a hold)
_HOLD_MASK = EVERY - 1
#: the edges of a node that has none: read-only, so that no caller can fill it
_NO_EDGES: Any = MappingProxyType({})


class Adjacency(dict[str, dict[str, Condition]]):
    """node id -> {neighbour id: condition}, with an entry only for a node that
    has edges; reading any other node gives an empty read-only mapping.

    Two empty dicts per node made a 100,000-node wide graph 1.3 us a node
    slower to build (allocations, and two more large dicts to grow).

    >>> adj = Adjacency()
    >>> dict(adj["a"]), "a" in adj
    ({}, False)
    """

    __slots__ = ()

    def __missing__(self, key: str) -> dict[str, Condition]:
        return _NO_EDGES  # type: ignore[no-any-return]


class GraphStore:
    """Nodes, edges and ids of one graph (see the module doc)."""

    #: whether a new node's Promise edges may wait in ``pending`` (a store whose
    #: ``link`` checks each edge as it comes says no)
    defer = True
    #: whether a subclass overrides link() (to check each edge): then every
    #: edge goes through it; else add_agreeing() stores an edge one call sooner
    _checks_links = False

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls._checks_links = cls.link is not GraphStore.link

    def __init__(self, label: Callable[[], str]) -> None:
        #: names the graph in errors ("dag 'etl'"); the facade's, read when needed
        self.label = label
        self.nodes: dict[str, Node] = {}
        self._pred = Adjacency()
        self._succ = Adjacency()
        self.counts: dict[str, int] = {}
        self.version = 0
        self._order: TopoOrder[str] = TopoOrder()
        self._implied: set[tuple[str, str]] = set()
        #: the nodes, in insertion order, whose Promise edges are not stored yet:
        #: each of their deps is the id of a node that was present at insert
        self.pending: list[str] = []
        #: whether a Promise argument may name a present node without an edge
        #: stored for it (removed, or its node came later): compile() then
        #: cannot tell those from the pending edges, and the edges are stored first
        self.loose = False
        #: (name, slug(name)) of the last link add_link() named
        self._named: tuple[str | None, str] = (None, "")

    def __getstate__(self) -> dict[str, Any]:
        # (its label holds the graph weakly: the graph unpickled gives it a new one)
        state = self.__dict__.copy()
        del state["label"]
        return state

    # -- the edges, stored before they are read ----------------------------------------
    @property
    def pred(self) -> Adjacency:
        """child id -> {parent id: condition}."""
        if self.pending:
            self.settle()
        return self._pred

    @property
    def succ(self) -> Adjacency:
        """parent id -> {child id: condition}."""
        if self.pending:
            self.settle()
        return self._succ

    @property
    def order(self) -> TopoOrder[str]:
        if self.pending:
            self.settle()
        return self._order

    @property
    def implied(self) -> set[tuple[str, str]]:
        if self.pending:
            self.settle()
        return self._implied

    def settle(self) -> None:
        """Store the pending nodes' edges, as insert() would have. Their deps
        are ids of nodes present: removing a node stores what is pending first.
        Under a lock, and what was stored taken off ``pending`` last, so that
        a thread reading the edges meanwhile waits for all of them (and a node
        another thread adds meanwhile is stored too, or stays pending)."""
        with _SETTLING:
            pending = self.pending
            nodes, pred, implied = self.nodes, self._pred, self._implied
            done = 0
            while done < len(pending):
                n = pending[done]
                self._order.add(n)
                for key in nodes[n].deps:
                    parent: str = key  # type: ignore[assignment]  # (an id: see insert)
                    if parent not in pred.get(n, ()):
                        self._put(parent, n, _SUCCESS)
                        implied.add((parent, n))
                done += 1
            del pending[:done]

    def raw(self) -> tuple[Adjacency, Adjacency]:
        """``(pred, succ)`` for compile(): the stored edges, and only the
        pending nodes' Promise edges missing, which compile() adds from their
        deps as it does any Promise edge the graph does not hold, after the
        stored ones (as insert() would have stored them). If some Promise
        edge is missing otherwise (``loose``), everything is stored first, so
        that a node's children keep the order their edges were added in."""
        if self.loose and self.pending:
            self.settle()
        return self._pred, self._succ

    # -- ids --------------------------------------------------------------------------
    def node_id(self, ref: Any) -> str:
        """The id of the node ``ref`` names (see :func:`find_id`)."""
        if ref.__class__ is str and ref in self.nodes:
            return ref  # the common case first: add_edge(id, id) on large graphs
        return find_id(ref, self.nodes, self.label(), self._close_match)

    def _close_match(self, key: str) -> str:
        import difflib  # only on this error path: it costs 5 ms to import

        close = difflib.get_close_matches(key, list(self.nodes), n=1)
        return f"did you mean {close[0]!r}?" if close else "use an id that add_node() returned"

    def new_id(self, name: str) -> str:
        """A fresh readable id for a node named ``name``: ``clean-3``."""
        base = _slug(name)
        count = self.counts.get(base, 0) + 1
        n = f"{base}-{count}"
        while n in self.nodes:  # a relabelled or removed node may have left a gap or a clash
            count += 1
            n = f"{base}-{count}"
        self.counts[base] = count
        return n

    # -- reading ----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.nodes)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.nodes))

    def edge_count(self) -> int:
        return sum(len(children) for children in self.succ.values())

    def pairs(self) -> list[tuple[str, str]]:
        """Every edge as a ``(parent, child)`` id pair."""
        succ = self.succ  # in the order of the nodes (a node's entry comes with its first edge)
        return [(u, v) for u in self.nodes if u in succ for v in succ[u]]

    def has_edge(self, u: str, v: str) -> bool:
        return v in self.succ[u]

    def edge(self, u: str, v: str) -> Edge:
        """The record of the existing edge ``u -> v``."""
        child = self.nodes[v]
        data = any(self._names(key, u) for key in child.deps)
        return Edge(u, v, self.succ[u][v], data)

    def _names(self, key: Any, n: str) -> bool:
        try:
            return self.node_id(key) == n
        except (UnknownNodeError, TypeError):
            return False

    def ancestors(self, ids: Iterable[str]) -> set[str]:
        """``ids`` and every node they depend on, transitively."""
        keep = set(ids)
        queue = deque(keep)
        while queue:  # iterative: a 10,000-node chain costs no recursion
            for parent in self.pred[queue.popleft()]:
                if parent not in keep:
                    keep.add(parent)
                    queue.append(parent)
        return keep

    # -- editing ----------------------------------------------------------------------
    def add_plain(self, options: TaskOptions, func: Callable[..., Any], args: tuple[Any, ...],
                  kwargs: dict[str, Any], fan_out: bool = False) -> str:
        """Add a node whose arguments name no other node (so it has no edges:
        a wide flow's tasks); returns its fresh id. :meth:`insert` of its
        record, without a Node made first to be read back."""
        n = self.new_id(options.name)
        nodes = self.nodes
        node = make_node(n, options, func, args, kwargs, (), fan_out)
        if nodes.setdefault(n, node) is not node:  # (see insert: the id was taken)
            return self.insert(replace(node, id=self.new_id(options.name)))
        self.version += 1
        if not len(nodes) & _HOLD_MASK and len(nodes) >= HOLD_FROM:
            frozen.hold()  # (what the build made so far: see _gc)
        return n

    def add_link(self, options: TaskOptions, func: Callable[..., Any], args: tuple[Any, ...],
                 kwargs: dict[str, Any], parent: str, fan_out: bool = False) -> str:
        """Add a node whose one Promise argument names ``parent``, the id of a
        node here (a chain's link: 100,000 of them); returns its fresh id.
        :meth:`new_id` and :meth:`insert` in one call, its edge pending."""
        if not self.defer:
            n = self.new_id(options.name)
            return self.insert(make_node(n, options, func, args, kwargs, (parent,), fan_out), True)
        name = options.name
        named = self._named  # (a chain's links share one name: slugged once)
        base = named[1] if named[0] is name else self._slugged(name)
        count = self.counts.get(base, 0) + 1
        n = f"{base}-{count}"
        nodes = self.nodes
        while n in nodes:  # (as new_id)
            count += 1
            n = f"{base}-{count}"
        self.counts[base] = count
        node = make_node(n, options, func, args, kwargs, (parent,), fan_out)
        if nodes.setdefault(n, node) is not node:  # (see insert: the id was taken)
            return self.insert(replace(node, id=self.new_id(name)), True)
        self.version += 1
        if not len(nodes) & _HOLD_MASK and len(nodes) >= HOLD_FROM:
            frozen.hold()  # (what the build made so far: see _gc)
        self.pending.append(n)
        return n

    def _slugged(self, name: str) -> str:
        """``slug(name)``, remembered for the next link of the same name."""
        base = _slug(name)
        self._named = (name, base)
        return base

    def insert(self, node: Node, present: bool = False) -> str:
        """Add ``node`` (its id from :meth:`new_id`), with an edge from each
        parent its Promise arguments name that is present already (edges
        into a new node close no cycle); returns its id. ``present``: the
        caller found each of its deps to be the id of a node here.

        Threads adding nodes to one graph at once may be given one id: the
        first to store its node keeps it, and the other's node gets a fresh
        one (each id is claimed with one ``setdefault``, no lock per node)."""
        self.version += 1
        nodes = self.nodes
        while nodes.setdefault(node.id, node) is not node:
            node = replace(node, id=self.new_id(node.options.name))
        if not len(nodes) & _HOLD_MASK and len(nodes) >= HOLD_FROM:
            frozen.hold()  # (what the build made so far: see _gc)
        deps = node.deps
        if deps:
            if self.defer:
                if present:
                    self.pending.append(node.id)
                    return node.id
                for key in deps:
                    if key.__class__ is not str or key not in nodes:
                        break
                else:
                    self.pending.append(node.id)
                    return node.id
            order = self.order
            order.add(node.id)  # after its parents (the parents link() places)
            self._link_deps(node, new=True)
        return node.id

    def _link_deps(self, node: Node, new: bool = False) -> list[tuple[str, str]]:
        """The edges for ``node``'s Promise arguments that name a node present;
        returns those added. Raises CycleError, having added none, if one
        would close a cycle (a ``new`` node has no children: none can)."""
        added: list[tuple[str, str]] = []
        try:
            for key in node.deps:
                try:
                    parent = self.node_id(key)
                except (UnknownNodeError, TypeError):
                    self.loose = True  # a forward reference (a flow may name a node to come)
                    continue
                if parent not in self.pred.get(node.id, ()):
                    if new:
                        self.link(parent, node.id, _SUCCESS)
                    else:
                        self.connect(parent, node.id, _SUCCESS)
                    self.implied.add((parent, node.id))
                    added.append((parent, node.id))
        except BaseException:
            for u, v in added:
                self.unlink(u, v)
            raise
        return added

    def check_new_edge(self, u: str, v: str) -> None:
        """Raise CycleError if the new edge ``u -> v`` would close a cycle
        (else the order is made to hold for it: add it next)."""
        cycle = self.order.check((u, v), self.succ, self.pred)
        if cycle is not None:
            raise cycle_error(cycle, self.nodes, (u, v))

    def add_agreeing(self, u: str, v: str, condition: Condition) -> bool:
        """Add the new edge ``u -> v`` if it agrees with the topological order
        (O(1): ``add_edge``'s common case, a parent added before its child);
        False, changing nothing, if it exists or may close a cycle."""
        if self.pending:
            self.settle()
        if u == v or v in self._succ[u] or not self._order.agrees(u, v):
            return False
        if self._checks_links:
            self.link(u, v, condition)  # (a subclass's link checks more: QueueDAG's)
        else:
            self.version += 1
            self._put(u, v, condition)
        return True

    def connect(self, u: str, v: str, condition: Condition) -> None:
        """Add the new edge ``u -> v``; raise CycleError if it would close a cycle."""
        self.check_new_edge(u, v)
        self.link(u, v, condition)

    def link(self, u: str, v: str, condition: Condition) -> None:
        """Set the condition of the edge ``u -> v`` (checked: use connect() for a new edge)."""
        self.version += 1
        if self.pending:
            self.settle()
        self._put(u, v, condition)

    def _put(self, u: str, v: str, condition: Condition) -> None:
        order = self._order
        index = order.index
        if u not in index or v not in index:  # a first edge (one that cannot close a cycle)
            order.agrees(u, v)
        succ, pred = self._succ, self._pred
        if u in succ:
            succ[u][v] = condition
        else:
            succ[u] = {v: condition}
        if v in pred:
            pred[v][u] = condition
        else:
            pred[v] = {u: condition}

    def unlink(self, u: str, v: str) -> None:
        self.version += 1
        self.loose = True  # (if it was a Promise's edge, the Promise still names u)
        for adjacency, a, b in ((self.succ, u, v), (self.pred, v, u)):
            edges = adjacency[a]
            del edges[b]
            if not edges:
                del adjacency[a]
        self.implied.discard((u, v))

    def put(self, node: Node) -> None:
        """Put back a record as it was (the facade undoing a refused change)."""
        if self.pending:
            self.settle()
        self.version += 1
        self.nodes[node.id] = node

    def remove(self, n: str) -> None:
        """Remove node ``n`` and its edges."""
        for u in list(self.pred[n]):
            self.unlink(u, n)
        for v in list(self.succ[n]):
            self.unlink(n, v)
        self.version += 1
        del self.nodes[n]
        self.order.discard(n)

    def update(self, n: str, **changes: Any) -> list[tuple[str, str]]:
        """Replace fields of node ``n``'s record; task settings (``retries``,
        ``name``, ...) go to its options. New arguments bring their edges
        (returned; CycleError, changing nothing, if one would close a cycle)."""
        if self.pending:
            self.settle()  # (the pending edges are those of the deps it had)
        node = old = self.nodes[n]
        options = {k: changes.pop(k) for k in OPTION_FIELDS if k in changes}
        if options:
            changes["options"] = replace(node.options, **options)
        self.version += 1
        node = self.nodes[n] = replace(node, **changes)
        if "args" in changes or "kwargs" in changes:
            try:
                return self._link_deps(node)
            except BaseException:
                self.nodes[n] = old
                raise
        return []

    def subgraph(self, keep: set[str], label: Callable[[], str]) -> GraphStore:
        """A new store of the nodes in ``keep`` and the edges among them (same ids)."""
        sub = GraphStore(label)
        sub.counts = dict(self.counts)
        for n, node in self.nodes.items():
            if n in keep:
                sub.nodes[n] = node
                for mine, theirs in ((sub.pred, self.pred), (sub.succ, self.succ)):
                    edges = {u: c for u, c in theirs[n].items() if u in keep}
                    if edges:
                        mine[n] = edges
        sub._order = self.order.subset(keep)
        sub._implied = {(u, v) for u, v in self.implied if u in keep and v in keep}
        sub.loose = self.loose
        return sub
