"""Task output -> the ``"webber"`` logger, one record per printed line.

How a printed line finds its task without a racy ``sys.stdout`` swap per task:
while any run is active, ``sys.stdout`` and ``sys.stderr`` are each wrapped
once by a :class:`_Router`. A router looks up the *current task* in a context
variable -- set by the code that runs a task, so every thread (and asyncio
task) has its own -- and hands the text to that task's :class:`_Sink`, or to
the original stream when no task is running. Two tasks printing at the same
time on two threads therefore never see each other's lines::

    print() in task A (thread 1) --> sys.stdout (_Router) --> sink A --> logger "webber"
    print() in task B (thread 2) --> sys.stdout (_Router) --> sink B --> logger "webber"
    print() outside any task     --> sys.stdout (_Router) --> the original stream

A sink cuts text into lines and logs each complete line at INFO with the
task's name in ``record.task`` (``record.stream`` says stdout or stderr); a
partial last line is logged when the task ends. While logging, the current
task is cleared, so a handler writing to ``sys.stdout`` cannot loop back.
"""

from __future__ import annotations

import itertools
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TextIO

__all__ = [
    "Observer",
    "TaskFormatter",
    "capture",
    "collecting",
    "current_run",
    "current_task",
    "emit_line",
    "ensure_handler",
    "logger",
    "redirected",
    "set_emitter",
    "this_run",
]

logger = logging.getLogger("webber")

#: webber 0.4.0's format: "2024-06-12 21:53:42,233           print: Hello"
FORMAT = "%(asctime)s %(task)15s: %(message)s"
#: the task column's width in FORMAT
WIDTH = 15

_current: ContextVar[_Sink | None] = ContextVar("webber_task_output", default=None)
#: the number of the run going on in this context (see this_run)
_run: ContextVar[int | None] = ContextVar("webber_run", default=None)
#: run numbers (an int: a log record's ``run`` may be written out as JSON)
_runs = itertools.count(1)


class TaskFormatter(logging.Formatter):
    """webber 0.4.0's log format; records without a task show ``webber``."""

    def __init__(self) -> None:
        super().__init__(FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "task"):
            record.task = "webber"
        name = str(vars(record)["task"])
        if len(name) <= WIDTH:
            return super().format(record)
        # A longer name would push its line's text right of everyone else's:
        # show its start and end (the end tells "-1" from "-2"), for this
        # handler only (the record keeps the full name for other handlers).
        record.task = f"{name[:WIDTH // 2 - 1]}~{name[-(WIDTH - WIDTH // 2):]}"
        try:
            return super().format(record)
        finally:
            record.task = name


if TYPE_CHECKING:
    _StreamHandler = logging.StreamHandler[TextIO]
else:  # not subscriptable at run time on Python 3.10
    _StreamHandler = logging.StreamHandler


class _StdoutHandler(_StreamHandler):
    """Writes to whatever ``sys.stdout`` is at the time of each record (a
    notebook replaces it per cell), like the print() it stands in for; a line
    a task wrote to stderr goes to ``sys.stderr``, where the task sent it
    (``python job.py 2> errors.log`` keeps working as it did in 0.4.0)."""

    _to_stderr = False

    def emit(self, record: logging.LogRecord) -> None:
        # (Handler.handle() holds this handler's lock around emit())
        self._to_stderr = getattr(record, "stream", None) == "stderr"
        super().emit(record)

    @property
    def stream(self) -> TextIO:
        return sys.stderr if self._to_stderr else sys.stdout

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def ensure_handler() -> None:
    """Make task output reach someone: the logger at INFO unless its level was
    set, and a handler in webber 0.4.0's format unless one is configured.

    "Configured" means any handler on ``webber`` or its ancestors (the root
    logger included), so ``logging.basicConfig()`` or a framework's setup wins.
    The level is set even then: ``logging.basicConfig()`` leaves the root at
    WARNING, and a ``"webber"`` logger that inherits it would drop every
    printed line (INFO) -- output would vanish because of an unrelated setting.
    Setting the ``"webber"`` logger's own level (to WARNING, say) still silences it.
    A configuration made after webber added its handler (``logging.basicConfig()``
    in a notebook's later cell) wins too: the handler is taken away, else every
    line would be written twice, once by each.
    """
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    global _default
    with _handler_lock:  # two runs starting at once must not add it twice
        ours = [h for h in logger.handlers if h is _default]
        if _configured(besides=ours):
            for handler in ours:
                logger.removeHandler(handler)
        elif not ours:
            if _default is None:
                _default = _StdoutHandler()
                _default.setFormatter(TaskFormatter())
            logger.addHandler(_default)


_handler_lock = threading.Lock()
#: the handler webber adds when logging is not configured (only this one is
#: taken away when it is: a _StdoutHandler the user added is theirs)
_default: logging.Handler | None = None


class Observer(logging.Handler):
    """A handler of webber's own that reads the records (the dashboard's):
    not a configuration of the user's, so task output still needs a handler."""


def _configured(besides: list[logging.Handler]) -> bool:
    """Whether a record of ``webber`` reaches a handler other than ``besides``
    and webber's observers (``Logger.hasHandlers``, those left out)."""
    current: logging.Logger | None = logger
    while current is not None:
        if any(h not in besides and not isinstance(h, Observer) for h in current.handlers):
            return True
        if not current.propagate:
            return False
        current = current.parent
    return False


def emit_line(task: str, line: str, stream: str = "stdout", node: str = "",
              run: int | None = None) -> None:
    """Log one line of task output (also used for lines from worker processes,
    and for their tasks' log records: see ``_logs``); ``record.run`` is ``run``,
    else this context's (see :func:`this_run`)."""
    if stream == "log":
        from webber import _logs

        _logs.handle(line, task, node)
        return
    token = _current.set(None)  # a handler printing to sys.stdout must not loop back
    try:
        logger.info(line, extra={"task": task, "node": node, "stream": stream,
                                 "run": _run.get() if run is None else run})
    finally:
        _current.reset(token)


Emitter = Callable[[str, str, str, str], None]
_emit: Emitter = emit_line

#: (stream, line) of each line completed in this context, when a caller asked
#: to keep them (see collecting)
_kept: ContextVar[list[tuple[str, str]] | None] = ContextVar("webber_kept_lines", default=None)


@contextmanager
def this_run() -> Iterator[None]:
    """A run goes on in this context, and in the threads its executor starts
    from it: its tasks' lines are logged with a ``record.run`` of its own (a
    number, unique in the process), so
    that a dashboard tells them from the lines of another run of a flow whose
    ids are the same (ids alone would not). Executors whose lines arrive in
    another thread (worker processes, dask) read :func:`current_run` when the
    run starts them and pass it to :func:`emit_line`."""
    token = _run.set(next(_runs))
    try:
        yield
    finally:
        _run.reset(token)


def current_run() -> int | None:
    """The number of the run going on in this context (see :func:`this_run`)."""
    return _run.get()


def current_task() -> tuple[str, str]:
    """The name and node id of the task whose output this context collects
    (``("", "")`` outside one)."""
    sink = _current.get()
    return ("", "") if sink is None else (sink.name, sink.node)


def set_emitter(emit: Emitter) -> None:
    """Where completed lines go: the logger (default), or, in a worker
    process, a pipe back to the caller, who logs them."""
    global _emit
    _emit = emit


@contextmanager
def collecting() -> Iterator[list[tuple[str, str]]]:
    """Keep the lines that tasks complete in this context, as (stream, line),
    instead of emitting them: a dask worker is shared with other work and has
    no pipe to the caller, so it sends a task's lines back with its outcome.
    Only this context is affected (other threads and tasks emit as usual)."""
    lines: list[tuple[str, str]] = []
    token = _kept.set(lines)
    try:
        yield lines
    finally:
        _kept.reset(token)


def _send(name: str, line: str, stream: str, node: str) -> None:
    kept = _kept.get()
    if kept is None:
        _emit(name, line, stream, node)
    else:
        kept.append((stream, line))


class _Sink:
    """The output of one task attempt, cut into lines. A line redrawn with
    ``"\\r"`` (a progress bar) is kept and logged as last drawn, as a terminal
    shows it: not as every state it drew, grown for as long as the task ran."""

    __slots__ = ("name", "node", "partial")

    def __init__(self, name: str, node: str = "") -> None:
        self.name = name
        self.node = node
        #: each stream's unfinished last line, in the pieces written (joined
        #: once: ``print(".", end="")`` in a loop copied the line at each
        #: write); made at the first write (most tasks print nothing)
        self.partial: dict[str, list[str]] | None = None

    def write(self, stream: str, text: str) -> None:
        partial = self.partial
        if partial is None:
            partial = self.partial = {"stdout": [], "stderr": []}
        pieces = partial[stream]
        if "\n" not in text and "\r" not in text:
            pieces.append(text)
            return
        *lines, rest = "".join((*pieces, text)).split("\n")
        for line in lines:
            _send(self.name, _drawn(line.rstrip("\r")), stream, self.node)
        # (a "\r" last may be half of a "\r\n": the next write tells)
        pieces[:] = [rest[rest.rfind("\r", 0, len(rest) - 1) + 1:]] if rest else []

    def close(self) -> None:
        if self.partial is None:
            return
        for stream, pieces in self.partial.items():
            if rest := _drawn("".join(pieces).rstrip("\r")):
                _send(self.name, rest, stream, self.node)
            pieces.clear()


def _drawn(line: str) -> str:
    """What a terminal shows of ``line``: the text after its last ``"\\r"``."""
    return line[line.rfind("\r") + 1:]


class _Router:
    """Stands in for sys.stdout / sys.stderr while runs are active."""

    def __init__(self, original: TextIO, stream: str) -> None:
        self._original = original
        self._stream = stream

    def write(self, text: str) -> int:
        sink = _current.get()
        if sink is None:
            return self._original.write(text)
        sink.write(self._stream, text)
        return len(text)

    def writelines(self, lines: list[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if _current.get() is None:
            self._original.flush()

    def isatty(self) -> bool:
        return _current.get() is None and self._original.isatty()

    def close(self) -> None:
        # A task's sys.stdout is the process's stream, which is not the task's
        # to close: on inline and threads it is the caller's own, which later
        # tasks and the caller still print to (their lines were lost and the
        # caller's next print() raised). Outside a task, close as asked.
        if _current.get() is None:
            self._original.close()

    # A stream is its own context manager (``with sys.stdout as out:``), which
    # closes it at the end: as close() above. (Special methods are looked up
    # on the type, so __getattr__ below cannot lend them.)
    def __enter__(self) -> _Router:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        # Only reached for attributes the router lacks (encoding, fileno,
        # buffer, ...): a proxy must look like the stream it wraps.
        return getattr(self._original, name)


_lock = threading.Lock()
_active = 0
_saved: dict[str, Any] = {}
#: every router made, by its stream's name and the stream it stands in for, kept
#: while that stream is open and used again for it: print() holds sys.stdout
#: without a reference of its own between the writes of its arguments (Python
#: before 3.12.10 and 3.13.3), so a router that a run ending in another thread
#: put away must outlive that print (freed, the process died of a SIGSEGV)
_routers: dict[tuple[str, int], _Router] = {}


def _router(original: TextIO, name: str) -> _Router:
    """The router standing in for ``original``: made once, then kept (see _routers)."""
    for key, router in list(_routers.items()):
        try:
            closed = bool(router._original.closed)
        except Exception:  # a stream of the user's own, without .closed
            closed = False
        if closed:  # nothing can write through it any more: let it go
            del _routers[key]
    key = (name, id(original))  # the router holds original: its id stays its own
    if key not in _routers:
        _routers[key] = _Router(original, name)
    return _routers[key]


@contextmanager
def redirected() -> Iterator[None]:
    """Route task output to the logger while the block runs, and give the log
    records tasks make their ``task`` and ``node`` (re-entrant, thread-safe:
    the outermost block installs and removes the routers and the tagging)."""
    global _active
    with _lock:
        if _active == 0:
            for name in ("stdout", "stderr"):
                original = getattr(sys, name)
                _saved[name] = router = None if original is None else _router(original, name)
                if router is not None:
                    setattr(sys, name, router)
            _tag_records()
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                for name, router in _saved.items():
                    # Put the original back only if nobody replaced ours meanwhile.
                    if router is not None and getattr(sys, name) is router:
                        setattr(sys, name, router._original)
                _saved.clear()
                _untag_records()


#: what ``Logger.makeRecord`` was when the runs began (called by _make_record)
_made: Callable[..., logging.LogRecord] = logging.Logger.makeRecord


def _make_record(self: logging.Logger, *args: Any, **kwargs: Any) -> logging.LogRecord:
    """``Logger.makeRecord`` while runs are active: a record made in a task
    carries its ``task`` and ``node``, as a record a task makes in a worker
    process does (``_logs``), so a ``%(task)s`` format works on every
    executor. What ``extra=`` set is kept."""
    record = _made(self, *args, **kwargs)
    sink = _current.get()
    if sink is not None:
        fields = record.__dict__
        fields.setdefault("task", sink.name)
        fields.setdefault("node", sink.node)
    return record


def _tag_records() -> None:
    # On the class, not a record factory: a factory's attributes collide with
    # a user's extra={"task": ...} (makeRecord refuses to overwrite them), and
    # a factory of the user's own would have to be wrapped and found again.
    global _made
    if logging.Logger.makeRecord is not _make_record:
        _made = logging.Logger.makeRecord
        logging.Logger.makeRecord = _make_record  # type: ignore[method-assign]


def _untag_records() -> None:
    # Put back what was there, unless someone replaced ours meanwhile (theirs
    # may call ours, which adds nothing outside a task). _made stays set: a
    # thread may be inside _make_record now.
    if logging.Logger.makeRecord is _make_record:
        logging.Logger.makeRecord = _made  # type: ignore[method-assign]


class capture(_Sink):  # a context manager, named as one is used
    """Attribute everything printed in this context to task ``name``.

    A class rather than a generator, and its own sink: it is made and
    entered once per task run.
    """

    __slots__ = ("token",)

    def __enter__(self) -> None:
        self.token = _current.set(self)

    def __exit__(self, *exc_info: object) -> None:
        _current.reset(self.token)
        self.close()
