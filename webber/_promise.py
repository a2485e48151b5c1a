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
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, TypeVar

from webber import _context
from webber._errors import TaskDefinitionError
from webber._graph import Condition
from webber._nodeid import NodeId
from webber._refs import find, walked

if TYPE_CHECKING:
    from webber._flow import DAG

__all__ = [
    "IterPromise",
    "Promise",
    "any_case",
    "find_promises",
    "lower_iter_promise",
    "on_failure",
]

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
    #: what a Task called outside a flow looks for in its arguments (it may not
    #: import this module: see _task)
    _webber_promise: ClassVar[bool] = True

    def __init__(self, key: str | Callable[..., Any] | Promise) -> None:
        self.condition = None
        if isinstance(key, NodeId):  # an id add_node returned: bound to its DAG
            owner = key._owner
            self.key, self._flow, self._origin = str(key), owner.ref, owner.origin
        elif isinstance(key, Promise):
            self.key, self._flow, self._origin = key.key, key._flow, key._origin
            self.condition = key.condition
        elif isinstance(key, str) or callable(key):
            self.key, self._flow, self._origin = key, None, None
        else:
            raise TaskDefinitionError(
                f"Promise() cannot take {type(key).__name__} {key!r}. Keys must be string IDs "
                f"or callables (or a Promise): pass the node id that add_node() returned"
            )

    @classmethod
    def _bound(cls, node_id: str, flow: DAG) -> Promise:
        """The Promise of the node ``node_id`` that ``flow`` just recorded (the
        DSL's hot path: the flow's own weak reference and origin, made once)."""
        owner = flow._owner
        promise = object.__new__(cls)
        promise.key, promise.condition, promise._flow = node_id, None, owner.ref
        # (the label names the flow in errors: made again if the flow was renamed)
        same = flow.name is owner.name
        promise._origin = owner.origin if same else (flow._uid, flow._label())
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
        raise TaskDefinitionError(
            f"{self!r} has no value yet: the flow is being built, not run. To branch "
            f"on a result, put the `if` inside a task, or use edges with "
            f"continue_on=Condition.Failure / AnyCase"
        )

    def __iter__(self) -> NoReturn:
        raise TaskDefinitionError(
            f"{self!r} cannot be iterated while the flow is being built; to run a task "
            f"per element, use my_task.map({self!r})"
        )

    def __len__(self) -> NoReturn:
        raise TaskDefinitionError(f"{self!r} has no length while the flow is being built")

    def __format__(self, spec: str) -> NoReturn:
        raise TaskDefinitionError(
            f"{self!r} has no value yet (the flow is being built, not run), so it cannot "
            f"be formatted into a string (an f-string or str.format would put "
            f"\"{self!r}\" in it); build the string in a task that gets the value"
        )

    def __getitem__(self, key: object) -> NoReturn:
        raise TaskDefinitionError(
            f"{self!r}[{key!r}]: a Promise has no value yet (the flow is being built, not "
            f"run), so it cannot be indexed; take the item in a task that gets the value"
        )


def _refusal(name: str, symbol: str) -> Callable[..., NoReturn]:
    """A Promise's ``name`` operator: refused, with a hint (Python's own error,
    "unsupported operand type(s)", would not say that the value comes later)."""

    def refuse(self: Promise, *args: object) -> NoReturn:
        raise TaskDefinitionError(
            f"{self!r} has no value yet: the flow is being built, not run, so {symbol} "
            f"cannot apply to it; do it in a task that takes the Promise as an argument "
            f"(the task gets the value)"
        )

    refuse.__name__ = refuse.__qualname__ = name
    return refuse


# Arithmetic, ordering and conversions of a Promise (>> records an edge; == and
# hashing stay identity's: Promises are kept in sets and dicts while a flow is built).
for _name, _symbol in {
    "add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%",
    "pow": "**", "matmul": "@", "and": "&", "or": "|", "xor": "^", "lshift": "<<",
}.items():
    setattr(Promise, f"__{_name}__", _refusal(f"__{_name}__", f"`{_symbol}`"))
    setattr(Promise, f"__r{_name}__", _refusal(f"__r{_name}__", f"`{_symbol}`"))
for _name, _symbol in {
    "lt": "`<`", "le": "`<=`", "gt": "`>`", "ge": "`>=`", "neg": "`-`", "pos": "`+`",
    "invert": "`~`", "abs": "abs()", "int": "int()", "float": "float()",
    "complex": "complex()", "index": "an index", "round": "round()", "trunc": "math.trunc()",
    "floor": "math.floor()", "ceil": "math.ceil()",
}.items():
    setattr(Promise, f"__{_name}__", _refusal(f"__{_name}__", _symbol))
del _name, _symbol


def _conditioned(value: Any, condition: Condition, word: str) -> Promise:
    if not isinstance(value, Promise):
        raise TaskDefinitionError(
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
            raise TaskDefinitionError(
                "IterPromise() needs at least one source: IterPromise(node_id)"
            )
        if len(sources) > 1 and not zip:
            raise TaskDefinitionError(
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
        raise TaskDefinitionError(
            "`a >> b` with Promise(id) needs an active flow: use it inside `with Flow():`"
        )
    return flow


def find_promises(obj: Any) -> list[Promise]:
    """Every Promise inside ``obj`` (lists, tuples, sets, dicts), in order found."""
    return find(obj, Promise)


def lower_iter_promise(
    args: tuple[Any, ...], kwargs: dict[str, Any], where: str
) -> tuple[tuple[Any, ...], dict[str, Any], dict[str, Any] | None]:
    """An IterPromise argument made a fan-out: its source Promise (a tuple of
    them with zip) in its place, and the node's fan-out settings. No
    IterPromise: the arguments as they are, and None."""
    found: list[tuple[int | str, IterPromise]] = [
        (i, a) for i, a in enumerate(args) if isinstance(a, IterPromise)
    ]
    if kwargs:
        found += [(k, v) for k, v in kwargs.items() if isinstance(v, IterPromise)]
    if not found:
        containers = [a for a in (*args, *kwargs.values()) if walked(a)]
        if containers and find(containers, IterPromise):
            raise TaskDefinitionError(
                f"task {where!r} takes an IterPromise inside a list, tuple, set or dict; "
                f"pass it as an argument of its own: the element takes its place"
            )
        return args, kwargs, None
    if len(found) > 1:
        raise TaskDefinitionError(
            f"task {where!r} takes {len(found)} IterPromises; a node fans out over one: "
            f"pass IterPromise(a, b, zip=True) to run once per pair"
        )
    slot, iterated = found[0]
    zipped = iterated.zip and len(iterated.sources) > 1
    source: Any = tuple(iterated.sources) if zipped else Promise(iterated.sources[0])
    if isinstance(slot, int):
        args = (*args[:slot], source, *args[slot + 1:])
    else:
        kwargs = {**kwargs, slot: source}
    return args, kwargs, {"fan_out_slot": slot, "fan_out_zip": zipped, "partial": iterated.partial}
