"""Plan: a validated graph in topological levels, what the engine runs (plain data).

``compile()`` (``_compile.py``) makes it; the engine, the executors' checks,
diagrams, the timeline and ``resume=`` read it. A Plan holds no authoring
objects: arguments name their parents with :class:`~webber._refs.Ref`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from webber._graph import Condition, Node, TaskOptions

__all__ = ["Plan", "PlanNode"]


@dataclass(slots=True)
class PlanNode:
    """One node of a Plan: its graph record, and where it sits in the plan.

    Read-only by convention, not frozen: a frozen dataclass costs five times
    as much to create, and compile() makes one per node.
    """

    node: Node
    #: the arguments, with a Ref where each parent's result goes
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    #: parent id -> the condition of the edge from it
    parents: Mapping[str, Condition]
    children: tuple[str, ...]
    #: ids of the parents whose results the arguments take
    deps: tuple[str, ...]
    level: int
    #: the next link of a chain: the only child, when this node is its only
    #: parent; the executor may run it right after this one, where this one ran
    next_link: str | None = None

    @property
    def id(self) -> str:
        """The node's id."""
        return self.node.id

    @property
    def name(self) -> str:
        """The task's name."""
        return self.node.options.name

    @property
    def func(self) -> Callable[..., Any]:
        """The function the node runs."""
        return self.node.func

    @property
    def options(self) -> TaskOptions:
        """The task's settings (retries, timeout, ...)."""
        return self.node.options


@dataclass(frozen=True, slots=True)
class Plan:
    """A validated graph, in topological levels: what the engine runs.

    ``levels[k]`` lists the ids of the nodes whose parents all sit in earlier
    levels. ``print(plan)`` shows one line per level.

    >>> from webber import DAG, Promise
    >>> dag = DAG("p")
    >>> a, b = dag.add_node(len, "ab"), dag.add_node(len, "cd")
    >>> total = dag.add_node(max, Promise(a), Promise(b))
    >>> plan = dag.compile()
    >>> plan.levels, len(plan), plan.nodes[total].deps
    ([['len-1', 'len-2'], ['max-1']], 3, ('len-1', 'len-2'))
    >>> print(plan)
    Plan 'p': 3 tasks in 2 levels
      level 0: len-1, len-2
      level 1: max-1
    """

    name: str
    nodes: Mapping[str, PlanNode]
    levels: list[list[str]]

    def __len__(self) -> int:
        return len(self.nodes)

    def __str__(self) -> str:
        lines = [
            f"Plan {self.name!r}: {len(self.nodes)} task{'s' * (len(self.nodes) != 1)} "
            f"in {len(self.levels)} level{'s' * (len(self.levels) != 1)}"
        ]
        lines += [f"  level {k}: {', '.join(ids)}" for k, ids in enumerate(self.levels)]
        return "\n".join(lines)
