"""``dag.graph`` and ``dag.nodes``: read-only views of a DAG in networkx's shape.

webber 0.4.0's ``dag.graph`` was a networkx ``DiGraph``, and code written for
it reads the graph through networkx's read API: ``dag.graph.successors(n)``,
``dag.graph.nodes(data=True)``, ``dag.graph.in_degree(n)``, ``n in
dag.graph``. These views answer that API from the graph store, without
networkx; edits go through the DAG's methods, which check them. For
networkx's algorithms, ``networkx.DiGraph(dag.graph)`` builds a networkx graph
(ids, node records and edge records as its data).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from webber._errors import ForeignPromiseError, UnknownNodeError
from webber._graph import Edge, Node

if TYPE_CHECKING:
    from webber._query import GraphView

__all__ = ["DiGraphView", "EdgesView", "NodesView"]


class NodesView(Mapping[str, Node]):
    """``dag.nodes``: id -> node record, read-only, in the order the nodes were
    added (``len``, ``in``, iteration over ids; ``[ref]`` takes any node
    reference). Called as networkx's: ``nodes(data=True)`` gives ``(id,
    record)`` pairs, ``nodes(data="name")`` ``(id, record["name"])`` pairs.

    >>> from webber import DAG
    >>> dag = DAG()
    >>> n = dag.add_node(print, "hi")
    >>> len(dag.nodes), n in dag.nodes, list(dag.nodes), dag.nodes[n]["args"]
    (1, True, ['print-1'], ('hi',))
    >>> dag.nodes(data="name")
    [('print-1', 'print')]
    """

    __slots__ = ("_dag",)

    def __init__(self, dag: GraphView) -> None:
        self._dag = dag

    def __getitem__(self, ref: Any) -> Node:
        return self._dag.get_node(ref)

    def __iter__(self) -> Iterator[str]:
        return iter(self._dag._store)

    def __len__(self) -> int:
        return len(self._dag._store)

    def __contains__(self, ref: object) -> bool:
        return ref in self._dag

    def __call__(self, data: bool | str = False, default: Any = None) -> Any:
        if data is False:
            return self
        records = self._dag._store.nodes
        if data is True:
            return [(self._dag._mine(n), node) for n, node in records.items()]
        return [(self._dag._mine(n), node.get(data, default)) for n, node in records.items()]

    def __repr__(self) -> str:
        return f"NodesView({list(self._dag._store)!r})"


class EdgesView(Mapping[tuple[str, str], Edge]):
    """``dag.graph.edges``: ``(parent, child)`` -> edge record, read-only.
    Called as networkx's: ``edges(data=True)`` gives ``(parent, child,
    record)`` triples, ``edges(n)`` the edges out of ``n``."""

    __slots__ = ("_dag",)

    def __init__(self, dag: GraphView) -> None:
        self._dag = dag

    def __getitem__(self, pair: tuple[Any, Any]) -> Edge:
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise KeyError(pair)
        return self._dag.get_edge(*pair)  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._dag.edges)

    def __len__(self) -> int:
        return self._dag._store.edge_count()

    def __contains__(self, pair: object) -> bool:
        if not (isinstance(pair, tuple) and len(pair) == 2):
            return False
        try:
            self._dag.get_edge(*pair)
        except (UnknownNodeError, ForeignPromiseError, TypeError):
            return False
        return True

    def __call__(self, nbunch: Any = None, data: bool | str = False, default: Any = None) -> Any:
        if nbunch is None and data is False:
            return self
        dag, store = self._dag, self._dag._store
        parents = store.nodes if nbunch is None else _ids(dag, nbunch)
        triples = [(u, v, store.edge(u, v)) for u in parents for v in store.succ[u]]
        if data is False:
            return [(dag._mine(u), dag._mine(v)) for u, v, _ in triples]
        return [
            (dag._mine(u), dag._mine(v), e if data is True else e.get(data, default))
            for u, v, e in triples
        ]

    def __repr__(self) -> str:
        return f"EdgesView({self._dag.edges!r})"


class _Neighbors(Mapping[str, Edge]):
    """One node's children (or parents) -> the edge record between them."""

    __slots__ = ("_dag", "_n", "_out")

    def __init__(self, dag: GraphView, n: str, out: bool) -> None:
        self._dag, self._n, self._out = dag, n, out

    def _side(self) -> Mapping[str, Any]:
        store = self._dag._store
        return store.succ[self._n] if self._out else store.pred[self._n]

    def __getitem__(self, other: Any) -> Edge:
        v = self._dag.node_id(other)
        if v not in self._side():
            raise KeyError(other)
        return self._dag._store.edge(*((self._n, v) if self._out else (v, self._n)))

    def __iter__(self) -> Iterator[str]:
        return (self._dag._mine(v) for v in list(self._side()))

    def __len__(self) -> int:
        return len(self._side())


class _Adjacency(Mapping[str, _Neighbors]):
    """``dag.graph.succ`` / ``.adj`` (children) and ``.pred`` (parents)."""

    __slots__ = ("_dag", "_out")

    def __init__(self, dag: GraphView, out: bool) -> None:
        self._dag, self._out = dag, out

    def __getitem__(self, ref: Any) -> _Neighbors:
        return _Neighbors(self._dag, self._dag.node_id(ref), self._out)

    def __iter__(self) -> Iterator[str]:
        return iter(self._dag._store)

    def __len__(self) -> int:
        return len(self._dag._store)


class _Degrees:
    """networkx's degree views: ``in_degree(n)`` and ``in_degree[n]`` are a
    count; ``in_degree()`` (or iterating) gives ``(id, count)`` pairs."""

    __slots__ = ("_dag", "_sides")

    def __init__(self, dag: GraphView, sides: tuple[bool, ...]) -> None:
        self._dag, self._sides = dag, sides

    def __getitem__(self, ref: Any) -> int:
        n, store = self._dag.node_id(ref), self._dag._store
        return sum(len(store.succ[n] if out else store.pred[n]) for out in self._sides)

    def __call__(self, nbunch: Any = None) -> Any:
        if nbunch is None:
            return self
        if nbunch in self._dag:
            return self[nbunch]
        return [(self._dag._mine(n), self[n]) for n in _ids(self._dag, nbunch)]

    def __iter__(self) -> Iterator[tuple[str, int]]:
        return ((self._dag._mine(n), self[n]) for n in list(self._dag._store))

    def __len__(self) -> int:
        return len(self._dag._store)

    def __repr__(self) -> str:
        return f"DegreeView({dict(self)!r})"


def _ids(dag: GraphView, nbunch: Any) -> list[str]:
    """networkx's ``nbunch``: one node, or an iterable of nodes."""
    if nbunch in dag:
        return [dag.node_id(nbunch)]
    if not isinstance(nbunch, Iterable) or isinstance(nbunch, str):
        dag.node_id(nbunch)  # raises, naming it
    return [dag.node_id(n) for n in nbunch]


class DiGraphView:
    """``dag.graph``: the graph in networkx's shape, read-only and without
    networkx. ``DAG(dag.graph)`` copies a DAG; ``networkx.DiGraph(dag.graph)``
    builds a networkx graph of it.

    >>> from webber import DAG, Promise
    >>> dag = DAG()
    >>> a = dag.add_node(len, "abc")
    >>> b = dag.add_node(print, Promise(a))
    >>> list(dag.graph.edges), dag.graph.edges[a, b]["Condition"]
    ([('len-1', 'print-1')], Condition.Success)
    >>> list(dag.graph.successors(a)), dag.graph.in_degree(b), b in dag.graph
    (['print-1'], 1, True)
    """

    __slots__ = ("_dag",)

    def __init__(self, dag: GraphView) -> None:
        self._dag = dag

    @property
    def nodes(self) -> NodesView:
        """id -> node record."""
        return NodesView(self._dag)

    @property
    def edges(self) -> EdgesView:
        """``(parent, child)`` -> edge record."""
        return EdgesView(self._dag)

    @property
    def succ(self) -> _Adjacency:
        """id -> {child id: edge record}."""
        return _Adjacency(self._dag, out=True)

    adj = succ

    @property
    def pred(self) -> _Adjacency:
        """id -> {parent id: edge record}."""
        return _Adjacency(self._dag, out=False)

    # networkx's algorithms read its graphs' private names too (the weakly
    # connected components read _succ and _pred): the same read-only views
    _succ = _adj = succ
    _pred = pred
    _node = nodes

    @property
    def graph(self) -> dict[str, Any]:
        """networkx's graph attributes: the DAG's name."""
        return {"name": self._dag.name}

    @property
    def name(self) -> str:
        return self._dag.name

    @property
    def in_degree(self) -> _Degrees:
        return _Degrees(self._dag, (False,))

    @property
    def out_degree(self) -> _Degrees:
        return _Degrees(self._dag, (True,))

    @property
    def degree(self) -> _Degrees:
        return _Degrees(self._dag, (False, True))

    def successors(self, ref: Any) -> Iterator[str]:
        return iter(self.succ[ref])

    neighbors = successors

    def predecessors(self, ref: Any) -> Iterator[str]:
        return iter(self.pred[ref])

    def has_node(self, ref: object) -> bool:
        return ref in self._dag

    def has_edge(self, u: Any, v: Any) -> bool:
        return (u, v) in self.edges

    def has_successor(self, u: Any, v: Any) -> bool:
        return (u, v) in self.edges

    def has_predecessor(self, u: Any, v: Any) -> bool:
        return (v, u) in self.edges

    def get_edge_data(self, u: Any, v: Any, default: Any = None) -> Any:
        """The record of the edge ``u -> v``; ``default`` when there is none
        (or ``u`` or ``v`` is not a node here, an id of another DAG included:
        ``in`` answers False for those, where ``edges.get`` would raise)."""
        if (u, v) not in self.edges:
            return default
        return self.edges[u, v]

    def nbunch_iter(self, nbunch: Any = None) -> Iterator[str]:
        """networkx's ``nbunch``: every node (None), the one node given, or
        those of an iterable that are nodes here (the others left out, as
        networkx leaves them); anything else raises, naming it."""
        if nbunch is None:
            return iter(self)
        if nbunch in self._dag:
            return iter([self._dag.node_id(nbunch)])
        if not isinstance(nbunch, Iterable) or isinstance(nbunch, str):
            self._dag.node_id(nbunch)  # raises, naming it
        return (self._dag.node_id(n) for n in list(nbunch) if n in self._dag)

    def adjacency(self) -> Iterator[tuple[str, _Neighbors]]:
        """``(id, {child id: edge record})`` for every node."""
        return ((n, self.succ[n]) for n in list(self._dag._store))

    def out_edges(self, nbunch: Any = None, data: bool | str = False, default: Any = None) -> Any:
        return self.edges(nbunch, data, default)

    def in_edges(self, nbunch: Any = None, data: bool | str = False, default: Any = None) -> Any:
        dag = self._dag
        children = set(dag._store.nodes if nbunch is None else _ids(dag, nbunch))
        return [e for e in self.edges(None, data, default) if e[1] in children]

    def number_of_nodes(self) -> int:
        return len(self._dag._store)

    order = number_of_nodes

    def number_of_edges(self, u: Any = None, v: Any = None) -> int:
        if u is None:
            return len(self.edges)
        return int(self.has_edge(u, v))

    def size(self) -> int:
        return len(self.edges)

    def is_directed(self) -> bool:
        return True

    def is_multigraph(self) -> bool:
        return False

    def __len__(self) -> int:
        return len(self._dag._store)

    def __iter__(self) -> Iterator[str]:
        return iter(self._dag._store)

    def __contains__(self, ref: object) -> bool:
        return ref in self._dag

    def __getitem__(self, ref: Any) -> _Neighbors:
        return self.succ[ref]

    def __repr__(self) -> str:
        return f"<graph of {self._dag!r}>"
