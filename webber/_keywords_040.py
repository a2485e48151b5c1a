"""webber 0.4.0's keyword names for the graph methods' parameters.

0.4.0 named them after networkx (``remove_edge(u_of_edge=..., v_of_edge=...)``,
``filter_nodes(filter=...)``, ``retry_node(identifier=..., count=...)``); this
webber names them for what they are (``parent``, ``child``, ``predicate``,
``ref``). Code written for 0.4.0 that passes them by keyword runs unchanged:
:func:`takes_040_keywords` lets each method take the old name for the new,
one dictionary of names for every class that has those methods. Passing both
names is the error Python gives for an argument passed twice.

The same class decorator makes ``run`` and ``execute`` tell a misspelled
option (``run(exector=...)``) with the one meant (see ``_keywords``).

Not ``add_edge``: it is called once per edge of 100,000-edge builds, and the
wrapper costs 0.4-0.65 us a call (11-15% of a link's build); 0.4.0 code passes
its two nodes by position there, as its README does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from webber._keywords import tells_keywords

__all__ = ["RENAMED", "TOLD", "takes_040_keywords"]

C = TypeVar("C", bound=type)

#: method -> {0.4.0's keyword: this webber's}
RENAMED: Mapping[str, Mapping[str, str]] = {
    "critical_path": {"nodes": "refs"},
    "filter_edges": {"filter": "predicate"},
    "filter_nodes": {"filter": "predicate"},
    "get_edge": {"outgoing_node": "parent", "incoming_node": "child"},
    "get_node": {"n": "ref"},
    "relabel_node": {"node": "ref"},
    "remove_edge": {"u_of_edge": "parent", "v_of_edge": "child"},
    "retry_node": {"identifier": "ref"},
    "skip_node": {"identifier": "ref"},
}


#: the methods whose misspelled keywords are told (the ways to run a graph)
TOLD = ("execute", "run")


def takes_040_keywords(cls: C) -> C:
    """``cls`` with each of its own methods named in :data:`RENAMED` taking
    0.4.0's keywords too (a class decorator)."""
    for name, names in RENAMED.items():
        method = cls.__dict__.get(name)
        if method is not None:
            setattr(cls, name, _renamed(method, names))
    for name in TOLD:
        method = cls.__dict__.get(name)
        if method is not None:
            setattr(cls, name, tells_keywords("option")(method))
    return cls


def _renamed(method: Callable[..., Any], names: Mapping[str, str]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs and not names.keys().isdisjoint(kwargs):
            for old in names.keys() & kwargs.keys():
                new = names[old]
                if new in kwargs:
                    raise TypeError(f"{method.__qualname__}() got {old}= and {new}=, two "
                                    f"names of one argument ({old} is webber 0.4.0's): "
                                    f"pass one")
                kwargs[new] = kwargs.pop(old)
        return method(self, *args, **kwargs)

    return call
