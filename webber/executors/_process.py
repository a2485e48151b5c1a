"""One worker process of the pool, seen from the caller: start, close, reap.

A worker is a fresh interpreter (no ``fork()`` of the caller, so threads
holding locks here cannot deadlock it, and the caller's ``__main__`` is never
re-imported). How it is started, talked to, watched and killed is
``_spawn.py``'s: pipes and its own process group on POSIX (killing the group
ends whatever its task started), loopback sockets and psutil on the portable
path. It gets three ends: jobs in, results and printed lines out, and a
lifeline it never reads until the caller dies (see ``_worker.py``).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from webber._task_errors import WorkerCrashedError
from webber.executors import _shm
from webber.executors._frames import Frames, send_frame
from webber.executors._ledger import sweep
from webber.executors._spawn import close_end, descendants, signal_tree, start

if TYPE_CHECKING:
    from webber.executors._session import Sent
    from webber.executors._spawn import End

__all__ = ["KILLED", "Proc", "crash_error", "reap", "spawn", "why"]

#: the exit code of a worker killed by SIGKILL (Windows has no such signal)
KILLED = -getattr(signal, "SIGKILL", 9)

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_BOOT = (
    f"import sys; sys.path.insert(0, {_ROOT!r}); "
    "from webber.executors._worker import main; main()"
)


@dataclass(eq=False, slots=True)
class Proc:
    """One worker process, seen from the caller."""

    popen: subprocess.Popen[bytes]
    conn_in: End  # the pipe to the worker (send_frame)
    conn_out: Frames
    life_w: End
    #: readable once the worker exited (a pidfd, or a socket a thread writes to)
    death: End | None
    #: which path of ``_spawn.py`` started it
    posix: bool
    fids: set[str] = field(default_factory=set)
    forget: list[str] = field(default_factory=list)
    inflight: deque[Sent] = field(default_factory=deque)
    #: tasks it has run (chain links included), and its RSS after the last one
    tasks: int = 0
    rss: int = 0
    #: it said "ready": done importing, it runs what it is sent at once
    up: bool = False
    #: the processes below it that the portable path signalled (see signal_tree)
    signalled: list[Any] = field(default_factory=list)
    #: the caller's surroundings it was last told (see _caller.tell)
    context: object = None
    #: the serial of the run (Session) it was last sent jobs of: its first
    #: batch of a run has it put back what tasks of earlier runs changed
    #: (_caller.restore); a number, so that no ended run is kept alive here
    served: int = 0
    #: "process <pid>", made once: it names the worker in every Started/Outcome
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = f"process {self.popen.pid}"

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def death_fd(self) -> int | None:
        death = self.death
        return death if death is None or isinstance(death, int) else death.fileno()

    def signal_tree(self, kill: bool = True) -> None:
        """SIGTERM (``kill=False``) or SIGKILL the worker and what its tasks started."""
        self.signalled = signal_tree(self.popen, self.posix, kill, self.signalled)

    def note_tree(self) -> None:
        """Before it is asked to stop: remember what its tasks started, so that
        :meth:`signal_tree` reaches them after it exited (the portable path)."""
        self.signalled = [*self.signalled, *descendants(self.popen, self.posix)]

    def close(self, kill: bool = True) -> None:
        """Close the caller's ends; kill its tree first when ``kill``."""
        if kill:
            self.signal_tree()
        for end in (self.conn_out, self.conn_in, self.life_w, self.death):
            close_end(end)


def why(code: int | None) -> str:
    """How a worker ended, from its exit code (negative: the signal), with a hint."""
    if code is None:
        return "stopped answering"
    if code >= 0:
        return f"exited with exit code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    hint = {
        "SIGKILL": " (killed by the system, often for lack of memory, or by another process)",
        "SIGSEGV": " (a crash in C code: a segmentation fault)",
        "SIGABRT": " (aborted, usually by a failed check in C code)",
        "SIGBUS": " (a bus error in C code)",
    }.get(name, "")
    return f"was killed by {name}{hint}"


def spawn(shm_directory: str, share: int, posix: bool) -> Proc:
    """Start a worker, tell it the caller's ``sys.path``, where shared memory
    is, and the default size of a pool that a task starts there; returns it."""
    sweep(shm_directory)  # (once: what workers killed with their caller left)
    _shm.remove_orphans()  # (once, too)
    ends = start(_BOOT, posix)
    proc = Proc(*ends, posix=posix)
    path = [os.getcwd() if entry == "" else entry for entry in sys.path]
    # It may be dead already: a Ctrl-C to the caller's process group that came
    # between its fork and its own session kills it as it starts. The pool
    # still takes it, so that the receiver thread reaps and replaces it.
    with contextlib.suppress(OSError):
        send_frame(proc.conn_in, pickle.dumps(("init", path, shm_directory, share)))
    return proc


def reap(proc: Proc, timeout: float = 2.0) -> int | None:
    """Wait for ``proc`` to exit (killing its tree if it won't); its exit code."""
    try:
        return proc.popen.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.signal_tree()
        return proc.popen.wait()


def _size(n: int) -> str:
    """``n`` bytes in the unit family they were likely given in ("512MiB", "100MB")."""
    return f"{n / 2**20:,.0f} MiB" if n % 2**20 == 0 else f"{n / 1e6:,.0f} MB"


def crash_error(
    node: str, pid: int, code: int | None, memory_limit: int | None, strikes: int = 0
) -> WorkerCrashedError:
    """The failure of the job that worker ``pid`` was running when it exited
    with ``code``; ``strikes``: how many workers in a row died before they
    began it or any other job (see ``Pool._blamed``)."""
    if strikes:
        return WorkerCrashedError(
            f"task {node!r}: its worker process (pid {pid}) {why(code)} before it began "
            f"it, and so did the {strikes - 1} workers before it, {strikes} workers in a "
            f"row that ran no task at all: something kills worker processes as they start "
            f"(memory, a limit on processes, the environment); run with "
            f"executor='threads' to run without them",
            node,
        )
    memory = (f" (the run's memory_limit is {_size(memory_limit)}: the worker is "
              f"recycled after a task that passed it, not during one)"
              if memory_limit is not None and code == KILLED else "")
    return WorkerCrashedError(
        f"task {node!r}: its worker process (pid {pid}) {why(code)}{memory} "
        f"while running it; the other tasks were not affected",
        node,
    )
