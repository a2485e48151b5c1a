"""Arguments that may hide a Promise where no result would take its place.

A result takes the place of a Promise in plain lists, tuples, sets and dicts'
values only (:func:`~webber._refs.substitute` rebuilds those exact types). In a
namedtuple or a dataclass, a dict's key, a subclass of those containers, a
deque or a numpy object array, a task would get the Promise itself and not
wait for its node: ``add_node``, a task call and ``update_nodes`` refuse it
(see ``_edits._check_containers``). Ordinary arguments cost a look-up by
exact type (:data:`LOOKED`).
"""

from __future__ import annotations

import sys
from collections import UserDict, UserList, deque
from typing import Any, Literal

from webber._bounded import remember
from webber._promise import IterPromise, Promise
from webber._refs import MANY_ITEMS, SCALARS, WALKED, scalars_only

__all__ = ["LOOKED", "hidden_promise", "looked_into", "nothing_hidden", "scalar_record"]

#: argument type -> whether add_node looks inside it (see :func:`looked_into`; read
#: directly on add_node's path, which asks it of every argument)
LOOKED: dict[type, bool] = {}


def looked_into(kind: type) -> bool:
    """Whether an argument of type ``kind`` is looked into as a node is added:
    a container whose Promises get results (lists, tuples, sets, dicts), an
    IterPromise, or a record (a namedtuple, a dataclass) or another container
    (a deque, an OrderedDict, a numpy array) that may hide a Promise (see
    :func:`hidden_promise`). Asked once per type."""
    known = LOOKED.get(kind)
    if known is None:
        known = remember(LOOKED, kind, kind in WALKED or issubclass(kind, IterPromise)
                         or bool(_shape(kind)), 4096)
    return known


def _record(kind: type) -> bool:
    return (issubclass(kind, tuple) and hasattr(kind, "_fields")) or hasattr(
        kind, "__dataclass_fields__")


#: containers a Promise may hide in, but for the exact WALKED types: their
#: subclasses and these. substitute() rebuilds the exact types only (a subclass's
#: __init__, a defaultdict's factory, a deque's maxlen would not survive a copy)
_CONTAINERS = (list, tuple, set, frozenset, dict, deque, UserList, UserDict)

_Shape = Literal["record", "mapping", "items", "array", ""]
#: type -> its :data:`_Shape` (see :func:`_shape`; issubclass of an ABC is slow)
_SHAPES: dict[type, _Shape] = {}


def _shape(kind: type) -> _Shape:
    """What a Promise could hide in, if ``kind`` is such a thing: a "record" (a
    namedtuple, a dataclass), a "mapping" (a dict subclass, a UserDict), "items"
    (a subclass of list, tuple, set or frozenset, a deque, a UserList), a numpy
    "array" (numpy is not imported for it: no array exists without it); else ""
    (a WALKED type, or a value that holds none)."""
    shape = _SHAPES.get(kind)
    if shape is None:
        numpy = sys.modules.get("numpy")
        if kind in WALKED:
            shape = ""
        elif _record(kind):
            shape = "record"
        elif issubclass(kind, (dict, UserDict)):
            shape = "mapping"
        elif issubclass(kind, _CONTAINERS):
            shape = "items"
        else:
            shape = "array" if numpy is not None and issubclass(kind, numpy.ndarray) else ""
        remember(_SHAPES, kind, shape, 4096)
    return shape


def scalar_record(obj: Any) -> bool:
    """Whether ``obj`` is a namedtuple or a dataclass whose fields all hold
    plain scalars: no Promise can hide in it (a task's ``Config(...)``)."""
    kind = obj.__class__
    if not _record(kind):
        return False
    if isinstance(obj, tuple):
        return set(map(type, obj)) <= SCALARS
    return all(type(getattr(obj, f, None)) in SCALARS for f in kind.__dataclass_fields__)


def nothing_hidden(obj: Any) -> bool:
    """Whether ``obj``, a record or another container a Promise could hide in
    (see :func:`_shape`), plainly holds none: its items all plain scalars, or
    an array with no object in its dtype (numbers are never looked at one by
    one)."""
    shape = _shape(obj.__class__)
    if shape == "array":
        return not obj.dtype.hasobject
    if shape == "mapping":
        return scalars_only(obj.keys()) and scalars_only(obj.values())
    if shape == "items":
        return scalars_only(obj)
    return shape == "record" and scalar_record(obj)


def _inside(holder: Any, shape: _Shape) -> list[Any]:
    """What ``holder``, of ``shape``, holds: a mapping's keys and values, an
    array's items if its dtype holds objects."""
    if shape == "record" and not isinstance(holder, tuple):
        return [getattr(holder, f, None) for f in holder.__dataclass_fields__]
    if shape == "array":
        return holder.ravel().tolist() if holder.dtype.hasobject else []
    if shape == "mapping":
        return [*holder.keys(), *holder.values()]
    return list(holder)


#: the fix for a Promise in a record or a dict's key
_OWN = "pass the Promise as an argument of its own and build what holds it in the task"


def _fix(holder: Any) -> str:
    """How to pass what ``holder`` holds so that results take its Promises' places."""
    shape, name = _shape(holder.__class__), holder.__class__.__name__
    if shape == "record":
        return _OWN
    if shape == "array":
        return f"pass a plain list (array.tolist()) and make the {name} in the task"
    plain = "dict" if shape == "mapping" else next(
        (p.__name__ for p in (tuple, frozenset, set) if isinstance(holder, p)), "list")
    return f"pass a plain {plain} ({plain}(...)) and make the {name} in the task"


def hidden_promise(obj: Any) -> tuple[str, Promise, str] | None:
    """The first Promise in ``obj`` that no result would take the place of,
    where it is ("inside a Config", "a key of a dict") and how to pass it
    instead: inside a namedtuple or a dataclass, a dict's key, or inside
    another container (a deque, an OrderedDict, a list subclass, a numpy
    object array): results take the place of Promises in plain lists, tuples,
    sets and dicts' values only, and a task would get the Promise itself.
    Looks through all of those."""
    stack: list[tuple[Any, Any]] = [(obj, None)]
    seen: set[int] = set()
    while stack:
        item, holder = stack.pop()
        kind = item.__class__
        if isinstance(item, Promise):
            if holder is not None:
                name = holder.__class__.__name__
                what = name if _shape(holder.__class__) == "record" else f"container of type {name}"
                return f"inside a {what}", item, _fix(holder)
        elif id(item) in seen:
            continue
        elif kind is dict:
            seen.add(id(item))
            for key in item:
                if isinstance(key, Promise):
                    return "a key of a dict", key, _OWN
            if len(item) < MANY_ITEMS or not scalars_only(item.values()):
                stack.extend((child, holder) for child in item.values())
        elif kind in WALKED:
            seen.add(id(item))
            if len(item) < MANY_ITEMS or not scalars_only(item):
                stack.extend((child, holder) for child in item)
        elif shape := _shape(kind):  # a record or another container
            seen.add(id(item))
            outer = item if holder is None else holder  # (the outermost names the place)
            stack.extend((child, outer) for child in _inside(item, shape))
    return None
