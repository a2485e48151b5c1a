"""Length-prefixed frames over a pipe: how the pool and its workers talk.

A frame is a 4-byte big-endian size (or -1 and an 8-byte size past 2 GiB)
and that many bytes -- the format of ``multiprocessing.connection``, without
its 15 ms of imports, which every worker would pay at start-up. A reader
takes as many frames per ``read()`` system call as have arrived. The pipe
is a file descriptor, or a socket (the portable path of ``_spawn.py``).
"""

from __future__ import annotations

import contextlib
import os
import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # (a worker on the posix path needs no socket: 2 ms of its start)
    import socket

__all__ = ["Frames", "send_frame"]


def send_frame(fd: int | socket.socket, data: bytes) -> None:
    """Write one frame (whole: a reader may block until the rest arrives)."""
    size = len(data)
    header = struct.pack("!i", size) if size < 0x7FFFFFFF else struct.pack("!iQ", -1, size)
    view = memoryview(header + data) if size < 1 << 16 else None
    if view is None:  # large: don't copy the payload to prepend the header
        _write_all(fd, memoryview(header))
        view = memoryview(data)
    _write_all(fd, view)


def _write_all(fd: int | socket.socket, view: memoryview) -> None:
    if not isinstance(fd, int):
        fd.sendall(view)
        return
    while view:
        view = view[os.write(fd, view):]


class Frames:
    """Reads frames from a pipe, as many per ``read()`` call as have arrived."""

    __slots__ = ("buffer", "eof", "fd", "sock")

    def __init__(self, fd: int | socket.socket) -> None:
        self.sock = None if isinstance(fd, int) else fd
        self.fd = fd if isinstance(fd, int) else fd.fileno()
        self.buffer = bytearray()
        self.eof = False

    def fileno(self) -> int:
        return self.fd

    def close(self) -> None:
        with contextlib.suppress(OSError):
            if self.sock is None:
                os.close(self.fd)
            else:
                self.sock.close()

    def _fill(self, size: int) -> None:
        chunk = os.read(self.fd, size) if self.sock is None else self.sock.recv(size)
        if not chunk:
            self.eof = True
        self.buffer += chunk

    def _next(self) -> bytes | None:
        buffer = self.buffer
        if len(buffer) < 4:
            return None
        size, start = struct.unpack_from("!i", buffer)[0], 4
        if size == -1:
            if len(buffer) < 12:
                return None
            size, start = struct.unpack_from("!Q", buffer, 4)[0], 12
        if len(buffer) < start + size:
            return None
        frame = bytes(buffer[start:start + size])
        del buffer[:start + size]
        return frame

    def read(self) -> list[bytes]:
        """The frames that have arrived; EOFError once the writer is gone and
        everything it wrote was returned."""
        if self.eof:
            raise EOFError
        self._fill(1 << 16)
        frames = []
        while not self.eof or self.buffer:
            frame = self._next()
            if frame is not None:
                frames.append(frame)
            elif not self.buffer or self.eof:
                break
            else:
                # A frame has begun; a worker writes frames whole, so the rest
                # is on its way (or EOF comes, if it died writing).
                self._fill(1 << 20)
        if self.eof and not frames:
            raise EOFError
        return frames
