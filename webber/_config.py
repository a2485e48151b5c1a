"""webber.config: settings that change what runs without changing the code.

One setting for now, the executor that ``run()`` / ``execute()`` use when the
call names none. Where it comes from, first match wins:

1. ``run(executor=...)`` in the code;
2. ``webber.config.executor`` (set directly, or for a block with
   ``with webber.config.set(executor="threads"):``);
3. the environment variable ``WEBBER_EXECUTOR`` (read at each run, so a
   notebook can set ``os.environ`` too); typed by hand, it is forgiven its
   case and surrounding spaces (``" Threads "`` is ``"threads"``), and a blank
   value is as if it were unset;
4. ``"processes"``.

That is dask's manner (``dask.config.set``, ``DASK_*`` variables): code
written for webber 0.4.0, which ran tasks on threads, can keep doing so with
``WEBBER_EXECUTOR=threads`` and no edit.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from webber._errors import ExecutorError, OptionError
from webber._keywords import tells_keywords
from webber.executors import NAMES, Executor

__all__ = ["ENV_EXECUTOR", "Config", "config"]

#: the environment variable that names the default executor
ENV_EXECUTOR = "WEBBER_EXECUTOR"


class Config:
    """webber's settings (``webber.config``); today the default executor.

    ``executor`` is None (then ``WEBBER_EXECUTOR``, else ``"processes"``), an
    executor name, or an Executor instance. ``set()`` changes settings now and,
    used as a context manager, puts them back when the block ends.

    >>> import threading, webber
    >>> dag = webber.DAG()
    >>> n = dag.add_node(lambda: threading.current_thread() is threading.main_thread())
    >>> with webber.config.set(executor="inline"):  # in this thread
    ...     dag.execute()[n]
    True
    >>> webber.config.executor = "threads"          # from now on
    >>> dag.execute()[n]
    False
    >>> webber.config.executor = None               # back to WEBBER_EXECUTOR or processes
    """

    __slots__ = ("_executor",)

    def __init__(self) -> None:
        self._executor: str | Executor | None = None

    def __setattr__(self, name: str, value: object) -> None:
        # A misspelt setting (webber.config.exector = ...) was kept as a new
        # attribute, and changed nothing, silently.
        if name not in ("executor", "_executor"):
            raise OptionError(f"webber.config has no setting {name!r}; its one setting is "
                              f"executor: webber.config.executor = 'threads'")
        object.__setattr__(self, name, value)

    @property
    def executor(self) -> str | Executor | None:
        """The executor ``run()`` uses when called without one (None: see above).
        Checked when set: a misspelt name raises at that line."""
        return self._executor

    @executor.setter
    def executor(self, executor: str | Executor | None) -> None:
        _check(executor, "webber.config.executor")
        self._executor = executor

    def __repr__(self) -> str:
        return f"webber.config(executor={self.executor!r}, resolved={self.default_executor()!r})"

    @contextmanager
    def _restoring(self, saved: str | Executor | None) -> Iterator[Config]:
        try:
            yield self
        finally:
            self._executor = saved

    @tells_keywords("setting")
    def set(self, *, executor: str | Executor | None = None) -> AbstractContextManager[Config]:
        """Set ``executor`` now; as a context manager, restore it on exit."""
        _check(executor, "webber.config.set(executor=...)")
        saved, self._executor = self._executor, executor
        return self._restoring(saved)

    def default_executor(self) -> str | Executor:
        """The executor a run without ``executor=`` uses (see the module's doc)."""
        if self._executor is not None:
            return self._executor
        # Forgiving here only: the names in code (executor=, webber.config) are
        # exact, as elsewhere in Python; a shell's variable is typed by hand.
        name = os.environ.get(ENV_EXECUTOR, "").strip().lower()
        if name:  # (blank: unset, as `WEBBER_EXECUTOR= python x.py` means)
            _check(name, f"the environment variable {ENV_EXECUTOR}")
            return name
        return NAMES[0]  # the registry's default


def _check(executor: object, where: str) -> None:
    if executor is None or isinstance(executor, Executor) or (
        isinstance(executor, str) and executor in NAMES
    ):
        return
    raise ExecutorError(
        f"{where} is {executor!r}: use one of {', '.join(map(repr, NAMES))} "
        f"or an Executor instance"
    )


config = Config()
