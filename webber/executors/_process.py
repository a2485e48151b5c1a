"""One worker process of the pool, seen from the caller: start, close, reap.

A worker is a fresh interpreter (fork+exec through ``subprocess``: no
``fork()`` of the caller, so threads holding locks here cannot deadlock it,
and the caller's ``__main__`` is never re-imported) that leads its own
process group, so killing the group ends whatever its task started. It gets
three pipes: jobs in, results and printed lines out, and a lifeline it never
reads until the caller dies (see ``_worker.py``).
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
from typing import TYPE_CHECKING

from webber._errors import WorkerCrashedError
from webber.executors._frames import Frames, send_frame

if TYPE_CHECKING:
    from webber.executors._session import Sent

__all__ = ["Proc", "crash_error", "kill_group", "reap", "spawn", "why"]

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_BOOT = (
    f"import sys; sys.path.insert(0, {_ROOT!r}); "
    "from webber.executors._worker import main; main()"
)


@dataclass(eq=False, slots=True)
class Proc:
    """One worker process, seen from the caller."""

    popen: subprocess.Popen[bytes]
    conn_in: int  # the pipe to the worker (send_frame)
    conn_out: Frames
    life_w: int
    pidfd: int | None
    fids: set[str] = field(default_factory=set)
    forget: list[str] = field(default_factory=list)
    inflight: deque[Sent] = field(default_factory=deque)
    #: tasks it has run (chain links included), and its RSS after the last one
    tasks: int = 0
    rss: int = 0
    #: "process <pid>", made once: it names the worker in every Started/Outcome
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = f"process {self.popen.pid}"

    @property
    def pid(self) -> int:
        return self.popen.pid


    def close(self, sig: int | None = signal.SIGKILL) -> None:
        """Close the caller's ends of its pipes; kill its group first when
        ``sig`` is given."""
        if sig is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, sig)
        self.conn_out.close()
        for fd in (self.conn_in, self.life_w, self.pidfd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)


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


def spawn(shm_directory: str, share: int) -> Proc:
    """Start a worker, tell it the caller's ``sys.path``, where shared memory
    is, and the default size of a pool that a task starts there; returns it."""
    r_in, w_in = os.pipe()
    r_out, w_out = os.pipe()
    r_life, w_life = os.pipe()
    try:
        popen = subprocess.Popen(
            [sys.executable, "-c", _BOOT, str(r_in), str(w_out), str(r_life)],
            pass_fds=(r_in, w_out, r_life),
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        for fd in (r_in, w_out, r_life):
            os.close(fd)
    pidfd = None
    if hasattr(os, "pidfd_open"):
        with contextlib.suppress(OSError):
            pidfd = os.pidfd_open(popen.pid)
    proc = Proc(popen, w_in, Frames(r_out), w_life, pidfd)
    path = [os.getcwd() if entry == "" else entry for entry in sys.path]
    send_frame(proc.conn_in, pickle.dumps(("init", path, shm_directory, share)))
    return proc


def kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def reap(proc: Proc, timeout: float = 2.0) -> int | None:
    """Wait for ``proc`` to exit (killing its group if it won't); its exit code."""
    try:
        return proc.popen.wait(timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        return proc.popen.wait()


def crash_error(
    node: str, pid: int, code: int | None, memory_limit: int | None
) -> WorkerCrashedError:
    """The failure of the job that worker ``pid`` was running when it exited with ``code``."""
    memory = (f" (the run's memory_limit is {memory_limit / 2**20:.0f} MB: the worker is "
              f"recycled after a task that passed it, not during one)"
              if memory_limit is not None and code == -signal.SIGKILL else "")
    return WorkerCrashedError(
        f"task {node!r}: its worker process (pid {pid}) {why(code)}{memory} "
        f"while running it; the other tasks were not affected",
        node,
    )
