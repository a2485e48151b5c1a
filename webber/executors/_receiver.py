"""The pool's receiver thread: the one reader of its workers' pipes.

It waits on every worker's pipe and on its death (never polls), reads what
each sent and hands it to the pool: results (together, as many as arrived),
lines a task printed (in order with the results around them), a class told
once, a worker up, a job with a timeout begun. A worker whose pipe closes
is lost (``Pool.lost``). Stopped workers' segments are removed here, at the
top of the loop: past their last results, which only this thread reads.
"""

from __future__ import annotations

import logging
import pickle
from typing import TYPE_CHECKING, Any

from webber._output import emit_line
from webber.executors import _shm, _spawn
from webber.executors._pickling import forget_told, told
from webber.executors._shm import remove_segments_of

if TYPE_CHECKING:
    from webber.executors._pool import Pool
    from webber.executors._process import Proc

__all__ = ["receive"]


def receive(pool: Pool) -> None:
    """The receiver thread of ``pool``, until it closes."""
    while True:
        with pool.lock:
            if pool.closed:
                return
            while pool.left:  # (no result of theirs is being read: only this thread reads)
                proc = pool.left.pop()
                remove_segments_of(proc.pid)
                forget_told(proc)
            # fd -> (worker, whether it says the worker exited)
            watched: dict[int, tuple[Proc, bool]] = {}
            for proc in pool.procs:
                watched[proc.conn_out.fd] = (proc, False)
                death = proc.death_fd
                if death is not None:
                    watched[death] = (proc, True)
        wake = pool.waker.fileno()
        for fd in _spawn.wait_readable([*watched, wake]):
            if fd == wake:
                pool.waker.clear()
                continue
            proc, exited = watched[fd]
            if proc not in pool.procs:
                continue  # closed while we waited
            try:  # its death is ready when it exited: then read its last words
                _drain(pool, proc, until_eof=exited)
            except Exception:  # a bug here must not leave a run waiting forever
                logging.getLogger("webber").exception(
                    "the process pool failed on a message of its worker %s; the worker "
                    "is replaced, and its current task fails unless it had finished "
                    "(please report this)", proc.name,
                )
                pool.lost(proc)


def _drain(pool: Pool, proc: Proc, until_eof: bool) -> None:
    """Read every message ``proc`` has sent; results are handled together."""
    results: list[tuple[Any, ...]] = []
    try:
        while True:
            for data in proc.conn_out.read():
                message = pickle.loads(data)
                if message[0] == "out":
                    pool.finished(proc, results)  # keep lines and results in order
                    results = []
                    _, name, node, stream, line = message  # (the head's task prints)
                    emit_line(name, line, stream, node,
                              proc.inflight[0].session.run if proc.inflight else None)
                elif message[0] == "note":
                    _shm.warn_once(message[1])
                elif message[0] == "cls":
                    told(message[1], message[2], proc)
                elif message[0] == "ready":
                    pool.ready(proc, message[1])
                elif message[0] == "start":
                    pool.finished(proc, results)  # it is at the head of the queue now
                    results = []
                    pool.begun(proc, message[1], message[2])
                else:
                    results += message[1]
            if not until_eof or proc not in pool.procs:
                # (recycled meanwhile: its pipe is closed, and its fd number
                # may already belong to a new worker's pipe)
                break
    except (EOFError, OSError):
        pool.finished(proc, results)
        pool.lost(proc)
        return
    pool.finished(proc, results)
