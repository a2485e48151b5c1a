"""The result store on disk behind ``run(cache=...)``: one file per result.

Layout: ``<root>/<key[:2]>/<key>.wbc``. A file is::

    MAGIC (8 bytes) | header length (8 bytes, little-endian) | header (JSON)
    | pickle payload | out-of-band buffers, each at a 64-byte boundary

The header names the task and the run that stored it and holds the lengths
and a CRC-32 of everything after it (a checksum against damage, not an
authentication: whoever can write the store can make it load anything, as
with any pickle). Values are pickled with protocol 5, so
large buffers (NumPy arrays, ...) are written as they are and loaded by
memory-mapping the file (copy-on-write: the array is writable, the file
stays unchanged), without a copy through a pickle stream.

Safety: a file is written to a temporary name in the same directory and
renamed into place (``os.replace``, atomic), so a crash, a Ctrl-C or a second
writer never leaves a half-written entry under a key; two processes storing
the same key both write a whole file and the last rename wins (the values
are equal). A file that is short, has a wrong digest or does not unpickle is
a miss, with a warning, never an error or a wrong value.
"""

from __future__ import annotations

import contextlib
import json
import logging
import mmap
import os
import pickle
import struct
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webber._cache_limits import prune_limits
from webber._errors import CacheError

__all__ = ["Cache", "CacheStats", "Entry", "Stamp", "load_entry", "resolve_cache"]

log = logging.getLogger("webber")

MAGIC = b"WEBBERC1"
SUFFIX = ".wbc"
ALIGN = 64
_HEAD = struct.Struct("<Q")

#: an entry file as checked: (inode, size, modification time in ns)
Stamp = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Entry:
    """One stored result, as :meth:`Cache.entries` lists it."""

    key: str
    """The cache key (hex digest)."""
    task: str
    """The name of the task that computed it ("?" when the header is unreadable)."""
    node: str
    """The node id it had in the run that stored it."""
    size: int
    """Bytes on disk."""
    modified: float
    """When it was stored or last loaded, as ``time.time()``."""
    path: Path
    """The file."""


@dataclass(frozen=True, slots=True)
class CacheStats:
    """What the store did in one run (``run.cache_stats``).

    >>> from webber._cache import CacheStats
    >>> CacheStats(hits=3, misses=1, stored=1, size=2048)
    CacheStats(hits=3, misses=1, stored=1, size=2048)
    """

    hits: int
    """Tasks loaded from the store instead of running."""
    misses: int
    """Cached tasks not found in the store (they ran)."""
    stored: int
    """Results written to the store."""
    size: int
    """Bytes the store holds after the run."""


class Cache:
    """A result store on disk for ``flow.run(cache=...)`` (``cache="path"``
    makes one). A task's result is stored under a key of its function, its
    arguments and its parents' keys; a later run -- in any process -- loads it
    instead of running the task when the key is the same.

    >>> import tempfile
    >>> from webber import Cache, Flow, task
    >>> @task
    ... def square(x: int) -> int:
    ...     return x * x
    >>> with Flow() as flow:
    ...     nine = square(3)
    >>> store = Cache(tempfile.mkdtemp())
    >>> flow.run(executor="inline", cache=store).cached
    []
    >>> flow.run(executor="inline", cache=store).cached
    ['square-1']
    >>> [entry.task for entry in store.entries()]
    ['square']
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if os.fspath(path) == "":  # (Path("") is "."; an unset variable, more likely)
            raise CacheError(
                "cache='' is an empty path; pass a directory (made if missing), such as "
                "cache=\".webber-cache\", or cache=None for no caching"
            )
        self.path = Path(path).expanduser()
        """The store's directory (made on first write)."""
        self._made: set[str] = set()  # subdirectories known to exist
        # A write that failed was warned of: a read-only store fails every
        # task's write alike, so one warning a run says it (see CacheSession).
        self._told_unwritable = False
        self._absolute = self.path.is_absolute()

    def __repr__(self) -> str:
        return f"Cache({str(self.path)!r})"

    def _file(self, key: str) -> Path:
        return self.path / key[:2] / f"{key}{SUFFIX}"

    # -- one entry ---------------------------------------------------------------
    def contains(self, key: str) -> bool:
        """Whether an entry exists under ``key`` (it may still fail to load)."""
        return self._file(key).is_file()

    def load(self, key: str, task: str) -> tuple[bool, Any]:
        """``(True, value)`` for a good entry; ``(False, None)`` for none, or for
        a damaged one (with a warning naming ``task``)."""
        path = self._file(key)
        try:
            with open(path, "rb") as f:
                value = _read(f)
        except FileNotFoundError:
            return False, None
        except Exception as e:
            _damaged(task, e, path)
            return False, None
        with contextlib.suppress(OSError):
            os.utime(path)  # pruning by age keeps what is still used
        return True, value

    def verify(self, key: str, task: str) -> tuple[str, Stamp] | None:
        """Check the entry under ``key`` without unpickling it: ``(its file, its
        stamp)`` for :func:`load_entry`, to load where the value is needed;
        None for no entry, or a damaged one (with a warning naming ``task``)."""
        path = self._file(key)
        try:
            with open(path, "rb") as f:
                _contents(f, check=True)
                with contextlib.suppress(OSError):
                    os.utime(f.fileno() if os.utime in os.supports_fd else path)
                stamp = _stamp(f)
        except FileNotFoundError:
            return None
        except Exception as e:
            _damaged(task, e, path)
            return None
        # Absolute: a worker process may have another working directory.
        return (str(path) if self._absolute else os.path.join(os.getcwd(), path)), stamp

    def store(self, key: str, value: Any, task: str, node: str) -> bool:
        """Write ``value`` under ``key`` atomically; False (with a warning naming
        ``task``) when it cannot be pickled or written (a store that cannot be
        written is warned of once a run)."""
        staged = self.stage(key, value, task, node)
        return staged is not None and self.commit(staged, key, task)

    def stage(self, key: str, value: Any, task: str, node: str) -> str | None:
        """Pickle ``value`` and write it to a temporary file beside ``key``'s
        entry: :meth:`store` but the rename, which :meth:`commit` does (or
        :meth:`discard` drops it). A run stages a result as its task returns,
        so the entry holds what the task returned even if a task downstream
        then changes that object in place. None (with a warning naming
        ``task``) when it cannot be pickled or written."""
        buffers: list[pickle.PickleBuffer] = []
        try:
            payload = _dumps(value, buffers)
        except Exception as e:
            log.warning(
                "task %r: its result (%s) cannot be pickled, so it is not cached "
                "(%s: %s); return a picklable value, or give the task cache=False",
                task, type(value).__name__, type(e).__name__, e, extra={"task": task},
            )
            return None
        path = self._file(key)
        try:
            if key[:2] not in self._made:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._made.add(key[:2])
            try:
                fd, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=SUFFIX, dir=path.parent)
            except FileNotFoundError:  # a clear or prune removed the empty folder meanwhile
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=SUFFIX, dir=path.parent)
        except OSError as e:
            self._unwritable(task, e)
            return None
        try:
            with os.fdopen(fd, "wb") as f:
                # No fsync: a file that power loss leaves damaged fails its
                # checksum and is a miss; an fsync per result costs ~5 ms.
                _write(f, payload, buffers, {"task": task, "node": node})
        except BaseException as e:
            self.discard(temporary)
            if not isinstance(e, Exception):
                raise  # Ctrl-C: no entry, and the run stops
            self._unwritable(task, e)
            return None
        return temporary

    def commit(self, staged: str, key: str, task: str) -> bool:
        """Rename the file :meth:`stage` wrote into place as ``key``'s entry."""
        try:
            os.replace(staged, self._file(key))
        except BaseException as e:
            self.discard(staged)
            if not isinstance(e, Exception):
                raise
            self._unwritable(task, e)
            return False
        return True

    @staticmethod
    def discard(staged: str) -> None:
        """Remove a file :meth:`stage` wrote (its result is not to be stored)."""
        with contextlib.suppress(OSError):
            os.unlink(staged)

    def _unwritable(self, task: str, error: BaseException) -> None:
        if self._told_unwritable:
            return
        self._told_unwritable = True
        log.warning(
            "task %r: cannot write to the cache at %s (%s: %s), so its result is not "
            "stored, nor those of this run's other tasks that fail so (not named); make "
            "the directory writable, or pass cache= one you may write to",
            task, self.path, type(error).__name__, error, extra={"task": task},
        )

    # -- housekeeping --------------------------------------------------------------
    def entries(self, _headers: bool = True) -> list[Entry]:
        """Every entry, oldest first (by when it was stored or last loaded)."""
        found = []
        if not self.path.is_dir():
            return []
        for path in self.path.glob(f"??/*{SUFFIX}"):
            if path.name.startswith(".tmp-"):
                continue
            try:
                stat = path.stat()
            except OSError:
                continue  # removed meanwhile
            task, node = "?", "?"
            with contextlib.suppress(Exception):
                if not _headers:
                    raise StopIteration  # only the sizes are wanted
                with open(path, "rb") as f:
                    header = _header(f)
                task, node = str(header["task"]), str(header["node"])
            found.append(Entry(path.stem, task, node, stat.st_size, stat.st_mtime, path))
        found.sort(key=lambda e: (e.modified, e.key))
        return found

    def size(self) -> int:
        """Bytes the entries take on disk."""
        return sum(e.size for e in self.entries(_headers=False))

    def unfinished(self) -> tuple[int, int]:
        """How many files of writes not finished the store holds, and their
        bytes: writes going on in some process, or left by one stopped in the
        middle of one (killed, or the power cut). They are not entries; a
        prune removes those an hour old, :meth:`clear` all of them."""
        count = size = 0
        for path in self.path.glob(f"??/.tmp-*{SUFFIX}"):
            with contextlib.suppress(OSError):  # (renamed or removed meanwhile)
                size += path.stat().st_size
                count += 1
        return count, size

    def clear(self) -> int:
        """Remove every entry (and leftovers of interrupted writes); returns how
        many. CacheError when the store cannot be changed (read-only)."""
        removed = sum(self._remove(entry.path) for entry in self.entries())
        self._sweep(0.0)
        return removed

    def prune(self, max_size: float | str | None = None,
              older_than: float | str | None = None) -> list[Entry]:
        """Remove entries not used for ``older_than`` seconds, then the least
        recently used ones until the store holds at most ``max_size`` bytes.
        Each is a number >= 0 or, as the CLI takes them, a text: ``"5GB"``,
        ``"7d"``. Returns what was removed; CacheError when the store cannot
        be changed (read-only).

        >>> import tempfile
        >>> from webber import Cache
        >>> Cache(tempfile.mkdtemp()).prune(max_size="5GB", older_than=7 * 86400)
        []
        """
        max_size, older_than = prune_limits(max_size, older_than)
        now = time.time()
        entries = self.entries()
        removed = []
        if older_than is not None:
            # (>=: with older_than 0, an entry used at this very tick goes too)
            removed = [e for e in entries if now - e.modified >= older_than]
            entries = [e for e in entries if now - e.modified < older_than]
        if max_size is not None:
            total = sum(e.size for e in entries)
            for entry in entries:  # oldest first
                if total <= max_size:
                    break
                removed.append(entry)
                total -= entry.size
        for entry in removed:
            self._remove(entry.path)
        self._sweep(3600.0)
        return removed

    def _remove(self, path: Path) -> bool:
        """Remove an entry's file: False if it is gone already, CacheError if it
        cannot be removed."""
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as e:
            raise CacheError(
                f"cannot remove entries of the cache at {str(self.path)!r} "
                f"({type(e).__name__}: {e}); use a store you may write to"
            ) from e
        return True

    def _sweep(self, age: float) -> None:
        """Remove temporary files of writes interrupted more than ``age`` s ago
        (a younger one may be a write in progress in another process), then
        the folders left empty."""
        if not self.path.is_dir():
            return
        now = time.time()
        for path in self.path.glob(f"??/.tmp-*{SUFFIX}"):
            with contextlib.suppress(OSError):
                if now - path.stat().st_mtime >= age:
                    path.unlink()
        for folder in self.path.glob("??"):
            with contextlib.suppress(OSError):  # not empty, or not a folder
                folder.rmdir()  # (a writer meanwhile makes it anew: see stage)


def _damaged(task: str, error: Exception, path: Path) -> None:
    log.warning(
        "cache entry of task %r is damaged (%s: %s); running the task instead: "
        "its result will replace the entry (%s)",
        task, type(error).__name__, error, path, extra={"task": task},
    )


def resolve_cache(cache: object) -> Cache | None:
    """``run(cache=...)``'s argument as a Cache (None: no caching)."""
    if cache is None or isinstance(cache, Cache):
        return cache
    if isinstance(cache, (str, os.PathLike)):
        store = Cache(cache)
        try:
            is_file = store.path.exists() and not store.path.is_dir()
        except OSError as e:  # a folder on the way that this user may not enter
            raise CacheError(
                f"cache={str(cache)!r} cannot be reached ({type(e).__name__}: {e}); pass "
                f"a directory you may read and write (it is made if missing)"
            ) from e
        if is_file:
            raise CacheError(
                f"cache={str(cache)!r} is a file, not a directory; pass a directory "
                f"for the store (it is made if missing)"
            )
        return store
    raise CacheError(
        f"cache= takes a directory path or a webber.Cache, not {type(cache).__name__} "
        f"{cache!r}; e.g. run(cache=\".webber-cache\")"
    )


# -- the file format --------------------------------------------------------------
def _dumps(value: Any, buffers: list[pickle.PickleBuffer]) -> bytes:
    import cloudpickle

    # cloudpickle: a result may hold a lambda or a class defined in __main__.
    return bytes(cloudpickle.dumps(value, protocol=5, buffer_callback=buffers.append))


def _padding(offset: int) -> int:
    return -offset % ALIGN


def _write(f: Any, payload: bytes, buffers: list[pickle.PickleBuffer], meta: dict[str, str]
           ) -> None:
    views = [b.raw() for b in buffers]
    checksum = zlib.crc32(payload)
    for view in views:
        checksum = zlib.crc32(view, checksum)
    header = json.dumps({
        **meta, "created": time.time(), "payload": len(payload),
        "buffers": [v.nbytes for v in views], "crc32": checksum,
    }).encode()
    f.write(MAGIC + _HEAD.pack(len(header)) + header + payload)
    offset = len(MAGIC) + _HEAD.size + len(header) + len(payload)
    for view in views:
        pad = _padding(offset)
        f.write(b"\0" * pad)
        f.write(view)
        offset += pad + view.nbytes


def _header(f: Any) -> dict[str, Any]:
    start = f.read(len(MAGIC) + _HEAD.size)
    if len(start) < len(MAGIC) + _HEAD.size or not start.startswith(MAGIC):
        raise ValueError("not a webber cache entry")
    (length,) = _HEAD.unpack(start[len(MAGIC):])
    if length > 1 << 20:
        raise ValueError("header too long")
    header: dict[str, Any] = json.loads(f.read(length))
    header["_start"] = len(MAGIC) + _HEAD.size + length
    return header


def _read(f: Any, check: bool = True) -> Any:
    payload, buffers = _contents(f, check)
    return pickle.loads(payload, buffers=buffers)


def _contents(f: Any, check: bool) -> tuple[bytes, list[Any]]:
    """An entry's pickle and its buffers (mapped, copy-on-write: arrays come
    back writable, the file is not touched); with ``check``, the checksum is
    verified, which reads every byte."""
    header = _header(f)
    offset = header["_start"]
    payload = f.read(header["payload"])
    if len(payload) != header["payload"]:
        raise ValueError("truncated")
    offset += len(payload)
    checksum = zlib.crc32(payload) if check else 0
    lengths: list[int] = header["buffers"]
    buffers: list[Any] = []
    if lengths:
        end = offset + sum(_padding_run(offset, lengths))
        if os.fstat(f.fileno()).st_size != end:
            raise ValueError("truncated")
        view = memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY))
        for length in lengths:
            offset += _padding(offset)
            part = view[offset:offset + length]
            if check:
                checksum = zlib.crc32(part, checksum)
            buffers.append(part)
            offset += length
    elif f.read(1):
        raise ValueError("trailing bytes")
    if check and checksum != header["crc32"]:
        raise ValueError("checksum mismatch")
    return payload, buffers


def _stamp(f: Any) -> Stamp:
    st = os.fstat(f.fileno())
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def load_entry(path: str, stamp: Stamp) -> Any:
    """The value in the entry file ``path``: the one :meth:`Cache.verify`
    checked (same inode, size and time: its checksum is not read again, so
    an array is only mapped, its pages read when used), else checked anew.
    Raises when it is gone or damaged."""
    with open(path, "rb") as f:
        return _read(f, check=_stamp(f) != stamp)


def _padding_run(offset: int, lengths: list[int]) -> list[int]:
    """The bytes each buffer takes from ``offset`` on, padding included."""
    out = []
    for length in lengths:
        pad = _padding(offset)
        out.append(pad + length)
        offset += pad + length
    return out
