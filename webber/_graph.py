"""Nodes, edges and conditions: the graph as plain data.

The records here are frozen dataclasses with ``__slots__``: printable,
comparable, and a typo (``node.retires``) raises AttributeError instead of
returning None. The DAG in ``_flow.py`` stores them; ``_compile.py`` lowers
them to a Plan. Nothing here runs anything.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from webber._promise import find_promises

__all__ = ["Condition", "Edge", "Node", "display_name", "qualified_name", "slug"]


class Condition(enum.Enum):
    """When a child runs, given its parent's final state.

    ``Success`` (the default) needs the parent to succeed, ``Failure`` needs it
    to fail, ``AnyCase`` accepts any final state (success, failure or skip).

    >>> from webber import DAG, Condition
    >>> dag = DAG()
    >>> risky = dag.add_node(int, "not a number")
    >>> handler = dag.add_node(print, "cleaning up")
    >>> dag.add_edge(risky, handler, continue_on=Condition.Failure)
    """

    Success = "success"
    Failure = "failure"
    AnyCase = "anycase"

    def __repr__(self) -> str:
        return f"Condition.{self.name}"


@dataclass(frozen=True, slots=True)
class Node:
    """One task of a graph, as ``dag.get_node(id)`` returns it.

    ``deps`` lists the keys of the Promises found in ``args`` and ``kwargs``:
    the nodes whose results this one receives.

    >>> from webber import DAG, Promise
    >>> dag = DAG()
    >>> a = dag.add_node(len, "abc")
    >>> b = dag.add_node(print, Promise(a), sep="")
    >>> node = dag.get_node(b)
    >>> node.name, node.deps, node.kwargs, node.retries
    ('print', ('len-1',), {'sep': ''}, 0)
    """

    id: str
    name: str
    func: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    retries: int = 0
    retry_delay: float = 0.0
    retry_backoff: float = 1.0
    timeout: float | None = None
    skip: bool = False
    skip_as_failure: bool = False
    map: bool = False
    #: a fan-out whose failed elements leave their exception in the results
    partial: bool = False
    #: where a fan-out's items are, and its element goes: a position in
    #: ``args`` or a name in ``kwargs`` (``Task.map``: 0; IterPromise: its place)
    map_slot: int | str = 0
    #: the slot holds a tuple of sources, zipped (``IterPromise(a, b, zip=True)``)
    map_zip: bool = False
    deps: tuple[str | Callable[..., Any], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.args and not self.kwargs:
            object.__setattr__(self, "deps", ())
            return
        keys: dict[Any, None] = {}  # ordered set; callables hash by identity
        for promise in find_promises((self.args, self.kwargs)):
            keys[promise.key] = None
        object.__setattr__(self, "deps", tuple(keys))


@dataclass(frozen=True, slots=True)
class Edge:
    """A dependency ``parent -> child``, as ``dag.get_edge(u, v)`` returns it.

    ``data`` is True when the child receives the parent's result (a Promise
    argument), False for an ordering-only edge (``a >> b``).

    >>> from webber import DAG, Condition, Promise
    >>> dag = DAG()
    >>> a = dag.add_node(len, "abc")
    >>> b = dag.add_node(print, Promise(a))
    >>> dag.get_edge(a, b)
    Edge(parent='len-1', child='print-1', continue_on=Condition.Success, data=True)
    """

    parent: str
    child: str
    continue_on: Condition = Condition.Success
    data: bool = False


_UNSAFE = re.compile(r"[^A-Za-z0-9_.]+")


def _unwrap(func: Callable[..., Any]) -> Callable[..., Any]:
    while hasattr(func, "func") and not hasattr(func, "__name__"):  # functools.partial
        func = func.func
    return func


def display_name(func: Callable[..., Any]) -> str:
    """The name a task shows in logs and diagrams: ``load``, ``lambda``, ``print``."""
    func = _unwrap(func)
    name = getattr(func, "__name__", None) or type(func).__name__
    return name.strip("<>") or "task"


def qualified_name(func: Callable[..., Any]) -> str:
    """``package.module.function`` (or the type of a callable object), for
    descriptions of a graph: ``builtins.print``, ``__main__.main.<locals>.f``."""
    target: Any = _unwrap(func)
    if not hasattr(target, "__qualname__"):
        target = type(target)
    module = getattr(target, "__module__", None)
    return f"{module}.{target.__qualname__}" if module else str(target.__qualname__)


def slug(name: str) -> str:
    """``name`` made safe for ids: ``<lambda>`` -> ``lambda``, ``a b`` -> ``a_b``."""
    return _UNSAFE.sub("_", name).strip("_") or "task"
