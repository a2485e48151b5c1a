"""The read side of a DAG: ids, records and queries (``GraphView``).

``DAG`` (``_flow.py``) is a GraphView that also builds, edits, compiles and
runs. Everything here reads the graph store; a Promise of another flow is
refused here, where every reference is turned into an id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeAlias

from webber._errors import ForeignPromiseError, UnknownNodeError
from webber._graph import Edge, Node
from webber._promise import Promise

if TYPE_CHECKING:
    from webber._store import GraphStore

__all__ = ["GraphView", "NodeRef"]

#: A node id (str), the Promise of a node, or the callable a single node runs.
#: Typed as Any because inside a flow a Promise stands in for a task's value.
NodeRef: TypeAlias = Any


class GraphView:
    """The read-only methods every DAG and Flow has (see :class:`~webber.DAG`)."""

    name: str
    _uid: int
    #: the flows whose Promises name the same nodes here
    _kin: frozenset[int]
    _store: GraphStore

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.name!r}: {len(self._store)} nodes, "
            f"{self._store.edge_count()} edges>"
        )

    def __len__(self) -> int:
        return len(self._store)

    def __iter__(self) -> Iterator[str]:
        return iter(self._store)

    def __contains__(self, ref: object) -> bool:
        try:
            self.node_id(ref)
        except (UnknownNodeError, TypeError):
            return False
        return True

    @property
    def nodes(self) -> list[str]:
        """The node ids, in the order they were added."""
        return list(self._store.nodes)

    @property
    def edges(self) -> list[tuple[str, str]]:
        """The edges as ``(parent, child)`` id pairs."""
        return self._store.pairs()

    def node_id(self, ref: NodeRef) -> str:
        """The id of the node ``ref`` names: an id, a Promise, or a callable run by one node."""
        if isinstance(ref, Promise) and self._is_foreign(ref):
            # Its id may name an unrelated node here: never guess.
            raise self._foreign(ref, "node reference")
        return self._store.node_id(ref)

    def get_node(self, ref: NodeRef) -> Node:
        """The record of one node (attribute access: ``.name``, ``.retries``, ...)."""
        return self._store.nodes[self.node_id(ref)]

    def get_nodes(self, *refs: NodeRef) -> list[Node]:
        """The records of the named nodes, or of every node when none is named."""
        if not refs:
            return list(self._store.nodes.values())
        return [self.get_node(ref) for ref in refs]

    def get_edge(self, parent: NodeRef, child: NodeRef) -> Edge:
        """The record of the edge ``parent -> child``."""
        u, v = self.node_id(parent), self.node_id(child)
        if not self._store.has_edge(u, v):
            raise UnknownNodeError(
                f"{self._label()} has no edge {u} -> {v}; add it with add_edge({u!r}, {v!r})",
                (u, v),
            )
        return self._store.edge(u, v)

    def get_edges(self, *refs: NodeRef | tuple[NodeRef, NodeRef]) -> list[Edge]:
        """Edge records: of every edge; or, per argument, a ``(parent, child)``
        pair's edge, or every edge into and out of a named node."""
        store = self._store
        if not refs:
            return [store.edge(u, v) for u, v in store.pairs()]
        pairs: dict[tuple[str, str], None] = {}
        for ref in refs:
            if isinstance(ref, tuple):
                pairs[(self.get_edge(*ref).parent, self.node_id(ref[1]))] = None
                continue
            n = self.node_id(ref)
            pairs.update(((u, n), None) for u in store.pred[n])
            pairs.update(((n, v), None) for v in store.succ[n])
        return [store.edge(u, v) for u, v in pairs]

    def filter_nodes(self, predicate: Callable[[Node], object]) -> list[str]:
        """Ids of the nodes whose record satisfies ``predicate``.

        >>> from webber import DAG
        >>> dag = DAG()
        >>> a = dag.add_node(print, "a")
        >>> dag.retry_node(a, 2)
        >>> dag.filter_nodes(lambda node: node.retries > 0)
        ['print-1']
        """
        return [n.id for n in list(self._store.nodes.values()) if predicate(n)]

    def filter_edges(self, predicate: Callable[[Edge], object]) -> list[tuple[str, str]]:
        """``(parent, child)`` pairs of the edges whose record satisfies ``predicate``."""
        return [(e.parent, e.child) for e in self.get_edges() if predicate(e)]

    # -- naming the graph in errors ---------------------------------------------------
    def _label(self) -> str:
        return f"{type(self).__name__.lower()} {self.name!r}"

    def _is_foreign(self, promise: Promise) -> bool:
        return promise._origin is not None and promise._origin[0] not in self._kin

    def _foreign(self, promise: Promise, where: str) -> ForeignPromiseError:
        other_name = promise._origin[1] if promise._origin else "another flow"
        if other_name == self._label():
            other_name = f"another {other_name} (a different flow with the same name)"
        return ForeignPromiseError(
            f"{where}: {promise!r} was recorded by {other_name}, not by {self._label()}; "
            f"a flow's Promises work only inside that flow: build the task in this flow, "
            f"or pass a plain value"
        )
