"""How a worker process is started, talked to, watched and killed: two paths.

The pool's :class:`~webber.executors._process.Proc` holds what :func:`start`
returns; the worker (``_worker.py``) finds its ends with :func:`connect`.

===================  ===============================  ====================================
piece                ``posix`` (Linux, macOS)         ``portable`` (anywhere)
===================  ===============================  ====================================
messages             pipes passed to the child        two loopback TCP connections the
                     (``pass_fds``)                   worker opens back, proven by a
                                                      one-time token read from its stdin
its death            a pidfd (Linux); elsewhere a     a thread waits for it
                     thread waits for it
its tree             it leads its own process         psutil's list of its descendants
                     group: ``killpg``                (without psutil: the worker alone)
waiting on them      ``select.poll``                  the same where it exists, else
                                                      ``select.select`` (Windows: sockets)
===================  ===============================  ====================================

Both start a fresh interpreter (``python -c``), as multiprocessing's
``spawn`` does, but without re-importing the caller's ``__main__``: task
functions travel by value (cloudpickle), so scripts need no
``if __name__ == "__main__":`` guard on either path. ``posix`` is the default
where ``os.name == "posix"``; ``WEBBER_POOL=portable`` forces the other (the
test command runs the conformance and fault suites that way on Linux).

Why not multiprocessing's own pieces: ``multiprocessing.connection`` costs
every worker 15 ms of imports (the frames are its format, see ``_frames.py``),
and ``_shm.py`` passes large buffers by renaming and unlinking mapped files,
which neither Windows nor ``multiprocessing.shared_memory`` allows there; on
Windows those buffers go through the connection instead.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

from webber._errors import ExecutorError
from webber.executors._frames import Frames

if TYPE_CHECKING:
    # (imported where used: a worker on the posix path needs neither, 4 ms of its start)
    import socket
    import subprocess

    #: a file descriptor (posix) or a socket (portable)
    End: TypeAlias = int | socket.socket

__all__ = [
    "CONNECT_TIMEOUT",
    "MODES",
    "End",
    "Ends",
    "Waker",
    "close_end",
    "connect",
    "descendants",
    "end_tree",
    "mode",
    "signal_tree",
    "start",
    "wait_closed",
    "wait_readable",
]

#: the values of WEBBER_POOL
MODES = ("posix", "portable")
#: seconds a portable worker has to connect back before it counts as failed to start
CONNECT_TIMEOUT = 60.0

#: run first in a portable worker, before any import of webber (the caller holds
#: the pool's lock until it is connected): read the token, connect back twice,
#: hand the two sockets to :func:`connect` as ``--sockets <data> <life>``
_CONNECT_FIRST = (
    "import socket, sys; token = sys.stdin.buffer.readline(); "
    "ends = [socket.create_connection(('127.0.0.1', int(sys.argv[2]))) for _ in 'dl']; "
    "[end.sendall(token) for end in ends]; "
    "sys.argv[1:] = ['--sockets', *(str(end.detach()) for end in ends)]; "
)


def mode() -> str:
    """``"posix"`` or ``"portable"``: ``WEBBER_POOL`` when set, else what this
    system supports."""
    forced = os.environ.get("WEBBER_POOL", "")
    if forced:
        if forced not in MODES:
            raise ExecutorError(
                f"WEBBER_POOL={forced!r} is not a pool kind; use one of "
                f"{', '.join(map(repr, MODES))} (or leave it unset)"
            )
        if forced == "posix" and os.name != "posix":
            raise ExecutorError(
                "WEBBER_POOL='posix' needs a POSIX system (pipes passed to the worker, "
                "process groups); use WEBBER_POOL=portable here"
            )
        return forced
    return "posix" if os.name == "posix" else "portable"


class Ends(NamedTuple):
    """The caller's ends of a new worker."""

    popen: subprocess.Popen[bytes]
    sink: End  # frames to the worker
    frames: Frames  # frames from the worker
    life: End  # never written: the worker sees it close when the caller dies
    death: End | None  # readable once the worker exited (pidfd or socket)


def start(boot: str, posix: bool) -> Ends:
    """Start a worker: ``python -c boot`` with the arguments :func:`connect` reads."""
    return _start_posix(boot) if posix else _start_portable(boot)


def _start_posix(boot: str) -> Ends:
    import subprocess

    r_in, w_in = os.pipe()
    r_out, w_out = os.pipe()
    r_life, w_life = os.pipe()
    try:
        popen = subprocess.Popen(
            [sys.executable, "-c", boot, str(r_in), str(w_out), str(r_life)],
            pass_fds=(r_in, w_out, r_life),
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    except BaseException:
        for fd in (w_in, r_out, w_life):
            os.close(fd)
        raise
    finally:
        for fd in (r_in, w_out, r_life):
            os.close(fd)
    death: End | None = None
    if hasattr(os, "pidfd_open"):
        with contextlib.suppress(OSError):
            death = os.pidfd_open(popen.pid)
    if death is None:  # macOS: no pidfd, so a thread waits for the exit
        death = _watch_exit(popen)
    return Ends(popen, w_in, Frames(r_out), w_life, death)


def _start_portable(boot: str) -> Ends:
    import secrets
    import socket
    import subprocess

    token = secrets.token_hex(16).encode() + b"\n"
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        flags = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)  # Windows: no Ctrl-C
        popen = subprocess.Popen(
            [sys.executable, "-c", _CONNECT_FIRST + boot, "--connect", str(port)],
            stdin=subprocess.PIPE, creationflags=flags,
        )
        try:
            assert popen.stdin is not None
            popen.stdin.write(token)
            popen.stdin.close()
            data = _accept(server, popen, token)
            life = _accept(server, popen, token)
        except BaseException:
            signal_tree(popen, posix=False, kill=True, known=[])
            popen.wait()
            raise
    return Ends(popen, data, Frames(data), life, _watch_exit(popen))


def _accept(server: socket.socket, popen: subprocess.Popen[bytes], token: bytes) -> socket.socket:
    """The next connection from ``popen`` that proves itself with ``token``."""
    import socket

    server.settimeout(0.1)
    waited = 0.0
    while True:
        try:
            conn, _ = server.accept()
        except TimeoutError:
            waited += 0.1
            if popen.poll() is not None or waited > CONNECT_TIMEOUT:
                raise OSError(
                    f"the worker process (pid {popen.pid}) did not connect back "
                    f"(exit code {popen.poll()})"
                ) from None
            continue
        conn.settimeout(CONNECT_TIMEOUT)
        with contextlib.suppress(OSError):
            if conn.recv(len(token)) == token:
                conn.settimeout(None)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return conn
        conn.close()  # not our worker: another local program knocking


def _watch_exit(popen: subprocess.Popen[bytes]) -> socket.socket:
    """A socket that turns readable when ``popen`` exits (where there is no pidfd)."""
    import socket

    readable, writable = socket.socketpair()

    def wait() -> None:
        with contextlib.suppress(Exception):
            popen.wait()
        with contextlib.suppress(OSError):
            writable.send(b"!")
        writable.close()

    threading.Thread(target=wait, name=f"webber-wait-{popen.pid}", daemon=True).start()
    return readable


def signal_tree(popen: subprocess.Popen[bytes], posix: bool, kill: bool,
                known: list[Any]) -> list[Any]:
    """SIGTERM (``kill=False``) or SIGKILL a worker and everything it started:
    its process group (posix), or its descendants (psutil) and itself. Returns
    the descendants signalled, to pass as ``known`` next time: once the worker
    has exited they are no longer below it, but a SIGKILL must still reach
    those that outlived a SIGTERM."""
    if posix:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(popen.pid, signal.SIGKILL if kill else signal.SIGTERM)
        return []
    descendants = list(known)
    if popen.returncode is None:  # (reaped: its pid may be another process's now)
        descendants += _descendants(popen.pid)
    with contextlib.suppress(OSError):
        popen.kill() if kill else popen.terminate()
    _end_all(descendants, kill)
    return descendants


def descendants(popen: subprocess.Popen[bytes], posix: bool) -> list[Any]:
    """What a live worker started, for :func:`signal_tree`'s ``known`` once it
    has exited (the portable path finds them below it only while it lives);
    none on posix, where its process group outlives it."""
    return [] if posix or popen.returncode is not None else _descendants(popen.pid)


def _descendants(pid: int) -> list[Any]:
    """psutil's processes below ``pid``; none without psutil (they live on)."""
    try:
        import psutil
    except ImportError:
        return []
    with contextlib.suppress(psutil.Error):
        return list(psutil.Process(pid).children(recursive=True))
    return []


def _end_all(processes: list[Any], kill: bool) -> None:
    for process in processes:
        # psutil.Error: gone meanwhile (psutil checks the pid was not reused)
        with contextlib.suppress(Exception):
            process.kill() if kill else process.terminate()


class Waker:
    """Wakes the thread blocked in :func:`wait_readable` (a socket pair:
    Windows selects on sockets only)."""

    def __init__(self) -> None:
        import socket

        self.reader, self.writer = socket.socketpair()
        self.reader.setblocking(False)

    def fileno(self) -> int:
        return self.reader.fileno()

    def wake(self) -> None:
        with contextlib.suppress(OSError):
            self.writer.send(b"!")

    def clear(self) -> None:
        with contextlib.suppress(OSError):
            self.reader.recv(4096)

    def close(self) -> None:
        self.reader.close()
        self.writer.close()


def wait_readable(fds: list[int]) -> list[int]:
    """Block until some of ``fds`` are readable; those (none: look again, the
    set of workers changed). ``poll`` where there is one, else ``select``
    (Windows: sockets only, which is all the portable path watches)."""
    if hasattr(select, "poll"):
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN)
        return [fd for fd, _ in poller.poll()]
    try:
        ready, _, _ = select.select(fds, [], [])
    except OSError:  # one was closed meanwhile (poll reports that as ready)
        return []
    return list(ready)


def close_end(end: End | Frames | None) -> None:
    """Close one end (a file descriptor, a socket, a reader), ignoring errors."""
    with contextlib.suppress(OSError):
        if isinstance(end, int):
            os.close(end)
        elif end is not None:
            end.close()


# -- the worker's side -----------------------------------------------------------


def connect(argv: list[str]) -> tuple[Frames, End, End]:
    """In the worker: (frames from the caller, where frames to it go, the lifeline)."""
    if argv[0] != "--sockets":
        fd_in, fd_out, fd_life = (int(arg) for arg in argv[:3])
        return Frames(fd_in), fd_out, fd_life
    import socket

    data, life = (socket.socket(fileno=int(arg)) for arg in argv[1:3])  # see _CONNECT_FIRST
    data.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return Frames(data), data, life


def wait_closed(life: End) -> None:
    """In the worker, on a thread: wait for the lifeline to close (nothing is
    ever written to it: EOF means the caller is gone)."""
    with contextlib.suppress(OSError):
        if isinstance(life, int):
            while os.read(life, 1):
                pass
        else:
            while life.recv(1):
                pass


def end_tree(life: End) -> None:
    """In the worker: end it and whatever its task started."""
    if isinstance(life, int):  # the posix path: this worker leads its process group
        os.killpg(os.getpgrp(), signal.SIGKILL)
    _end_all(_descendants(os.getpid()), kill=True)
    os._exit(1)
