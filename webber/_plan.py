"""Plan: a validated graph in topological levels, what the engine runs (plain data).

``compile()`` (``_compile.py``) makes it; the engine, the executors' checks,
diagrams, the timeline and ``resume=`` read it. A Plan holds no authoring
objects: arguments name their parents with :class:`~webber._refs.Ref`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import FrozenInstanceError, dataclass
from typing import Any

from webber._graph import Condition, Node, TaskOptions

__all__ = ["Plan", "PlanNode"]

_set = object.__setattr__


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

    def __reduce__(self) -> tuple[Any, ...]:
        # The parents of a root are compile's shared read-only mapping, a
        # mappingproxy, which the standard pickle cannot write: sent as a dict.
        parents = self.parents if self.parents.__class__ is dict else dict(self.parents)
        return (PlanNode, (self.node, self.args, self.kwargs, parents, self.children,
                           self.deps, self.level, self.next_link))

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


class Plan:
    """A validated graph, in topological levels: what the engine runs.

    ``levels[k]`` lists the ids of the nodes whose parents all sit in earlier
    levels (in the order they were added). ``print(plan)`` shows one line per level.

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

    __slots__ = ("_levels", "name", "nodes")
    name: str
    nodes: Mapping[str, PlanNode]
    _levels: list[list[str]] | None

    def __init__(self, name: str, nodes: Mapping[str, PlanNode]) -> None:
        _set(self, "name", name)
        _set(self, "nodes", nodes)
        _set(self, "_levels", None)

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    @property
    def levels(self) -> list[list[str]]:
        """The ids by level, made from the nodes' levels when first read: the
        engine does not need them (a chain of 100,000 would make as many lists)."""
        if self._levels is None:
            levels: list[list[str]] = []
            for n, node in self.nodes.items():
                k = node.level
                while len(levels) <= k:
                    levels.append([])
                levels[k].append(n)
            _set(self, "_levels", levels)
            return levels
        return self._levels

    def __len__(self) -> int:
        return len(self.nodes)

    def __repr__(self) -> str:
        return f"Plan(name={self.name!r}, nodes={self.nodes!r}, levels={self.levels!r})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Plan:
            return NotImplemented
        return (self.name, self.nodes, self.levels) == (other.name, other.nodes, other.levels)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Plan, (self.name, self.nodes))

    __hash__ = None  # type: ignore[assignment]  # (as the dataclass it was: eq, not hashable)

    def __str__(self) -> str:
        lines = [
            f"Plan {self.name!r}: {len(self.nodes)} task{'s' * (len(self.nodes) != 1)} "
            f"in {len(self.levels)} level{'s' * (len(self.levels) != 1)}"
        ]
        lines += [f"  level {k}: {', '.join(ids)}" for k, ids in enumerate(self.levels)]
        return "\n".join(lines)
