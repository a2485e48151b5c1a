"""NodeId: the id ``add_node`` returns -- a ``str`` that remembers its DAG.

Ids are readable and repeat across graphs (``lambda-1`` in each), so a plain
string cannot tell which graph it came from: ``Promise(a)`` of one DAG used in
another would silently bind to that DAG's node of the same id. A NodeId is
equal to, hashes like, prints, serializes (JSON) and pickles as the plain
string, and carries its DAG's :class:`Owner`; the DAG API and Run check it and
raise :class:`~webber.ForeignPromiseError` naming both graphs. A plain string
is taken at its word, in any graph.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from webber._flow import DAG

__all__ = ["NodeId", "Owner"]


class Owner:
    """Who handed out an id: one per DAG. Its ids are instances of ``cls``, a
    subclass of NodeId made for this DAG that holds the owner as a class
    attribute: an id then carries no ``__dict__``. (It is still tracked by the
    cyclic GC, as every instance of a class made in Python is, 3.10 to 3.13.)"""

    __slots__ = ("__weakref__", "cls", "label", "name", "origin", "ref", "uid")

    def __init__(self, dag: DAG) -> None:
        self.uid: int = dag._uid
        self.name: str = dag.name  # the name ``label`` was made from
        self.label: str = dag._label()
        #: what a Promise records about its flow: (uid, label); one tuple for all
        self.origin: tuple[int, str] = (self.uid, self.label)
        self.ref: weakref.ReferenceType[DAG] = weakref.ref(dag)
        self.cls: type[NodeId] = type("NodeId", (NodeId,), {"__slots__": (), "_owner": self})


class NodeId(str):
    """A node id that remembers the DAG that returned it.

    >>> import json, pickle, webber
    >>> n = webber.DAG().add_node(print)
    >>> n == "print-1", isinstance(n, str), json.dumps(n)
    (True, True, '"print-1"')
    >>> type(pickle.loads(pickle.dumps(n))) is str
    True
    """

    __slots__ = ()
    _owner: Owner  # set on each DAG's subclass (Owner.cls)

    @property
    def _plain(self) -> str:
        """The plain string (what the graph keys its node by)."""
        return str.__str__(self)

    def __reduce__(self) -> tuple[Any, ...]:
        # Shipped to a worker or saved: just the string (the DAG stays here).
        return (str, (str(self),))

    def __copy__(self) -> NodeId:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> NodeId:
        return self
