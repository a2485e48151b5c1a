"""Shared-memory segments: large buffers between processes without the pipe.

A segment is a file in ``/dev/shm`` (the temp directory where there is none)
that one process writes and another maps::

    sender:    write(buffer) -> segment file "webber-<pid>-<n>-<random>"
               (a worker's <n>: "<count>.<its caller's pid>")
    receiver:  map it, unlink it at once; the memory lives as long as the map

A buffer of :data:`SPLIT` bytes or more is written by two threads as two
files, ``<name>+2.0`` and ``<name>+2.1``, and mapped side by side as one
buffer (Linux on x86-64 and arm64, more than one CPU): writing one file is
serialized by the kernel (one lock per file), and this write is on the
critical path between a task and its children.

The receiver unlinks a segment as soon as it has mapped it, so the name is
gone whatever happens next. The caller passes results on to other tasks, so
it keeps what it maps in a :class:`Holder` instead: the segment is renamed as
its own and stays linked until the run ends, and a buffer inside it is sent on
by reference ``(name, offset, length)`` -- one copy from a producer to any
number of consumers. Names carry the creator's pid and pid namespace
(:func:`owner`), so whoever outlives a crashed process can remove what it
left (:func:`remove_segments_of`): a worker whose caller died removes the
caller's and its own, a caller a dead worker's, and the first worker a
process starts those of processes that are gone (:func:`remove_orphans`:
both killed at once), never another container's.

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
import functools
import itertools
import logging
import mmap
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

__all__ = [
    "SPLIT",
    "THRESHOLD",
    "USABLE",
    "Holder",
    "Segment",
    "address",
    "directory",
    "map_segment",
    "owner",
    "remove_orphans",
    "remove_segments",
    "remove_segments_of",
    "use_directory",
    "warn_once",
    "write_segment",
]

#: Buffers this large or larger travel through shared memory.
THRESHOLD = 1 << 20
#: Buffers this large or larger are written as two files at once, where :func:`_splits`.
SPLIT = 16 << 20

#: where segments go; None: the temp directory, looked up on first use
_DIR: str | None = "/dev/shm" if os.path.isdir("/dev/shm") else None
#: segments (and a worker's ledger, ``_ledger.py``) work here: not on Windows (see above)
USABLE = os.name == "posix"
_counter = itertools.count()
#: whether this process said (or sent word) that a buffer went through the pipe
_warned = False
#: whether this process removed the segments of processes that are gone
_swept = False
#: in a worker, its caller's pid: named in its segments, which are not
#: orphans while the caller lives (it reads a recycled worker's last results
#: after that worker exited)
_reader: int | None = None
#: where a notice goes: the ``webber`` logger here; a worker sends it to the caller
notify: Callable[[str], None] = logging.getLogger("webber").warning

#: a segment entry: an owned name (the receiver unlinks it) or a borrowed span
Segment = str | tuple[str, int, int]


def _segment_path(name: str) -> str:
    return os.path.join(directory(), name)


def _parts(name: str) -> list[str]:
    """The files of segment ``name``: itself, or the two parts of a split one."""
    return [name + ".0", name + ".1"] if name.endswith("+2") else [name]


#: MAP_FIXED (not in the mmap module); its value on Linux on these machines
_MAP_FIXED = 0x10
_FIXED_MACHINES = ("x86_64", "aarch64")


def _splits() -> bool:
    """Whether large buffers are written in two parts: where the parts can
    be mapped side by side (Linux, MAP_FIXED known) and two threads can run."""
    return (
        sys.platform == "linux"
        and os.uname().machine in _FIXED_MACHINES
        and len(os.sched_getaffinity(0)) > 1
    )


def _new_name() -> str:
    n = next(_counter) if _reader is None else f"{next(_counter)}.{_reader}"
    return f"webber-{owner(os.getpid())}-{n}-{os.urandom(4).hex()}"


@functools.cache
def _namespace() -> int:
    """This process's pid namespace (0 where there are none to tell): the
    same pid in two containers that share ``/dev/shm`` is two processes."""
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0


def owner(pid: int) -> str:
    """How the names of what process ``pid`` (of this pid namespace) creates
    here begin, after ``webber-``: its pid and its namespace."""
    return f"{pid}.{_namespace()}"


def directory() -> str:
    """Where this process writes segments (a worker is told the caller's)."""
    global _DIR
    if _DIR is None:
        import tempfile

        _DIR = tempfile.gettempdir()
    return _DIR


def use_directory(path: str, reader: int) -> None:
    """In a worker: write segments to ``path`` from now on, for caller ``reader``."""
    global _DIR, _reader
    _DIR, _reader = path, reader


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
    if raw.nbytes < SPLIT or not _splits():
        _write_file(_segment_path(name), raw)
        return name
    name += "+2"
    first, second = (_segment_path(part) for part in _parts(name))
    half = raw.nbytes // 2 // mmap.PAGESIZE * mmap.PAGESIZE  # the second part maps at a page
    failed: list[BaseException] = []

    def write_second() -> None:
        try:
            _write_file(second, raw[half:])
        except BaseException as e:  # told to the writing thread below
            failed.append(e)

    helper = threading.Thread(target=write_second, name="webber-shm-write", daemon=True)
    helper.start()
    try:
        _write_file(first, raw[:half])
    except BaseException:
        helper.join()
        remove_segments([name])
        raise
    helper.join()
    if failed:
        remove_segments([name])
        raise failed[0]
    return name


def _write_file(path: str, raw: memoryview) -> None:
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    try:
        # write() beats filling an mmap here: no page fault per page.
        written = 0
        while written < raw.nbytes:
            written += os.write(fd, raw[written:])
    except BaseException:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        raise
    os.close(fd)


def map_segment(name: str, unlink: bool) -> memoryview:
    """Map segment ``name`` privately (copy on write); unlink it when asked."""
    try:
        mm = _map([_segment_path(part) for part in _parts(name)])
    finally:
        if unlink:
            remove_segments([name])
    return memoryview(mm) if mm is not None else memoryview(b"")


def _map(paths: list[str]) -> mmap.mmap | None:
    """The files ``paths`` mapped privately, side by side (None: empty).

    ACCESS_COPY: the receiver may write to its arrays; nobody else sees it.
    No MAP_POPULATE: on a writable private map it copies every page up front,
    and madvise(MADV_POPULATE_READ) measured no faster for a reader of all
    100 MB (and is slower for one that reads a few pages).
    """
    fds: list[int] = []
    try:
        for path in paths:
            fds.append(os.open(path, os.O_RDONLY))
        sizes = [os.fstat(fd).st_size for fd in fds]
        if not sum(sizes):
            return None
        if len(fds) == 1:
            return mmap.mmap(fds[0], sizes[0], access=mmap.ACCESS_COPY)
        # Reserve the whole range as one mmap object (it unmaps all of it when
        # it goes; untouched, it costs no memory), then map each part over its
        # place in it. Writable, or the mmap module would export it read-only.
        mm = mmap.mmap(-1, sum(sizes), flags=mmap.MAP_PRIVATE)
        try:
            offset = 0
            for fd, size in zip(fds, sizes, strict=True):
                _map_fixed(mm, offset, size, fd)
                offset += size
        except BaseException:
            mm.close()
            raise
        return mm
    finally:
        for fd in fds:
            os.close(fd)


#: libc's mmap through ctypes, set up on first use
_libc_mmap: Any = None


def _map_fixed(mm: mmap.mmap, offset: int, size: int, fd: int) -> None:
    """Map file ``fd`` (privately, read and write) over ``size`` bytes of
    ``mm`` at ``offset``, a page boundary. The mmap module cannot map at an
    address, so this one call goes through ctypes; MAP_FIXED replaces only
    pages of ``mm``, which this process reserved for it."""
    import ctypes

    global _libc_mmap
    if _libc_mmap is None:
        call = ctypes.CDLL(None, use_errno=True).mmap
        call.restype = ctypes.c_void_p
        call.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                         ctypes.c_int, ctypes.c_ssize_t]  # off_t: as wide as ssize_t here
        _libc_mmap = call
    with memoryview(mm) as view:
        start = address(view)
    assert start is not None  # mm is writable
    place = start + offset
    got = _libc_mmap(place, size, mmap.PROT_READ | mmap.PROT_WRITE,
                     mmap.MAP_PRIVATE | _MAP_FIXED, fd, 0)
    if got != place:  # MAP_FAILED: nothing of mm was replaced
        errno = ctypes.get_errno()
        raise OSError(errno, f"mapping a part of a shared-memory segment: {os.strerror(errno)}")


def address(view: memoryview) -> int | None:
    """Where a buffer starts in memory, read-only ones too (bytes, an array of
    a file mapped read-only); None where the C API cannot tell."""
    try:
        getter = _buffer_getter()
        info = getter.struct()
        if getter.get(view, info, 0) != 0:  # PyBUF_SIMPLE: (a flat view of its bytes)
            return None
        try:
            return int(info.buf or 0) or None
        finally:
            getter.release(info)
    except (AttributeError, OSError, TypeError, ValueError, BufferError):
        return None


class _BufferGetter:
    """``PyObject_GetBuffer`` through ctypes: the start of any buffer, which
    ``ctypes.c_char.from_buffer`` gives only for writable ones."""

    def __init__(self) -> None:
        import ctypes

        class PyBuffer(ctypes.Structure):  # (Py_buffer, as the C API lays it out)
            _fields_ = [("buf", ctypes.c_void_p), ("obj", ctypes.c_void_p),
                        ("len", ctypes.c_ssize_t), ("itemsize", ctypes.c_ssize_t),
                        ("readonly", ctypes.c_int), ("ndim", ctypes.c_int),
                        ("format", ctypes.c_char_p), ("shape", ctypes.c_void_p),
                        ("strides", ctypes.c_void_p), ("suboffsets", ctypes.c_void_p),
                        ("internal", ctypes.c_void_p)]

        api = ctypes.pythonapi
        self.struct = PyBuffer
        self.get = api.PyObject_GetBuffer
        self.get.argtypes = [ctypes.py_object, ctypes.POINTER(PyBuffer), ctypes.c_int]
        self.get.restype = ctypes.c_int
        self.release = api.PyBuffer_Release
        self.release.argtypes = [ctypes.POINTER(PyBuffer)]
        self.release.restype = None


@functools.cache
def _buffer_getter() -> _BufferGetter:
    return _BufferGetter()


class Holder:
    """Segments this process keeps mapped and linked, to pass on without copying.

    A run's holder also lends what it sends more than once: a large buffer
    written a second time in the run (one array passed to many tasks, what a
    function holds) stays linked for every later reader, found by where it
    lies in memory. The buffers it saw are kept alive until :meth:`release`,
    so that an address names the same bytes all along.
    """

    def __init__(self) -> None:
        self.spans: list[tuple[int, int, str]] = []
        self.names: list[str] = []
        #: (address, size) -> a buffer written in this run, kept alive so that
        #: its address names the same bytes until :meth:`release`
        self._seen: dict[tuple[int, int], memoryview] = {}

    def keep(self, name: str, view: memoryview) -> str:
        """Take over segment ``name`` (mapped as ``view``); returns its new name."""
        mine = _new_name() + ("+2" if name.endswith("+2") else "")
        for part, new in zip(_parts(name), _parts(mine), strict=True):
            os.rename(_segment_path(part), _segment_path(new))  # no longer its creator's
        self.names.append(mine)
        start = address(view)
        if start is not None:
            self.spans.append((start, start + view.nbytes, mine))
        return mine

    def find(self, raw: memoryview) -> tuple[str, int, int] | None:
        """The span of a held segment that ``raw`` lies in, if any."""
        start = address(raw) if self.spans else None
        if start is not None:
            for low, high, name in self.spans:
                if low <= start and start + raw.nbytes <= high:
                    return (name, start - low, raw.nbytes)
        return None

    def again(self, raw: memoryview) -> bool:
        """Whether ``raw`` was written before while this holder lasts (then it
        is worth lending: :meth:`lend`); remembered otherwise."""
        start = address(raw)
        if start is None:
            return False  # (no address to find it by: see address())
        key = (start, raw.nbytes)
        if key in self._seen:
            return True
        self._seen[key] = raw
        return False

    def lend(self, name: str, raw: memoryview) -> tuple[str, int, int]:
        """Keep segment ``name``, just written from ``raw``, linked for every
        reader until :meth:`release`, and found by ``raw``'s address; returns
        the span its readers map without unlinking it."""
        self.names.append(name)
        start = address(raw)
        if start is not None:
            self.spans.append((start, start + raw.nbytes, name))
            self._seen[(start, raw.nbytes)] = raw
        return (name, 0, raw.nbytes)

    def release(self) -> None:
        """Unlink every held segment (the maps live on while objects use them)."""
        remove_segments(self.names)
        self.spans.clear()
        self.names.clear()
        self._seen.clear()


def remove_segments(segments: Sequence[Segment]) -> None:
    """Unlink owned segments that will never be loaded (missing ones are fine;
    borrowed spans belong to someone else and are left alone)."""
    for segment in segments:
        if isinstance(segment, str):
            for part in _parts(segment):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(_segment_path(part))


def _segments_of(pid: int) -> Iterator[str]:
    prefix = f"webber-{owner(pid)}-"
    with contextlib.suppress(OSError):
        for entry in os.scandir(directory()):
            if entry.name.startswith(prefix):
                yield entry.name


def remove_segments_of(pid: int) -> None:
    """Unlink every segment that process ``pid`` created and nobody loaded."""
    remove_segments(list(_segments_of(pid)))


def remove_orphans() -> None:
    """Unlink the segments of processes of this pid namespace that are gone
    (a caller killed together with its workers left what both held): once
    per process, as its first worker starts. A worker's are left while its
    caller lives (the caller reads them, or removes them itself). A pid that lives again, in
    another process, keeps its segments (they may be that one's); another
    namespace's (a container sharing ``/dev/shm``) are never looked at."""
    global _swept
    if _swept or not USABLE:
        return
    _swept = True
    gone: dict[str, bool] = {}

    def is_gone(pid: str) -> bool:
        if pid not in gone:
            gone[pid] = pid.isdigit() and not _alive(int(pid))
        return gone[pid]

    here = f".{_namespace()}"
    with contextlib.suppress(OSError), os.scandir(directory()) as entries:
        for entry in entries:
            # (a segment is "webber-<owner>-<n>-<random>", <n> "<count>.<caller>" a worker's)
            parts = entry.name.split("-")
            if len(parts) < 4 or parts[0] != "webber" or not parts[1].endswith(here):
                continue  # (not one of this namespace's)
            reader = parts[2].partition(".")[2]
            if is_gone(parts[1][:-len(here)]) and (not reader or is_gone(reader)):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # (another user's)
    return True
