"""Promise: a stand-in for the result of a node that has not run yet.

A Promise is what a task call returns inside ``with Flow():`` and what webber
0.4.0's API builds with ``Promise(node_id)``. Passed as an argument (also
nested in lists, tuples, sets and dicts), it records an edge. It is an
authoring object only: ``compile()`` lowers it to a runtime
:class:`~webber._refs.Ref`, which is replaced by the parent's value where the
task runs.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from webber import _context
from webber._graph import Condition
from webber._nodeid import NodeId
from webber._refs import find

if TYPE_CHECKING:
    from webber._flow import DAG

__all__ = ["Promise", "any_case", "find_promises", "on_failure"]

T = TypeVar("T")


class Promise:
    """The future result of a node, usable as an argument of another node.

    ``Promise(key)`` takes a node id, a callable (the node that runs it), or a
    Promise. Inside ``with Flow():`` task calls return Promises bound to that
    flow; using one in another flow is an error.

    >>> from webber import DAG, Promise
    >>> dag = DAG()
    >>> hello = dag.add_node(lambda: "Hello")
    >>> shout = dag.add_node(str.upper, Promise(hello))
    >>> dag.run(executor="inline")[shout]
    'HELLO'
    """

    __slots__ = ("__weakref__", "_flow", "_origin", "condition", "key")

    key: str | Callable[..., Any]
    #: the condition of the edge this argument records (None: Success);
    #: set by :func:`any_case` and :func:`on_failure`
    condition: Condition | None
    _flow: weakref.ReferenceType[DAG] | None
    #: (uid, label) of the recording flow: outlives the flow, for error messages
    _origin: tuple[int, str] | None

    def __init__(self, key: str | Callable[..., Any] | Promise) -> None:
        self.condition = None
        if isinstance(key, Promise):
            self.key, self._flow, self._origin = key.key, key._flow, key._origin
            self.condition = key.condition
        elif isinstance(key, NodeId):  # an id add_node returned: bound to its DAG
            owner = key._owner
            self.key, self._flow, self._origin = str(key), owner.ref, owner.origin
        elif isinstance(key, str) or callable(key):
            self.key, self._flow, self._origin = key, None, None
        else:
            raise TypeError(
                f"Promise() takes a node id (str), a callable or a Promise, not "
                f"{type(key).__name__} {key!r}; pass the id that add_node() returned"
            )

    @classmethod
    def _bound(cls, node_id: str, flow: DAG) -> Promise:
        promise = cls(node_id)
        promise._flow = weakref.ref(flow)
        promise._origin = (flow._uid, flow._label())
        return promise

    @property
    def _webber_key(self) -> str | Callable[..., Any]:
        # The node-reference protocol of the graph store (see _store.node_key).
        return self.key

    @property
    def flow(self) -> DAG | None:
        """The flow that recorded this Promise, or None for ``Promise(id)``."""
        return self._flow() if self._flow is not None else None

    def __repr__(self) -> str:
        key = self.key if isinstance(self.key, str) else getattr(self.key, "__name__", self.key)
        if self.condition is not None:
            return f"{_WORDS[self.condition]}(Promise({key!r}))"
        return f"Promise({key!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # The flow reference is build-time only; a shipped Promise is just its key.
        return (Promise, (self.key,))

    # -- ordering-only edges: a >> b, a >> [b, c], [a, b] >> c -------------------
    def __rshift__(self, other: Any) -> Any:
        _flow_for(self, other).add_edge_many([self], _as_list(other))
        return other

    def __rrshift__(self, other: Any) -> Promise:
        _flow_for(self, other).add_edge_many(_as_list(other), [self])
        return self

    # -- refuse what a value would do, with a hint -------------------------------
    def __bool__(self) -> NoReturn:
        raise TypeError(
            f"{self!r} has no value yet: the flow is being built, not run. To branch "
            f"on a result, put the `if` inside a task, or use edges with "
            f"continue_on=Condition.Failure / AnyCase"
        )

    def __iter__(self) -> NoReturn:
        raise TypeError(
            f"{self!r} cannot be iterated while the flow is being built; to run a task "
            f"per element, use my_task.map({self!r})"
        )

    def __len__(self) -> NoReturn:
        raise TypeError(f"{self!r} has no length while the flow is being built")


def _conditioned(value: Any, condition: Condition, word: str) -> Promise:
    if not isinstance(value, Promise):
        raise TypeError(
            f"webber.{word}() takes the result of a task call inside `with Flow():` (or a "
            f"Promise), not {type(value).__name__} {value!r}; it marks the edge from that "
            f"task as Condition.{condition.name}"
        )
    marked = Promise(value)
    marked.condition = condition
    return marked


def any_case(value: T) -> T | BaseException | None:
    """Pass a task's result on whatever becomes of the task: the child runs
    after it succeeds (getting its value), fails (getting its exception) or
    is skipped (getting None). Records the edge with ``Condition.AnyCase``.

    >>> import webber
    >>> from webber import Flow, task
    >>> @task
    ... def load() -> int:
    ...     raise ConnectionError("down")
    >>> @task
    ... def report(result: int | BaseException | None) -> str:
    ...     return f"load gave {result!r}"
    >>> with Flow() as flow:
    ...     done = report(webber.any_case(load()))
    >>> flow.run(executor="inline")[done]
    "load gave ConnectionError('down')"
    """
    return _conditioned(value, Condition.AnyCase, "any_case")  # type: ignore[return-value]


def on_failure(value: object) -> BaseException:
    """Run the child only if the task fails, passing it the task's exception.
    Records the edge with ``Condition.Failure`` (when the task succeeds, the
    child is skipped).

    >>> import webber
    >>> from webber import Flow, task
    >>> fetch = task(lambda: 1 // 0, name="fetch")
    >>> alert = task(lambda error: f"paging: {error}", name="alert")
    >>> with Flow() as flow:
    ...     paged = alert(webber.on_failure(fetch()))
    >>> flow.run(executor="inline")[paged]
    'paging: integer division or modulo by zero'
    """
    return _conditioned(value, Condition.Failure, "on_failure")  # type: ignore[return-value]


_WORDS = {Condition.AnyCase: "any_case", Condition.Failure: "on_failure",
          Condition.Success: "Promise"}


def _as_list(obj: Any) -> list[Any]:
    return list(obj) if isinstance(obj, (list, tuple, set, frozenset)) else [obj]


def _flow_for(*objs: Any) -> DAG:
    for obj in objs:
        for item in _as_list(obj):
            if isinstance(item, Promise) and item.flow is not None:
                return item.flow
    flow = _context.active_flow.get()
    if flow is None:
        raise TypeError(
            "`a >> b` with Promise(id) needs an active flow: use it inside `with Flow():`"
        )
    return flow


def find_promises(obj: Any) -> list[Promise]:
    """Every Promise inside ``obj`` (lists, tuples, sets, dicts), in order found."""
    return find(obj, Promise)
