"""Promise: a stand-in for the result of a node that has not run yet.

A Promise is what a task call returns inside ``with Flow():`` and what the seed
API builds with ``Promise(node_id)``. Passed as an argument (also nested in
lists, tuples, sets and dicts), it records an edge, and at run time it is
replaced by the parent's value.

Both helpers here walk nested containers with an explicit stack, so a
100,000-deep nested list costs no recursion.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn

from webber import _context

if TYPE_CHECKING:
    from webber._flow import DAG

__all__ = ["IterPromise", "Promise", "find_promises", "substitute"]


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

    __slots__ = ("__weakref__", "_flow", "_origin", "key")

    key: str | Callable[..., Any]
    _flow: weakref.ReferenceType[DAG] | None
    #: (uid, label) of the recording flow: outlives the flow, for error messages
    _origin: tuple[int, str] | None

    def __init__(self, key: str | Callable[..., Any] | Promise) -> None:
        if isinstance(key, Promise):
            self.key, self._flow, self._origin = key.key, key._flow, key._origin
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
    def flow(self) -> DAG | None:
        """The flow that recorded this Promise, or None for ``Promise(id)``."""
        return self._flow() if self._flow is not None else None

    def __repr__(self) -> str:
        key = self.key if isinstance(self.key, str) else getattr(self.key, "__name__", self.key)
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


class IterPromise(Promise):
    """Fan-out in the DAG API (webber 0.4.0's): the node runs once per element
    of its source's result, in parallel, and its value is the list of results
    in order -- the machinery of :meth:`Task.map <webber.Task.map>`.

    ``IterPromise(a, b, zip=True)`` runs once per ``tuple`` of the zipped
    sources (the shortest one sets the length). With ``partial=True`` a failed
    element leaves its exception in its place, and the node succeeds with the
    rest. One IterPromise per node, as an argument of its own (not inside a
    list).

    >>> from webber import DAG, IterPromise
    >>> dag = DAG()
    >>> words = dag.add_node(str.split, "streams of words")
    >>> loud = dag.add_node(str.upper, IterPromise(words))
    >>> dag.run(executor="inline")[loud]
    ['STREAMS', 'OF', 'WORDS']
    """

    __slots__ = ("partial", "sources", "zip")

    sources: tuple[Promise, ...]
    partial: bool
    zip: bool

    def __init__(
        self, *sources: str | Callable[..., Any] | Promise, partial: bool = False,
        zip: bool = False,
    ) -> None:
        if not sources:
            raise TypeError("IterPromise() needs a source: IterPromise(node_id)")
        if len(sources) > 1 and not zip:
            raise TypeError(
                f"IterPromise of {len(sources)} sources needs zip=True: it runs once per "
                f"tuple of their elements"
            )
        promises = tuple(Promise(source) for source in sources)
        super().__init__(promises[0])
        self.sources = promises
        self.partial = bool(partial)
        self.zip = bool(zip)

    @property
    def keys(self) -> tuple[str | Callable[..., Any], ...]:
        """The keys of the sources (0.4.0's attribute)."""
        return tuple(p.key for p in self.sources)

    def __repr__(self) -> str:
        inner = ", ".join(repr(p)[len("Promise("):-1] for p in self.sources)
        flags = "".join(
            f", {flag}=True" for flag in ("partial", "zip") if getattr(self, flag)
        )
        return f"IterPromise({inner}{flags})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_iter_promise, (self.keys, self.partial, self.zip))


def _iter_promise(
    keys: tuple[str | Callable[..., Any], ...], partial: bool, zip: bool
) -> IterPromise:
    return IterPromise(*keys, partial=partial, zip=zip)


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


# Exact types only: a subclass (a namedtuple, an OrderedDict) is passed through
# untouched rather than rebuilt as its base type.
_SEQUENCES = (list, tuple, set, frozenset)


def _children(obj: Any) -> Iterator[Any]:
    return iter(obj.values()) if type(obj) is dict else iter(obj)


def find_promises(obj: Any) -> list[Promise]:
    """Every Promise inside ``obj`` (lists, tuples, sets, dicts), in order found."""
    found: list[Promise] = []
    stack = [obj]
    seen: set[int] = set()
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is Promise:
            found.append(item)
        elif (kind in _SEQUENCES or kind is dict) and id(item) not in seen:
            seen.add(id(item))  # a self-containing list must not loop
            stack.extend(reversed(list(_children(item))))
    return found


def substitute(obj: Any, resolve: Callable[[Promise], Any]) -> Any:
    """A copy of ``obj`` with every Promise replaced by ``resolve(promise)``.

    Like :func:`copy.deepcopy`, a container met twice is copied once, so a list
    that contains itself becomes a new list that contains itself (not a loop).
    """
    kind = type(obj)
    if kind is Promise:
        return resolve(obj)
    if not (kind in _SEQUENCES or kind is dict):
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
    if kind is list or kind is dict:
        copies[id(obj)] = kind()
    while stack:
        original, items, built = stack[-1]
        for item in items:
            kind = type(item)
            if kind is Promise:
                built.append(resolve(item))
            elif kind in _SEQUENCES or kind is dict:
                if id(item) in copies:
                    built.append(copies[id(item)])
                    continue
                if id(item) in open_ids:
                    raise ValueError(
                        f"an argument contains itself through a {kind.__name__}, and holds "
                        "a Promise: webber cannot rebuild it with the value in place; "
                        "make the cycle go through lists or dicts only"
                    )
                keep.append(item)
                open_ids.add(id(item))
                if kind is list or kind is dict:
                    copies[id(item)] = kind()
                stack.append((item, _children(item), []))
                break
            else:
                built.append(item)
        else:
            stack.pop()
            open_ids.discard(id(original))
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
            if stack:
                stack[-1][2].append(value)
            else:
                result = value
    del keep
    return result
