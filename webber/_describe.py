"""``flow.to_dict()`` / ``to_json()``: a graph's structure as plain data.

Nodes (id, name, function, settings, the nodes whose results they take) and
edges (condition, whether data passes); functions and arguments are named,
not included: for tools and docs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from webber._errors import WebberError
from webber._graph import OPTION_FIELDS, qualified_name

if TYPE_CHECKING:
    from webber._flow import DAG

__all__ = ["describe"]


def _setting(value: Any) -> Any:
    """A task setting as JSON data: ``retry_on`` classes and predicates by name."""
    if isinstance(value, tuple):
        return [qualified_name(v) for v in value]
    if callable(value):
        return qualified_name(value)
    return value


def describe(dag: DAG) -> dict[str, Any]:
    """What :meth:`DAG.to_dict <webber.DAG.to_dict>` returns."""

    def dep_name(key: Any) -> str:
        try:
            return dag.node_id(key)
        except (WebberError, TypeError):  # a forward reference, or one compile() would refuse
            return key if isinstance(key, str) else qualified_name(key)

    return {
        "name": dag.name,
        "nodes": [
            {
                "id": node.id,
                "name": node.name,
                "function": qualified_name(node.func),
                "inputs": [dep_name(key) for key in node.deps],
                "fan_out": node.fan_out,
                **{field: _setting(getattr(node.options, field)) for field in OPTION_FIELDS[1:]},
                "skip": node.skip,
                "skip_as_failure": node.skip_as_failure,
            }
            for node in dag.get_nodes()
        ],
        "edges": [
            {"parent": e.parent, "child": e.child, "continue_on": e.continue_on.name,
             "data": e.data}
            for e in dag.get_edges()
        ],
    }
