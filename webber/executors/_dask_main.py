"""A script that starts ``executor="dask"`` at its top level, unguarded: one
clear ExecutorError instead of pages of dask's nanny failures.

A LocalCluster's workers are multiprocessing ``spawn`` children, which import
the caller's ``__main__`` again before they start. A script without
``if __name__ == "__main__":`` then starts a run, and a cluster, in each of
them, which multiprocessing refuses ("before the current process has finished
its bootstrapping phase"); each refusal is logged, and the caller's cluster
fails with ``RuntimeError: Nanny failed to start.``. Here a worker that gets
there says so to the caller (a file named in its environment) and exits at
once, silently, and the caller raises :data:`UNGUARDED`::

    caller:  LocalCluster(...) with WEBBER_DASK_UNGUARDED=<file> --spawn--> worker
    worker:  imports the script again -> run -> _local_cluster -> touch <file>, exit
    caller:  the cluster fails, <file> is there -> ExecutorError(UNGUARDED)
"""

from __future__ import annotations

import contextlib
import multiprocessing.process
import os
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

from webber._errors import ExecutorError

__all__ = ["UNGUARDED", "starting_cluster"]

UNGUARDED = (
    "executor='dask' could not start its local dask cluster: its worker processes "
    "import your script again (multiprocessing's spawn), and your script starts a run "
    "at its top level, so each of them tried to start a cluster of its own; put the "
    "script's code under `if __name__ == \"__main__\":`, or pass DaskExecutor(client) a "
    "Client of a cluster started elsewhere (executor='processes' needs no guard)"
)

#: where a worker that imported an unguarded script says so (the caller's file)
_VARIABLE = "WEBBER_DASK_UNGUARDED"
#: one cluster start at a time sets the variable (its workers inherit it)
_lock = threading.Lock()


def _importing_main_again() -> bool:
    # What multiprocessing itself checks before it refuses to start a process
    # (spawn._check_not_importing_main): this process is a spawned child still
    # importing its parent's __main__.
    return bool(getattr(multiprocessing.process.current_process(), "_inheriting", False))


@contextlib.contextmanager
def starting_cluster() -> Iterator[None]:
    """Around the start of a LocalCluster: its failure because the script is
    unguarded becomes :data:`UNGUARDED`; in such a worker, the start ends it."""
    if _importing_main_again():
        told = os.environ.get(_VARIABLE)
        if told:  # a worker of our own cluster: tell the caller, quietly
            Path(told).touch()
            os._exit(1)
        raise ExecutorError(UNGUARDED)  # another spawned child: say it here
    marker = Path(tempfile.gettempdir()) / f"webber-dask-{os.getpid()}-{uuid.uuid4().hex}"
    with _lock:
        before = os.environ.get(_VARIABLE)
        os.environ[_VARIABLE] = str(marker)
        try:
            yield
        except Exception:
            if marker.exists():
                raise ExecutorError(UNGUARDED) from None  # (dask's error only says it failed)
            raise
        finally:
            if before is None:
                del os.environ[_VARIABLE]
            else:
                os.environ[_VARIABLE] = before
            marker.unlink(missing_ok=True)
