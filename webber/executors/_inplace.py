"""Modules the caller reloaded in place, as IPython 9's ``%autoreload`` does.

``_caller`` tells a reload by a module's new ``__spec__``: ``importlib.reload``
makes one. IPython 9's ``%autoreload 2`` ("deduperreload") does not reload an
edited module when only its definitions changed: it compiles the edited ones
and puts their code into the functions and methods the module already has
(``func.__code__ = ...``), and runs an edited constant (``N = 700``) or import
again in the module. Same module object, same spec: without this a worker
would keep running the code from before the edit.

So a module of the caller's own (imported from a ``.py`` file outside the
standard library and installed packages) is watched: its file's
``(mtime, size, inode)`` and what it defines (:func:`_defined`: its
functions' and methods' code, what its other names are bound to) as they
were when first looked at. :func:`edited`, at each run's start, takes one
``os.stat`` per watched module (about 2 microseconds each); only when a file
changed does it compare what the module defines with what was recorded. A
change is a reload in place (the caller runs the edited file's code, which is
what a worker gets by reloading the module from that file); no change is a
file edited but not reloaded: the caller runs its old code, so the workers
keep it too, and the file is looked at again at the next run's start (the
caller may reload it by then). (A name of the module the caller's own code
bound to a new object since, ``mylib.limit = 5``, counts as a change then:
the workers take the edited file a run early, as a worker started since
would.)
"""

from __future__ import annotations

import os
import sys
import types
from dataclasses import dataclass
from typing import Any

__all__ = ["edited", "watch"]


@dataclass(slots=True)
class _Source:
    """A watched module's file, and what it defines, as last recorded."""

    path: str
    #: the file's ``(st_mtime_ns, st_size, st_ino)`` (an editor that saves by
    #: renaming a new file over it changes the inode even within one mtime tick)
    key: tuple[int, int, int]
    #: what it defines (:func:`_defined`)
    defined: tuple[Any, ...]


#: module name -> its watched source
_sources: dict[str, _Source] = {}
#: (a script's or notebook's own: never reloaded in a worker)
_NOT_WATCHED = frozenset({"__main__", "__mp_main__"})
#: the standard library's and installed packages' directories (None: not known yet)
_library: tuple[str, ...] | None = None


def watch(name: str, module: Any) -> None:
    """Watch ``module`` from now on, or record it again after a reload, if it
    came from a ``.py`` file of the caller's own (no one edits the standard
    library or installed packages between runs: their modules cost nothing
    at a run's start)."""
    path = getattr(module, "__dict__", {}).get("__file__")
    if not isinstance(path, str) or not path.endswith(".py") or name in _NOT_WATCHED:
        _sources.pop(name, None)
        return
    # (absolute: a run may start in another directory)
    path = os.path.normcase(os.path.abspath(path))
    try:
        if path.startswith(_libraries()):
            _sources.pop(name, None)
            return
        key = _key(os.stat(path))
        defined = _defined(module, name)
    except Exception:
        # (gone, or a class too odd to look into: not followed, as before
        # in-place reloads were; a run must not fail for it)
        _sources.pop(name, None)
        return
    _sources[name] = _Source(path, key, defined)


def edited() -> list[str]:
    """The names of the watched modules the caller reloaded in place since the
    last look (their files changed, and what they define with them)."""
    found: list[str] = []
    for name, source in list(_sources.items()):  # (a list: another thread may import)
        try:
            key = _key(os.stat(source.path))
        except OSError:
            continue  # (removed or renamed away: the caller's code stays what it was)
        if key != source.key:
            module = sys.modules.get(name)
            if module is None:
                _sources.pop(name, None)
                continue
            try:
                defined = _defined(module, name)
            except Exception:  # (see watch)
                _sources.pop(name, None)
                continue
            if defined != source.defined:
                source.key, source.defined = key, defined
                found.append(name)
    return found


def _key(stat: os.stat_result) -> tuple[int, int, int]:
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


def _libraries() -> tuple[str, ...]:
    """The directories of the standard library and of installed packages,
    each ending with a separator (computed once)."""
    global _library
    if _library is None:
        # (imported here: sysconfig takes half a millisecond, and a worker
        # imports this module but asks only when a task runs a flow of its own)
        import site
        import sysconfig

        paths = sysconfig.get_paths()
        found = {paths.get(key) for key in ("stdlib", "platstdlib", "purelib", "platlib")}
        found.add(os.path.dirname(os.__file__))
        found.update(getattr(site, "getsitepackages", list)())  # (an old virtualenv's site)
        if site.ENABLE_USER_SITE:
            found.add(site.getusersitepackages())
        _library = tuple(os.path.normcase(os.path.join(os.path.abspath(p), ""))
                         for p in found if p)
    return _library


#: the types of constants, compared by value: the others are compared by identity
#: (a value's ``==`` may be costly, or not say yes or no: a numpy array's)
_CONSTANTS = frozenset({int, float, complex, str, bytes, bool, type(None)})


def _defined(namespace: Any, module: str, prefix: str = "") -> tuple[Any, ...]:
    """What ``namespace`` (a module, or a class it defines) defines, as an
    in-place reload changes it: each name, with its function's code (or its
    ``__wrapped__``'s, as functools.wraps made it; a static or class method's,
    a property's), with what its own class defines in turn, or else the value
    it is bound to (a constant by value, anything else by identity). Code is
    compared with ``==``: code compiled again from unchanged lines is equal
    (a file saved as it was changes nothing)."""
    found: list[Any] = []
    for name, value in list(vars(namespace).items()):
        # (type(value), not isinstance: that asks a proxy's ``__class__``,
        # which may compute or raise)
        kind = type(value)
        if kind is staticmethod or kind is classmethod:
            value = value.__func__
            kind = type(value)
        if kind is types.FunctionType and value.__module__ == module:
            inner = getattr(value, "__wrapped__", None)
            found += (name, value.__code__, getattr(inner, "__code__", None))
        elif kind is property:
            found += (name, *[getattr(f, "__code__", None)
                              for f in (value.fget, value.fset, value.fdel)])
        elif (issubclass(kind, type) and value.__module__ == module
              and value.__qualname__ == prefix + name):  # (its own: not an alias, no cycle)
            found += (name, _defined(value, module, f"{prefix}{name}."))
        elif not (name[:2] == "__" == name[-2:]):  # (``__warningregistry__``: the runtime's)
            found += (name, kind, value if kind in _CONSTANTS else id(value))
    return tuple(found)
