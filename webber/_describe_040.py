"""Graphs that webber 0.4.0 wrote with ``to_json()``/``to_dict()``, read back.

Its format, beside this webber's own (``_describe``)::

    {"version": "0.4",
     "nodes": [{"id": "load__<uuid>", "name": "load", "args": [...], "kwargs": {...},
                "skip": [skip, as_failure], "retry": count}, ...],
     "edges": [{"parent", "child", "condition": 0 | 1 | 3}, ...]}

Arguments are JSON values; ``{"__promise__": id}`` is a Promise. Functions are
not written: each node's comes from ``registry[name]``, else from the
attribute ``name`` of ``module``. As 0.4.0 did, the nodes get fresh ids
(returned by ``add_node``, shown with their old names), and Promises and edges
follow them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

from webber._errors import FormatError
from webber._graph import Condition
from webber._promise import Promise

if TYPE_CHECKING:
    from webber._flow import DAG

__all__ = ["is_040", "load_040"]

D = TypeVar("D", bound="DAG")
_PROMISE = "__promise__"


def is_040(data: dict[str, Any]) -> bool:
    """Whether ``data`` is a graph as webber 0.4.0 wrote it."""
    return "format" not in data and data.get("version") == "0.4"


def load_040(cls: type[D], data: dict[str, Any],
             registry: Mapping[str, Callable[..., Any]] | None,
             module: ModuleType | None) -> D:
    """The graph 0.4.0's ``to_dict()`` described (see the module doc)."""
    nodes, edges = data.get("nodes", []), data.get("edges", [])
    if not isinstance(nodes, list) or not isinstance(edges, list):
        raise FormatError("\"nodes\" and \"edges\" must be lists")
    entries = [_entry(e) for e in nodes]
    funcs = {e["name"]: _function(e["name"], registry, module) for e in entries}
    missing = sorted(name for name, func in funcs.items() if func is None)
    if missing:
        raise FormatError(
            f"a graph written by webber 0.4.0 names its functions only: none found for "
            f"{', '.join(map(repr, missing))}; pass registry={{name: function, ...}} "
            f"(or module=the module that defines them) to from_json()/from_dict()"
        )
    dag = cls()
    fresh: dict[str, str] = {}  # 0.4.0's id -> this graph's
    for entry in entries:
        func = funcs[entry["name"]]
        assert func is not None
        n = fresh[entry["id"]] = str(dag.add_node(func))  # (its arguments below: all ids known)
        if getattr(func, "__name__", None) != entry["name"]:
            dag.relabel_node(n, entry["name"])
        skip = entry.get("skip")
        if skip:
            dag.skip_node(n, skip=bool(skip[0]), as_failure=bool(skip[1:2] and skip[1]))
        if entry.get("retry"):
            dag.retry_node(n, int(entry["retry"]))
    for entry in entries:
        args, kwargs = entry.get("args", []), entry.get("kwargs", {})
        if args or kwargs:
            dag._update(fresh[entry["id"]],
                        args=tuple(_decode(a, fresh, entry["id"]) for a in args),
                        kwargs={k: _decode(v, fresh, entry["id"]) for k, v in kwargs.items()})
    for edge in edges:
        try:
            parent, child = fresh[edge["parent"]], fresh[edge["child"]]
            condition = Condition(edge.get("condition", 0))
        except (KeyError, TypeError, ValueError) as e:
            raise FormatError(
                f"edge {edge!r}: needs the ids of two nodes of the graph and a \"condition\" "
                f"of {', '.join(f'{int(c)} ({c.name})' for c in Condition)} "
                f"({type(e).__name__}: {e})"
            ) from None
        dag.add_edge(parent, child, continue_on=condition)
    return dag


def _entry(entry: Any) -> dict[str, Any]:
    if not (isinstance(entry, dict) and isinstance(entry.get("id"), str)
            and isinstance(entry.get("name"), str)):
        raise FormatError(f"each node of a webber 0.4.0 graph needs a string \"id\" and "
                          f"\"name\"; got {entry!r:.200}")
    if not isinstance(entry.get("args", []), list) or not isinstance(entry.get("kwargs", {}),
                                                                      dict):
        raise FormatError(f"node {entry['id']!r}: \"args\" must be a list and \"kwargs\" an "
                          f"object", entry["id"])
    return entry


def _function(name: str, registry: Mapping[str, Callable[..., Any]] | None,
              module: ModuleType | None) -> Callable[..., Any] | None:
    if registry is not None and name in registry:
        return registry[name]
    found = getattr(module, name, None) if module is not None else None
    return found if callable(found) else None


def _decode(value: Any, fresh: Mapping[str, str], n: str) -> Any:
    if isinstance(value, dict) and _PROMISE in value:
        old = value[_PROMISE]
        if old not in fresh:
            raise FormatError(f"node {n!r}: its argument names node {old!r}, which the graph "
                              f"does not have", n)
        return Promise(fresh[old])
    return value
