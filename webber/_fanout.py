"""A fan-out node's run (``task.map``, ``IterPromise``): its items, each
element's arguments, and its elements' results gathered into the node's.

The engine submits one job per element, or all of them as one column when
each takes plain positional arguments alone (:func:`element_column`), and
hands each element's end here; the node is final when the last element is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from webber._errors import TaskDefinitionError
from webber._plan import PlanNode
from webber._refs import Ref, find
from webber._task_errors import add_note
from webber.executors._base import Column, fetch
from webber.executors._pickling import plain

__all__ = ["FanOut", "element_column", "element_deps", "items_of"]


@dataclass(slots=True)
class FanOut:
    """The elements of one fan-out node still coming in."""

    #: the items, each replaced by its element's result as it comes in
    results: list[Any]
    remaining: int
    #: the first element's error, by index (the node fails with it unless partial)
    error: BaseException | None = None
    error_index: int = -1
    #: elements that failed for good so far: past a few, their failures are not
    #: logged; with ``partial=True``, any keeps the node out of the cache
    failures: int = 0
    #: the parents whose results an element's arguments take (element_deps)
    deps: tuple[str, ...] = ()

    def arguments(self, node: PlanNode, index: int) -> tuple[tuple[Any, ...], Mapping[str, Any]]:
        """Element ``index``'s arguments: its item where the items were
        (``fan_out_slot``)."""
        args, kwargs = node.args, node.kwargs
        element, slot = self.results[index], node.node.fan_out_slot
        if isinstance(slot, int):
            return (*args[:slot], element, *args[slot + 1:]), kwargs
        return args, {**kwargs, slot: element}

    def succeeded(self, index: int, value: Any) -> bool:
        """Element ``index`` succeeded; whether it was the last."""
        self.results[index] = value
        self.remaining -= 1
        return self.remaining == 0

    def succeeded_from(self, first: int, values: Sequence[Any]) -> bool:
        """Elements ``first``, ``first + 1``, ... succeeded with ``values``
        (a column's); whether they were the last."""
        self.results[first:first + len(values)] = values
        self.remaining -= len(values)
        return self.remaining == 0

    def failed(self, node: PlanNode, index: int, attempt: int, error: BaseException) -> bool:
        """Element ``index`` failed for good; whether it was the last. With
        ``partial=True`` its exception takes its place among the results."""
        add_note(error, f"webber: element {index} (counting from 0) of the fan-out of "
                        f"task {node.id!r} failed after {attempt} attempt"
                        f"{'s' * (attempt != 1)}")
        self.failures += 1
        if node.node.partial:
            self.results[index] = error  # the node succeeds with the rest
        elif self.error is None or index < self.error_index:
            self.error, self.error_index = error, index
        self.remaining -= 1
        return self.remaining == 0


def element_column(node: PlanNode, fan: FanOut) -> Column | None:
    """Fan-out ``node``'s elements as one Column (no Job per element: a
    ``map`` over 100,000 items) when each takes plain positional arguments
    alone, with no input and no timeout; else None."""
    slot = node.node.fan_out_slot
    if fan.deps or node.kwargs or node.options.timeout is not None or not isinstance(slot, int):
        return None
    if len(node.args) == 1:  # (most maps: the items are the only argument)
        rows = [(item,) for item in fan.results]
    else:
        before, after = node.args[:slot], node.args[slot + 1:]
        rows = [(*before, item, *after) for item in fan.results]
    if not plain(tuple(rows)):
        return None
    return Column(node.func, node.name, [node.id] * len(rows), rows, element=0)


def element_deps(node: PlanNode) -> tuple[str, ...]:
    """The parents whose results each element of fan-out ``node`` takes: not
    the items' (an element gets its item, not the list: sent with every job,
    the list made a wide fan-out quadratic), unless another argument takes it."""
    slot = node.node.fan_out_slot
    rest: Any
    if isinstance(slot, int):
        source, rest = node.args[slot], (node.args[:slot], node.args[slot + 1:], node.kwargs)
    else:
        source, rest = node.kwargs[slot], (node.args, {**node.kwargs, slot: None})
    # Items listed in the flow may be Promises themselves: an element takes those.
    listed = [s for s in (source if node.node.fan_out_zip else (source,)) if s.__class__ is not Ref]
    taken = {ref.id for ref in find((rest, listed), Ref)}
    return tuple(u for u in node.deps if u in taken)


def items_of(node: PlanNode, values: Mapping[str, Any]) -> list[Any] | TaskDefinitionError:
    """The items fan-out ``node`` runs over, its parents' results in ``values``;
    or the error to fail it with when they are not iterable."""
    slot = node.node.fan_out_slot
    source = node.args[slot] if isinstance(slot, int) else node.kwargs[slot]

    def items(source: Any) -> Any:
        if isinstance(source, Ref):
            # The list is known only now; a result kept remote is needed here.
            return fetch(values[source.id])
        return source

    try:
        if node.node.fan_out_zip:  # IterPromise(a, b, zip=True): tuples, the shortest wins
            return list(zip(*(list(items(s)) for s in source), strict=False))
        return list(items(source))
    except Exception as e:
        parents = [s.id for s in (source if node.node.fan_out_zip else (source,))
                   if isinstance(s, Ref)]
        made = f"make {', '.join(map(repr, parents))} return one" if parents else "pass one"
        return TaskDefinitionError(
            f"task {node.id!r}: .map() needs an iterable, got "
            f"{type(items(source)).__name__}: {e} (an IterPromise's source too); "
            f"{made}, such as a list"
        )
