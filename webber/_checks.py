"""The rules a node and the edges between nodes must follow, in one place.

``compile()`` applies them to the whole graph; the DAG API and the graph store
apply the same ones to each node and edge they change, so a bad call fails at
its own line.
"""

from __future__ import annotations

from collections.abc import Mapping

from webber._errors import CycleError, TaskDefinitionError
from webber._graph import Node, TaskOptions

__all__ = ["check_node", "cycle_error"]


def check_node(node: Node, checked: set[int] | None = None) -> None:
    """Raise TaskDefinitionError naming the task if it cannot run as set.
    ``checked`` holds the ids of TaskOptions records already checked."""
    if not callable(node.func):
        raise TaskDefinitionError(
            f"task {node.id!r}: {type(node.func).__name__} {node.func!r} is not callable; "
            f"add_node() takes the function first, then its arguments"
        )
    options = node.options
    # a task's nodes share one record: check it once
    if checked is None or id(options) not in checked:
        if not isinstance(options, TaskOptions):
            raise TaskDefinitionError(f"task {node.id!r}: options={options!r} is not a TaskOptions")
        options.check(node.id)
        if checked is not None:
            checked.add(id(options))
    for flag in ("skip", "skip_as_failure", "fan_out"):
        if not isinstance(getattr(node, flag), bool):
            raise TaskDefinitionError(
                f"task {node.id!r}: {flag}={getattr(node, flag)!r} must be True or False"
            )


def cycle_error(
    cycle: list[str], nodes: Mapping[str, Node], edge: tuple[str, str] | None = None
) -> CycleError:
    """The error for ``cycle`` (ids in edge order, the first repeated last);
    ``edge`` is the edge being added that would close it, if any."""
    # graphlib returns the cycle in edge order with the first node repeated
    # last; start it at the earliest-added node so the message is stable.
    ring = cycle[:-1]
    index = {n: i for i, n in enumerate(nodes)}
    start = min(range(len(ring)), key=lambda i: index[ring[i]])
    ring = ring[start:] + ring[:start]
    path = [*ring, ring[0]]
    names = " -> ".join(path)
    if edge is not None and len(ring) == 1:
        message = (
            f"edge {edge[0]} -> {edge[1]} would make task {ring[0]!r} depend on itself "
            f"({names}); the edge was not added"
        )
    elif edge is not None:
        message = (
            f"edge {edge[0]} -> {edge[1]} would close the cycle {names}: a task cannot "
            f"wait for its own result; the edge was not added"
        )
    elif len(ring) == 1:
        message = f"task {ring[0]!r} depends on itself ({names}); remove the self-edge"
    else:
        message = (
            f"the graph has a cycle: {names}; a task cannot wait for its own result: "
            f"remove one of these edges (remove_edge)"
        )
    return CycleError(message, path)
