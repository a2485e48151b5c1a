"""A cache hit, loaded where it is needed: what the engine holds for its value.

On a hit the caller checks the entry (its header, length and checksum) but
does not unpickle it: the engine holds a :class:`Stored`, a
:class:`~webber.executors.Remote` naming the entry's file. A child's job
carries it as its parent's input and it is loaded wherever the job runs
(``_work.materialize``: a worker process, a dask worker, a thread), its
buffers memory-mapped from the file::

    caller:  verify(entry) --> Stored(path, stamp) --pickled: ~200 bytes--> worker
    worker:  load_entry(path, stamp): map the file, unpickle against the map

so a 100 MB array goes from the page cache to the process that uses it,
never through the caller's pickles and pipes. The caller loads it only when
asked -- ``run[node]``, a fan-out over it, a listener of task results --
once; a thread that loaded it for a child shares that load.

An entry that fails its checksum is a miss (the caller checks it); one that
passes but vanishes, or does not unpickle where it is loaded, fails the task
that needed it with a :class:`~webber.CacheError` (the latter is removed
from the store, so the next run computes it anew).
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

from webber._cache import Stamp, load_entry
from webber._errors import CacheError
from webber.executors._base import Remote

__all__ = ["Stored"]

_UNREAD = object()


class Stored(Remote):
    """The result of task ``node`` in the store's file ``path``, checked as
    ``stamp`` (see the module doc). Pickles as that reference, never the value."""

    __slots__ = ("_lock", "_value", "node", "path", "stamp")

    def __init__(self, path: str, stamp: Stamp, node: str) -> None:
        self.path = path
        self.stamp = stamp
        self.node = node
        self._value: Any = _UNREAD
        self._lock = threading.Lock()  # threads of one process load it once

    def fetch(self) -> Any:
        with self._lock:
            if self._value is _UNREAD:
                self._value = self._load()
            return self._value

    def _load(self) -> Any:
        try:
            return load_entry(self.path, self.stamp)
        except (OSError, MemoryError) as e:
            # (during the run, or after it: a Run loads a hit when it is read)
            why = "it was removed or changed since the run checked it (a cache clear or prune?)"
            error: Exception = e
        except Exception as e:
            # Checked, yet it does not load here: it holds something the code now
            # loaded cannot rebuild (a class moved by a library upgrade, ...), or
            # it was replaced by a damaged file. Removed, or every later run
            # would hit it and fail the same way.
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            why = ("it does not load here (damaged, or it holds what this code cannot "
                   "rebuild), so it was removed")
            error = e
        raise CacheError(
            f"the cached result of task {self.node!r} could not be loaded from "
            f"{self.path} ({type(error).__name__}: {error}): {why}; run the flow "
            f"again to compute and store it anew"
        ) from error

    def __reduce__(self) -> tuple[Any, ...]:
        return (Stored, (self.path, self.stamp, self.node))

    def __repr__(self) -> str:
        return f"<result of {self.node!r} in the cache: {self.path}>"
