"""Nodes, edges, conditions and task settings: the graph as plain data.

The records here are frozen dataclasses with ``__slots__``: printable,
comparable, and a typo (``node.retires``) raises AttributeError instead of
returning None. The graph store (``_store.py``) keeps them; ``_compile.py``
lowers them to a Plan. Nothing here runs anything.
"""

from __future__ import annotations

import enum
import functools
import logging
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import FrozenInstanceError, dataclass, field, fields
from types import MethodType
from typing import Any, Protocol, TypeAlias

from webber import _byname
from webber._errors import TaskDefinitionError, UnknownNodeError

__all__ = [
    "Condition",
    "Edge",
    "Node",
    "RetryOn",
    "TaskOptions",
    "display_name",
    "find_id",
    "node_key",
    "plain_options",
    "qualified_name",
    "runs",
    "slot_setters",
    "slug",
]


class Condition(enum.IntEnum):
    """When a child runs, given its parent's final state.

    ``Success`` (the default) needs the parent to succeed, ``Failure`` needs it
    to fail, ``AnyCase`` accepts any final state (success, failure or skip).
    An ``IntEnum`` with webber 0.4.0's values (0, 1, 3), so code that stored
    or compared them as numbers keeps working.

    >>> from webber import DAG, Condition
    >>> dag = DAG()
    >>> risky = dag.add_node(int, "not a number")
    >>> handler = dag.add_node(print, "cleaning up")
    >>> dag.add_edge(risky, handler, continue_on=Condition.Failure)
    """

    Success = 0
    Failure = 1
    AnyCase = 3

    def __repr__(self) -> str:
        return f"Condition.{self.name}"


#: what ``retry_on=`` takes: exception classes, or a predicate of the exception
RetryOn: TypeAlias = (
    type[BaseException] | tuple[type[BaseException], ...] | Callable[[BaseException], object] | None
)


@dataclass(frozen=True, slots=True)
class TaskOptions:
    """The settings of a task: what ``@task(...)`` takes, shared by every node
    the task records, and held by each :class:`Node` (``node.options``).

    ``name`` is shown in logs and diagrams; ``retries`` extra attempts follow a
    failure, the first after ``retry_delay`` seconds, each next one
    ``retry_backoff`` times later; ``timeout`` limits each attempt (seconds).
    ``retry_on`` narrows which failures are retried: exception classes, or a
    predicate taking the exception (None: every failure). ``cache=False``
    keeps the task out of ``run(cache=...)``'s result store (for side
    effects); ``version`` is part of its cache key, for what the key cannot
    see (bump it when a file the task reads changes). ``limit`` names a
    concurrency tag: ``run(limits={tag: n})`` lets at most n such tasks run
    at once. :meth:`check` refuses out-of-range values, naming the task
    (``@task`` checks at once; ``compile()`` checks what the DAG API set).

    >>> from webber import task
    >>> options = task(print, retries=2, retry_on=TimeoutError).options
    >>> options.retries, options.retry_on, options.cache
    (2, (<class 'TimeoutError'>,), True)
    """

    name: str
    retries: int = 0
    retry_delay: float = 0.0
    retry_backoff: float = 1.0
    timeout: float | None = None
    retry_on: tuple[type[BaseException], ...] | Callable[[BaseException], object] | None = None
    cache: bool = True
    version: str | None = None
    limit: str | None = None

    def __post_init__(self) -> None:
        # Plain floats, so that equal settings compare (and hash) equal.
        for what in ("retry_delay", "retry_backoff", "timeout"):
            value = getattr(self, what)
            if type(value) is int:
                object.__setattr__(self, what, float(value))
        # One exception class reads as the tuple of it (what `except` takes).
        if isinstance(self.retry_on, type):
            object.__setattr__(self, "retry_on", (self.retry_on,))
        elif isinstance(self.retry_on, list):
            object.__setattr__(self, "retry_on", tuple(self.retry_on))

    def check(self, task: str) -> None:
        """Raise TaskDefinitionError naming ``task`` when a setting is out of range."""

        def bad(what: str, value: object, want: str) -> TaskDefinitionError:
            return TaskDefinitionError(
                f"task {task!r}: {what}={value!r} is not valid; {what} must be {want}"
            )

        if not isinstance(self.name, str):
            raise bad("name", self.name, "a str")
        retries = self.retries
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise bad("retries", retries, "a non-negative integer (how many extra attempts)")
        for what, want in (("retry_delay", "a finite number of seconds >= 0"),
                           ("retry_backoff", "a finite number >= 0, the factor that "
                            "multiplies retry_delay after each retry (1: a fixed delay)")):
            value = getattr(self, what)
            if not _is_number(value) or value < 0 or not math.isfinite(value):
                raise bad(what, value, want)
        if self.timeout is not None and (not _is_number(self.timeout) or not self.timeout > 0):
            raise bad("timeout", self.timeout, "None or a number of seconds > 0")
        retry_on = self.retry_on
        if retry_on is not None and not callable(retry_on) and not (
            isinstance(retry_on, tuple)
            and all(isinstance(e, type) and issubclass(e, BaseException) for e in retry_on)
        ):
            raise bad("retry_on", retry_on,
                      "exception classes, e.g. (TimeoutError, ConnectionError), "
                      "or a function taking the exception")
        if not isinstance(self.cache, bool):
            raise bad("cache", self.cache, "True or False")
        if self.version is not None and not isinstance(self.version, str):
            raise bad("version", self.version, "None or a str, e.g. version=\"2\"")
        if self.limit is not None and (not isinstance(self.limit, str) or not self.limit):
            raise bad("limit", self.limit, "None or a tag name (a str), e.g. limit=\"db\"")

    def retries_on(self, error: BaseException, task: str) -> bool:
        """Whether ``retry_on`` lets ``error`` be retried (not when the user's
        predicate raises: that is logged, naming ``task``)."""
        retry_on = self.retry_on
        if retry_on is None:
            return True
        if isinstance(retry_on, tuple):
            return isinstance(error, retry_on)
        try:
            return bool(retry_on(error))
        except Exception as e:
            logging.getLogger("webber").error(
                "task %r: its retry_on predicate raised %s: %s; not retrying",
                task, type(e).__name__, e, extra={"task": self.name, "node": task},
            )
            return False


#: the names of the task settings, in order
OPTION_FIELDS = tuple(f.name for f in fields(TaskOptions))


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Record(Mapping[str, Any]):
    """Item access to a record, as webber 0.4.0 code reads its node and edge
    dicts (``node["callable"]``, ``edge["Condition"]``): ``_KEYS`` maps each
    key to the attribute that holds it. The records stay frozen and strict:
    an unknown key raises KeyError (``.get()`` gives a default)."""

    __slots__ = ()
    _KEYS: Mapping[str, str] = {}

    def __getitem__(self, key: str) -> Any:
        try:
            attribute = self._KEYS[key]
        except (KeyError, TypeError):
            raise KeyError(key) from None
        return getattr(self, attribute)

    def __iter__(self) -> Iterator[str]:
        return iter(self._KEYS)

    def __len__(self) -> int:
        return len(self._KEYS)


@dataclass(frozen=True, slots=True, eq=True, init=False)
class Node(_Record):
    """One task of a graph, as ``dag.get_node(id)`` returns it.

    Its task settings are ``node.options`` (a :class:`TaskOptions`), also
    readable one by one (``node.name``, ``node.retries``, ...). ``deps`` lists
    the keys of the Promises found in ``args`` and ``kwargs``: the nodes whose
    results this one receives. ``fan_out`` is True for a ``task.map(...)`` node.
    webber 0.4.0's names work too, as attributes and as keys: ``node.callable``
    (``func``), ``node.retry`` (``retries``), ``node["callable"]``,
    ``node["args"]``, ``node["id"]``, ...

    >>> from webber import DAG, Promise
    >>> dag = DAG()
    >>> a = dag.add_node(len, "abc")
    >>> b = dag.add_node(print, Promise(a), sep="")
    >>> node = dag.get_node(b)
    >>> node.name, node.deps, node.kwargs, node.retries
    ('print', ('len-1',), {'sep': ''}, 0)
    >>> node["callable"] is node.callable is print, node["name"]
    (True, 'print')
    """

    id: str
    options: TaskOptions
    func: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    skip: bool = False
    skip_as_failure: bool = False
    fan_out: bool = False
    #: a fan-out whose failed elements leave their exception in the results
    partial: bool = False
    #: where a fan-out's items are, and its element goes: a position in
    #: ``args`` or a name in ``kwargs`` (``Task.map``: 0; IterPromise: its place)
    fan_out_slot: int | str = 0
    #: the slot holds a tuple of sources, zipped (``IterPromise(a, b, zip=True)``)
    fan_out_zip: bool = False
    deps: tuple[str | Callable[..., Any], ...] = field(default=(), repr=False, compare=False)

    def __init__(
        self,
        id: str,
        options: TaskOptions,
        func: Callable[..., Any],
        args: tuple[Any, ...] = (),
        kwargs: Mapping[str, Any] | None = None,
        skip: bool = False,
        skip_as_failure: bool = False,
        fan_out: bool = False,
        partial: bool = False,
        fan_out_slot: int | str = 0,
        fan_out_zip: bool = False,
        deps: tuple[str | Callable[..., Any], ...] = (),
    ) -> None:
        # through the slots' own setters (see slot_setters): graphs have 100,000 nodes
        s = _NODE_SLOTS
        s[0](self, id)
        s[1](self, options)
        s[2](self, func)
        s[3](self, args)
        s[4](self, {} if kwargs is None else kwargs)
        s[5](self, skip)
        s[6](self, skip_as_failure)
        s[7](self, fan_out)
        s[8](self, partial)
        s[9](self, fan_out_slot)
        s[10](self, fan_out_zip)
        s[11](self, deps)

    def __reduce__(self) -> tuple[Any, ...]:
        # The function of a task of an importable module goes by the task's
        # name: by its own, the standard pickle finds the task there and fails.
        func: Any = self.func
        task = _byname.task_of(func)
        if task is not None:
            func = _byname.FunctionOf(task)
        return (Node, (self.id, self.options, func, self.args, self.kwargs, self.skip,
                       self.skip_as_failure, self.fan_out, self.partial, self.fan_out_slot,
                       self.fan_out_zip, self.deps))

    @property
    def name(self) -> str:
        """The task's name, shown in logs and diagrams."""
        return self.options.name

    @property
    def retries(self) -> int:
        """Extra attempts after a failure."""
        return self.options.retries

    @property
    def retry_delay(self) -> float:
        """Seconds before the first retry."""
        return self.options.retry_delay

    @property
    def retry_backoff(self) -> float:
        """Factor applied to the delay after each retry."""
        return self.options.retry_backoff

    @property
    def timeout(self) -> float | None:
        """Seconds an attempt may take, or None."""
        return self.options.timeout

    @property
    def callable(self) -> Callable[..., Any]:
        """webber 0.4.0's name for :attr:`func`."""
        return self.func

    @property
    def retry(self) -> int:
        """webber 0.4.0's name for :attr:`retries`."""
        return self.options.retries


def _refuse_assignment(self: Node, name: str, value: object = None) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def slot_setters(cls: type) -> tuple[Callable[[Any, Any], None], ...]:
    """The setters of a slotted dataclass's fields, in field order: what the
    ``__init__`` of a frozen record made by the thousand (Node, Attempt) uses,
    as dataclass's frozen ``__init__`` costs twice as much."""
    return tuple(cls.__dict__[f.name].__set__ for f in fields(cls))


_NODE_SLOTS = slot_setters(Node)


# The frozen check that dataclass generates breaks for names that are not
# fields (the read-through settings) in a slotted class: assigning one raised
# TypeError from super(). Every assignment is refused plainly instead.
Node.__setattr__ = _refuse_assignment  # type: ignore[method-assign,assignment]
Node.__delattr__ = _refuse_assignment  # type: ignore[method-assign,assignment]


@dataclass(frozen=True, slots=True, eq=True)
class Edge(_Record):
    """A dependency ``parent -> child``, as ``dag.get_edge(u, v)`` returns it.

    ``data`` is True when the child receives the parent's result (a Promise
    argument), False for an ordering-only edge (``a >> b``). webber 0.4.0's
    names work too, as attributes and as keys: ``edge.Condition``
    (``continue_on``), ``edge.id`` (the pair), ``edge["Condition"]``, ...

    >>> from webber import DAG, Condition, Promise
    >>> dag = DAG()
    >>> a = dag.add_node(len, "abc")
    >>> b = dag.add_node(print, Promise(a))
    >>> dag.get_edge(a, b)
    Edge(parent='len-1', child='print-1', continue_on=Condition.Success, data=True)
    >>> dag.get_edge(a, b)["Condition"], dag.get_edge(a, b).id
    (Condition.Success, ('len-1', 'print-1'))
    """

    parent: str
    child: str
    continue_on: Condition = Condition.Success
    data: bool = False

    @property
    def Condition(self) -> Condition:  # 0.4.0 spelled the key so
        """webber 0.4.0's name for :attr:`continue_on`."""
        return self.continue_on

    @property
    def id(self) -> tuple[str, str]:
        """The pair ``(parent, child)``, webber 0.4.0's id of an edge."""
        return (self.parent, self.child)


Node._KEYS = {
    # webber 0.4.0's keys first (what dict(node) shows first), then webber's own
    "callable": "func", "args": "args", "kwargs": "kwargs", "name": "name", "id": "id",
    "retry": "retries", "skip": "skip",
    **{f: f for f in (
        "func", "options", "retries", "retry_delay", "retry_backoff", "timeout",
        "skip_as_failure", "fan_out", "deps",
    )},
}
Edge._KEYS = {
    "parent": "parent", "child": "child", "id": "id", "Condition": "continue_on",
    "continue_on": "continue_on", "data": "data",
}


_UNSAFE = re.compile(r"[^A-Za-z0-9_.]+")


def _unwrap(func: Callable[..., Any]) -> Callable[..., Any]:
    while not hasattr(func, "__name__") and hasattr(func, "func"):  # functools.partial
        func = func.func
    return func


def display_name(func: Callable[..., Any]) -> str:
    """The name a task shows in logs and diagrams: ``load``, ``lambda``, ``print``."""
    name = getattr(func, "__name__", None)  # (the common case: one lookup)
    if not name:
        func = _unwrap(func)
        name = getattr(func, "__name__", None) or type(func).__name__
    return name.strip("<>") or "task"


def qualified_name(func: Callable[..., Any]) -> str:
    """``package.module.function`` (or the type of a callable object), for
    descriptions of a graph: ``builtins.print``, ``__main__.main.<locals>.f``."""
    target: Any = _unwrap(func)
    if not hasattr(target, "__qualname__"):
        target = type(target)
    module = getattr(target, "__module__", None)
    return f"{module}.{target.__qualname__}" if module else str(target.__qualname__)


@functools.lru_cache(maxsize=4096)
def plain_options(name: str) -> TaskOptions:
    """The settings of a plain function named ``name``: the defaults, one
    record per name (records are frozen, so nodes share them)."""
    return TaskOptions(name)


@functools.lru_cache(maxsize=4096)
def slug(name: str) -> str:
    """``name`` made safe for ids: ``<lambda>`` -> ``lambda``, ``a b`` -> ``a_b``."""
    return _UNSAFE.sub("_", name).strip("_") or "task"


class _Runs(Protocol):
    @property
    def func(self) -> Callable[..., Any]: ...


def node_key(ref: Any) -> Any:
    """What ``ref`` names a node by: an id (str) or a callable. An authoring
    object (a Promise, a ``@task``) gives the key it stands for through its
    ``_webber_key`` attribute, so this layer imports none of them."""
    key = getattr(ref, "_webber_key", None)
    while key is not None:  # Promise(task) -> the task -> its function
        ref, key = key, getattr(key, "_webber_key", None)
    return ref


def runs(func: Any, key: Any) -> bool:
    """Whether a node that runs ``func`` runs ``key``: the same object, or the
    same method of the same object (each ``obj.method`` read makes a new one)."""
    return func is key or (func.__class__ is MethodType and func == key)


def find_id(
    ref: Any, nodes: Mapping[str, _Runs], label: str, hint: Callable[[str], str] | None = None
) -> str:
    """The id of the node among ``nodes`` that ``ref`` names: an id, or the
    callable exactly one node runs. Raises UnknownNodeError naming ``label``
    (``hint(key)`` adds a suggestion for an unknown id)."""
    key = node_key(ref)
    if isinstance(key, str):
        if key in nodes:
            return key
        extra = hint(key) if hint is not None else "use an id that add_node() returned"
        raise UnknownNodeError(f"{label} has no node {key!r}; {extra}", key)
    if callable(key):
        found = [n for n, node in nodes.items() if runs(node.func, key)]
        if len(found) == 1:
            return found[0]
        name = display_name(key)
        if not found:
            raise UnknownNodeError(
                f"no node of {label} runs {name!r}; add it with add_node() first", ref
            )
        raise UnknownNodeError(
            f"{len(found)} nodes of {label} run {name!r} ({', '.join(found)}); "
            f"name one by its id",
            ref,
        )
    raise TaskDefinitionError(
        f"{type(ref).__name__} {ref!r} names no node: a node must be a string or a Python "
        f"callable (its id, a Promise of it, or its function); pass what add_node() or a "
        f"task call inside 'with Flow():' returned")
