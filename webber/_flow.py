"""DAG and Flow: the user-facing facade of a graph (the authoring layer).

``DAG`` is webber 0.4.0's explicit API (``add_node``, ``add_edge``, ...).
``Flow`` is a DAG that is also a context manager: inside ``with Flow():``
calls of ``@task`` functions record nodes into it (through the context
variable in ``_context.py``). The facade turns what users pass (ids,
Promises, tasks, callables) into ids, checks it, and keeps the graph in a
:class:`~webber._store.GraphStore`; running goes ``compile() -> Plan ->
executor.check(plan) -> _engine.run_plan``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from webber import _context
from webber._errors import TaskDefinitionError
from webber._graph import Condition, Edge, Node, TaskOptions, display_name
from webber._promise import Promise, find_promises, lower_iter_promise
from webber._query import GraphView, NodeRef
from webber._store import GraphStore
from webber._task import Task

if TYPE_CHECKING:
    import graphviz
    from typing_extensions import Self

    from webber._callbacks import DAGCallbacks
    from webber._dashboard import Dashboard
    from webber._events import Listener
    from webber._plan import Plan
    from webber._run import Run
    from webber.executors import Executor

__all__ = ["DAG", "Flow", "NodeRef"]

#: what update_nodes() may set: the node's own fields and its task settings
_UPDATABLE = (
    frozenset(f.name for f in fields(Node))
    - {"id", "deps", "fan_out", "options", "fan_out_slot", "fan_out_zip"}
) | frozenset(f.name for f in fields(TaskOptions))
_uids = itertools.count(1)


class DAG(GraphView):
    """A directed acyclic graph of Python callables: webber 0.4.0's explicit API.

    >>> import webber
    >>> from webber import Promise
    >>> dag = webber.DAG()
    >>> hello = dag.add_node(lambda: "Hello")
    >>> world = dag.add_node(lambda: "World!")
    >>> both = dag.add_node(" ".join, [Promise(hello), Promise(world)])
    >>> hello, both
    ('lambda-1', 'join-1')
    >>> dag.run(executor="inline")[both]
    'Hello World!'
    """

    def __init__(self, name: str = "dag") -> None:
        self.name = name
        """The graph's name, shown in plans, logs and diagrams."""
        self._uid = next(_uids)
        # The flows whose Promises name the same nodes here: this one, and the
        # flows a critical_path() was cut from (it keeps their ids).
        self._kin: frozenset[int] = frozenset((self._uid,))
        self._store = GraphStore(self._label)
        # The last Plan and the store version it was compiled from: flows are
        # often run again unchanged.
        self._plan: tuple[tuple[str, int], Plan] | None = None

    # -- building -------------------------------------------------------------------
    def add_node(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> str:
        """Add a node that will call ``fn(*args, **kwargs)``; returns its id.

        A ``Promise`` among the arguments (also inside lists, tuples, sets and
        dicts) is replaced by that node's result and records the edge. A
        ``@task`` function brings its settings (name, retries, timeout).
        """
        where = display_name(fn) if callable(fn) else repr(fn)
        args, kwargs, fan = lower_iter_promise(args, kwargs, where)
        self._check_promises(args, kwargs, where)
        if isinstance(fn, Task):
            return self._insert(fn.fn, fn.options, args, kwargs, False, fan)
        name = display_name(fn) if callable(fn) else type(fn).__name__
        return self._insert(fn, TaskOptions(name), args, kwargs, False, fan)

    def add_edge(
        self, parent: NodeRef, child: NodeRef, continue_on: Condition = Condition.Success
    ) -> None:
        """Make ``child`` wait for ``parent``; it runs only if ``continue_on`` holds.

        Adding an edge that exists already sets its condition.
        """
        self._store.link(self.node_id(parent), self.node_id(child), continue_on)

    def add_edge_many(
        self, parents: Iterable[NodeRef], children: Iterable[NodeRef]
    ) -> None:
        """Ordering edges from every parent to every child (what ``a >> b`` records)."""
        kids = [self.node_id(c) for c in children]
        for parent in parents:
            u = self.node_id(parent)
            for v in kids:
                if not self._store.has_edge(u, v):
                    self._store.link(u, v, Condition.Success)

    def retry_node(self, ref: NodeRef, count: int) -> None:
        """Re-run the node after a failure, up to ``count`` more times."""
        self._update(self.node_id(ref), retries=count)

    def skip_node(self, ref: NodeRef, skip: bool = True, as_failure: bool = False) -> None:
        """Don't run the node; its children see it as a success (or a failure
        with ``as_failure=True``). Its state in the Run is ``"skipped"``."""
        self._update(self.node_id(ref), skip=skip, skip_as_failure=as_failure)

    def relabel_node(self, ref: NodeRef, label: str) -> None:
        """Change the name the node shows in logs and diagrams (its id stays)."""
        self._update(self.node_id(ref), name=label)

    def update_nodes(
        self, *refs: NodeRef, filter: Callable[[Node], object] | None = None, **changes: Any
    ) -> list[str]:
        """Change fields of the named nodes (or of those matching ``filter``;
        every node when neither is given). Returns the ids changed.

        >>> from webber import DAG
        >>> dag = DAG()
        >>> a = dag.add_node(print, "a")
        >>> dag.update_nodes(filter=lambda n: n.name == "print", retries=3, timeout=5.0)
        ['print-1']
        """
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise TaskDefinitionError(
                f"update_nodes() cannot set {', '.join(sorted(unknown))}; "
                f"settable fields: {', '.join(sorted(_UPDATABLE))}"
            )
        named = [self.node_id(ref) for ref in refs]
        ids = self._select(named, filter, self._store.nodes.values(), lambda n: n.id)
        for n in ids:
            self._update(n, **changes)
        return ids

    def update_edges(
        self,
        *refs: tuple[NodeRef, NodeRef],
        filter: Callable[[Edge], object] | None = None,
        continue_on: Condition,
    ) -> list[tuple[str, str]]:
        """Set the condition of the named edges (or of those matching ``filter``;
        every edge when neither is given). Returns the pairs changed."""
        pairs = [(self.node_id(u), self.node_id(v)) for u, v in refs]
        for u, v in pairs:
            self.get_edge(u, v)  # raises for a missing edge
        store = self._store
        records = (store.edge(u, v) for u, v in store.pairs())  # lazy
        chosen = self._select(pairs, filter, records, lambda e: (e.parent, e.child))
        for u, v in chosen:
            store.link(u, v, continue_on)
        return chosen

    def remove_node(self, ref: NodeRef) -> None:
        """Remove the node and its edges."""
        self._store.remove(self.node_id(ref))

    def remove_edge(self, parent: NodeRef, child: NodeRef) -> None:
        """Remove the edge ``parent -> child``. A Promise argument still makes
        the child wait for the parent's result."""
        edge = self.get_edge(parent, child)
        self._store.unlink(edge.parent, edge.child)

    def critical_path(self, refs: NodeRef | Iterable[NodeRef]) -> DAG:
        """A new graph of the named nodes and all their ancestors (same ids).

        >>> from webber import DAG
        >>> dag = DAG()
        >>> a, b = dag.add_node(print, "a"), dag.add_node(print, "b")
        >>> c = dag.add_node(print, "c")
        >>> dag.add_edge(a, c)
        >>> dag.critical_path(c).nodes
        ['print-1', 'print-3']
        """
        if isinstance(refs, (str, Promise)) or callable(refs):
            refs = [refs]
        keep = self._store.ancestors(self.node_id(ref) for ref in refs)
        sub = type(self)(self.name)
        sub._kin = self._kin | sub._kin
        sub._store = self._store.subgraph(keep, sub._label)
        return sub

    # -- describing --------------------------------------------------------------
    def to_dict(self, *, strict: bool = True) -> dict[str, Any]:
        """The graph as plain data, in a versioned format that
        :meth:`from_dict` reads back: nodes (id, name, function path,
        arguments, settings, the nodes whose results they take) and edges
        (condition, whether data passes). Functions are written by name.

        Raises :class:`~webber.FormatError` naming the node that cannot be
        written: one that runs a lambda, or takes an argument that is not
        JSON. ``strict=False`` writes those anyway, as text that cannot be
        read back (for tools: ``python -m webber show --json``).

        >>> from webber import DAG, Promise
        >>> dag = DAG("doc")
        >>> a = dag.add_node(len, "abc")
        >>> b = dag.add_node(print, Promise(a), sep="")
        >>> d = dag.to_dict()
        >>> d["version"], d["nodes"][1]["function"], d["nodes"][1]["args"]
        (1, 'builtins.print', [{'$promise': 'len-1'}])
        >>> d["edges"][0]["continue_on"], d["edges"][0]["data"]
        ('Success', True)
        >>> DAG.from_dict(d).get_node(b).args
        (Promise('len-1'),)
        """
        from webber._describe import describe

        return describe(self, strict)

    def to_json(
        self, path: str | os.PathLike[str] | None = None, *, indent: int | None = 2,
        strict: bool = True,
    ) -> str:
        """:meth:`to_dict` as JSON text. With ``path``, also written to that file."""
        import json

        text = json.dumps(self.to_dict(strict=strict), indent=indent, allow_nan=False)
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text + "\n")
        return text

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], registry: Mapping[str, Callable[..., Any]] | None = None
    ) -> Self:
        """The graph that :meth:`to_dict` described, with the same ids, settings,
        arguments and edges.

        Each node's function is ``registry[node name]`` (or ``[node id]``, or
        ``[function path]``), else imported by its dotted path. Raises
        :class:`~webber.FormatError` naming the node whose function cannot
        be found, and for a document of another format version.

        >>> from webber import DAG
        >>> def shout(text: str) -> str:
        ...     return text.upper() + "!"
        >>> dag = DAG()
        >>> n = dag.add_node(shout, "hi")
        >>> copy = DAG.from_dict(dag.to_dict(), registry={"shout": shout})
        >>> copy.run(executor="inline")[n]
        'HI!'
        """
        from webber._describe import load

        return load(cls, data, registry)

    @classmethod
    def from_json(
        cls,
        path_or_text: str | os.PathLike[str],
        registry: Mapping[str, Callable[..., Any]] | None = None,
    ) -> Self:
        """:meth:`from_dict` of JSON text, or of the JSON file at a path."""
        from webber._describe import load, read_text

        return load(cls, read_text(path_or_text), registry)

    # -- compiling, running, drawing -----------------------------------------------
    def compile(self) -> Plan:
        """Validate the graph and lower it to a Plan of topological levels.

        Raises a :class:`~webber.GraphError` naming the problem: a cycle (in
        order), an unknown id (with the closest match), a task that is not
        callable or has bad settings, a condition that is not a Condition.
        The Plan knows no executor; ``run()`` asks the executor it uses to
        check it (the process executor refuses what cannot be pickled).
        """
        from webber._compile import compile_graph

        key = (self.name, self._store.version)
        if self._plan is not None and self._plan[0] == key:
            return self._plan[1]
        store = self._store
        plan = compile_graph(self.name, store.nodes, store.pred, self.node_id)
        self._plan = (key, plan)
        return plan

    def run(
        self,
        executor: str | Executor = "processes",
        *,
        max_workers: int | None = None,
        progress: bool = False,
        listeners: Iterable[Listener] = (),
        resume: Run | None = None,
        callbacks: DAGCallbacks | None = None,
        dashboard: bool | Dashboard = False,
    ) -> Run:
        """Run the graph and return its :class:`~webber.Run`.

        ``executor`` is ``"processes"`` (the default: a pool of worker
        processes, for CPU-bound Python), ``"threads"`` (I/O-bound tasks),
        ``"inline"`` (one task at a time in this thread: breakpoints work),
        ``"dask"`` (a local dask.distributed cluster) or an Executor instance.

        ``progress=True`` shows a progress bar (tqdm's when installed).
        ``listeners`` get the run's events (see :class:`~webber.Listener`).
        ``dashboard=True`` shows the run live in the browser: it prints the
        page's URL (see :class:`~webber.Dashboard`, which can also be passed).
        ``resume=previous_run`` reuses the results of the tasks that succeeded
        in ``previous_run`` and runs only the others: those that failed or were
        skipped, those whose function or arguments changed, and everything
        downstream of them (``run.reused`` lists what was reused).
        ``callbacks`` takes webber 0.4.0's :class:`~webber.DAGCallbacks`.
        """
        from webber._engine import run_plan
        from webber.executors import resolve_executor

        chosen = resolve_executor(executor, max_workers)
        plan = self.compile()
        chosen.check(plan)
        reuse = None
        if resume is not None:
            from webber._resume import reusable

            reuse = reusable(plan, resume)
        listening = list(listeners)
        if dashboard:
            from webber._dashboard import watch

            listening.insert(0, watch(dashboard))
        if callbacks is not None:
            from webber._callbacks import listener_for

            listening.append(listener_for(callbacks))
        return run_plan(plan, chosen, progress=progress, listeners=listening, reuse=reuse)

    def execute(
        self,
        executor: str | Executor = "processes",
        *,
        max_workers: int | None = None,
        progress: bool = False,
        listeners: Iterable[Listener] = (),
        resume: Run | None = None,
        callbacks: DAGCallbacks | None = None,
        dashboard: bool | Dashboard = False,
    ) -> Run:
        """webber 0.4.0's name for :meth:`run`: runs the graph, logging task output."""
        return self.run(
            executor, max_workers=max_workers, progress=progress, listeners=listeners,
            resume=resume, callbacks=callbacks, dashboard=dashboard,
        )

    def visualize(
        self, path: str | None = None, *, type: str | None = None, legend: bool = True
    ) -> graphviz.Digraph:
        """The graph as a ``graphviz.Digraph`` (shown inline in Jupyter): a box
        per task, levels as ranks, edges coloured by condition, ordering-only
        edges dashed, fan-out tasks with a double border, and a legend.

        With ``path`` (``.svg``, ``.png``, ``.pdf``, ...) also writes the file,
        and with ``type="browser"`` opens it in the system's browser; both need
        Graphviz's ``dot`` program. ``.visualize().source`` is the DOT text.
        """
        from webber import viz

        return viz.visualize(self, path, type, legend)

    # -- internals --------------------------------------------------------------------
    def _check_promises(self, args: tuple[Any, ...], kwargs: dict[str, Any], where: str) -> None:
        if not args and not kwargs:
            return
        for promise in find_promises((args, kwargs)):
            if self._is_foreign(promise):
                raise self._foreign(promise, f"task {where!r}")

    def _record(
        self, task: Task[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any], fan_out: bool
    ) -> Promise:
        """Record one call of ``task`` (the DSL path); returns its Promise."""
        args, kwargs, fan = lower_iter_promise(args, kwargs, task.options.name)
        self._check_promises(args, kwargs, task.options.name)
        if fan_out and not isinstance(args[0], (Promise, list, tuple)):
            # Materialize generators and other one-shot iterables now, once.
            args = (list(args[0]), *args[1:])
        n = self._insert(task.fn, task.options, args, kwargs, fan_out, fan)
        return Promise._bound(n, self)

    def _insert(
        self,
        fn: Callable[..., Any],
        options: TaskOptions,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        fan_out: bool,
        fan: dict[str, Any] | None = None,
    ) -> str:
        n = self._store.new_id(options.name)
        # An IterPromise argument brings its fan-out settings (see lower_iter_promise).
        settings = {"fan_out": fan_out} if fan is None else {**fan, "fan_out": True}
        self._store.insert(
            Node(n, options, fn, args, kwargs, deps=_deps(args, kwargs), **settings)
        )
        return n

    def _update(self, n: str, **changes: Any) -> None:
        if "args" in changes or "kwargs" in changes:
            node = self._store.nodes[n]
            changes["deps"] = _deps(changes.get("args", node.args),
                                    changes.get("kwargs", node.kwargs))
        try:
            self._store.update(n, **changes)
        except TypeError as e:  # unreachable for checked names; keep the cause visible
            raise TaskDefinitionError(f"cannot update node {n!r}: {e}") from e

    @staticmethod
    def _select(
        refs: Iterable[Any],
        predicate: Callable[[Any], object] | None,
        records: Iterable[Any],
        key: Callable[[Any], Any],
    ) -> list[Any]:
        """The named keys; or, with a predicate or no names, the keys of the
        records that match (among the named ones, if any). ``records`` is
        only read in the second case."""
        chosen = list(refs)
        if predicate is not None or not chosen:
            named = set(chosen)
            chosen = [
                key(r) for r in records
                if (not named or key(r) in named) and (predicate is None or predicate(r))
            ]
        return chosen


def _deps(args: Any, kwargs: Any) -> tuple[Any, ...]:
    """The keys of the Promises among the arguments, each once, in order."""
    if not args and not kwargs:
        return ()
    keys: dict[Any, None] = {}  # ordered set; callables hash by identity
    for promise in find_promises((args, kwargs)):
        keys[promise.key] = None
    return tuple(keys)


class Flow(DAG):
    """A DAG built by calling ``@task`` functions inside ``with Flow():``.

    The innermost active flow records; each thread and asyncio task has its own.

    >>> from webber import Flow, task
    >>> @task
    ... def load() -> list[int]:
    ...     return [3, 1, 2]
    >>> @task
    ... def total(rows: list[int]) -> int:
    ...     return sum(rows)
    >>> with Flow("etl") as flow:
    ...     result = total(load())
    >>> print(flow.compile())
    Plan 'etl': 2 tasks in 2 levels
      level 0: load-1
      level 1: total-1
    >>> flow.run(executor="inline")[result]
    6
    """

    def __init__(self, name: str = "flow") -> None:
        super().__init__(name)
        self._tokens: list[Any] = []

    def __enter__(self) -> Flow:
        self._tokens.append(_context.active_flow.set(self))
        return self

    def __exit__(self, *exc_info: object) -> None:
        _context.active_flow.reset(self._tokens.pop())

