"""Finding the flow that ``python -m webber run|show FILE.py[:NAME]`` names:
the file run as a module of its own, never running a flow while it loads, and
what it defines picked (see :mod:`webber._cli`). A problem is a
:class:`UsageError`, printed on one line."""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import runpy
import shutil
import sys
import traceback
from typing import Any

from webber._task_errors import message_of

__all__ = ["MODULE", "UsageError", "check_output", "load", "split_target"]

#: the module name the file runs as (see the module doc)
MODULE = "__webber_cli__"


class UsageError(Exception):
    """A target that cannot be loaded or an option that cannot work: printed on
    one line, exit status 2."""


class _RunWhileLoading(BaseException):
    """The file ran a flow while it loaded. A BaseException, so that a user's
    ``except Exception`` around the call does not hide it."""


def load(target: str) -> Any:
    """The DAG that ``FILE.py[:NAME]`` names. Loading never runs a flow: a file
    that runs one at its top level is a usage error (``show`` draws without
    running, and ``run`` would run it twice)."""
    from webber import _engine

    path, name = split_target(target)
    if not os.path.isfile(path):
        kind = "a folder, not a file" if os.path.isdir(path) else "no such file"
        raise UsageError(f"{kind}: {path!r} (expected FILE.py or FILE.py:NAME)")
    folder = os.path.dirname(os.path.abspath(path))
    if folder not in sys.path:
        sys.path.insert(0, folder)  # its sibling modules import, as with `python FILE.py`

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise _RunWhileLoading

    # Every run of a flow (run(), execute(), any drop-in form) goes through the
    # engine's run_plan, looked up when the run starts: refused while loading.
    real_run = _engine.run_plan
    _engine.run_plan = refuse
    try:
        return _pick(_run_file(path), path, name)
    except _RunWhileLoading as e:
        raise UsageError(
            f"{_where(path, e)} runs a flow while the file loads; put that call under "
            f'`if __name__ == "__main__":` (python -m webber runs the flow itself, or '
            f"draws it without running it)"
        ) from None
    finally:
        _engine.run_plan = real_run


def split_target(target: str) -> tuple[str, str]:
    """``FILE.py:NAME`` -> (FILE.py, NAME); a plain path (``C:\\x.py`` too) -> (path, "")."""
    path, colon, name = target.rpartition(":")
    if not colon or not name.isidentifier():
        return target, ""
    return path, name


def _run_file(path: str) -> dict[str, Any]:
    try:
        return runpy.run_path(path, run_name=MODULE)
    except (Exception, SystemExit) as e:
        line = e.lineno if isinstance(e, SyntaxError) else None
        raise UsageError(
            f"{_where(path, e, line)} failed while loading: {type(e).__name__}: "
            f"{message_of(e)}{_origin(path, e)}"
        ) from None


def _origin(path: str, error: BaseException) -> str:
    """`` (at FILE:LINE, in FUNCTION)``: the innermost line of another file of
    the user's that the error passed through below ``path``'s own last line (a
    module it imports, a function of one it calls; not Python's library, an
    installed package or webber); else "". A SyntaxError names its file itself."""
    spot = None if isinstance(error, SyntaxError) else _lines(path, error)[1]
    if spot is None:
        return ""
    file, line, function = spot
    shown = os.path.relpath(file) if file.startswith(os.getcwd() + os.sep) else file
    return f" (at {shown}:{line}" + (")" if function == "<module>" else f", in {function})")


def _lines(path: str, error: BaseException) -> tuple[int | None, tuple[str, int, str] | None]:
    """The innermost line of ``path`` in the error's traceback, and the
    innermost line of a file of the user's below it (file, line, function)."""
    full, last, spot = os.path.abspath(path), None, None
    for frame, line in traceback.walk_tb(error.__traceback__):
        file = os.path.abspath(frame.f_code.co_filename)
        if file == full:
            last, spot = line, None  # (only what path's last line called counts)
        elif _users(file):
            spot = (file, line, frame.f_code.co_name)
    return last, spot


def _users(file: str) -> bool:
    """Whether ``file`` is the user's: not Python's library, an installed
    package's, webber's own or the import system's (``<frozen ...>``)."""
    return os.path.isfile(file) and not file.startswith(_theirs())


@functools.cache
def _theirs() -> tuple[str, ...]:
    """The folders of Python's library, installed packages and webber."""
    import sysconfig

    paths = [os.path.dirname(os.path.abspath(__file__)), *(
        sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib"))]
    return tuple(os.path.abspath(d) + os.sep for d in paths)


def _a(noun: str) -> str:
    """``noun`` with its article: "an int", "a str"."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _where(path: str, error: BaseException, line: int | None = None) -> str:
    """``FILE.py:LINE``: the innermost line of ``path`` in the error's traceback."""
    line = _lines(path, error)[0] or line
    return f"{path}:{line}" if line else path


def _pick(namespace: dict[str, Any], path: str, name: str) -> Any:
    from webber._flow import DAG
    from webber._task import Task

    if not name:
        flows = sorted(k for k, v in namespace.items() if isinstance(v, DAG))
        if len(flows) > 1:
            raise UsageError(f"{path} defines several flows ({', '.join(flows)}); "
                             f"pick one: {path}:{flows[0]}")
        if flows:
            return namespace[flows[0]]
        builders = sorted(
            k for k, v in namespace.items()
            if inspect.isfunction(v) and v.__module__ == MODULE
        )
        if "build" not in builders:
            named = f" (its functions: {', '.join(builders)})" if builders else ""
            raise UsageError(
                f"{path} defines no DAG or Flow at its top level and no build() function "
                f"returning one; add either, or name a function that returns one: "
                f"{path}:NAME{named}"
            )
        name = "build"
    if name not in namespace:
        raise UsageError(f"{path} has no name {name!r}")
    found = namespace[name]
    if isinstance(found, Task):
        raise UsageError(f"{path}:{name} is a task, not a flow; name the DAG/Flow that uses "
                         f"it or a function that returns one")
    if not isinstance(found, DAG) and callable(found):
        found = _build(found, path, name)
        if not isinstance(found, DAG):
            raise UsageError(f"{path}:{name}() returned {_a(type(found).__name__)}, "
                             f"not a DAG or Flow")
    if not isinstance(found, DAG):
        raise UsageError(f"{path}:{name} is {_a(type(found).__name__)}, not a DAG or Flow "
                         f"(or a function returning one)")
    return found


def _build(builder: Any, path: str, name: str) -> Any:
    """What ``builder()`` returns: NAME is called with no arguments."""
    with contextlib.suppress(ValueError):  # no signature to read (a builtin): the call tells
        try:
            inspect.signature(builder).bind()
        except TypeError:
            raise UsageError(
                f"{path}:{name}() needs arguments, and python -m webber calls it with none; "
                f"give its parameters defaults, or have it read the file's arguments from "
                f"sys.argv (python -m webber run {path} -- ARG ...)"
            ) from None
    try:
        return builder()
    except (Exception, SystemExit) as e:
        raise UsageError(
            f"{_where(path, e)}: {name}() failed: {type(e).__name__}: {message_of(e)}"
            f"{_origin(path, e)}"
        ) from None


def check_output(option: str, path: str, *, suffixes: tuple[str, ...] | None,
                 needs_dot: bool = False) -> None:
    """Fail before anything runs if ``path`` cannot be written: its folder is missing,
    its suffix is not one of ``suffixes`` or (``needs_dot``) ``dot`` is not installed."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"{option} {path}: no such directory {folder!r}")
    suffix = os.path.splitext(path)[1].lower()
    if suffixes is not None and suffix not in suffixes:
        raise UsageError(f"{option} {path}: cannot write {suffix or 'a file without a suffix'}"
                         f"; use {', '.join(suffixes)}")
    if needs_dot and shutil.which("dot") is None:
        raise UsageError(f"{option} {path} needs Graphviz's `dot` program, which is not "
                         f"installed: apt-get install graphviz, brew install graphviz, or "
                         f"conda install graphviz")
