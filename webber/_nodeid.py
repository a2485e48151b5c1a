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
    """Who handed out an id: one per DAG, shared by all its ids (one pointer each)."""

    __slots__ = ("__weakref__", "label", "ref", "uid")

    def __init__(self, dag: DAG) -> None:
        self.uid: int = dag._uid
        self.label: str = dag._label()
        self.ref: weakref.ReferenceType[DAG] = weakref.ref(dag)

    @property
    def origin(self) -> tuple[int, str]:
        """What a Promise records about its flow: (uid, label)."""
        return (self.uid, self.label)


class NodeId(str):
    """A node id that remembers the DAG that returned it.

    >>> import json, pickle, webber
    >>> n = webber.DAG().add_node(print)
    >>> n == "print-1", isinstance(n, str), json.dumps(n)
    (True, True, '"print-1"')
    >>> type(pickle.loads(pickle.dumps(n))) is str
    True
    """

    _owner: Owner
    #: the plain string the graph keys its node by: a dict finds an exact str
    #: key on its fast path (a str subclass takes the slow, generic one)
    _plain: str

    def __new__(cls, value: str, owner: Owner) -> NodeId:
        self = super().__new__(cls, value)
        self._owner = owner
        self._plain = value
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        # Shipped to a worker or saved: just the string (the DAG stays here).
        return (str, (str(self),))

    def __copy__(self) -> NodeId:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> NodeId:
        return self
