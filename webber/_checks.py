"""The rules a node and the edges between nodes must follow, in one place
(and a graph's name).

``compile()`` applies them to the whole graph; the DAG API and the graph store
apply the same ones to each node and edge they change, so a bad call fails at
its own line. Whether a task's function can take the arguments it is given is
told where the task is added (:func:`check_call`; a DAG API node added without
arguments, which ``update_nodes()`` may give it later, at ``compile()``), not
when it runs, possibly hours later, in a worker: Python's own rules decide (``Signature.bind``), but
only after a sub-microsecond look at a plain function's code object says the
call does not fit. A call that fits, or a callable whose shape cannot be read
that cheaply (a builtin, a class, a callable object), costs one comparison or
is left to the run. A wrapper's own signature is the one checked
(``follow_wrapped=False``): a decorator may pass its function arguments the
caller does not.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping
from types import BuiltinFunctionType, FunctionType, MethodType
from typing import Any

from webber._bounded import remember
from webber._errors import CycleError, TaskDefinitionError
from webber._graph import Node, TaskOptions

__all__ = ["check_call", "check_node", "cycle_error", "graph_and_name"]


def check_node(node: Node, checked: set[int] | None = None) -> None:
    """Raise TaskDefinitionError naming the task if it cannot run as set.
    ``checked`` holds the ids of TaskOptions records already checked."""
    if not callable(node.func):
        raise TaskDefinitionError(
            f"task {node.id!r} is not assigned a callable Python function: "
            f"{type(node.func).__name__} {node.func!r} is not callable; "
            f"add_node() takes the function first, then its arguments"
        )
    options = node.options
    # a task's nodes share one record: check it once
    if checked is None or id(options) not in checked:
        if not isinstance(options, TaskOptions):
            raise TaskDefinitionError(f"task {node.id!r}: options={options!r} is not a TaskOptions")
        options.check(node.id)
        if checked is not None:
            checked.add(id(options))
    if node.skip.__class__ is node.skip_as_failure.__class__ is node.fan_out.__class__ is bool:
        return  # (the common case, without a loop: compile() checks every node)
    for flag in ("skip", "skip_as_failure", "fan_out"):
        if not isinstance(getattr(node, flag), bool):
            raise TaskDefinitionError(
                f"task {node.id!r}: {flag}={getattr(node, flag)!r} must be a boolean, True or False"
            )


def cycle_error(
    cycle: list[str],
    nodes: Mapping[str, Node],
    edge: tuple[str, str] | None = None,
    deps: Mapping[str, tuple[str, ...]] | None = None,
) -> CycleError:
    """The error for ``cycle`` (ids in edge order, the first repeated last);
    ``edge`` is the edge being added that would close it, if any; ``deps``
    (compile) tells which edges come from Promise arguments (child -> the
    parents whose results it takes)."""
    # graphlib returns the cycle in edge order with the first node repeated
    # last; start it at the earliest-added node so the message is stable.
    ring = cycle[:-1]
    index = {n: i for i, n in enumerate(nodes)}
    start = min(range(len(ring)), key=lambda i: index[ring[i]])
    ring = ring[start:] + ring[:start]
    path = [*ring, ring[0]]
    names = " -> ".join(path)
    if edge is not None and len(ring) == 1:
        message = (
            f"edge {edge[0]} -> {edge[1]} would make task {ring[0]!r} depend on itself "
            f"({names}); tasks with circular dependencies never run, so the edge was not added"
        )
    elif edge is not None:
        message = (
            f"edge {edge[0]} -> {edge[1]} would close the cycle {names} (circular "
            f"dependencies): a task cannot wait for its own result; the edge was not added"
        )
    else:
        message = _cycle_message(ring, path, deps or {})
    return CycleError(message, path)


def _cycle_message(ring: list[str], path: list[str], deps: Mapping[str, tuple[str, ...]]) -> str:
    # An edge made by a Promise argument goes only with the argument:
    # remove_edge cannot remove it, so the fix named depends on the edges.
    names = " -> ".join(path)
    plain = [(u, v) for u, v in itertools.pairwise(path) if u not in deps.get(v, ())]
    if len(ring) == 1:
        fix = ("remove the self-edge" if plain else
               f"task {ring[0]!r} takes its own result as an argument: pass it something else")
        return (f"task {ring[0]!r} depends on itself ({names}); tasks with circular "
                f"dependencies never run: {fix}")
    if plain:
        fix = "remove one of the edges added with add_edge or >>: " + ", ".join(
            f"remove_edge({u!r}, {v!r})" for u, v in plain
        )
    else:
        fix = ("every edge here comes from a Promise argument (each task takes the "
               "previous one's result): change one task's arguments so that it does not")
    return (f"the graph has a cycle (circular dependencies): {names}; a task cannot wait "
            f"for its own result: {fix}")


_VARARGS, _VARKEYWORDS = 0x04, 0x08  # (inspect.CO_VARARGS, CO_VARKEYWORDS)

#: callables whose signature ``inspect`` reads (their code does not say it)
_READ = frozenset({BuiltinFunctionType, functools.partial})
#: (builtin or partial, number of positional arguments) found to fit: reading a
#: signature costs 20-50 us, and builds alternate a few such functions
_read_fit: dict[tuple[Any, int], bool] = {}
#: the last call found to fit: (function, number of positional arguments)
#: (a chain adds the same function with one argument 100,000 times)
_fitted: tuple[Any, int] = (None, -1)


def check_call(func: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any], name: str) -> None:
    """Raise TaskDefinitionError if ``func(*args, **kwargs)`` cannot bind."""
    global _fitted
    if not kwargs and _fitted[0] is func and _fitted[1] == len(args):
        return
    if not kwargs and func.__class__ in _READ and (func, len(args)) in _read_fit:
        return
    if _fits(func, len(args), kwargs):
        if not kwargs:
            _fitted = (func, len(args))
        return
    import inspect  # (only for a call that does not fit: a second to import)

    try:
        signature = inspect.signature(func, follow_wrapped=False)
    except (TypeError, ValueError):
        return  # (no signature to read: the run tells)
    try:
        signature.bind(*args, **kwargs)
        if not kwargs and func.__class__ in _READ:
            remember(_read_fit, (func, len(args)), True, 256)
    except TypeError as e:
        given = f"{len(args)} positional argument{'s' * (len(args) != 1)}"
        if kwargs:
            given += f" and {', '.join(f'{key}=' for key in kwargs)}"
        bare = signature.replace(  # (annotations are noise here, and may be strings)
            parameters=[p.replace(annotation=p.empty) for p in signature.parameters.values()],
            return_annotation=signature.empty)
        raise TaskDefinitionError(
            f"task {name!r}: {_shown(func)}{bare} cannot take "
            f"{given}: {e}; {_fix(kwargs, signature.parameters, func)}"
        ) from None


def _fix(kwargs: Mapping[str, Any], parameters: Mapping[str, Any], func: Any) -> str:
    """What to do about a call that does not bind. A task setting passed as an
    argument (``dag.add_node(f, retries=2)``) is told as one: the generic advice
    sent users to the function's signature, which never takes it."""
    import dataclasses

    settings = {f.name for f in dataclasses.fields(TaskOptions)}
    misplaced = [key for key in kwargs if key in settings and key not in parameters]
    if not misplaced:
        return "pass the arguments its signature takes"
    named = ", ".join(f"{key}=" for key in misplaced)
    setting = f"{misplaced[0]}={kwargs[misplaced[0]]!r}"
    return (f"{named} {'is a task setting' if len(misplaced) == 1 else 'are task settings'}, "
            f"not an argument of the function: give it to task(), as in "
            f"dag.add_node(task({_shown(func)}, {setting}), ...) or @task({setting})")


def _shown(func: Any) -> str:
    """``func`` as its signature's message names it: ``add``, ``partial(add, ...)``."""
    if isinstance(func, functools.partial):
        return f"partial({_shown(func.func)}, ...)"
    return str(getattr(func, "__qualname__", func))


def _fits(func: Any, n: int, kwargs: Mapping[str, Any]) -> bool:
    """False if ``func`` is a plain function (or a method of one) whose code
    says it cannot take ``n`` positional arguments and ``kwargs``, or a
    builtin or a ``functools.partial``: their signatures are read instead."""
    if func.__class__ is MethodType:
        func, n = func.__func__, n + 1
    if func.__class__ in _READ:
        return False
    if func.__class__ is not FunctionType or "__signature__" in func.__dict__:
        return True
    code = func.__code__
    count, flags = code.co_argcount, code.co_flags
    if n > count and not flags & _VARARGS:
        return False
    names = code.co_varnames
    if kwargs:
        if any(key in names[:min(n, count)] for key in kwargs):
            return False  # (given twice)
        accepted = names[code.co_posonlyargcount:count + code.co_kwonlyargcount]
        if not flags & _VARKEYWORDS and any(key not in accepted for key in kwargs):
            return False
    defaults = func.__defaults__
    required = count - (len(defaults) if defaults else 0)
    if any(names[i] not in kwargs for i in range(n, required)):
        return False
    if code.co_kwonlyargcount:
        given = func.__kwdefaults__ or {}
        if any(key not in given and key not in kwargs
               for key in names[count:count + code.co_kwonlyargcount]):
            return False
    return True


def graph_and_name(kind: str, graph: Any, name: object, flow: bool) -> tuple[Any, str]:
    """``DAG(graph, name=...)`` read: ``DAG("etl")`` is the name (a graph is
    read by ``_load``); a name that is not a str is refused at the line, not
    by the diagram that would fail on it later. A blank name is no name
    (``"dag"``) for a DAG, as webber 0.4.0 took ``DAG(name="")`` (and ignored
    it: the drop-in promise), and refused for a ``flow`` (new: no code relies on it)."""
    if isinstance(graph, str):  # DAG("etl"): the name
        graph, name = None, graph
    if name is not None and not isinstance(name, str):
        raise TaskDefinitionError(
            f"{kind}(name={name!r}): a name is a str, e.g. {kind}(name=\"etl\")")
    if name is not None and not name.strip():
        if flow:
            raise TaskDefinitionError(
                f"{kind}({name!r}): a flow's name shows in its plans, logs, diagrams and "
                f"dashboard; leave it out ({kind}() is 'flow') or give one, e.g. {kind}(\"etl\")")
        name = None
    return graph, "dag" if name is None else name
