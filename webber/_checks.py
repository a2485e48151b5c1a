"""The rules a node and the edges between nodes must follow, in one place.

``compile()`` applies them to the whole graph; the DAG API and the graph store
apply the same ones to each node and edge they change, so a bad call fails at
its own line.
"""

from __future__ import annotations

import itertools
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
    if node.skip.__class__ is node.skip_as_failure.__class__ is node.fan_out.__class__ is bool:
        return  # (the common case, without a loop: compile() checks every node)
    for flag in ("skip", "skip_as_failure", "fan_out"):
        if not isinstance(getattr(node, flag), bool):
            raise TaskDefinitionError(
                f"task {node.id!r}: {flag}={getattr(node, flag)!r} must be True or False"
            )


def cycle_error(
    cycle: list[str],
    nodes: Mapping[str, Node],
    edge: tuple[str, str] | None = None,
    deps: Mapping[str, tuple[str, ...]] | None = None,
) -> CycleError:
    """The error for ``cycle`` (ids in edge order, the first repeated last);
    ``edge`` is the edge being added that would close it, if any; ``deps``
    (compile) tells which edges come from Promise arguments (child -> the
    parents whose results it takes)."""
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
    else:
        message = _cycle_message(ring, path, deps or {})
    return CycleError(message, path)


def _cycle_message(ring: list[str], path: list[str], deps: Mapping[str, tuple[str, ...]]) -> str:
    # An edge made by a Promise argument goes only with the argument:
    # remove_edge cannot remove it, so the fix named depends on the edges.
    names = " -> ".join(path)
    plain = [(u, v) for u, v in itertools.pairwise(path) if u not in deps.get(v, ())]
    if len(ring) == 1:
        fix = ("remove the self-edge" if plain else
               f"task {ring[0]!r} takes its own result as an argument: pass it something else")
        return f"task {ring[0]!r} depends on itself ({names}); {fix}"
    if plain:
        fix = "remove one of the edges added with add_edge or >>: " + ", ".join(
            f"remove_edge({u!r}, {v!r})" for u, v in plain
        )
    else:
        fix = ("every edge here comes from a Promise argument (each task takes the "
               "previous one's result): change one task's arguments so that it does not")
    return f"the graph has a cycle: {names}; a task cannot wait for its own result: {fix}"
