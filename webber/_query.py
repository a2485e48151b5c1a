"""The read side of a DAG: ids, records and queries (``GraphView``).

``DAG`` (``_flow.py``) is a GraphView that also builds, edits, compiles and
runs. Everything here reads the graph store; a Promise of another flow, or
an id that another DAG returned, is refused here, where every reference is
turned into an id. The queries take webber 0.4.0's forms too (one list of
ids, ``data=``), and ``dag.nodes`` / ``dag.graph`` are read-only views in
networkx's shape.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

from webber._errors import (
    ForeignPromiseError,
    TaskDefinitionError,
    UnknownNodeError,
    UnknownPromiseError,
)
from webber._graph import Edge, Node
from webber._graphview import DiGraphView, EdgesView, NodesView
from webber._keywords_040 import takes_040_keywords
from webber._nodeid import NodeId, Owner
from webber._promise import IterPromise, Promise

if TYPE_CHECKING:
    from webber._store import GraphStore

__all__ = ["DiGraphView", "EdgesView", "GraphView", "NodeRef", "NodesView", "spread"]

#: A node id (str), the Promise of a node, or the callable a single node runs.
#: Typed as Any because inside a flow a Promise stands in for a task's value.
NodeRef: TypeAlias = Any


@takes_040_keywords
class GraphView:
    """The read-only methods every DAG and Flow has (see :class:`~webber.DAG`)."""

    name: str
    _uid: int
    #: the flows whose Promises name the same nodes here
    _kin: frozenset[int]
    _store: GraphStore
    #: what the ids this graph hands out remember (see _nodeid.py)
    _owner: Owner

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.name!r}: {len(self._store)} nodes, "
            f"{self._store.edge_count()} edges>"
        )

    def __len__(self) -> int:
        return len(self._store)

    def __getstate__(self) -> dict[str, Any]:
        # Pickled (saved, or sent to a worker: qdag.execute as a node of a
        # graph): without the cached Plan (rebuilt on use), the id owner,
        # which holds a weak reference to this graph (the copy makes its own),
        # and the last chain link's function checked (a task's, which only its
        # Node knows how to pickle by the task's name).
        state = self.__dict__.copy()
        state["_plan"] = None
        del state["_owner"]
        state.pop("_linked", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._owner = Owner(self)  # type: ignore[arg-type]  # a DAG: only DAGs are made
        self._store.label = self._label_weakly()

    def __iter__(self) -> Iterator[str]:
        return iter(self._store)

    def __contains__(self, ref: object) -> bool:
        try:
            self.node_id(ref)
        except (UnknownNodeError, ForeignPromiseError, TypeError):
            return False
        return True

    @property
    def nodes(self) -> NodesView:
        """The nodes, as a read-only mapping of id -> record (in the order added):
        ``len``, ``in``, iteration over the ids, ``dag.nodes[id]``."""
        return NodesView(self)

    @property
    def edges(self) -> list[tuple[str, str]]:
        """The edges as ``(parent, child)`` id pairs."""
        return self._store.pairs()

    @property
    def root(self) -> list[str]:
        """The ids of the nodes without parents (they run first)."""
        pred = self._store.pred
        return [self._mine(n) for n in self._store.nodes if not pred[n]]

    @property
    def graph(self) -> DiGraphView:
        """A read-only view of the graph with networkx's read API, without
        networkx: ``.nodes`` (id -> node record), ``.edges`` (``(parent,
        child)`` -> edge record), ``successors(n)``, ``in_degree(n)``, ...
        ``DAG(dag.graph)`` copies the DAG."""
        return DiGraphView(self)

    def node_id(self, ref: NodeRef = None, *, identifier: NodeRef = None) -> str:
        """The id of the node ``ref`` names: an id, a Promise, a node record, or a
        callable run by one node. An id that another DAG returned raises.
        ``identifier=`` is webber 0.4.0's keyword for ``ref``."""
        cls = ref.__class__
        if cls is str and ref in self._store.nodes:
            return ref  # type: ignore[no-any-return]  # the common case first (large graphs)
        if identifier is not None:  # (not in takes_040_keywords: add_edge calls this)
            if ref is not None:
                raise TypeError("node_id() got ref and identifier=, two names of one "
                                "argument (identifier is webber 0.4.0's): pass one")
            return self.node_id(identifier)
        if isinstance(ref, NodeId):
            owner = ref._owner
            if owner is not self._owner and owner.uid not in self._kin:
                raise self._foreign_id(ref)
            # the plain string: the store keeps no NodeId
            return self._store.node_id(ref._plain)
        if isinstance(ref, Promise) and self._is_foreign(ref):
            # Its id may name an unrelated node here: never guess.
            raise self._foreign(ref, "node reference")
        if isinstance(ref, Mapping) and "id" in ref:  # a record (0.4.0 passed its dicts)
            return self.node_id(ref["id"])
        return self._store.node_id(ref)

    def resolve_promise(self, promise: Promise) -> Promise:
        """webber 0.4.0's: ``promise`` with its node named by id (a Promise may
        name it by the callable it runs), an IterPromise keeping its flags.
        Raises :class:`~webber.UnknownPromiseError` (0.4.0's
        ``InvalidCallable``) when it names no node here."""
        try:
            if isinstance(promise, IterPromise):
                return IterPromise(*(self.node_id(k) for k in promise.keys),
                                   partial=promise.partial, zip=promise.zip)
            return Promise(self.node_id(promise.key))
        except UnknownNodeError as e:
            raise UnknownPromiseError(f"{promise!r} names no node: {e}", e.key) from None

    def get_node(self, ref: NodeRef) -> Node:
        """The record of one node (``.name``, ``.retries``; or ``["name"]``, ``["callable"]``)."""
        return self._store.nodes[self.node_id(ref)]

    def get_nodes(self, *refs: NodeRef) -> list[Node]:
        """The records of the named nodes (as arguments or one list), or of
        every node when none is named."""
        named = spread(refs, nodes=True)
        if not named:
            return list(self._store.nodes.values())
        return [self.get_node(ref) for ref in named]

    def get_edge(self, parent: NodeRef, child: NodeRef, data: bool = True) -> Any:
        """The record of the edge ``parent -> child`` (``data=False``: its id pair)."""
        u, v = self.node_id(parent), self.node_id(child)
        if not self._store.has_edge(u, v):
            raise UnknownNodeError(
                f"No match found for the edge {u} -> {v}: it does not exist in "
                f"{self._label()}; add it with add_edge({u!r}, {v!r})",
                (u, v),
            )
        if not data:
            return (self._mine(parent, u), self._mine(child, v))
        return self._store.edge(u, v)

    def get_edges(self, *refs: NodeRef | tuple[NodeRef, NodeRef], data: bool = True) -> list[Any]:
        """Edge records (``data=False``: id pairs): of every edge; or, per
        argument (or in one list), a ``(parent, child)`` pair's edge, or every
        edge into and out of a named node."""
        named = spread(refs)
        pairs: dict[tuple[str, str], None] = {}
        if not named:
            pairs = dict.fromkeys(self.edges)
        for ref in named:
            if isinstance(ref, tuple):
                if len(ref) != 2:
                    raise TaskDefinitionError(
                        f"get_edges() got a tuple of {len(ref)}, {ref!r}; name an edge as a "
                        f"(parent, child) pair, or a node (not in a tuple) for all its edges"
                    )
                edge = self.get_edge(*ref)
                pairs[(edge.parent, edge.child)] = None
                continue
            n = self.node_id(ref)
            pairs.update(((u, n), None) for u in self._store.pred[n])
            pairs.update(((n, v), None) for v in self._store.succ[n])
        if not data:
            return [(self._mine(u), self._mine(v)) for u, v in pairs]
        return [self._store.edge(u, v) for u, v in pairs]

    def filter_nodes(self, predicate: Callable[[Node], object], data: bool = False) -> list[Any]:
        """Ids of the nodes whose record satisfies ``predicate`` (``data=True``: the records).

        >>> from webber import DAG
        >>> dag = DAG()
        >>> a = dag.add_node(print, "a")
        >>> dag.retry_node(a, 2)
        >>> dag.filter_nodes(lambda node: node.retries > 0)
        ['print-1']
        """
        chosen = [n for n in list(self._store.nodes.values()) if predicate(n)]
        return chosen if data else [self._mine(n.id) for n in chosen]

    def filter_edges(self, predicate: Callable[[Edge], object], data: bool = False) -> list[Any]:
        """``(parent, child)`` pairs of the edges whose record satisfies
        ``predicate`` (``data=True``: the records)."""
        chosen = [e for e in self.get_edges() if predicate(e)]
        return chosen if data else [(self._mine(e.parent), self._mine(e.child)) for e in chosen]

    # -- naming the graph in errors ---------------------------------------------------
    def _label(self) -> str:
        return f"{type(self).__name__.lower()} {self.name!r}"

    def _label_weakly(self) -> Callable[[], str]:
        """:meth:`_label`, for the graph's store: holding the graph only weakly,
        it leaves no reference cycle, so a graph dropped after its run is freed
        at once -- not by the collector's next full collection, which a loop of
        runs otherwise called every dozen runs (a flow of 1,000 tasks left
        2,000 objects for it)."""
        return functools.partial(_label_of, weakref.ref(self))

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

    def _foreign_id(self, n: NodeId) -> ForeignPromiseError:
        other_name = n._owner.label
        if other_name == self._label():
            other_name = f"another {other_name} (a different graph with the same name)"
        return ForeignPromiseError(
            f"{str(n)!r} is an id that {other_name} returned, not {self._label()}: it may "
            f"name an unrelated node here; use the id that this graph's add_node() returned"
        )

    def _mine(self, ref: object, n: str | None = None) -> str:
        """The id ``n`` (default: ``ref``) as this DAG hands ids out: remembering it."""
        if isinstance(ref, NodeId) and ref._owner is self._owner:
            return ref
        return self._owner.cls(n if n is not None else str(ref))


def spread(refs: tuple[Any, ...], nodes: bool = False) -> list[Any]:
    """0.4.0's two spellings of several refs: as arguments, or as one list
    (``nodes=True``: or one tuple, which 0.4.0 took for nodes too; for edges
    a tuple is one ``(parent, child)`` pair)."""
    one = refs[0] if len(refs) == 1 else None
    if isinstance(one, (list, set, frozenset)) or (nodes and isinstance(one, tuple)):
        return list(one)
    return list(refs)


def _label_of(graph: weakref.ReferenceType[GraphView]) -> str:
    alive = graph()
    return "a graph that is gone" if alive is None else alive._label()
