"""QueueDAG (0.4.0's streaming graph) and ``stream()`` (the Flow DSL's form).

Both build a list of stages for ``_stream.iter_stream``; they only differ in
how a stream is written down: a chain of nodes with a repeating root, or an
iterable and a sequence of tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Literal, overload

from webber import _context
from webber._checks import check_call
from webber._errors import (
    ChainError,
    GraphError,
    OptionError,
    TaskDefinitionError,
    WebberError,
)
from webber._flow import DAG
from webber._graph import Condition, TaskOptions, display_name, slug
from webber._keywords import tells_keywords
from webber._promise import IterPromise, Promise, find_promises
from webber._store import GraphStore
from webber._stream import (
    DEFAULT_MAXSIZE,
    Stage,
    check_executor,
    check_maxsize,
    check_repeat,
    iter_stream,
)
from webber._task import Task

if TYPE_CHECKING:
    from webber.executors import Executor

__all__ = ["QueueDAG", "stream"]


class QueueDAG(DAG):
    """A streaming pipeline: a chain of nodes, each at most one parent and one
    child. The root runs again and again -- ``iterator=N`` times, or until its
    output meets ``halt_condition`` (``max_iter=`` caps that) -- and each output
    flows down the chain, where a child takes it through a ``Promise`` of its
    parent. All stages work at once: item k+1 is in the first stage while item
    k is in the second. The root runs in this process (on a thread of its
    own), so it keeps its state and may read a queue, socket or file held
    here; the other stages run on the executor (a worker process each on
    ``"processes"``).

    ``execute()`` returns the last stage's outputs, in order. A QueueDAG can be
    a node of another graph: ``dag.add_node(qdag.execute)``.

    >>> from webber import Promise, QueueDAG
    >>> import itertools
    >>> counter = itertools.count()
    >>> qdag = QueueDAG()
    >>> numbers = qdag.add_node(lambda: next(counter), iterator=4)
    >>> squares = qdag.add_node(pow, Promise(numbers), 2)
    >>> labels = qdag.add_node("#{}".format, Promise(squares))
    >>> qdag.execute(executor="threads")
    ['#0', '#1', '#4', '#9']
    """

    def __init__(self, name: str = "queue_dag") -> None:
        if isinstance(name, str) and not name.strip():  # (as DAG(name=""): no name)
            name = "queue_dag"
        super().__init__(name=name)
        self._store = _ChainStore(self._label_weakly())
        #: node id -> (halt_condition, iterator, max_iter) given to add_node
        self._repeat: dict[str, tuple[Callable[[Any], object] | None, int | None, int | None]] = {}

    def add_node(
        self,
        fn: Callable[..., Any],
        /,
        *args: Any,
        halt_condition: Callable[[Any], object] | None = None,
        iterator: int | None = None,
        max_iter: int | None = None,
        **kwargs: Any,
    ) -> str:
        """Add a stage calling ``fn(*args, **kwargs)`` per item; a ``Promise`` of
        its parent among the arguments is replaced by the item.

        For the root: ``iterator=N`` runs it N times; ``halt_condition=f`` stops
        after the first output ``out`` with ``f(out)`` true (that output still
        flows on); ``max_iter=N`` caps the calls.
        """
        where = f"{self._label()}: node of {display_name(fn) if callable(fn) else fn!r}"
        if any(isinstance(a, IterPromise) for a in (*args, *kwargs.values())):
            raise TaskDefinitionError(
                f"{where} takes an IterPromise, but IterPromise is not supported in a stream: "
                f"a stage runs once per item already; take the parent's output with "
                f"Promise(parent), or fan out in a DAG"
            )
        parents = sorted(
            {n for n in (self._dep_id(p.key) for p in find_promises((args, kwargs))) if n}
        )
        if len(parents) > 1:
            raise ChainError(
                f"{where} takes the outputs of {len(parents)} nodes ({', '.join(parents)}); "
                f"a QueueDAG node has a maximum of one child and one parent: take one Promise"
            )
        for parent in parents:
            _check_link(self._store, parent, None, where)
        repeat = (halt_condition, iterator, max_iter)
        if repeat != (None, None, None):
            check_repeat(where, halt_condition, iterator, max_iter)
            if parents:
                given, value = next((k, v) for k, v in zip(
                    ("halt_condition", "iterator", "max_iter"), repeat, strict=True
                ) if v is not None)
                raise TaskDefinitionError(
                    f"{where}: {given}={value!r} is given, but this node takes the output of "
                    f"{parents[0]!r}, so it is no root: only the root repeats; remove {given}= "
                    f"here"
                )
        n = super().add_node(fn, *args, **kwargs)
        if repeat != (None, None, None):
            self._repeat[n] = repeat
        return n

    @tells_keywords("option")
    def execute(  # type: ignore[override]  # 0.4.0's QueueDAG.execute returns the outputs
        self, executor: str | Executor | None = None, *, maxsize: int = DEFAULT_MAXSIZE,
        return_ref: bool = False, print_exc: bool = False,
    ) -> list[Any]:
        """Run the stream; the last stage's outputs, in order.

        ``executor``: ``"processes"`` (a worker process per stage),
        ``"threads"`` (a thread per stage), ``"inline"`` (in this thread, one
        item at a time), ``"dask"`` or an Executor; None: the configured
        default (``webber.config.executor``, ``WEBBER_EXECUTOR``, processes).
        ``maxsize``: how many items may wait or run between two stages.
        ``return_ref`` and ``print_exc`` are webber 0.4.0's, taken as there:
        the outputs are returned either way, and a failure raises with its
        traceback either way.
        """
        where = f"{self._label()}: execute()"
        check_maxsize(where, maxsize)
        for flag, value in (("return_ref", return_ref), ("print_exc", print_exc)):
            if not isinstance(value, bool):
                raise OptionError(
                    f"{where}: {flag}={value!r} is not a bool; {flag}= takes True or False "
                    f"(webber 0.4.0's: the outputs are returned, and a failure raised, either way)"
                )
        stages, (halt, iterator, max_iter) = self._stages()
        if not stages:
            return []
        limits = [n for n in (iterator, max_iter) if n is not None]
        return list(iter_stream(
            stages, executor, halt_condition=halt,
            iterations=min(limits) if limits else None, maxsize=maxsize,
        ))

    run = execute  # type: ignore[assignment]

    @property
    def conditions(self) -> dict[str, dict[str, Any]]:
        """webber 0.4.0's record of each node's repeat settings, read-only:
        ``{id: {"halt_condition": f, "iter_limit": n}}``, where ``iter_limit``
        is ``max_iter`` if given, else ``iterator`` (None: unlimited)."""
        found: dict[str, dict[str, Any]] = {}
        for n in self.nodes:
            halt, iterator, max_iter = self._repeat.get(n, (None, None, None))
            limit = max_iter if max_iter is not None else iterator
            found[self._mine(n)] = {"halt_condition": halt, "iter_limit": limit}
        return found

    def _stages(
        self,
    ) -> tuple[list[Stage], tuple[Callable[[Any], object] | None, int | None, int | None]]:
        if not len(self):
            return [], (None, None, None)
        # Not checked by `executor`: the root runs here, unpickled; a stage
        # that cannot be sent to its worker fails its first item, naming it.
        plan = self.compile()
        roots = [n for n, node in plan.nodes.items() if not node.parents]
        if len(roots) != 1:
            raise GraphError(
                f"{self._label()} is not one chain: {', '.join(roots)} have no parent; "
                f"link them with add_edge(), or use one QueueDAG per chain"
            )
        stages: list[Stage] = []
        previous: str | None = None
        n: str | None = roots[0]
        while n is not None:
            node = plan.nodes[n]
            if node.node.skip:
                raise TaskDefinitionError(
                    f"{self._label()}: node {n!r} is marked skip_node(); a QueueDAG stage "
                    f"cannot be skipped: remove it from the chain instead"
                )
            if node.node.fan_out:
                raise TaskDefinitionError(
                    f"{self._label()}: node {n!r} fans out (map); a QueueDAG stage runs "
                    f"once per item"
                )
            if previous is not None and n in self._repeat:
                raise TaskDefinitionError(
                    f"{self._label()}: node {n!r} has halt_condition/iterator/max_iter, "
                    f"but only the root ({roots[0]!r}) repeats; remove them from {n!r}"
                )
            feed = "none" if previous is None else ("inputs" if previous in node.deps else "none")
            stages.append(Stage(
                n, node.name, node.func, node.args, dict(node.kwargs), feed, previous or "",
                node.options,
            ))
            previous, n = n, (node.children[0] if node.children else None)
        repeat = self._repeat.get(roots[0], (None, None, None))
        check_repeat(f"{self._label()}: root {roots[0]!r}", *repeat)
        return stages, repeat

    def _dep_id(self, key: Any) -> str | None:
        try:
            return self.node_id(key)
        except (WebberError, TypeError):
            return None  # a forward reference: compile() reports it


class _ChainStore(GraphStore):
    """A QueueDAG's graph store: every edge passes through ``link`` -- add_edge(),
    a Promise argument of add_node(), update_edges() -- and is checked there
    (so none waits in ``pending``)."""

    defer = False

    def link(self, u: str, v: str, condition: Condition) -> None:
        _check_link(self, u, v, f"{self.label()}: edge {u!r} -> {v!r}")
        if condition is not Condition.Success:
            raise GraphError(
                f"{self.label()}: edge {u!r} -> {v!r} with continue_on={condition!r}; in "
                f"a stream every output of a stage goes on to the next: use Condition.Success"
            )
        super().link(u, v, condition)


def _check_link(store: GraphStore, u: str, v: str | None, where: str) -> None:
    others = [c for c in store.succ[u] if c != v]
    if others:
        raise ChainError(
            f"{where}: {u!r} already feeds {others[0]!r}; a QueueDAG node has a maximum "
            f"of one child and one parent (a stream is a chain); build a second QueueDAG "
            f"for a branch"
        )
    if v is not None:
        parents = [p for p in store.pred[v] if p != u]
        if parents:
            raise ChainError(
                f"{where}: {v!r} already takes the output of {parents[0]!r}; a QueueDAG "
                f"node has a maximum of one child and one parent (a stream is a chain)"
            )


@overload
def stream(items: Iterable[Any], /, *stages: Callable[..., Any],
           executor: str | Executor | None = None, maxsize: int = DEFAULT_MAXSIZE,
           lazy: Literal[False] = False) -> list[Any]: ...


@overload
def stream(items: Iterable[Any], /, *stages: Callable[..., Any],
           executor: str | Executor | None = None, maxsize: int = DEFAULT_MAXSIZE,
           lazy: Literal[True]) -> Iterator[Any]: ...


@tells_keywords("option")
def stream(
    items: Iterable[Any],
    /,
    *stages: Callable[..., Any],
    executor: str | Executor | None = None,
    maxsize: int = DEFAULT_MAXSIZE,
    lazy: bool = False,
) -> list[Any] | Iterator[Any]:
    """Stream ``items`` through ``stages`` (``@task`` functions or plain
    callables), each called with the previous one's output; the last stage's
    outputs, in order. All stages work at once, with at most ``maxsize``
    items between two stages; a task's ``retries`` (on what its ``retry_on``
    names), ``retry_delay`` and ``timeout`` apply per item. ``executor``: as
    for ``run()`` (None: the configured default, else processes).

    Outside a flow it runs now. Inside ``with Flow():`` it records one node
    (``items`` may be a Promise) and returns the Promise of that list.

    ``lazy=True`` (outside a flow) returns an iterator of the outputs, each as
    soon as it is out: ``items`` are read as the first stage takes them (they
    may be endless), and a ``break`` out of the loop over it stops every stage.

    >>> from webber import Flow, stream, task
    >>> @task
    ... def parse(line: str) -> int:
    ...     return int(line)
    >>> @task(retries=1)
    ... def double(x: int) -> int:
    ...     return 2 * x
    >>> stream(["1", "2", "3"], parse, double, executor="threads")
    [2, 4, 6]
    >>> with Flow() as flow:
    ...     doubled = stream(["4", "5"], parse, double, executor="inline")
    >>> flow.run(executor="inline")[doubled]
    [8, 10]
    """
    if not isinstance(items, Promise):
        _check_items(items)
    steps = _stages_of(stages)
    check_maxsize("stream()", maxsize)
    if not isinstance(lazy, bool):
        raise OptionError(f"stream(): lazy={lazy!r} is not a bool; lazy= takes True (an "
                          f"iterator of the outputs as they come) or False (their list)")
    flow = _context.active_flow.get()
    if flow is None:
        return _stream_now(items, steps, executor, maxsize, lazy)
    if lazy:
        raise TaskDefinitionError(
            "stream(lazy=True) inside `with Flow():`: a flow's node holds its result, the "
            "list of outputs; call it without lazy= here, or lazily outside the flow"
        )
    check_executor(executor)  # (else told only when the flow runs)
    name = "stream(" + ", ".join(stage.name for stage in steps) + ")"
    flow._check_promises(find_promises(items), name, False)
    if not isinstance(items, Promise):
        items = list(items)  # a generator is read once, now
    n = flow._insert(
        _stream_node, TaskOptions(name), (items, tuple(steps), executor, maxsize), {}, False
    )
    return Promise._bound(n, flow)  # type: ignore[return-value]  # stands in for the list


def _stream_now(items: Iterable[Any], steps: list[Stage], executor: str | Executor | None,
                maxsize: int, lazy: bool) -> list[Any] | Iterator[Any]:
    """stream() outside a flow: the outputs now (or, lazily, as they come)."""
    if isinstance(items, Promise):
        raise TaskDefinitionError(
            f"stream(): the items are {items!r}, the result of a task of a flow; call "
            f"stream() inside `with Flow():` to stream it when the flow runs, or pass "
            f"the result: stream(run[promise], ...)"
        )
    if lazy:
        return iter_stream(steps, executor, items=items, maxsize=maxsize)
    return list(iter_stream(steps, executor, items=items, maxsize=maxsize))


def _stream_node(
    items: Iterable[Any], stages: tuple[Stage, ...], executor: str | Executor, maxsize: int
) -> list[Any]:
    """The function of a node that ``stream()`` recorded in a flow."""
    _check_items(items)  # (a Promise's result: a str, say)
    return list(iter_stream(stages, executor, items=items, maxsize=maxsize))


def _check_items(items: object) -> None:
    """Refuse items that are no iterable, or a str or bytes: streamed, they
    were one character (or byte) at a time."""
    if isinstance(items, (str, bytes, bytearray)):
        shown = repr(items[:40]) + ("..." if len(items) > 40 else "")
        raise TaskDefinitionError(
            f"stream(): the items are a {type(items).__name__} {shown}; a "
            f"{type(items).__name__} would stream one character at a time: pass a list of "
            f"items (stream([text], ...) for one, stream(text.splitlines(), ...) for its lines)"
        )
    try:
        iter(items)  # type: ignore[call-overload]
    except TypeError:
        raise TaskDefinitionError(
            f"stream(): the items are {type(items).__name__} {items!r}, not an iterable; "
            f"pass the items first, then the stages: stream(lines, parse, ...)"
        ) from None


def _stages_of(funcs: tuple[Callable[..., Any], ...]) -> list[Stage]:
    if not funcs:
        raise TaskDefinitionError("stream() needs at least one stage: stream(items, parse, ...)")
    stages: list[Stage] = []
    counts: dict[str, int] = {}
    for position, func in enumerate(funcs, 1):
        if not callable(func):
            raise TaskDefinitionError(
                f"stream(): stage {position} is {type(func).__name__} {func!r}, not a function"
            )
        if isinstance(func, Task):
            options = func.options
            func = func.fn
        else:
            options = TaskOptions(display_name(func))
        name = options.name
        _takes_one(func, name, position)
        base = slug(name)
        counts[base] = counts.get(base, 0) + 1
        stages.append(Stage(f"{base}-{counts[base]}", name, func, (), {}, "first", "", options))
    return stages


def _takes_one(func: Callable[..., Any], name: str, position: int) -> None:
    """Refuse, at the stream() call, a stage that cannot take one argument (the
    item): else each item failed in it at run time."""
    try:
        check_call(func, (None,), {}, name)
    except TaskDefinitionError as e:
        reason = str(e).rsplit(";", 1)[0]
        raise TaskDefinitionError(
            f"stream(): stage {position}, {reason}; a stage is called with one argument, "
            f"the item (bind the others first: functools.partial({name}, ...))"
        ) from None
