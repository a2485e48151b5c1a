"""The ledger: a worker's results not yet sent, kept where they outlive it.

A worker answers a batch of small jobs in one message (one pipe write instead
of one per job: the writes, and the caller's wake-ups to read them, were most
of the cost of a small task). A result that waits to share a message must not
be lost with the worker, though: if the worker dies running the next job, the
caller would blame the crash on a job that succeeded, and run it again. So
each result waiting to be sent is first written here -- a file in the
shared-memory directory, mapped by the worker, named after its pid -- and
whoever outlives the worker reads it back (:func:`recover`)::

    worker:  Ledger(path)  -> ("ledger", path) to the caller, which opens the
                              file and unlinks it (nothing is left behind)
             add(result) ... add(result)  -> one "done" message, then clear()
             begin(last tag) as it begins each batch of jobs
    caller:  the worker died: recover(fd) -> the results it had not sent;
             began(fd, tag) -> whether job ``tag`` may have run (else the
             worker died before it read that job's batch: nobody to blame)

A worker holds a shared lock on its ledger while it lives. A worker killed
with its caller (a process group killed at once) leaves its ledger behind,
with nobody to remove it: the first worker a process starts first removes
such files, those it can lock exclusively at once (:func:`sweep`). A lock
says more than a pid here: ``/dev/shm`` may be shared with processes of
another pid namespace (containers), whose pids mean nothing here.

The size at the head of the file is written after the record it covers, so
a worker killed while writing leaves the records before it. Beside it, the
last tag of the latest batch the worker began (one write a batch, no
message): a worker killed before it read a batch -- as it starts, or by the
OOM killer between batches -- ran none of its jobs, and none is blamed. A record that
does not fit (a large result) is sent at once instead, as is everything when
the directory cannot be written (then nothing waits).

Each result is pickled once, here: the records are its pickle's opcodes, one
after the other, so that the kept bytes between an opening and a closing
(:data:`OPEN`, :data:`CLOSE`) are the pickle of the whole "done" message, sent
as they are (:meth:`Ledger.message`), and of the list :func:`recover` reads.
A record is its result's whole pickle but the final STOP, which the next
record overwrites (the PROTO and FRAME opcodes it begins with are valid
anywhere); its pickler keeps no memo (``fast``), so no record refers to
another's objects.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import pickle
import struct
import sys
import time
from typing import Any

from webber.executors import _shm

if sys.platform != "win32":  # (no ledger there: see _shm.USABLE)
    import fcntl

__all__ = ["Ledger", "began", "hold", "last_tag", "ledger_path", "recover", "release", "sweep"]

#: bytes of results that may wait in the ledger
SIZE = 1 << 20
#: seconds a ledger is left alone by :func:`sweep` after it was last changed
#: (between its worker's open and lock it is a ledger nobody locks)
YOUNG = 60.0
#: the directories swept by this process
_swept: set[str] = set()
_HEAD = struct.Struct("<Q")  # the bytes used, head included
#: after it: 1 + the last tag of the latest batch begun (0: none yet)
_BEGUN = struct.Struct("<Q")
_START = _HEAD.size + _BEGUN.size  # where the records begin
_PROTO = pickle.HIGHEST_PROTOCOL.to_bytes(1, "little")
#: pickle opcodes around the kept records: the message ("done", [record, ...])
OPEN = b"\x80" + _PROTO + b"\x8c\x04done](" # PROTO, "done", EMPTY_LIST, MARK
CLOSE = b"e\x86."  # APPENDS, TUPLE2, STOP
_LIST = b"\x80" + _PROTO + b"]("  # (recover: the list alone)


def ledger_path(directory: str, pid: int) -> str:
    """Where worker ``pid`` keeps its ledger (named so that removing what a
    dead worker left, ``_shm.remove_segments_of``, removes it too)."""
    return os.path.join(directory, f"webber-{_shm.owner(pid)}-ledger")


class Ledger:
    """The worker's side: results kept until they are sent."""

    __slots__ = ("empty", "map", "pickler", "used")

    def __init__(self, path: str) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            # Held as long as the map (which keeps the open file): until this
            # worker ends. (Where locks fail, the caller's hold() still
            # unlinks it long before a sweep would look.)
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_SH)
            os.ftruncate(fd, SIZE)
            self.map = mmap.mmap(fd, SIZE)
        finally:
            os.close(fd)
        # It writes each record into the map itself, at the map's position.
        self.pickler = pickle.Pickler(self.map, pickle.HIGHEST_PROTOCOL)
        self.pickler.fast = True  # no memo: each record stands alone (see the module doc)
        self.used = _START
        self.empty = True
        _HEAD.pack_into(self.map, 0, self.used)

    def begin(self, last: int) -> None:
        """A batch begins, whose last job is tagged ``last``."""
        _BEGUN.pack_into(self.map, _HEAD.size, last + 1)

    def add(self, result: tuple[Any, ...]) -> bool:
        """Keep ``result``; False when it does not fit (send it now instead)."""
        kept = self.map
        kept.seek(self.used)  # (over the last record's STOP)
        try:
            self.pickler.dump(result)
        except ValueError:  # past the end: what it wrote lies past `used`, not kept
            return False
        end = kept.tell() - 1  # the STOP is overwritten by the next record
        self.used = end
        _HEAD.pack_into(kept, 0, end)  # last: the record is whole
        self.empty = False
        return True

    def message(self) -> bytes:
        """The pickle of ``("done", [every result kept])``."""
        return b"".join((OPEN, self.map[_START:self.used], CLOSE))

    def clear(self) -> None:
        """Everything kept was sent."""
        self.used = _START
        self.empty = True
        _HEAD.pack_into(self.map, 0, self.used)


def last_tag(entry: tuple[Any, ...]) -> int:
    """The tag of the last job of an entry of a "run" message (see _worker):
    a column's last task, or a chain's last link."""
    tag, _, data, _, rest = entry
    if data.__class__ is str:  # a column: (tag, fid, name, nodes, args)
        return int(tag + len(rest) - 1)
    if rest.__class__ is tuple:  # a chained column: (first tag, fid, name, nodes)
        return int(rest[0] + len(rest[3]) - 1)
    return int(rest[-1][0]) if rest else int(tag)


def sweep(directory: str) -> None:
    """Remove the ledgers in ``directory`` that no worker holds: left by
    workers killed together with their caller (once per directory and
    process; see the module doc)."""
    if directory in _swept or sys.platform == "win32":
        return
    _swept.add(directory)
    now = time.time()
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.startswith("webber-") and entry.name.endswith("-ledger"):
                with contextlib.suppress(OSError):
                    if now - entry.stat().st_mtime >= YOUNG:
                        _remove_unheld(entry.path)


def _remove_unheld(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # OSError: its worker lives
        os.unlink(path)
    finally:
        os.close(fd)


def hold(path: str) -> int | None:
    """The caller's side: open a worker's ledger, and remove its name (the
    file lives as long as someone holds it); None if that failed."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    with contextlib.suppress(OSError):
        os.unlink(path)
    return fd


def release(fd: int | None) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)


def recover(fd: int | None, waiting: list[int]) -> list[tuple[Any, ...]]:
    """The results a dead worker kept in the ledger open as ``fd`` (None: it
    had none) that the caller still waits for: those of the jobs tagged
    ``waiting``, in order from the first."""
    kept: list[tuple[Any, ...]] = []
    for result in _records(fd) if fd is not None else ():
        if len(kept) < len(waiting) and result[0] == waiting[len(kept)]:
            kept.append(result)
    return kept


def began(fd: int | None, tag: int) -> bool:
    """Whether the dead worker whose ledger is open as ``fd`` may have begun the
    job tagged ``tag``: False only if it never began a batch holding it (None,
    no ledger: it may have)."""
    if fd is None:
        return True
    with contextlib.suppress(OSError):
        data = os.pread(fd, _BEGUN.size, _HEAD.size)
        if len(data) == _BEGUN.size:
            return bool(_BEGUN.unpack(data)[0] > tag)
    return True


def _records(fd: int) -> list[tuple[Any, ...]]:
    with contextlib.suppress(OSError):
        data = os.pread(fd, SIZE, 0)
        if len(data) >= _START:
            used = min(_HEAD.unpack_from(data)[0], len(data))
            with contextlib.suppress(Exception):  # not ours to read: nothing to recover
                kept: list[tuple[Any, ...]] = pickle.loads(
                    b"".join((_LIST, data[_START:used], b"e."))
                )
                return kept
    return []
