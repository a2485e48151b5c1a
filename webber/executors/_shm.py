"""Shared-memory segments: large buffers between processes without the pipe.

A segment is a file in ``/dev/shm`` (the temp directory where there is none)
that one process writes and another maps::

    sender:    write(buffer) -> segment file "webber-<pid>-<n>-<random>"
    receiver:  map it, unlink it at once; the memory lives as long as the map

The receiver unlinks a segment as soon as it has mapped it, so the name is
gone whatever happens next. The caller passes results on to other tasks, so
it keeps what it maps in a :class:`Holder` instead: the segment is renamed as
its own and stays linked until the run ends, and a buffer inside it is sent on
by reference ``(name, offset, length)`` -- one copy from a producer to any
number of consumers. Names carry the creator's pid, so whoever outlives a
crashed process can remove what it left (:func:`remove_segments_of`).

When the directory has no room (Docker gives containers 64 MB of ``/dev/shm``)
or cannot be written, :func:`write_segment` returns None and the buffer
travels inside the pickle, through the pipe: slower, but it arrives. The
first time, the ``webber`` logger says why (:func:`warn_once`; a worker sends
its notice to the caller, which logs it). On Windows every buffer goes
through the pipe (the portable pool there, ``WEBBER_POOL=portable``): a
mapped file cannot be unlinked there, and this scheme unlinks at once.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import mmap
import os
from collections.abc import Callable, Iterator, Sequence

__all__ = [
    "THRESHOLD",
    "USABLE",
    "Holder",
    "Segment",
    "directory",
    "map_segment",
    "remove_segments",
    "remove_segments_of",
    "use_directory",
    "warn_once",
    "write_segment",
]

#: Buffers this large or larger travel through shared memory.
THRESHOLD = 1 << 20

#: where segments go; None: the temp directory, looked up on first use
_DIR: str | None = "/dev/shm" if os.path.isdir("/dev/shm") else None
#: segments (and a worker's ledger, ``_ledger.py``) work here: not on Windows (see above)
USABLE = os.name == "posix"
_counter = itertools.count()
#: whether this process said (or sent word) that a buffer went through the pipe
_warned = False
#: where a notice goes: the ``webber`` logger here; a worker sends it to the caller
notify: Callable[[str], None] = logging.getLogger("webber").warning

#: a segment entry: an owned name (the receiver unlinks it) or a borrowed span
Segment = str | tuple[str, int, int]


def _segment_path(name: str) -> str:
    return os.path.join(directory(), name)


def _new_name() -> str:
    return f"webber-{os.getpid()}-{next(_counter)}-{os.urandom(4).hex()}"


def directory() -> str:
    """Where this process writes segments (a worker is told the caller's)."""
    global _DIR
    if _DIR is None:
        import tempfile

        _DIR = tempfile.gettempdir()
    return _DIR


def use_directory(path: str) -> None:
    """Write segments to ``path`` from now on."""
    global _DIR
    _DIR = path


def warn_once(text: str) -> None:
    """Pass on the first notice that shared memory was short; drop the rest."""
    global _warned
    if not _warned:
        _warned = True
        notify(text)


def write_segment(raw: memoryview) -> str | None:
    """Copy ``raw`` into a new segment; returns its name, or None when the
    directory has no room for it or cannot be written (send it in band)."""
    if not USABLE:
        return None
    try:
        free = os.statvfs(directory())
        room: int | None = free.f_bavail * free.f_frsize
    except OSError:
        room = None  # no such directory: os.open says why
    try:
        if room is not None and room < raw.nbytes:
            raise OSError(f"{room / 2**20:.0f} MB free")
        name = _write(raw)
    except OSError as e:  # full (ENOSPC, a file size limit) or not writable
        warn_once(
            f"shared memory ({directory()}) has no room for a {raw.nbytes / 2**20:.0f} MB buffer "
            f"({e.strerror or e}): such buffers go through the pipe instead, which is "
            f"slower and needs more memory; give it more room (Docker: "
            f"--shm-size=2g) to make them fast again"
        )
        return None
    return name


def _write(raw: memoryview) -> str:
    name = _new_name()
    fd = os.open(_segment_path(name), os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    try:
        # write() beats filling an mmap here: no page fault per page.
        written = 0
        while written < raw.nbytes:
            written += os.write(fd, raw[written:])
    except BaseException:
        os.close(fd)
        remove_segments([name])
        raise
    os.close(fd)
    return name


def map_segment(name: str, unlink: bool) -> memoryview:
    """Map segment ``name`` privately (copy on write); unlink it when asked."""
    path = _segment_path(name)
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        # ACCESS_COPY: the receiver may write to its arrays; nobody else sees it.
        # No MAP_POPULATE: on a writable private map it copies every page up
        # front, which costs more than the page faults it saves.
        mm = mmap.mmap(fd, size, access=mmap.ACCESS_COPY) if size else None
    finally:
        os.close(fd)
        if unlink:
            os.unlink(path)
    return memoryview(mm) if mm is not None else memoryview(b"")


def _address(view: memoryview) -> int | None:
    """Where a writable buffer starts in memory (None for read-only ones)."""
    import ctypes

    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(view))
    except (TypeError, ValueError):
        return None


class Holder:
    """Segments this process keeps mapped and linked, to pass on without copying."""

    def __init__(self) -> None:
        self.spans: list[tuple[int, int, str]] = []
        self.names: list[str] = []

    def keep(self, name: str, view: memoryview) -> str:
        """Take over segment ``name`` (mapped as ``view``); returns its new name."""
        mine = _new_name()
        os.rename(_segment_path(name), _segment_path(mine))  # no longer its creator's
        self.names.append(mine)
        start = _address(view)
        if start is not None:
            self.spans.append((start, start + view.nbytes, mine))
        return mine

    def find(self, raw: memoryview) -> tuple[str, int, int] | None:
        """The span of a held segment that ``raw`` lies in, if any."""
        start = _address(raw) if self.spans else None
        if start is not None:
            for low, high, name in self.spans:
                if low <= start and start + raw.nbytes <= high:
                    return (name, start - low, raw.nbytes)
        return None

    def release(self) -> None:
        """Unlink every held segment (the maps live on while objects use them)."""
        remove_segments(self.names)
        self.spans.clear()
        self.names.clear()


def remove_segments(segments: Sequence[Segment]) -> None:
    """Unlink owned segments that will never be loaded (missing ones are fine;
    borrowed spans belong to someone else and are left alone)."""
    for segment in segments:
        if isinstance(segment, str):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(_segment_path(segment))


def _segments_of(pid: int) -> Iterator[str]:
    prefix = f"webber-{pid}-"
    with contextlib.suppress(OSError):
        for entry in os.scandir(directory()):
            if entry.name.startswith(prefix):
                yield entry.name


def remove_segments_of(pid: int) -> None:
    """Unlink every segment that process ``pid`` created and nobody loaded."""
    remove_segments(list(_segments_of(pid)))
