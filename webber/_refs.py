"""Ref, the runtime reference to a parent's result, and the walk over arguments.

``compile()`` lowers every authoring :class:`~webber.Promise` in a node's
arguments to a :class:`Ref` naming the parent by id: the Plan, the engine and
the workers hold Refs only, and import nothing of the authoring layer. Where
a task runs, each Ref is replaced by the parent's result.

:func:`find` and :func:`substitute` walk nested lists, tuples, sets, frozensets
and dicts (exact types: a subclass such as a namedtuple is passed through
untouched) with an explicit stack, so a 100,000-deep nested list costs no
recursion. The authoring layer walks for Promises with them, the runtime for
Refs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from collections.abc import Set as AbstractSet
from typing import Any, TypeVar

from webber._errors import TaskDefinitionError

__all__ = ["MANY_ITEMS", "NESTED_ITEMS", "SCALARS", "WALKED", "Ref", "find", "made_of",
           "scalars_only", "substitute", "walked"]

T = TypeVar("T")


class Ref:
    """The result of node ``id``, as a Plan's arguments hold it.

    >>> from webber._refs import Ref, substitute
    >>> substitute([Ref("a-1"), 2], Ref, lambda ref: ref.id.upper())
    ['A-1', 2]
    """

    __slots__ = ("id",)

    def __init__(self, id: str) -> None:
        self.id = id

    def __repr__(self) -> str:
        return f"Ref({self.id!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is Ref and other.id == self.id

    def __hash__(self) -> int:
        return hash((Ref, self.id))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Ref, (self.id,))


_SEQUENCES = (list, tuple, set, frozenset)
#: the exact types :func:`find` and :func:`substitute` look inside
WALKED = frozenset((*_SEQUENCES, dict))
#: what holds nothing to find: a large container of these alone is passed over
#: whole (its types read in C), not item by item (``map(range(100_000))``)
SCALARS: frozenset[type] = frozenset((int, float, complex, str, bytes, bool, type(None)))
#: containers from this many items on are first checked for scalars alone
MANY_ITEMS = 16


def scalars_only(items: Iterable[Any]) -> bool:
    """Whether every item of ``items`` (a container's) is a plain scalar."""
    return set(map(type, items)) <= SCALARS


#: most items :func:`made_of` reads before it gives up (a value then takes the
#: general path: as surely, only slower)
NESTED_ITEMS = 256


def made_of(obj: Any, kinds: AbstractSet[type], most: int = NESTED_ITEMS) -> bool:
    """Whether ``obj`` is of ``kinds``, or a list, tuple, dict (keys too), set
    or frozenset of such values or of such containers, with ``most`` items at
    most in all (``[1, 2]``, ``{"a": [1.5]}``: arguments as users most often
    write them). A container that holds itself exceeds the count."""
    stack = [obj]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind in kinds:
            continue
        if kind not in WALKED:
            return False
        most -= len(item)
        if most < 0:
            return False
        if kind is dict:
            stack += item
            stack += item.values()
        else:
            stack += item
    return True


def walked(value: Any) -> bool:
    """Whether :func:`find` and :func:`substitute` look inside ``value``."""
    return value.__class__ in WALKED


def _children(obj: Any) -> Iterator[Any]:
    return iter(obj.values()) if type(obj) is dict else iter(obj)


def find(obj: Any, kind: type[T]) -> list[T]:
    """Every instance of exactly ``kind`` inside ``obj``, in the order found."""
    found: list[T] = []
    stack = [obj]
    seen: set[int] = set()
    passed = kind not in SCALARS  # (whether a container of scalars can be passed over)
    while stack:
        item = stack.pop()
        item_kind = type(item)
        if item_kind is kind:
            found.append(item)
        elif (item_kind in _SEQUENCES or item_kind is dict) and id(item) not in seen:
            seen.add(id(item))  # a self-containing list must not loop
            children = list(_children(item))
            if not (passed and len(children) >= MANY_ITEMS and scalars_only(children)):
                stack.extend(reversed(children))
    return found


def substitute(obj: Any, kind: type[T], replace: Callable[[T], Any]) -> Any:
    """A copy of ``obj`` with every instance of exactly ``kind`` replaced by
    ``replace(it)``.

    Like :func:`copy.deepcopy`, a container met twice is copied once, so a list
    that contains itself becomes a new list that contains itself (not a loop).
    """
    top = type(obj)
    if top is kind:
        return replace(obj)
    if not (top in _SEQUENCES or top is dict):
        return obj
    # Copies by id(original). Lists and dicts are created empty when first met and
    # filled in place, so a reference back to one resolves to its copy; tuples and
    # sets are built when complete, so a cycle back into one cannot be rebuilt.
    copies: dict[int, Any] = {}
    keep = [obj]  # the originals stay alive while their ids are keys
    open_ids = {id(obj)}  # the containers on the stack
    result: Any = None
    # Each frame: the original container, an iterator over its items, the new items.
    stack: list[tuple[Any, Iterator[Any], list[Any]]] = [(obj, _children(obj), [])]
    if top is list or top is dict:
        copies[id(obj)] = top()
    while stack:
        original, items, built = stack[-1]
        for item in items:
            item_kind = type(item)
            if item_kind is kind:
                built.append(replace(item))
            elif item_kind in _SEQUENCES or item_kind is dict:
                if id(item) in copies:
                    built.append(copies[id(item)])
                    continue
                if id(item) in open_ids:
                    raise TaskDefinitionError(
                        f"an argument contains itself through a {item_kind.__name__} and "
                        f"holds a {kind.__name__}: webber cannot rebuild it with the value in "
                        f"place; make the cycle go through lists or dicts only"
                    )
                keep.append(item)
                open_ids.add(id(item))
                if item_kind is list or item_kind is dict:
                    copies[id(item)] = item_kind()
                stack.append((item, _children(item), []))
                break
            else:
                built.append(item)
        else:
            stack.pop()
            open_ids.discard(id(original))
            result = _rebuild(original, built, copies)
            if stack:
                stack[-1][2].append(result)
    del keep
    return result


def _rebuild(original: Any, built: list[Any], copies: dict[int, Any]) -> Any:
    kind = type(original)
    if kind is dict:
        value: Any = copies[id(original)]
        value.update(zip(original.keys(), built, strict=True))
    elif kind is list:
        value = copies[id(original)]
        value.extend(built)
    else:
        value = kind(built)
        copies[id(original)] = value
    return value
