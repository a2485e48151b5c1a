"""Cache keys: a digest of what a task computes from, stable across processes.

A node's key covers its function, its arguments and its parents' keys (so a
change upstream changes every key downstream, and nothing else):

- a function (the task's, or one it refers to) is its name, compiled body
  (not its line numbers, file or module name: moving it, a new notebook
  kernel, or running the script as ``__main__``, through ``python -m webber
  run`` or by importing it, is no change), defaults, closure values and the
  globals its body names, each recursively -- and of a module of one's own
  it names (``helpers.clean(rows)``), the functions, classes, tasks and
  constants the body names there; a function or class of an installed
  package (the standard library, site-packages) is its module and name only;
- a logger is the same whatever its name (see :meth:`_KeyPickler._token`);
- every other value is its cloudpickle bytes, with every set and frozenset
  and every subclass of them, at any depth (in a set, a tuple, a dict, a
  dataclass, any object), written as its items' own key bytes, sorted (a
  subclass's with its class and state), and
  classes defined in ``__main__`` described by their contents (cloudpickle
  tags those with a random id per process);
- a :class:`~webber._refs.Ref` to a parent is that parent's key.

``version=`` on a task takes the place of its function in the key. What the
key cannot see is in docs/guide/caching.md.
"""

from __future__ import annotations

import hashlib
import io
import logging
import pickle
import sys
import sysconfig
import types
from collections.abc import Callable, Mapping
from typing import Any

from webber._refs import Ref

__all__ = ["Unkeyable", "node_key"]

#: bump when the key's recipe changes: old entries then simply miss
RECIPE = "webber-cache-2"

_INSTALLED_ROOTS = tuple(
    {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
)
_installed: dict[str, bool] = {}
#: what a key describes of a module of one's own that a function names
_MODULE_PARTS = (types.FunctionType, type, int, float, complex, str, bytes)


class Unkeyable(Exception):
    """The key cannot be computed (an unpicklable argument or global);
    ``hint`` says what the user can do about it."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def _is_installed(module: str | None) -> bool:
    """Whether ``module`` is library code (its functions are keyed by name)."""
    if not module or module == "__main__":
        return False
    known = _installed.get(module)
    if known is None:
        mod = sys.modules.get(module)
        path = getattr(mod, "__file__", None)
        known = mod is not None and (path is None or str(path).startswith(_INSTALLED_ROOTS))
        _installed[module] = known
    return known


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _code_token(code: types.CodeType) -> tuple[Any, ...]:
    """The compiled body without its file name and line numbers."""
    consts = tuple(
        _code_token(c) if isinstance(c, types.CodeType) else c for c in code.co_consts
    )
    return (
        code.co_code, code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount,
        code.co_flags, code.co_names, code.co_varnames, code.co_freevars,
        code.co_cellvars, consts,
    )


class _KeyPickler:
    """Pickles a value for hashing (see the module doc); one per key computation
    batch, memoizing function and class tokens by identity."""

    def __init__(self, parents: Mapping[str, str]) -> None:
        self.parents = parents
        self.tokens: dict[int, str] = {}
        self.functions: dict[int, str] = {}  # id(task function) -> its token
        self.active: set[int] = set()  # functions being described (recursion)

    def dumps(self, value: Any) -> bytes:
        data = self._pickle(value, canonical=False)
        # pickle writes a set in iteration order, which for strings differs
        # between processes (hash randomisation). Where the bytes may hold
        # one (a set opcode; in data too, which only costs a second pickle),
        # pickle again writing each set as its items' sorted bytes.
        if _EMPTY_SET in data or _FROZENSET in data:
            data = self._pickle(value, canonical=True)
        return data

    def _pickle(self, value: Any, canonical: bool) -> bytes:
        buffer = io.BytesIO()
        pickler = _picklers()[canonical](buffer, protocol=5)
        pickler.keys = self
        pickler.dump(value)
        return buffer.getvalue()

    def set_id(self, items: set[Any] | frozenset[Any]) -> tuple[str, tuple[bytes, ...]]:
        """What stands for a set in a key: its kind and its items' key bytes,
        sorted (each item's own sets are written so in turn)."""
        return (type(items).__name__, tuple(sorted(self.dumps(item) for item in items)))

    def set_reduce(self, items: set[Any] | frozenset[Any]) -> tuple[Any, ...]:
        """What stands for a subclass of set or frozenset in a key: its class,
        :meth:`set_id`, and its state (attributes, slots). Its own reduce
        lists its items in iteration order, which for strings differs between
        processes, and holds no set opcode that would call for a second pickle."""
        reduced = items.__reduce_ex__(5)
        state = reduced[2] if isinstance(reduced, tuple) and len(reduced) > 2 else None
        return (type(items), (self.set_id(items),), state)

    def _token(self, obj: Any) -> str | None:
        if type(obj) is Ref:
            return f"parent:{self.parents[obj.id]}"
        if isinstance(obj, types.ModuleType):
            return f"module:{obj.__name__}"
        if isinstance(obj, logging.Logger):
            # Where a task logs is not what it computes, and getLogger(__name__)
            # differs between a script run as __main__, by the CLI or imported.
            return "logger"
        if isinstance(obj, (types.FunctionType, type)):
            if _is_installed(getattr(obj, "__module__", None)):
                return None if isinstance(obj, type) else f"ref:{obj.__module__}.{obj.__qualname__}"
            known = self.tokens.get(id(obj))
            if known is None:
                if id(obj) in self.active:  # recursion: the name is enough
                    return f"self:{obj.__qualname__}"
                self.active.add(id(obj))
                try:
                    known = self.tokens[id(obj)] = self._describe(obj)
                finally:
                    self.active.discard(id(obj))
            return known
        return None

    def _describe(self, obj: types.FunctionType | type) -> str:
        if isinstance(obj, type):
            members = {
                k: v for k, v in vars(obj).items()
                if k not in ("__dict__", "__weakref__", "__doc__", "__module__", "__qualname__")
            }
            try:
                body = self.dumps(members)
            except Exception:
                body = repr(sorted(members)).encode()
            parts: tuple[Any, ...] = ("class", obj.__qualname__, body)
            return "class:" + _digest(pickle.dumps(parts, protocol=5))
        f = obj
        code = f.__code__
        globs = f.__globals__
        referenced = {n: globs[n] for n in sorted(_global_names(code)) if n in globs}
        try:
            closure = tuple(cell.cell_contents for cell in f.__closure__ or ())
        except ValueError:  # an empty cell (a name assigned after the def)
            closure = ()
        # Not f.__module__: the same script is __main__, __webber_cli__ (the
        # CLI) or its file's name (imported), and its results are the same.
        described = (
            "function", f.__qualname__, _code_token(code),
            f.__defaults__, f.__kwdefaults__, closure, referenced,
            self._read_of_modules(referenced, _global_names(code)),
        )
        return "function:" + _digest(self.dumps(described))


    def _read_of_modules(self, referenced: Mapping[str, Any],
                         names: set[str]) -> list[tuple[str, bytes]]:
        """What a function reads by attribute of modules of one's own
        (``helpers.clean``, ``config.THRESHOLD``, ``pkg.sub.f``): each such
        function, class, task or constant its body names, described (the
        module stands in the key by its name alone). One that cannot be
        described counts by its name: the key is still made."""
        parts: list[tuple[str, bytes]] = []
        modules = [m for m in referenced.values() if isinstance(m, types.ModuleType)]
        seen: set[str] = set()
        while modules:
            module = modules.pop()
            if module.__name__ in seen or _is_installed(module.__name__):
                continue
            seen.add(module.__name__)
            space = vars(module)
            for name in sorted(names & space.keys()):
                value = space[name]
                if isinstance(value, types.ModuleType):
                    modules.append(value)
                elif (isinstance(value, _MODULE_PARTS)
                      or getattr(type(value), "_webber_task", False)):
                    try:
                        part = self.dumps(value)
                    except Exception:
                        part = b"?"
                    parts.append((f"{module.__name__}.{name}", part))
        return parts


_PICKLER: list[type[Any]] = []
#: the pickle opcodes that start a set (protocol 4 on) and end a frozenset
_EMPTY_SET, _FROZENSET = pickle.EMPTY_SET, pickle.FROZENSET
_SETS = (set, frozenset)


def _picklers() -> list[type[Any]]:
    """cloudpickle's Pickler asking the _KeyPickler first, and the same writing
    sets in a canonical order (made on first use: importing cloudpickle is
    not free)."""
    if not _PICKLER:
        import cloudpickle

        class Pickler(cloudpickle.Pickler):  # type: ignore[misc]
            keys: _KeyPickler

            def reducer_override(self, obj: Any) -> Any:
                token = self.keys._token(obj)
                if token is not None:
                    return (str, (token,))
                if isinstance(obj, _SETS):  # (a subclass: pickle writes sets themselves)
                    return self.keys.set_reduce(obj)
                if getattr(type(obj), "_webber_task", False):  # (a Task: a layer above)
                    # By its function, described as the key describes one: a
                    # task of a module pickles by its name (see _byname), which
                    # would leave an edit of its body out of its callers' keys.
                    return (type(obj), (obj.fn, obj.options))
                return super().reducer_override(obj)

        class Canonical(Pickler):
            # pickle asks persistent_id of every object, sets too (which
            # reducer_override never sees): its answer is written instead.
            def persistent_id(self, obj: Any) -> Any:
                return self.keys.set_id(obj) if obj.__class__ in _SETS else None

        _PICKLER.extend((Pickler, Canonical))
    return _PICKLER


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=20).hexdigest()


def function_token(func: Callable[..., Any], pickler: _KeyPickler) -> str:
    """What stands for ``func`` in a key."""
    known = pickler.functions.get(id(func))
    if known is not None:
        return known
    try:
        known = pickler.functions[id(func)] = _digest(pickler.dumps(func))
        return known
    except Exception as e:
        raise Unkeyable(
            f"its function cannot be described ({type(e).__name__}: {e})",
            "give it version=\"...\" (the key then uses that instead of its function) "
            "or cache=False",
        ) from e


def node_key(
    pickler: _KeyPickler,
    func: Callable[..., Any],
    version: str | None,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    fan_out: bool,
    parents: Mapping[str, Any],
) -> str:
    """The key of one node; ``pickler.parents`` must hold its parents' keys.

    Raises Unkeyable naming what could not be described."""
    what = ("version", version) if version is not None else function_token(func, pickler)
    parent_keys = sorted((pickler.parents[u], str(c)) for u, c in parents.items())
    try:
        data = pickler.dumps((RECIPE, what, args, sorted(kwargs.items()), fan_out, parent_keys))
    except Exception as e:
        # (version= would not help: the key holds the arguments whatever it is)
        raise Unkeyable(
            f"its arguments cannot be pickled ({type(e).__name__}: {e})",
            "pass it arguments that pickle, or give it cache=False",
        ) from e
    return _digest(data)


def key_pickler(parents: Mapping[str, str]) -> _KeyPickler:
    """A pickler for the keys of one run; ``parents`` (node id -> key) is
    read as keys are added to it."""
    return _KeyPickler(parents)

