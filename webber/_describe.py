"""A graph as JSON and back: ``to_dict``/``to_json``, ``from_dict``/``from_json``.

The format (version 1; its JSON Schema is ``webber/schema/dag-v1.json``)::

    {"format": "webber.dag", "version": 1, "name": ...,
     "nodes": [{"id", "name", "function": "package.module.function",
                "args": [...], "kwargs": {...}, "inputs": [parent ids],
                "fan_out", "partial", "fan_out_slot", "fan_out_zip", "retries", "retry_delay",
                "retry_backoff", "timeout", "retry_on", "cache", "version", "limit",
                "skip", "skip_as_failure"}, ...],
     "edges": [{"parent", "child", "continue_on": "Success", "data": bool}, ...]}

Arguments are JSON values, with three tagged forms: ``{"$promise": id}`` (a
Promise), ``{"$tuple": [...]}`` and ``{"$dict": {...}}`` (a dict whose keys
start with ``$``). ``to_dict(strict=False)`` (for tools: ``python -m webber
show --json``) also writes what cannot be read back: lambdas by their
``<lambda>`` name, and other arguments as ``{"$repr": "..."}``.

Functions are found again by name: ``registry[node name]``, ``registry[node
id]``, ``registry[function path]`` (a ``module``'s functions count as a
registry of their names, after ``registry``), else by importing the dotted
path. A graph webber 0.4.0 wrote is read by ``_describe_040``.
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

from webber._describe_040 import is_040, load_040
from webber._errors import FormatError, WebberError
from webber._graph import OPTION_FIELDS, Condition, Node, TaskOptions, qualified_name
from webber._promise import Promise

if TYPE_CHECKING:
    from webber._flow import DAG

__all__ = ["FORMAT", "VERSION", "describe", "load", "read_text", "schema_path", "write_json"]

FORMAT = "webber.dag"
VERSION = 1

D = TypeVar("D", bound="DAG")

_OPTIONS = OPTION_FIELDS[1:]  # every task setting but the name (a node field of its own)


def schema_path() -> Path:
    """The JSON Schema of the current format version, shipped in the package."""
    return Path(__file__).resolve().parent / "schema" / f"dag-v{VERSION}.json"


# -- writing ------------------------------------------------------------------------------
def describe(dag: DAG, strict: bool = True) -> dict[str, Any]:
    """What :meth:`DAG.to_dict <webber.DAG.to_dict>` returns."""

    def dep_name(key: Any) -> str:
        try:
            return dag.node_id(key)
        except (WebberError, TypeError):  # a forward reference, or one compile() would refuse
            return key if isinstance(key, str) else qualified_name(key)

    nodes = []
    for node in dag.get_nodes():
        encode = _Encoder(node.id, dep_name, strict)
        nodes.append({
            "id": node.id,
            "name": node.name,
            "function": _function_path(node, strict),
            "args": [encode(a) for a in node.args],
            "kwargs": {k: encode(v) for k, v in node.kwargs.items()},
            "inputs": [dep_name(key) for key in node.deps],
            "fan_out": node.fan_out,
            "partial": node.partial,
            "fan_out_slot": node.fan_out_slot,
            "fan_out_zip": node.fan_out_zip,
            **{field: _setting(node, field, strict) for field in _OPTIONS},
            "skip": node.skip,
            "skip_as_failure": node.skip_as_failure,
        })
    return {
        "format": FORMAT,
        "version": VERSION,
        "name": dag.name,
        "nodes": nodes,
        "edges": [
            {"parent": e.parent, "child": e.child, "continue_on": e.continue_on.name,
             "data": e.data}
            for e in dag.get_edges()
        ],
    }


def _setting(node: Node, field: str, strict: bool) -> Any:
    """A task setting as JSON data: ``retry_on``'s exception classes by their
    dotted paths (a predicate cannot be written: refused when ``strict``)."""
    value = getattr(node.options, field)
    if field != "retry_on" or value is None:
        return value
    if isinstance(value, tuple) and all(isinstance(v, type) for v in value):
        return [qualified_name(v) for v in value]
    if strict:
        raise FormatError(
            f"node {node.id!r} cannot be exported: its retry_on= is a function, which JSON "
            f"cannot hold; give the exception classes to retry on instead",
            node.id,
        )
    return qualified_name(value)


def _function_path(node: Node, strict: bool) -> str:
    func = node.func
    path = qualified_name(func)
    if not strict:
        return path
    why = ""
    if getattr(func, "__name__", "") == "<lambda>":
        why = "a lambda, which has no name to find it by when the file is read"
    elif hasattr(func, "func") and not hasattr(func, "__name__"):
        why = "a functools.partial; give the node the function and pass its arguments"
    elif inspect.ismethod(func):
        why = f"a method bound to a {type(func.__self__).__name__} object, which JSON cannot hold"
    elif not (inspect.isroutine(func) or inspect.isclass(func)):
        why = f"a {type(func).__name__} object, which JSON cannot hold"
    if why:
        raise FormatError(
            f"node {node.id!r} cannot be exported: it runs {why}; use a function defined "
            f"with def (at module level, or pass it in registry= when reading)",
            node.id,
        )
    return path


class _Encoder:
    def __init__(self, node: str, dep_name: Callable[[Any], str], strict: bool) -> None:
        self.node, self.dep_name, self.strict = node, dep_name, strict

    def __call__(self, value: Any) -> Any:
        if value is None or isinstance(value, (bool, int, str)):
            return value
        if isinstance(value, float):
            if math.isfinite(value):
                return value
        elif isinstance(value, Promise):
            return {"$promise": self.dep_name(value.key)}
        elif isinstance(value, list):
            return [self(v) for v in value]
        elif isinstance(value, tuple):
            return {"$tuple": [self(v) for v in value]}
        elif isinstance(value, dict) and all(isinstance(k, str) for k in value):
            encoded = {k: self(v) for k, v in value.items()}
            return {"$dict": encoded} if any(k.startswith("$") for k in value) else encoded
        if not self.strict:
            return {"$repr": repr(value)}
        raise FormatError(
            f"node {self.node!r} cannot be exported: its argument {_short(value)} "
            f"({type(value).__name__}) is not JSON; pass plain data (numbers, strings, "
            f"lists, dicts with string keys), or load it inside the task",
            self.node,
        )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- reading ------------------------------------------------------------------------------
def load(
    cls: type[D], data: Any, registry: Mapping[str, Callable[..., Any]] | None = None,
    module: ModuleType | None = None,
) -> D:
    """What :meth:`DAG.from_dict <webber.DAG.from_dict>` returns."""
    if not isinstance(data, dict):
        raise FormatError(f"expected a JSON object (a dict), got {type(data).__name__}")
    if is_040(data):
        return load_040(cls, data, registry, module)
    if module is not None:  # (its functions by name; the registry's first)
        found = {k: v for k, v in vars(module).items() if callable(v)}
        registry = {**found, **(registry or {})}
    if data.get("format") != FORMAT or "version" not in data:
        raise FormatError(
            f"not a webber graph: expected \"format\": {FORMAT!r} and a \"version\"; "
            f"write it with DAG.to_json()"
        )
    if data["version"] != VERSION:
        raise FormatError(
            f"this file is format version {data['version']!r}; this webber reads version "
            f"{VERSION}: write it again with this webber's to_json()"
        )
    nodes, edges = data.get("nodes"), data.get("edges", [])
    if not isinstance(nodes, list) or not isinstance(edges, list):
        raise FormatError("\"nodes\" and \"edges\" must be lists")
    dag = cls(name=str(data.get("name", "dag")))
    store = dag._store
    records = [_node(entry, registry or {}) for entry in nodes]
    for node in records:
        if node.id in store.nodes:
            raise FormatError(f"node {node.id!r} appears twice", node.id)
        store.insert(node)
    for node in records:
        # Its deps and their data edges, now that every parent is present.
        dag._update(node.id, args=node.args, kwargs=node.kwargs)
    for entry in edges:
        try:
            parent, child = entry["parent"], entry["child"]
            condition = Condition[entry.get("continue_on", "Success")]
        except (KeyError, TypeError) as e:
            raise FormatError(
                f"edge {entry!r} needs \"parent\", \"child\" and a \"continue_on\" of "
                f"{', '.join(c.name for c in Condition)} ({type(e).__name__}: {e})"
            ) from None
        for end in (parent, child):
            if end not in store.nodes:
                raise FormatError(f"edge {parent!r} -> {child!r}: no node {end!r}", str(end))
        store.link(parent, child, condition)
    return dag


def _node(entry: Any, registry: Mapping[str, Callable[..., Any]]) -> Node:
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
        raise FormatError(f"each node needs a string \"id\"; got {_short(entry)}")
    n = entry["id"]
    name = str(entry.get("name", n))
    func = _function(n, name, entry.get("function"), registry)
    args, kwargs = entry.get("args", []), entry.get("kwargs", {})
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise FormatError(f"node {n!r}: \"args\" must be a list and \"kwargs\" an object", n)
    options = {o: entry[o] for o in _OPTIONS if o in entry}
    if options.get("retry_on") is not None:
        paths = options["retry_on"]
        if not isinstance(paths, list):
            raise FormatError(f"node {n!r}: \"retry_on\" must be a list of class paths", n)
        options["retry_on"] = tuple(_import(n, path, "exception class") for path in paths)
    try:
        return Node(
            n, TaskOptions(name, **options), func, tuple(_decode(n, a) for a in args),
            {k: _decode(n, v) for k, v in kwargs.items()},
            skip=bool(entry.get("skip", False)),
            skip_as_failure=bool(entry.get("skip_as_failure", False)),
            fan_out=bool(entry.get("fan_out", False)),
            partial=bool(entry.get("partial", False)),
            fan_out_slot=entry.get("fan_out_slot", 0),
            fan_out_zip=bool(entry.get("fan_out_zip", False)),
        )
    except TypeError as e:
        raise FormatError(f"node {n!r}: {e}", n) from None


def _function(
    n: str, name: str, path: Any, registry: Mapping[str, Callable[..., Any]]
) -> Callable[..., Any]:
    for key in (name, n, path):
        if isinstance(key, str) and key in registry:
            return _unwrap_task(registry[key])
    hint = f"pass registry={{{name!r}: the_function}} to from_json()/from_dict()"
    if not isinstance(path, str) or "<" in path or "." not in path:
        raise FormatError(
            f"node {n!r}: no function {name!r} in the registry, and {path!r} is not an "
            f"importable path; {hint}",
            n,
        )
    try:
        return _unwrap_task(_import(n, path, "function"))
    except FormatError as e:
        raise FormatError(f"{e}; {hint}", n) from None


def _import(n: str, path: Any, what: str) -> Any:
    """The object at dotted ``path`` (``package.module.qualified.name``); not
    a ``FILE.py:NAME`` (``python -m webber show --json``'s name for what a file
    defines), which would import a module named after the file, running it."""
    parts = [] if ":" in str(path) else str(path).split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                found = getattr(found, attr)
        except AttributeError:
            break
        if callable(found):
            return found
        break
    raise FormatError(f"node {n!r}: cannot import its {what} {path!r}", n)


def _unwrap_task(func: Callable[..., Any]) -> Callable[..., Any]:
    from webber._task import Task

    return func.fn if isinstance(func, Task) else func


def _decode(n: str, value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(n, v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (tag, inner), = value.items()
        if tag == "$promise" and isinstance(inner, str):
            return Promise(inner)
        if tag == "$tuple" and isinstance(inner, list):
            return tuple(_decode(n, v) for v in inner)
        if tag == "$dict" and isinstance(inner, dict):
            return {k: _decode(n, v) for k, v in inner.items()}
        if tag == "$repr":
            raise FormatError(
                f"node {n!r}: its argument {inner!r} was written as text by "
                f"to_dict(strict=False), not as data; it cannot be read back",
                n,
            )
    return {k: _decode(n, v) for k, v in value.items()}


def write_json(dag: DAG, path: str | os.PathLike[str] | None, indent: int | None,
               strict: bool) -> str:
    """What :meth:`DAG.to_json <webber.DAG.to_json>` returns (and writes to ``path``)."""
    text = json.dumps(describe(dag, strict), indent=indent, allow_nan=False)
    if path is not None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    return text


def read_text(
    source: str | bytes | os.PathLike[str] | None,
    source_040: str | bytes | os.PathLike[str] | None = None,
) -> Any:
    """The JSON document in ``source``: JSON text, or the path of a file of it.
    ``source_040``: the same, given by webber 0.4.0's keyword ``source=``."""
    if (source is None) == (source_040 is None):
        raise TypeError("from_json() takes one path or JSON text: path_or_text, or "
                        "source= (webber 0.4.0's name for it)")
    source = source if source_040 is None else source_040
    assert source is not None  # (checked above)
    text: str | bytes | bytearray
    if isinstance(source, (bytes, bytearray)):  # (what a response or a file opened "rb" gives)
        text = source  # (json.loads reads both)
    elif isinstance(source, str) and source.lstrip()[:1] in ("{", "["):
        text = source  # (a list is JSON too: read, it is refused as no graph, not as no file)
    elif isinstance(source, (str, os.PathLike)):
        text = Path(source).read_text(encoding="utf-8")
    else:
        hint = "; a dict goes to DAG.from_dict(d)" if isinstance(source, Mapping) else ""
        raise FormatError(f"from_json() takes JSON text or the path of a JSON file, not "
                          f"{type(source).__name__} {source!r:.60}{hint}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise FormatError(f"not valid JSON: {e}") from None
