"""Starting a worker process, talking to it, noticing its death, killing its tree.

The pool (``_pool.py``) sees a worker only through a :class:`Link`, made by
:func:`start`; the worker (``_worker.py``) connects with :func:`connect`.
Two implementations of the same pieces:

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
waiting for any      ``select.poll``                  ``select.select`` (sockets only,
                                                      as Windows wants)
===================  ===============================  ====================================

Both start a fresh interpreter (``python -c``): the caller is never forked,
and its ``__main__`` is never re-imported, so scripts need no
``if __name__ == "__main__":`` guard on either. ``posix`` is the default
where ``os.name == "posix"``; ``WEBBER_POOL=portable`` forces the other (CI
runs the conformance and fault suites that way on Linux). What differs on the
portable path: a task's own child processes are killed with it only when
psutil is installed, and the terminal's Ctrl-C also reaches the processes a
task started (the worker itself ignores it).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from typing import Any

from webber._errors import ExecutorError
from webber.executors._frames import Frames, send_frame

__all__ = ["MODES", "Link", "Waker", "connect", "mode", "start", "wait_readable", "watch_caller"]

#: the values of WEBBER_POOL
MODES = ("posix", "portable")
#: seconds a portable worker has to connect back before it counts as failed to start
CONNECT_TIMEOUT = 60.0


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
        return forced
    return "posix" if os.name == "posix" else "portable"


class Link:
    """The caller's end of one worker process."""

    def __init__(self, popen: subprocess.Popen[bytes], sink: int | socket.socket,
                 frames: Frames, keep: list[Any], death: Any, posix: bool) -> None:
        self.popen = popen
        self.sink = sink  # where frames to the worker go
        self.frames = frames  # frames from the worker
        self.keep = keep  # the lifeline and the like: closed with the link
        #: readable once the worker exited (a pidfd or a socket), or None
        self.death = death
        self.posix = posix

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def death_fd(self) -> int | None:
        if self.death is None or isinstance(self.death, int):
            return self.death
        return int(self.death.fileno())

    def send(self, data: bytes) -> None:
        send_frame(self.sink, data)

    def signal_tree(self, kill: bool) -> None:
        """SIGTERM (``kill=False``) or SIGKILL the worker and everything it started."""
        if self.posix:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL if kill else signal.SIGTERM)
            return
        _signal_tree(self.popen, kill)

    def close(self) -> None:
        """Close the caller's ends (the worker sees EOF and its lifeline close)."""
        self.frames.close()
        for end in (self.sink, *self.keep, self.death):
            with contextlib.suppress(OSError):
                if isinstance(end, int):
                    os.close(end)
                elif end is not None:
                    end.close()


def start(boot: str, posix: bool) -> Link:
    """Start a worker: ``python -c boot`` with the arguments :func:`connect` reads."""
    return _start_posix(boot) if posix else _start_portable(boot)


def _start_posix(boot: str) -> Link:
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
    death: Any = None
    if hasattr(os, "pidfd_open"):
        with contextlib.suppress(OSError):
            death = os.pidfd_open(popen.pid)
    if death is None:  # macOS: no pidfd, so a thread waits for the exit
        death = _watch_exit(popen)
    return Link(popen, w_in, Frames(r_out), [w_life], death, posix=True)


def _start_portable(boot: str) -> Link:
    import secrets  # here: hashlib's import is no cost a worker should pay

    token = secrets.token_hex(16)
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        flags = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)  # Windows: no Ctrl-C
        popen = subprocess.Popen(
            [sys.executable, "-c", boot, "--connect", str(port)],
            stdin=subprocess.PIPE, creationflags=flags,
        )
        try:
            assert popen.stdin is not None
            popen.stdin.write(token.encode() + b"\n")
            popen.stdin.close()
            data, life = _accept(server, popen, token), _accept(server, popen, token)
        except BaseException:
            _signal_tree(popen, kill=True)
            popen.wait()
            raise
    return Link(popen, data, Frames(data), [life], _watch_exit(popen), posix=False)


def _accept(server: socket.socket, popen: subprocess.Popen[bytes], token: str) -> socket.socket:
    """The next connection from ``popen`` that proves itself with ``token``."""
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
            if conn.recv(len(token) + 1) == token.encode() + b"\n":
                conn.settimeout(None)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return conn
        conn.close()  # not our worker: another local program knocking


def _watch_exit(popen: subprocess.Popen[bytes]) -> socket.socket:
    """A socket that turns readable when ``popen`` exits (where there is no pidfd)."""
    readable, writable = socket.socketpair()

    def wait() -> None:
        with contextlib.suppress(Exception):
            popen.wait()
        with contextlib.suppress(OSError):
            writable.send(b"!")
        writable.close()

    threading.Thread(target=wait, name=f"webber-wait-{popen.pid}", daemon=True).start()
    return readable


def _signal_tree(popen: subprocess.Popen[bytes], kill: bool) -> None:
    """Without process groups: the worker's descendants (psutil), then the worker."""
    descendants: list[Any] = []
    try:
        import psutil
    except ImportError:  # the worker alone; its own children live on
        psutil = None
    if psutil is not None:
        with contextlib.suppress(psutil.Error):
            descendants = psutil.Process(popen.pid).children(recursive=True)
    with contextlib.suppress(OSError):
        popen.kill() if kill else popen.terminate()
    for child in descendants:
        with contextlib.suppress(psutil.Error):
            child.kill() if kill else child.terminate()


class Waker:
    """Wakes the thread blocked in :func:`wait_readable` (a socket pair: Windows
    selects on sockets only)."""

    def __init__(self) -> None:
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


def wait_readable(fds: list[int], posix: bool) -> list[int]:
    """Block until some of ``fds`` are readable; those (none: ask again, the set
    of workers changed)."""
    if posix:
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN)
        return [fd for fd, _ in poller.poll()]
    try:
        ready, _, _ = select.select(fds, [], [])
    except OSError:  # one was closed meanwhile (poll reports that as ready): look again
        return []
    return list(ready)


# -- the worker's side -----------------------------------------------------------


def connect(argv: list[str]) -> tuple[Frames, int | socket.socket, int | socket.socket]:
    """In the worker: (frames from the caller, where to send frames, the lifeline)."""
    if argv[0] != "--connect":
        fd_in, fd_out, fd_life = (int(arg) for arg in argv[:3])
        return Frames(fd_in), fd_out, fd_life
    token = sys.stdin.readline().strip().encode() + b"\n"
    ends = []
    for _ in range(2):
        conn = socket.create_connection(("127.0.0.1", int(argv[1])))
        conn.sendall(token)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ends.append(conn)
    data, life = ends
    return Frames(data), data, life


def watch_caller(life: int | socket.socket) -> None:
    """In the worker, on a thread: wait for the lifeline to close (nothing is
    ever written to it: EOF means the caller is gone), then end this worker and
    whatever its task started."""
    with contextlib.suppress(OSError):
        if isinstance(life, int):
            while os.read(life, 1):
                pass
        else:
            while life.recv(1):
                pass
    if isinstance(life, int):  # the posix path: the worker leads its process group
        os.killpg(os.getpgrp(), signal.SIGKILL)
    with contextlib.suppress(Exception):
        import psutil

        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                child.kill()
    os._exit(1)
