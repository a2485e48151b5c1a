"""Arrays of files mapped read-only, sent as their place in the file.

numpy pickles an ``np.memmap`` (an ndarray subclass) with its data, so a
100 MB array of a file that ``np.load(path, mmap_mode="r")`` mapped went
through the pipe once per task. A contiguous one mapped read-only travels
instead as the file's path, the array's offset in it, its dtype, shape and
order, and the file's identity (device, inode, size, modification time);
the receiver maps the same file read-only, as the caller has it (joblib
sends one the same way). No copy is made anywhere.

What can differ between the two sides is the file. The identity is checked
twice: here, that the path still names the file the array maps (its device
and inode in ``/proc/self/maps``, where Linux lists every mapping: else a
file replaced under the same path after ``np.load`` would reach the task in
place of the caller's data); at the receiver, that the file it opens is the
one the caller saw (else the job fails, naming the file). An array whose file
cannot be told this way travels as its data (``_pickling.apart``).
"""

from __future__ import annotations

import mmap
import os
import pickle
import weakref
from typing import Any, Literal

from webber.executors._shm import address

__all__ = ["by_place", "mapped"]


class _Place:
    """What :func:`by_place` makes: pickled as a call of :func:`mapped`."""

    __slots__ = ("args",)

    def __init__(self, args: tuple[Any, ...]) -> None:
        self.args = args

    def __reduce__(self) -> tuple[Any, ...]:
        return (mapped, self.args)


def by_place(array: Any) -> _Place | None:
    """``array`` (an ``np.memmap``) as its place in its file; None when it
    must travel as its data: mapped writable or copy-on-write (the file may
    not hold what the array holds), not contiguous, not of a file with a
    name, or of a file that its path no longer names."""
    base = array.base
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "base", None)  # (a view's: its array's, down to the map)
    path = getattr(array, "filename", None)  # (a str, or a Path: see np.memmap)
    path = os.fspath(path) if isinstance(path, os.PathLike) else path
    if (array.mode != "r" or base is None or not isinstance(path, str)
            or not (array.flags.c_contiguous or array.flags.f_contiguous)):
        return None
    with memoryview(base) as view:
        start = address(view)
    try:
        stat = os.stat(path)
    except OSError:
        return None  # (removed since it was mapped: the data still travels)
    if start is None or _file_of(base, start) not in (None, (stat.st_dev, stat.st_ino)):
        return None
    # numpy maps from the array's offset rounded down, as mmap asks
    offset = array.offset - array.offset % mmap.ALLOCATIONGRANULARITY
    offset += array.ctypes.data - start
    if not 0 <= offset <= stat.st_size - array.nbytes:
        return None
    order = "C" if array.flags.c_contiguous else "F"
    identity = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
    return _Place((path, array.dtype, offset, array.shape, order, identity))


def mapped(path: str, dtype: Any, offset: int, shape: tuple[int, ...], order: Literal["C", "F"],
           identity: tuple[int, ...]) -> Any:
    """The array :func:`by_place` sent: of the same file, mapped read-only."""
    import numpy as np

    with open(path, "rb") as file:
        stat = os.fstat(file.fileno())
        if (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns) != identity:
            raise pickle.UnpicklingError(
                f"the file {path!r}, mapped read-only by an argument (np.memmap), changed "
                f"or was replaced after the caller sent it; do not change it during a run")
        return np.memmap(file, dtype=dtype, mode="r", offset=offset, shape=shape, order=order)


#: map -> (device, inode) of the file it maps, None where that cannot be read
#: (read once per map: one array passed to many tasks)
_INODES: weakref.WeakKeyDictionary[mmap.mmap, tuple[int, int] | None] = (
    weakref.WeakKeyDictionary())


def _file_of(base: mmap.mmap, start: int) -> tuple[int, int] | None:
    """The device and inode of the file ``base`` (starting at ``start``) maps."""
    try:
        return _INODES[base]
    except KeyError:
        pass
    found = None
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                fields = line.split(maxsplit=5)
                low, _, high = fields[0].partition("-")
                if int(low, 16) <= start < int(high, 16):
                    major, _, minor = fields[3].partition(":")
                    found = (os.makedev(int(major, 16), int(minor, 16)), int(fields[4]))
                    break
    except (OSError, ValueError, IndexError, AttributeError):  # (no such file: not Linux)
        found = None
    _INODES[base] = found
    return found
