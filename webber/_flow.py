"""DAG and Flow: the user-facing facade of a graph (the authoring layer).

``DAG`` is webber 0.4.0's explicit API (``add_node``, ``add_edge``, ...).
``Flow`` is a DAG that is also a context manager: inside ``with Flow():``
calls of ``@task`` functions record nodes into it (through the context
variable in ``_context.py``). The facade turns what users pass (ids,
Promises, tasks, callables) into ids, checks it, and keeps the graph in a
:class:`~webber._store.GraphStore`; running goes ``compile() -> Plan ->
executor.check(plan) -> _engine.run_plan``.

Every method checks its input and raises at the call that is wrong (a cycle
included: the store keeps a topological order up to date, see ``_order.py``),
and takes webber 0.4.0's forms too (ids as arguments or one list, ``data=``,
``filter=``; see docs/guide/coming-from-0.4.0.md). ``compile()`` checks the
whole graph again: a ``with Flow():`` block may name a node before it exists.
"""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from webber import _context
from webber._checks import graph_and_name
from webber._edits import GraphEdits, check_condition
from webber._errors import TaskDefinitionError, WebberError
from webber._gc import frozen
from webber._graph import Condition, RetryOn, display_name, plain_options, runs
from webber._keywords_040 import takes_040_keywords
from webber._nodeid import Owner
from webber._promise import IterPromise, Promise
from webber._query import NodeRef
from webber._store import GraphStore
from webber._task import Task

if TYPE_CHECKING:
    from types import ModuleType

    import graphviz
    from typing_extensions import Self

    from webber._cache import Cache
    from webber._callbacks import DAGCallbacks
    from webber._dashboard import Dashboard
    from webber._events import Listener
    from webber._plan import Plan
    from webber._run import Run
    from webber.executors import Executor

__all__ = ["DAG", "Flow", "NodeRef"]

_uids = itertools.count(1)
#: DAG._plain before add_node() took a plain callable (nothing is these)
_NO_PLAIN: tuple[Any, Any, Any] = (object(), object(), None)


@takes_040_keywords
class DAG(GraphEdits):
    """A directed acyclic graph of Python callables: webber 0.4.0's explicit API.

    ``DAG(name)`` starts an empty graph; ``DAG(graph)`` copies a graph given as
    anything with ``.nodes`` and ``.edges`` (a ``networkx.DiGraph`` whose nodes
    are callables, as webber 0.4.0 took, or another DAG's ``.graph``).

    >>> import webber
    >>> from webber import Promise
    >>> dag = webber.DAG()
    >>> hello, world = dag.add_node(lambda: "Hello"), dag.add_node(lambda: "World!")
    >>> both = dag.add_node(" ".join, [Promise(hello), Promise(world)])
    >>> hello, both, dag.run(executor="inline")[both]
    ('lambda-1', 'join-1', 'Hello World!')
    """

    def __init__(self, graph: Any = None, *, name: str | None = None) -> None:
        graph, name = graph_and_name(type(self).__name__, graph, name, isinstance(self, Flow))
        frozen.release()  # (an earlier graph's build may have held a freeze: see _gc)
        self.name = name
        """The graph's name, shown in plans, logs and diagrams."""
        self._uid = next(_uids)
        # The flows whose Promises name the same nodes here: this one, and the
        # flows a critical_path() was cut from (it keeps their ids).
        self._kin: frozenset[int] = frozenset((self._uid,))
        self._store = GraphStore(self._label_weakly())
        self._owner = Owner(self)
        # The last Plan and the store version it was compiled from: flows are
        # often run again unchanged.
        self._plan: tuple[tuple[str, int], Plan] | None = None
        #: the last plain callable add_node() took, its ``__name__`` and its options
        self._plain: tuple[Any, Any, Any] = _NO_PLAIN
        if graph is not None:
            self._load(graph)

    # -- building -------------------------------------------------------------------
    def add_node(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> str:
        """Add a node that will call ``fn(*args, **kwargs)``; returns its id.

        A ``Promise`` among the arguments (also inside plain lists, tuples, sets and
        dicts' values; refused elsewhere) is replaced by that node's result and records
        the edge; it must name a node of this DAG (else :class:`~webber.InvalidPromiseError`). A
        ``@task`` function brings its settings (name, retries, timeout). The id
        is a ``str`` that remembers this DAG: another DAG refuses it.
        """
        plain = self._plain
        if fn is plain[0] and getattr(fn, "__name__", None) is plain[1]:  # (as last time)
            if not (args or kwargs):  # (nothing to read: a wide flow's tasks)
                return self._owner.cls(self._store.add_plain(plain[2], fn, args, kwargs))
            return self._owner.cls(self._add_link(fn, plain[2], args, kwargs)  # (a chain's)
                                   or self._add(fn, plain[2], args, kwargs, True))
        if not callable(fn):
            raise TaskDefinitionError(
                f"add_node(): {type(fn).__name__} {fn!r} is not a callable Python function; "
                f"add_node() takes the function first, then its arguments"
            )
        if isinstance(fn, Task):
            func, options = fn.fn, fn.options
        else:
            func, options = fn, plain_options(display_name(fn))
            name = getattr(fn, "__name__", None)
            if name:  # (its options follow from its name alone: see display_name)
                self._plain = (fn, name, options)
        return self._owner.cls(self._add(func, options, args, kwargs, True))

    def add_edge(
        self, parent: NodeRef, child: NodeRef, continue_on: Condition = Condition.Success
    ) -> tuple[str, str]:
        """Make ``child`` wait for ``parent``; it runs only if ``continue_on`` holds.
        Returns the pair of ids.

        A callable that no node runs yet is added as a node (with no
        arguments). An edge that closes a cycle, or that was added already,
        raises (:class:`~webber.CycleError`, :class:`~webber.DuplicateEdgeError`);
        to change an edge's condition use :meth:`update_edges`. The edge that a
        Promise argument made may be named once, to set its condition.
        """
        mine = self._owner.cls
        if continue_on.__class__ is Condition and parent.__class__ is child.__class__ is mine:
            # The common case first (100,000-node graphs): two ids of this DAG, a
            # new edge that agrees with the topological order (parent added first).
            store = self._store
            pu, pv = store.nodes.get(parent), store.nodes.get(child)
            # (the records' ids: plain strings, the dicts' fast path from here on)
            if pu is not None and pv is not None and store.add_agreeing(pu.id, pv.id, continue_on):
                return (parent, child)
        check_condition(continue_on, "add_edge")
        new = [callable(ref) and not isinstance(ref, (str, Promise, Mapping))
               and not self._runs(ref) for ref in (parent, child)]
        u = "" if new[0] else self.node_id(parent)
        v = "" if new[1] else self.node_id(child)
        if not (new[0] or new[1]):
            self._check_edge(u, v)
        if new[0]:
            u = self.add_node(parent)
        if new[1]:
            v = self.add_node(child)
        self._store.implied.discard((u, v))
        self._store.link(u, v, continue_on)
        return (self._mine(parent, u), self._mine(child, v))

    def add_edge_many(
        self, parents: Iterable[NodeRef], children: Iterable[NodeRef]
    ) -> None:
        """Ordering edges from every parent to every child (what ``a >> b``
        records); existing edges are kept. All or none are added."""
        kids = [self.node_id(c) for c in children]
        added: list[tuple[str, str]] = []
        try:
            for parent in parents:
                u = self.node_id(parent)
                for v in kids:
                    if not self._store.has_edge(u, v):
                        self._store.connect(u, v, Condition.Success)
                        added.append((u, v))
        except WebberError:
            for u, v in added:
                self._store.unlink(u, v)
            raise

    def retry_node(
        self,
        ref: NodeRef,
        count: int,
        retry_on: RetryOn = None,
    ) -> None:
        """Re-run the node after a failure, up to ``count`` more times; with
        ``retry_on``, only after those exception classes (or when that
        predicate of the exception is true): other failures fail at once.

        >>> from webber import DAG
        >>> dag = DAG()
        >>> n = dag.add_node(int, "x")
        >>> dag.retry_node(n, 3, retry_on=ConnectionError)
        >>> len(dag.run(executor="inline").attempts[n])  # a ValueError: not retried
        1
        """
        self._update(self.node_id(ref), retries=count, retry_on=retry_on)

    def skip_node(self, ref: NodeRef, skip: bool = True, as_failure: bool = False) -> None:
        """Don't run the node; its children see it as a success (or a failure
        with ``as_failure=True``), and get None for its value. Its state is ``"skipped"``."""
        self._update(self.node_id(ref), skip=skip, skip_as_failure=as_failure)

    def relabel_node(self, ref: NodeRef, label: str) -> str:
        """Change the name the node shows in logs and diagrams (its id stays);
        returns the label."""
        n = self.node_id(ref)
        if not isinstance(label, str) or not label:
            raise TaskDefinitionError(
                f"relabel_node({n!r}, {label!r}): the label must be a Python string of one or "
                f"more characters"
            )
        self._update(n, name=label)
        return label

    def remove_node(self, ref: NodeRef) -> None:
        """Remove the node and its edges."""
        self._store.remove(self.node_id(ref))

    def remove_edge(self, parent: NodeRef, child: NodeRef) -> tuple[str, str]:
        """Remove the edge ``parent -> child``; returns its pair of ids. A
        Promise argument still makes the child wait for the parent's result."""
        edge = self.get_edge(parent, child)
        self._store.unlink(edge.parent, edge.child)
        return (self._mine(parent, edge.parent), self._mine(child, edge.child))

    def critical_path(self, refs: NodeRef | Iterable[NodeRef]) -> DAG:
        """A new graph of the named nodes and all their ancestors (same ids).

        >>> from webber import DAG
        >>> dag = DAG()
        >>> a, b = dag.add_node(print, "a"), dag.add_node(print, "b")
        >>> c = dag.add_node(print, "c")
        >>> dag.add_edge(a, c)
        ('print-1', 'print-3')
        >>> list(dag.critical_path(c).nodes)
        ['print-1', 'print-3']
        """
        if isinstance(refs, (str, Promise, Mapping)) or callable(refs):
            refs = [refs]
        keep = self._store.ancestors(self.node_id(ref) for ref in refs)
        sub = type(self)(self.name)
        sub._kin = self._kin | sub._kin
        sub._store = self._store.subgraph(keep, sub._label_weakly())
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
        >>> DAG.from_dict(d).get_node("print-1").args  # ids are plain strings in a file
        (Promise('len-1'),)
        """
        from webber._describe import describe

        return describe(self, strict)

    def to_json(
        self, path: str | os.PathLike[str] | None = None, *, indent: int | None = 2,
        strict: bool = True, file: str | os.PathLike[str] | None = None,
    ) -> str:
        """:meth:`to_dict` as JSON text. With ``path``, also written to that
        file (``file``: webber 0.4.0's name for it)."""
        from webber._describe import write_json

        return write_json(self, file if path is None else path, indent, strict)

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], registry: Mapping[str, Callable[..., Any]] | None = None,
        module: ModuleType | None = None,
    ) -> Self:
        """The graph that :meth:`to_dict` described, with the same ids, settings,
        arguments and edges.

        Each node's function is ``registry[node name]`` (or ``[node id]``, or
        ``[function path]``), else ``module``'s of that name, else imported by
        its dotted path; else :class:`~webber.FormatError`, as for a document
        of another version. A graph webber 0.4.0 wrote gets fresh ids, as there.

        >>> from webber import DAG
        >>> def shout(text: str) -> str:
        ...     return text.upper() + "!"
        >>> dag = DAG()
        >>> n = dag.add_node(shout, "hi")
        >>> copy = DAG.from_dict(dag.to_dict(), registry={"shout": shout})
        >>> copy.run(executor="inline")["shout-1"]  # the copy's id: the same string
        'HI!'
        """
        from webber._describe import load

        return load(cls, data, registry, module)

    @classmethod
    def from_json(
        cls,
        path_or_text: str | bytes | os.PathLike[str] | None = None,
        registry: Mapping[str, Callable[..., Any]] | None = None,
        module: ModuleType | None = None,
        *, source: str | bytes | os.PathLike[str] | None = None,
    ) -> Self:
        """:meth:`from_dict` of JSON text (or bytes) or a JSON file's path (0.4.0: ``source=``)."""
        from webber._describe import load, read_text

        return load(cls, read_text(path_or_text, source), registry, module)

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
        pred, succ = store.raw()
        plan = compile_graph(self.name, store.nodes, pred, self.node_id, succ)
        self._plan = (key, plan)
        return plan

    def run(
        self,
        executor: str | Executor | None = None,
        *,
        max_workers: int | None = None,
        progress: bool = False,
        listeners: Iterable[Listener] = (),
        resume: Run | None = None,
        cache: str | os.PathLike[str] | Cache | None = None,
        limits: Mapping[str, int] | None = None,
        dashboard: bool | Dashboard = False,
        callbacks: DAGCallbacks | None = None,
    ) -> Run:
        """Run the graph and return its :class:`~webber.Run`.

        ``executor`` is ``"processes"`` (the default: a pool of worker
        processes, for CPU-bound Python), ``"threads"`` (I/O-bound tasks),
        ``"inline"`` (one task at a time in this thread: breakpoints work),
        ``"dask"`` (a local dask.distributed cluster) or an Executor instance.
        Without one, ``webber.config.executor`` or the environment variable
        ``WEBBER_EXECUTOR`` chooses (see :class:`~webber.Config`).

        ``progress=True`` shows a progress bar (tqdm's when installed).
        ``listeners`` get the run's events (see :class:`~webber.Listener`).
        ``dashboard=True`` shows the run live in the browser: it prints the
        page's URL (see :class:`~webber.Dashboard`, which can also be passed).
        ``resume=previous_run`` reuses the results of the tasks that succeeded
        in ``previous_run`` and runs only the others: those that failed or were
        skipped, those whose function or arguments changed, and everything
        downstream of them (``run.reused`` lists what was reused).

        ``cache=".webber-cache"`` (a directory, or a :class:`~webber.Cache`)
        stores each result on disk under a key of the task's function,
        arguments and parents' keys; a later run, in any process, loads it
        instead of running the task (``run.cached``; see the caching guide).
        ``limits={"db": 2}`` lets at most 2 tasks tagged ``@task(limit="db")``
        run at once. ``callbacks`` takes webber 0.4.0's :class:`~webber.DAGCallbacks`.
        """
        from webber._running import run_graph

        return run_graph(self, executor, max_workers, progress, listeners, resume, dashboard,
                         callbacks, cache=cache, limits=limits)

    async def arun(self, executor: str | Executor | None = None, **options: Any) -> Run:
        """:meth:`run` (same arguments) without blocking the caller's event loop
        (Jupyter, FastAPI), in a thread of its own; cancelling the ``await``
        (a notebook's interrupt) stops it as Ctrl-C stops :meth:`run`.

        >>> import asyncio, webber
        >>> dag = webber.DAG()
        >>> n = dag.add_node(sum, [1, 2, 3])
        >>> asyncio.run(dag.arun(executor="threads"))[n]
        6
        """
        from webber._running import in_thread

        return await in_thread(functools.partial(self.run, executor, **options))

    def execute(
        self,
        executor: str | Executor | bool | None = None,
        print_exc: bool | None = None,
        max_workers: int | None = None,
        verbose: bool = True,
        callbacks: DAGCallbacks | None = None,
        *,
        return_ref: bool = False,
        progress: bool = False,
        listeners: Iterable[Listener] = (),
        resume: Run | None = None,
        dashboard: bool | Dashboard = False,
    ) -> Run:
        """webber 0.4.0's name for :meth:`run`, with its arguments: runs the
        graph, logging task output, and returns the Run.

        ``print_exc=False`` logs failures without their traceback, ``verbose=False``
        leaves retries unlogged, ``max_workers`` caps the workers, ``callbacks``
        is passed on to :meth:`run`. ``return_ref`` is accepted and changes
        nothing: the Run is always returned (0.4.0 returned None unless it was
        True); a bool in the first place is 0.4.0's positional ``return_ref``.
        """
        if isinstance(executor, bool):
            executor = None
        from webber._running import run_graph

        return run_graph(
            self, executor, max_workers, progress, listeners, resume, dashboard, callbacks,
            tracebacks=print_exc is not False, verbose=verbose,
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
    def _record(
        self, task: Task[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any], fan_out: bool
    ) -> Promise:
        """Record one call of ``task`` (the DSL path); returns its Promise."""
        if fan_out and not isinstance(args[0], (Promise, IterPromise, list, tuple)):
            # Materialize generators and other one-shot iterables now, once.
            args = (list(args[0]), *args[1:])
        n = self._add(task.fn, task.options, args, kwargs, False, fan_out)
        return Promise._bound(n, self)

    def _runs(self, func: Callable[..., Any]) -> bool:
        """Whether some node runs ``func`` (add_edge adds those that none runs)."""
        func = func.fn if isinstance(func, Task) else func
        return any(runs(n.func, func) for n in self._store.nodes.values())


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
        super().__init__("flow" if name is None else name)  # (Flow(None): not "dag")
        self._tokens: list[Any] = []

    def __enter__(self) -> Flow:
        self._tokens.append(_context.active_flow.set(self))
        return self

    def __exit__(self, *exc_info: object) -> None:
        _context.active_flow.reset(self._tokens.pop())
