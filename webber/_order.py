"""A topological order kept up to date while edges are added: the eager cycle check.

``add_edge`` must refuse an edge that closes a cycle at the line that adds it,
without a traversal of the whole graph per edge (a 100,000-node graph gets
300,000 edges). The graph keeps a topological index per node (Pearce & Kelly,
"A dynamic topological sort algorithm for directed acyclic graphs", 2006):

- a node gets its index with its first edge: as a child, after every node
  indexed so far; as a parent, before all of them (a node without edges may
  sit anywhere, and most nodes of a wide graph never get one: no index to
  keep for them);
- an edge ``u -> v`` with ``index[u] < index[v]`` agrees with the order and
  cannot close a cycle: O(1), the common case (parents are usually added first);
- otherwise a search forward from ``v`` visits only nodes with an index below
  ``index[u]``; reaching ``u`` means the edge closes a cycle (reported, nothing
  changes). If not, the nodes found forward from ``v`` and backward from ``u``
  (above ``index[v]``) swap their indices so that the order holds again.

Removing nodes or edges never breaks a topological order, so they need nothing.
Both searches use explicit stacks: a 10,000-node chain costs no recursion.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Generic, TypeVar

__all__ = ["TopoOrder"]

K = TypeVar("K", bound=Hashable)


class TopoOrder(Generic[K]):
    """Topological indices of a growing DAG (see the module's doc).

    >>> order: TopoOrder[str] = TopoOrder()
    >>> for n in "abc":
    ...     order.add(n)
    >>> succ = {"a": {"b"}, "b": set(), "c": set()}
    >>> pred = {"a": set(), "b": {"a"}, "c": set()}
    >>> order.check(("c", "a"), succ, pred) is None  # against the order, no cycle
    True
    >>> succ["c"].add("a"); pred["a"].add("c")
    >>> order.check(("b", "c"), succ, pred)  # c -> a -> b exists: b -> c closes a cycle
    ['c', 'a', 'b', 'c']
    """

    __slots__ = ("_first", "_next", "index")

    def __init__(self) -> None:
        #: the nodes placed so far (each node with an edge is)
        self.index: dict[K, int] = {}
        self._next = 0
        self._first = 0  # the index before every other one is _first - 1

    def add(self, node: K) -> None:
        """Place ``node`` after every other one."""
        self.index[node] = self._next
        self._next += 1

    def agrees(self, u: K, v: K) -> bool:
        """Whether the new edge ``u -> v`` (``u != v``) agrees with the order,
        so that it closes no cycle: O(1). A node not placed yet has no edges,
        so it is placed where the edge agrees (``v`` last, ``u`` first)."""
        index = self.index
        if v in index:
            if u in index:
                return index[u] < index[v]
            self._first -= 1
            index[u] = self._first
            return True
        if u not in index:
            index[u] = self._next
            self._next += 1
        index[v] = self._next
        self._next += 1
        return True

    def discard(self, node: K) -> None:
        self.index.pop(node, None)

    def subset(self, keep: set[K]) -> TopoOrder[K]:
        """The order of the nodes in ``keep`` (a subgraph's: still valid)."""
        sub: TopoOrder[K] = TopoOrder()
        sub.index = {n: i for n, i in self.index.items() if n in keep}
        sub._next, sub._first = self._next, self._first
        return sub

    def check(
        self,
        edge: tuple[K, K],
        succ: Mapping[K, Iterable[K]],
        pred: Mapping[K, Iterable[K]],
    ) -> list[K] | None:
        """Before adding ``u -> v`` to the graph ``succ``/``pred``: the cycle it
        would close, as ``[v, ..., u, v]``; or None, after making the order
        hold for the new edge (the caller then adds it)."""
        u, v = edge
        if u == v:
            return [u, u]
        if self.agrees(u, v):
            return None
        index = self.index
        upper, lower = index[u], index[v]
        # Forward from v, among nodes ordered before u: can v reach u?
        came_from: dict[K, K | None] = {v: None}
        stack = [v]
        while stack:
            w = stack.pop()
            for x in succ[w]:
                if x == u:
                    path = [u, w]
                    step = came_from[w]
                    while step is not None:
                        path.append(step)
                        step = came_from[step]
                    path.reverse()  # v ... w u
                    return [*path, v]
                if x not in came_from and index[x] < upper:
                    came_from[x] = w
                    stack.append(x)
        forward = list(came_from)
        # Backward from u, among nodes ordered after v.
        seen_back = {u}
        stack = [u]
        while stack:
            w = stack.pop()
            for x in pred[w]:
                if x not in seen_back and index[x] > lower:
                    seen_back.add(x)
                    stack.append(x)
        # u's ancestors (kept in their order) now come before v's descendants,
        # reusing the same set of index values.
        back = sorted(seen_back, key=index.__getitem__)
        ahead = sorted(forward, key=index.__getitem__)
        slots = sorted(index[n] for n in (*back, *ahead))
        for n, slot in zip((*back, *ahead), slots, strict=True):
            index[n] = slot
        return None
