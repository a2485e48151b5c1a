"""``@task``: a function that records a node when called inside a flow.

Outside ``with Flow():`` a task is its function: the call runs it and returns
its value. Inside, the call records a node and returns a Promise. The type
signature says the call returns the function's value either way, so
``clean(load("x.csv"))`` type-checks as it reads: a Promise stands in for the
value it will become.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, ClassVar, Concatenate, Generic, ParamSpec, Protocol, TypeVar, overload

from webber import _byname, _context
from webber._errors import TaskDefinitionError
from webber._graph import RetryOn, TaskOptions, display_name
from webber._keywords import tells_keywords

__all__ = ["AsyncTask", "Task", "task"]

P = ParamSpec("P")
Q = ParamSpec("Q")
R = TypeVar("R")
S = TypeVar("S")


#: map() called without its elements (see Task.map)
_NO_ITEMS: Any = object()


class Task(Generic[P, R]):
    """A function that records a node when called inside ``with Flow():``.

    Made by :func:`task`. ``task.fn`` is the wrapped function and
    ``task.options`` its settings.

    >>> from webber import Flow, task
    >>> @task
    ... def double(x: int) -> int:
    ...     return 2 * x
    >>> double(4)                      # outside a flow: a plain call
    8
    >>> with Flow("demo") as flow:
    ...     four = double(2)           # inside: records a node, returns a Promise
    ...     eight = double(four)
    >>> flow.run(executor="inline")[eight]
    8
    """

    fn: Callable[P, R]
    options: TaskOptions

    def __init__(self, fn: Callable[P, R], options: TaskOptions) -> None:
        if not callable(fn):
            raise TaskDefinitionError(
                f"@task needs a function, got {type(fn).__name__} {fn!r}; "
                f"decorate a def or pass a callable: task(my_function)"
            )
        self.fn = fn
        self.options = options
        functools.update_wrapper(self, fn)  # __name__, __doc__, __wrapped__ (signature)

    # A task whose function returns None is called for its effect, and its
    # Promise is used for ordering (``done >> up``): typed Any, not None, which
    # has no ``>>`` and may not be passed as a node.
    @overload
    def __call__(self: Task[P, None], *args: P.args, **kwargs: P.kwargs) -> Any: ...
    @overload
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R: ...

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Any:
        flow = _context.active_flow.get()
        if flow is None:
            self._no_promise((*args, *kwargs.values()))
            return self.fn(*args, **kwargs)
        # Inside a flow the call stands in for its value: a Promise (see module doc).
        return flow._record(self, args, kwargs, fan_out=False)

    # A task is a descriptor as its function is: ``@task`` on a method in a
    # class body, read through an instance, is a task of the bound method (its
    # node's function then carries the instance to the worker); read through
    # the class, it is the task itself (``Model.predict(model, 3)``).
    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None) -> Task[P, R]: ...
    @overload
    def __get__(
        self: Task[Concatenate[S, Q], R], instance: S, owner: type[Any] | None = None
    ) -> Task[Q, R]: ...

    def __get__(self, instance: Any, owner: type[Any] | None = None) -> Any:
        bind = getattr(type(self.fn), "__get__", None)
        if instance is None or bind is None:
            return self  # (a builtin or a partial does not bind: nor does its task)
        return type(self)(bind(self.fn, instance, owner), self.options)

    def map(
        self, items: Iterable[Any] = _NO_ITEMS, /, *args: Any, partial: bool = False,
        **kwargs: Any,
    ) -> list[R]:
        """Run the task once per element of ``items``; one Promise of the list of results.

        ``items`` may be a Promise (the list is known only at run time) or any
        iterable. Extra arguments are passed to every call after the element.
        Outside a flow, this is ``[fn(x, *args, **kwargs) for x in items]``.

        An element that fails (after the task's retries) fails the node, its
        exception noted with the element's index; with ``partial=True`` it
        leaves its exception in its place in the list instead, and the node
        succeeds with the rest.

        >>> from webber import Flow, task
        >>> square = task(lambda x: x * x)
        >>> with Flow() as flow:
        ...     squares = square.map([1, 2, 3])
        >>> flow.run(executor="inline")[squares]
        [1, 4, 9]
        """
        if items is _NO_ITEMS:
            named = f" (given by name: {', '.join(kwargs)})" if kwargs else ""
            raise TaskDefinitionError(
                f"task {self.options.name!r}: map() takes the elements to run the task on "
                f"first, by position{named}; e.g. {self.options.name}.map([1, 2, 3])"
            )
        if not isinstance(items, Iterable) and not hasattr(type(items), "__getitem__"):
            raise TaskDefinitionError(
                f"task {self.options.name!r}: map() takes the elements to run the task "
                f"on, an iterable or a Promise of one, not {type(items).__name__} "
                f"{items!r}; e.g. {self.options.name}.map([1, 2, 3])"
            )
        if not isinstance(partial, bool):  # (partial="no" is true: a silent partial fan-out)
            raise TaskDefinitionError(
                f"task {self.options.name!r}: map(partial={partial!r}) is not a bool; partial= "
                f"takes True (a failed element leaves its exception in its place) or False"
            )
        flow = _context.active_flow.get()
        if flow is None:
            self._no_promise((items, *args, *kwargs.values()))
            return [self.fn(item, *args, **kwargs) for item in items]  # type: ignore[arg-type,unused-ignore]
        promise = flow._record(self, (items, *args), kwargs, fan_out=True)
        if partial:
            flow._update(promise.key, partial=True)  # type: ignore[arg-type]
        return promise  # type: ignore[return-value]

    def _no_promise(self, arguments: tuple[Any, ...]) -> None:
        """Refuse a Promise among the arguments of a call outside any flow
        (most often a line left outside the ``with Flow():`` block)."""
        for arg in arguments:
            if getattr(type(arg), "_webber_promise", False):
                raise TaskDefinitionError(
                    f"task {self.options.name!r} was called with {arg!r} outside a "
                    f"'with Flow():' block, where a task call is a plain call and a Promise "
                    f"has no value; move the call into the block (indent it), or run the "
                    f"flow and pass run[promise]"
                )

    #: what the cache keys' pickler looks for (it may not import this module)
    _webber_task: ClassVar[bool] = True

    @property
    def _webber_key(self) -> Callable[..., Any]:
        # The node-reference protocol of the graph store: a task names the
        # node that runs its function.
        return self.fn

    def __repr__(self) -> str:
        return f"<task {self.options.name}>"

    def __reduce__(self) -> str | tuple[Any, ...]:
        # At the top of an importable module, by its name (see _byname).
        if _byname.task_of(self.fn) is self:
            return str(self.__qualname__)
        return (type(self), (self.fn, self.options))


class AsyncTask(Task[P, R]):
    """What ``@task`` makes of an ``async def`` function: a Task whose calls in
    a flow stand for the awaited value, and whose ``fn`` returns the coroutine
    (``await fetch.fn(1)`` type-checks as the value)."""

    fn: Callable[P, Coroutine[Any, Any, R]]  # type: ignore[assignment]


class _Decorator(Protocol):
    """What ``task(name=...)`` returns: ``@task`` with those settings."""

    @overload
    def __call__(self, fn: Callable[P, Coroutine[Any, Any, R]], /) -> AsyncTask[P, R]: ...
    @overload
    def __call__(self, fn: Callable[P, R], /) -> Task[P, R]: ...


# An ``async def`` task's Promise stands for the awaited value, as the engine
# awaits it: Task[P, R], not Task[P, Coroutine[..., R]] (the first overload
# wins for an async function).
@overload
def task(fn: Callable[P, Coroutine[Any, Any, R]], /) -> AsyncTask[P, R]: ...


@overload
def task(fn: Callable[P, R], /) -> Task[P, R]: ...


@overload
def task(
    *,
    name: str | None = None,
    retries: int = 0,
    retry_delay: float = 0.0,
    retry_backoff: float = 1.0,
    timeout: float | None = None,
    retry_on: RetryOn = None,
    cache: bool = True,
    version: str | None = None,
    limit: str | None = None,
) -> _Decorator: ...


@tells_keywords("setting")  # type: ignore[misc]  # (the async overload's R is the awaited value)
def task(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    retries: int = 0,
    retry_delay: float = 0.0,
    retry_backoff: float = 1.0,
    timeout: float | None = None,
    retry_on: RetryOn = None,
    cache: bool = True,
    version: str | None = None,
    limit: str | None = None,
) -> Task[P, R] | _Decorator:
    """Make a function a task: a plain call outside a flow, a node inside one.

    Use it bare (``@task``) or with settings: ``name`` (shown in logs and
    diagrams), ``retries`` (extra attempts after a failure), ``retry_delay``
    (seconds before the first retry), ``retry_backoff`` (factor applied to the
    delay after each retry), ``timeout`` (seconds per attempt), ``retry_on``
    (retry only these exception classes, or when this predicate of the
    exception is true), ``cache`` (False keeps the task out of
    ``run(cache=...)``: for side effects), ``version`` (part of the cache key:
    bump it for changes the key cannot see) and ``limit`` (a concurrency tag,
    capped by ``run(limits={tag: n})``).

    >>> from webber import task
    >>> @task(name="clean", retries=2, retry_delay=0.1)
    ... def clean(rows: list[int]) -> list[int]:
    ...     return [r for r in rows if r >= 0]
    >>> clean([3, -1, 2])
    [3, 2]
    """

    def wrap(func: Callable[P, R]) -> Task[P, R]:
        if not callable(func):
            raise TaskDefinitionError(
                f"@task needs a function, got {type(func).__name__} {func!r}; "
                f"decorate a def or pass a callable: task(my_function)"
            )
        label = name if name is not None else display_name(func)
        if isinstance(name, str) and not name.strip():  # (new: 0.4.0 had no @task)
            raise TaskDefinitionError(
                f"@task(name={name!r}) on {display_name(func)!r}: a task's name shows in its "
                f"ids, log lines and diagrams; leave name= out to use the function's name "
                f"({display_name(func)!r}), or give one, e.g. @task(name=\"clean\")")
        options = TaskOptions(
            label, retries, retry_delay, retry_backoff, timeout,
            retry_on,  # a single class: __post_init__ makes it a tuple
            cache, version, limit,
        )
        options.check(label)
        return (AsyncTask if inspect.iscoroutinefunction(func) else Task)(func, options)

    return wrap if fn is None else wrap(fn)  # type: ignore[return-value]
