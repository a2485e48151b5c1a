"""A worker process's ``sys.stdin``: a task that reads it fails with a
:class:`~webber.TaskStdinError` that names the task and says what to do.

A worker's standard input is not the caller's (``_spawn``: ``/dev/null``, or
on the portable path a pipe closed once the worker connected): many workers
cannot share the caller's terminal, and the data piped to the caller is the
caller's to read. Without this, ``input()`` in a task raises Python's bare
``EOFError: EOF when reading a line`` and ``sys.stdin.read()`` returns ``""``,
neither naming the task nor the fix. Outside a task (webber's own code in
the worker) the real stream answers.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO, cast

from webber._output import current_task
from webber._task_errors import TaskStdinError

__all__ = ["NoStdin", "install"]


def install() -> None:
    """Make this process's ``sys.stdin`` refuse to be read by a task."""
    sys.stdin = cast(TextIO, NoStdin(sys.stdin))


class NoStdin:
    """Stands in for ``sys.stdin`` (or, ``binary``, its ``buffer``) in a worker."""

    def __init__(self, original: Any, binary: bool = False) -> None:
        self._original = original
        self._binary = binary

    def _source(self, how: str) -> Any:
        """The real stream, outside a task; in one, the task's failure
        (``how`` it read, as in the message: ``{}`` is the stream's name)."""
        name, node = current_task()
        if not (name or node):
            return self._original
        task = node or name
        raise TaskStdinError(
            f"task {task!r} read its standard input "
            f"({how.format('sys.stdin.buffer' if self._binary else 'sys.stdin')}), but it "
            f"runs in a worker process, whose stdin is not the caller's and holds no data; "
            f"pass the data to the task as an argument (read it in the caller), or run the "
            f"flow with executor='threads' or executor='inline', where stdin is the caller's",
            task,
        )

    def read(self, size: int = -1) -> Any:
        return self._source("{}.read()").read(size)

    def readline(self, size: int = -1) -> Any:
        how = "{}.readline()" if self._binary else "input() or {}.readline()"
        return self._source(how).readline(size)

    def readlines(self, hint: int = -1) -> Any:
        return self._source("{}.readlines()").readlines(hint)

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> Any:
        return next(self._source("for line in {}"))

    def isatty(self) -> bool:
        return not any(current_task()) and bool(self._original.isatty())

    @property
    def buffer(self) -> NoStdin:
        # (made on each use: a task reads stdin seldom, and never on a hot path)
        return NoStdin(self._original.buffer, binary=True)

    def __enter__(self) -> NoStdin:
        return self

    def __exit__(self, *exc: object) -> None:
        self._original.close()

    def __getattr__(self, name: str) -> Any:
        # Only reached for attributes defined on neither (encoding, fileno,
        # close, ...): a proxy must look like the stream it wraps.
        return getattr(self._original, name)
