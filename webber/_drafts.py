"""Node records made by the 100,000: what ``add_node`` makes per call.

A Node is frozen, so its slots can only be set through their descriptors, a
call each (about 50 ns). :func:`make_node` sets them with plain stores on a
draft of the same layout and gives it its class at the end: half the cost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from webber._graph import Node, TaskOptions, _Record

__all__ = ["make_node"]

_new_object = object.__new__


def make_node(
    id: str,
    options: TaskOptions,
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    deps: tuple[str | Callable[..., Any], ...],
    fan_out: bool = False,
) -> Node:
    """``Node(id, options, func, args, kwargs, fan_out=fan_out, deps=deps)``,
    the other flags at their defaults, for half the cost. Each node keeps
    the ``kwargs`` it is given: no dict is shared between nodes,
    even an empty one, since a record's dict can be changed in place
    (``get_node(n)["kwargs"]``, as in webber 0.4.0) and that must not reach
    another node.

    >>> from webber._graph import Node, plain_options
    >>> make_node("len-1", plain_options("len"), len, ("ab",), {}, ()) == Node(
    ...     "len-1", plain_options("len"), len, ("ab",))
    True
    """
    node = _new_object(_Draft)
    node.id = id
    node.options = options
    node.func = func
    node.args = args
    node.kwargs = kwargs
    node.skip = False
    node.skip_as_failure = False
    node.fan_out = fan_out
    node.partial = False
    node.fan_out_slot = 0
    node.fan_out_zip = False
    node.deps = deps
    node.__class__ = Node  # type: ignore[assignment]
    return node  # type: ignore[return-value]


class _Draft(_Record):
    """A Node under construction: the same slots (so that ``__class__`` may
    be set to Node, which allocates nothing: a Node has no ``__dict__``),
    without the frozen check (see the module's doc)."""

    __slots__ = Node.__slots__
    id: str
    options: TaskOptions
    func: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    skip: bool
    skip_as_failure: bool
    fan_out: bool
    partial: bool
    fan_out_slot: int | str
    fan_out_zip: bool
    deps: tuple[str | Callable[..., Any], ...]
