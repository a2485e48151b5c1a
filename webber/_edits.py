"""Changing a graph in webber 0.4.0's forms: the edit side of a DAG (``GraphEdits``).

``DAG`` (``_flow.py``) is a GraphEdits: a :class:`~webber._query.GraphView`
that inserts and changes nodes and edges. Every change is checked at the
call (a bad value, a Promise of no node here, a cycle, a duplicate edge) and
applied to all it names, or to none. It takes 0.4.0's forms: ids as
arguments or one list, ``filter=``, ``data=``, records, and ``DAG(graph)``
with a networkx-shaped graph.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields
from typing import Any

from webber._checks import check_call, check_node
from webber._drafts import make_node
from webber._errors import (
    DuplicateEdgeError,
    TaskDefinitionError,
    UnknownNodeError,
    UnknownPromiseError,
    WebberError,
)
from webber._graph import Condition, Edge, Node, TaskOptions, display_name
from webber._hidden import LOOKED, hidden_promise, looked_into, nothing_hidden
from webber._promise import Promise, find_promises, lower_iter_promise
from webber._query import GraphView, NodeRef, spread
from webber._refs import SCALARS, made_of, substitute

__all__ = ["GraphEdits", "check_condition"]

#: what update_nodes() may set: the node's own fields and its task settings
_UPDATABLE = (
    frozenset(f.name for f in fields(Node)) - {"id", "deps", "fan_out", "options"}
) | frozenset(f.name for f in fields(TaskOptions))
#: webber 0.4.0's keys of a node's data -> the field they set
_SEED_NODE_KEYS = {"callable": "func", "retry": "retries"}


class GraphEdits(GraphView):
    """The methods that change a DAG in bulk (see :class:`~webber.DAG`)."""

    #: the function last added as a chain's link: it takes one positional argument
    _linked: Any = None

    def update_nodes(
        self,
        *refs: NodeRef,
        filter: Callable[[Node], object] | None = None,
        data: Mapping[str, Any] | None = None,
        callable: Callable[..., Any] | None = None,
        args: Iterable[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **changes: Any,
    ) -> list[str]:
        """Change the named nodes (as arguments or one list), or those matching
        ``filter``: give one or the other. Returns the ids changed.

        What to change: ``callable=``, ``args=``, ``kwargs=``, ``data=`` (a
        dict of those and ``name``, as webber 0.4.0 took), or any field of the
        record (``retries=``, ``timeout=``, ``name=``, ...). A record or dict
        with an ``"id"`` given instead of an id sets what it holds. All nodes
        are changed, or none (a bad value raises, naming the task).

        >>> from webber import DAG
        >>> dag = DAG()
        >>> a = dag.add_node(print, "a")
        >>> dag.update_nodes(filter=lambda n: n.name == "print", retries=3, timeout=5.0)
        ['print-1']
        """
        given = dict(data or {})
        for key, value in (("callable", callable), ("args", args), ("kwargs", kwargs)):
            if value is not None:
                given[key] = value
        given.update(changes)
        named = spread(refs, nodes=True)
        if not given and named and all(isinstance(r, Mapping) for r in named):
            # 0.4.0's update_nodes(record, ...): each record holds its own changes
            plans = [(self.node_id(r), {k: v for k, v in r.items() if k != "deps"})
                     for r in named]
        else:
            ids = self._choose(
                "update_nodes", [self.node_id(r) for r in named], filter,
                self._store.nodes.values(), lambda n: n.id,
            )
            plans = [(n, given) for n in ids]
        if not given and not all(fields_ for _, fields_ in plans):
            raise TaskDefinitionError(
                "update_nodes() got nothing to change; pass callable=, args=, kwargs=, "
                "data={...} or a field such as retries= or timeout="
            )
        self._update_many([(n, self._node_fields(n, fields_)) for n, fields_ in plans])
        return [self._mine(n) for n, _ in plans]

    def update_edges(
        self,
        *refs: Any,
        filter: Callable[[Edge], object] | None = None,
        data: Mapping[str, Any] | None = None,
        continue_on: Condition | None = None,
    ) -> list[tuple[str, str]]:
        """Set the condition of the named edges (``(parent, child)`` pairs, as
        arguments or one list) or of those matching ``filter``: give one or
        the other. ``continue_on=`` (or ``data={"continue_on": ...}``, also
        spelled ``"Condition"``) is the new condition. Returns the pairs changed.
        """
        named = spread(refs)
        wanted = continue_on
        if data is not None:
            wanted = _condition_in(data, "update_edges(data=...)", continue_on)
        if wanted is None and named and all(isinstance(r, Mapping) for r in named):
            # 0.4.0's update_edges(record, ...): each record holds its condition
            plans = [(self._pair(r), _condition_in(r, "update_edges(record)", None))
                     for r in named]
        else:
            pairs = [self._pair(r) for r in named]
            store = self._store
            records = (store.edge(u, v) for u, v in store.pairs())  # lazy
            chosen = self._choose(
                "update_edges", pairs, filter, records, lambda e: (e.parent, e.child)
            )
            plans = [(pair, wanted) for pair in chosen]
        for _, condition in plans:
            if condition is None:
                raise TaskDefinitionError(
                    "update_edges() got no condition; pass continue_on=Condition.Success, "
                    "Condition.Failure or Condition.AnyCase"
                )
            check_condition(condition, "update_edges")
        for (u, v), condition in plans:
            self._store.link(u, v, condition)  # type: ignore[arg-type]  # checked above
        return [(self._mine(u), self._mine(v)) for (u, v), _ in plans]

    # -- internals --------------------------------------------------------------------
    def _add(
        self, fn: Callable[..., Any], options: TaskOptions, args: tuple[Any, ...],
        kwargs: dict[str, Any], known: bool, fan_out: bool = False,
        promises: list[Promise] | None = None, fan: dict[str, Any] | None = None,
    ) -> str:
        """Add a node that calls ``fn(*args, **kwargs)``; returns its id.

        The arguments are read once, unless ``promises`` (those in them) is given: Promises
        checked (see :meth:`_check_promises`), an IterPromise lowered to its fan-out settings
        (``fan``: see lower_iter_promise). Plain values are not walked. One call for the
        common case (a chain's links, 100,000 of them): atoms and Promises of nodes here."""
        if promises is None and (n := self._add_link(fn, options, args, kwargs, fan_out)):
            return n
        present = False  # whether each Promise was found to name a node here
        if promises is None and not (args or kwargs):
            if not known:  # (a DAG API node may get them from update_nodes(): compile() checks)
                check_call(fn, args, kwargs, options.name)
            return self._store.add_plain(options, fn, args, kwargs, fan_out)  # (nothing to read)
        given = (args, kwargs)  # (as called: an IterPromise is lowered below)
        if promises is None:
            promises = []
            kin, nodes = self._kin, self._store.nodes
            check = False  # whether a Promise needs _check_promises (the rare case)
            for arg in (*args, *kwargs.values()) if kwargs else args:
                kind = arg.__class__
                if kind is Promise:
                    promises.append(arg)
                    origin, key = arg._origin, arg.key
                    if (origin is not None and origin[0] not in kin) or (
                            known and not (key.__class__ is str and key in nodes)):
                        check = True
                elif (looked := LOOKED.get(kind)) or (looked is None and looked_into(kind)):
                    if made_of(arg, SCALARS) or nothing_hidden(arg):
                        continue  # (a list of numbers, a Config of strings, an array: nothing)
                    args, kwargs, fan = lower_iter_promise(args, kwargs, options.name)
                    promises, check = find_promises((args, kwargs)), True
                    _check_containers(args, kwargs, options.name, promises)
                    break
            if check:
                self._check_promises(promises, options.name, known)
            present = known and not check  # (the DAG API's common case)
        check_call(fn, *given, options.name)  # (after the Promises: a foreign one says more)
        store = self._store
        if not promises and fan is None:
            return store.add_plain(options, fn, args, kwargs, fan_out)
        n = store.new_id(options.name)
        deps: tuple[Any, ...] = ()
        conditioned = False
        if promises:
            deps = _deps(promises)
            # (several Promises: one of them may carry a condition, or name a parent twice)
            conditioned = len(promises) > 1 or promises[0].condition is not None
        if fan is None:
            node = make_node(n, options, fn, args, kwargs, deps, fan_out)
        else:  # an IterPromise argument brings its fan-out settings
            node = Node(n, options, fn, args, kwargs, deps=deps, **fan, fan_out=True)
        n = store.insert(node, present)  # (another id if a thread took this one meanwhile)
        if conditioned:
            self._conditions(n, promises)
        return n

    def _add_link(self, fn: Callable[..., Any], options: TaskOptions, args: tuple[Any, ...],
                  kwargs: dict[str, Any], fan_out: bool = False) -> str | None:
        """:meth:`_add` in short for a node whose one argument is a Promise, with no
        condition, of a node here (a chain's link: 100,000 of them); else None."""
        if len(args) != 1 or kwargs or args[0].__class__ is not Promise:
            return None
        promise = args[0]
        origin, key, store = promise._origin, promise.key, self._store
        if ((origin is not None and origin[0] not in self._kin) or promise.condition is not None
                or key.__class__ is not str or key not in store.nodes):
            return None  # (the rare cases: _add tells)
        if fn is not self._linked:  # (a chain's links run one function: checked once)
            check_call(fn, args, kwargs, options.name)
            self._linked = fn
        return store.add_link(options, fn, args, kwargs, key, fan_out)

    def _check_promises(self, promises: list[Promise], where: str, known: bool) -> None:
        """Refuse a Promise of another flow; with ``known``, also one of a node
        that is not here yet (the DAG API; the DSL may name a node to come)."""
        for promise in promises:
            if self._is_foreign(promise):
                raise self._foreign(promise, f"task {where!r}")
            if known:
                try:
                    self._store.node_id(promise.key)
                except UnknownNodeError as e:
                    raise UnknownPromiseError(
                        f"task {where!r} takes {promise!r}, but {e}", promise.key
                    ) from None

    def _insert(
        self,
        fn: Callable[..., Any],
        options: TaskOptions,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        fan_out: bool,
    ) -> str:
        """Add a node whose arguments are taken as they are (their Promises
        found, not checked: the caller did)."""
        promises = find_promises((args, kwargs)) if args or kwargs else []
        return self._add(fn, options, args, kwargs, False, fan_out, promises)

    def _conditions(self, n: str, promises: list[Promise]) -> None:
        """Set the condition of each edge an argument marked with
        ``webber.any_case()`` / ``webber.on_failure()`` (see _promise)."""
        for promise in promises:
            if promise.condition is not None:
                try:
                    parent = self.node_id(promise.key)
                except UnknownNodeError:
                    continue  # a forward reference: compile() names it
                self._store.link(parent, n, promise.condition)

    def _check_edge(self, u: str, v: str) -> None:
        """Raise if ``u -> v`` cannot be added: it exists, or closes a cycle."""
        store = self._store
        if store.has_edge(u, v):
            if (u, v) in store.implied:
                return  # made by a Promise: add_edge may name it, once
            raise DuplicateEdgeError(
                f"{self._label()} already has the edge {u} -> {v}; to change its "
                f"condition use update_edges(({u!r}, {v!r}), continue_on=...)"
            )
        store.check_new_edge(u, v)

    def _pair(self, ref: Any) -> tuple[str, str]:
        """The existing edge a pair (or an edge record or dict) names, as ids."""
        if isinstance(ref, Mapping):
            ref = ref["id"] if "id" in ref else (ref["parent"], ref["child"])
        if not (isinstance(ref, tuple) and len(ref) == 2):
            raise TaskDefinitionError(
                f"expected an edge as a (parent, child) pair, got {type(ref).__name__} "
                f"{ref!r}; name each edge as (parent, child), or choose them with filter="
            )
        edge = self.get_edge(*ref)
        return (edge.parent, edge.child)

    def _node_fields(self, n: str, given: Mapping[str, Any]) -> dict[str, Any]:
        """``given`` (0.4.0's keys or Node fields) checked and turned into fields."""
        out: dict[str, Any] = {}
        for key, value in given.items():
            if key == "id":
                if value != n:
                    raise TaskDefinitionError(
                        f"update_nodes() cannot set id: ids never change ({value!r} is not "
                        f"{n!r}); relabel_node() changes the name a node shows"
                    )
                continue
            out[_SEED_NODE_KEYS.get(key, key)] = value
        unknown = set(out) - _UPDATABLE
        if unknown:
            raise TaskDefinitionError(
                f"update_nodes() cannot set {', '.join(sorted(unknown))}; "
                f"settable fields: {', '.join(sorted(_UPDATABLE))}"
            )
        if "args" in out:
            args = out["args"]
            if isinstance(args, (str, bytes, Mapping)) or not isinstance(args, Iterable):
                raise TaskDefinitionError(
                    f"task {n!r}: args={args!r} must be a list or tuple of positional "
                    f"arguments (for one string argument: args=[{args!r}])"
                )
            out["args"] = tuple(args)
        if "kwargs" in out:
            if not isinstance(out["kwargs"], Mapping):
                raise TaskDefinitionError(
                    f"task {n!r}: kwargs={out['kwargs']!r} must be a dict of keyword arguments"
                )
            out["kwargs"] = dict(out["kwargs"])  # (an OrderedDict's Promises get results too)
        for flag in ("partial", "fan_out_zip"):  # (compile checks skip and fan_out)
            if flag in out and not isinstance(out[flag], bool):
                raise TaskDefinitionError(
                    f"task {n!r}: {flag}={out[flag]!r} must be a boolean, True or False")
        if "name" in out and (out["name"] is None or out["name"] == ""):
            del out["name"]  # 0.4.0: the name goes back to the function's
            if "func" not in out:
                out["name"] = display_name(self._store.nodes[n].func)
        if "name" in out and (not isinstance(out["name"], str) or not out["name"]):
            raise TaskDefinitionError(f"task {n!r}: name={out['name']!r} must be a non-empty str")
        if "func" in out and "name" not in out and builtins.callable(out["func"]):
            out["name"] = display_name(out["func"])  # the name follows the function
        return out

    def _update(self, n: str, **changes: Any) -> None:
        self._update_many([(n, changes)])

    def _update_many(self, plans: list[tuple[str, dict[str, Any]]]) -> None:
        """Change the planned nodes: all of them, or (when a change is refused:
        a bad value, a Promise of no node here, a cycle) none."""
        store = self._store
        old = {n: store.nodes[n] for n, _ in plans}
        added: list[tuple[str, str]] = []
        try:
            for n, changes in plans:
                if "args" in changes or "kwargs" in changes:
                    node = store.nodes[n]
                    args = changes.get("args", node.args)
                    kwargs = changes.get("kwargs", node.kwargs)
                    promises = find_promises((args, kwargs))
                    self._check_promises(promises, n, known=True)
                    _check_containers(args, kwargs, n, promises)
                    changes = {**changes, "deps": _deps(promises)}
                try:
                    added.extend(store.update(n, **changes))
                except TypeError as e:  # unreachable for checked names; keep the cause visible
                    raise TaskDefinitionError(f"cannot update node {n!r}: {e}") from e
                check_node(store.nodes[n])
                if "args" in changes or "kwargs" in changes:
                    self._conditions(n, promises)
        except WebberError:
            for u, v in added:
                store.unlink(u, v)
            for node in old.values():
                store.put(node)
            raise

    @staticmethod
    def _choose(
        method: str,
        refs: list[Any],
        predicate: Callable[[Any], object] | None,
        records: Iterable[Any],
        key: Callable[[Any], Any],
    ) -> list[Any]:
        """The keys named in ``refs``, or those of the records that match
        ``predicate``: exactly one of the two must be given (0.4.0's rule)."""
        if bool(refs) == (predicate is not None):
            which = "both ids and" if refs else "neither ids nor"
            raise TaskDefinitionError(
                f"{method}() got {which} a filter: name what to change either by ids "
                f"(as arguments or one list) or with filter=lambda ...: ..., not both"
            )
        if predicate is None:
            return list(dict.fromkeys(refs))
        return [key(r) for r in records if predicate(r)]

    def _load(self, graph: Any) -> None:
        """Build from ``graph`` (``.nodes`` and ``.edges``, networkx's shape):
        nodes that are callables, or ids whose data holds ``"callable"``."""
        nodes, edges = getattr(graph, "nodes", None), getattr(graph, "edges", None)
        if nodes is None or edges is None:
            raise TaskDefinitionError(
                f"{type(self).__name__}() takes a name (str) or a graph with .nodes and .edges "
                f"(such as a networkx.DiGraph whose nodes are callables), not "
                f"{type(graph).__name__} {graph!r}"
            )
        is_directed = getattr(graph, "is_directed", None)
        if callable(is_directed) and not is_directed():  # (an edge u - v has no parent)
            raise TaskDefinitionError(
                f"DAG(graph): {type(graph).__name__} is undirected, so no edge says which "
                f"node runs first; build a networkx.DiGraph (edges parent -> child)"
            )
        ids: dict[Any, str] = {}
        for key in list(nodes):
            data = _item(nodes, key)
            func = data.get("callable", key if callable(key) else None)
            if not callable(func):
                raise TaskDefinitionError(
                    f"DAG(graph): node {key!r} is not callable and its data has no "
                    f"'callable'; the graph's nodes must be the functions to run"
                )
            options = TaskOptions(data.get("name") or display_name(func))
            # known=True: its arguments come below, and are checked with them there
            ids[key] = self._add(func, options, (), {}, True, bool(data.get("fan_out", False)))
        for key, n in ids.items():  # arguments last: their Promises name the new ids
            data = _item(nodes, key)
            args, kwargs = substitute(
                (tuple(data.get("args", ())), dict(data.get("kwargs", {}))),
                Promise, lambda p: Promise(ids.get(p.key, p.key)),
            )
            settings = {f: data[f] for f in ("retries", "retry_delay", "retry_backoff",
                                             "timeout", "skip_as_failure") if f in data}
            if "retry" in data and "retries" not in data:
                settings["retries"] = data["retry"]
            skip = data.get("skip", False)
            if isinstance(skip, tuple):  # 0.4.0 kept (skip, as_failure)
                skip, settings["skip_as_failure"] = skip
            self._update(n, args=args, kwargs=kwargs, skip=skip, **settings)
        for u, v in list(edges):
            data = _item(edges, (u, v))
            condition = _condition_in(data, f"DAG(graph): edge {u!r} -> {v!r}", None)
            self._check_edge(ids[u], ids[v])
            self._store.link(ids[u], ids[v], condition or Condition.Success)


def _check_containers(args: tuple[Any, ...], kwargs: Mapping[str, Any], where: str,
                      promises: list[Promise]) -> None:
    """Refuse, at the call, arguments whose Promises no result could take the
    place of: a cycle through a tuple or a set that compile() could not
    rebuild with each result in place, or a Promise inside a namedtuple, a
    dataclass, a deque, a subclass of list, tuple, set or dict (an
    OrderedDict, a Counter), a numpy object array, or as a dict's key (the
    task would get the Promise itself, and would not wait for it)."""
    if promises:
        try:
            substitute((args, kwargs), Promise, lambda p: p)
        except TaskDefinitionError as e:
            raise TaskDefinitionError(f"task {where!r}: {e}") from None
    found = hidden_promise((args, kwargs))
    if found is not None:
        place, promise, fix = found
        raise TaskDefinitionError(
            f"task {where!r}: {promise!r} is {place}; a result takes the place of a Promise "
            f"in plain lists, tuples, sets and dicts' values only, so the task would get the "
            f"Promise itself (and not wait for it): {fix}"
        )


def _deps(promises: list[Promise]) -> tuple[Any, ...]:
    """The keys of ``promises``, each once, in order."""
    if not promises:
        return ()
    if len(promises) == 1:
        return (promises[0].key,)
    return tuple(dict.fromkeys(p.key for p in promises))  # callables hash by identity


def _item(container: Any, key: Any) -> Mapping[str, Any]:
    """The data of a node or edge of a networkx-shaped graph ({} if it has none)."""
    try:
        data = container[key]
    except (TypeError, KeyError, IndexError):
        return {}
    return data if isinstance(data, Mapping) else {}


def check_condition(condition: object, method: str) -> None:
    if condition.__class__ is not Condition:
        raise TaskDefinitionError(
            f"{method}(): continue_on={condition!r} is not a Condition; use "
            f"Condition.Success, Condition.Failure or Condition.AnyCase"
        )


def _condition_in(
    data: Mapping[str, Any], where: str, default: Condition | None
) -> Condition | None:
    """The condition a dict gives as ``continue_on`` or (0.4.0's key) ``Condition``."""
    condition = data.get("continue_on", data.get("Condition", default))
    if condition is None or condition.__class__ is Condition:
        return condition
    if isinstance(condition, int) and not isinstance(condition, bool):
        try:
            return Condition(condition)  # 0.4.0 stored them as numbers too
        except ValueError:
            pass
    raise TaskDefinitionError(
        f"{where}: condition {condition!r} is not a Condition; use Condition.Success, "
        f"Condition.Failure or Condition.AnyCase"
    )
