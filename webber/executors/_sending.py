"""Sending jobs to a worker: functions once per worker, jobs packed by batch.

The pool (``_pool.py``) decides which jobs go to which worker; this module
turns a batch into the worker's "run" message (see ``_worker.py``): each
job's function travels once per worker as an "fn" message and is named by
its id afterwards; plain fields travel inside the message (``_pickling``).
"""

from __future__ import annotations

import pickle
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

from webber._errors import JobSendError
from webber.executors._base import Outcome
from webber.executors._frames import send_frame
from webber.executors._pickling import dumps, plain
from webber.executors._process import Proc
from webber.executors._session import Sent, announce
from webber.executors._shm import remove_segments
from webber.executors._source import with_source

__all__ = ["send_batch", "take"]


def _function_id(proc: Proc, task: Sent, fids: Iterator[int]) -> str:
    """The id ``proc`` knows ``task``'s function by, sending it first if needed."""
    func = task.job.func
    known = task.session.functions.get(id(func))
    if known is None:
        data, _ = dumps(with_source(func), out_of_band=False)
        known = task.session.functions[id(func)] = (f"f{next(fids)}", func, data)
    fid, _, data = known
    if fid not in proc.fids:
        send_frame(proc.conn_in, pickle.dumps(("fn", fid, data, []), pickle.HIGHEST_PROTOCOL))
        proc.fids.add(fid)
    return fid


def _pack(proc: Proc, task: Sent, fids: Iterator[int]) -> tuple[Any, ...]:
    fid = _function_id(proc, task, fids)
    # The function travels once per worker ("fn"), not with each job.
    job = task.job
    kwargs = dict(job.kwargs) if job.kwargs else {}
    inputs = None if job.inputs is None else dict(job.inputs)
    fields = (job.node, job.index, job.attempt, job.name, job.args, kwargs, inputs, job.timeout)
    # (the other fields are a str, ints and None: only these can be anything)
    if plain((job.args, kwargs, inputs)):
        return (task.tag, fid, (fields,), ())
    data, task.segments = dumps(fields, holder=task.session.holder)
    return (task.tag, fid, data, task.segments)


def send_batch(
    proc: Proc, batch: list[Sent], tags: Iterator[int], fids: Iterator[int]
) -> None:
    """Send ``batch`` (each job's chain links behind it) to ``proc`` in one
    message; a job that cannot be packed fails alone (JobSendError)."""
    entries = []
    for task in batch:
        links = ([Sent(next(tags), job, task.session, link=True) for job in task.job.links]
                 if task.job.links else [])
        try:
            entry = _pack(proc, task, fids)
            packed = [_pack(proc, link, fids) for link in links] if links else []
        except Exception as e:
            remove_segments(task.segments)
            for link in links:
                remove_segments(link.segments)
            error = JobSendError(
                f"task {task.job.node!r} cannot be sent to a worker process: "
                f"{type(e).__name__}: {e}; use executor='threads' for tasks that "
                f"hold locks, sockets or open files",
                task.job.node,
            )
            error.__cause__ = e
            task.session.report(Outcome(task.job, False, error, time.time(), 0.0, ""))
            continue
        entries.append((*entry, packed))
        task.links_after = len(links)
        proc.inflight.append(task)
        for i, link in enumerate(links):
            link.links_after = len(links) - i - 1
            proc.inflight.append(link)
    if not entries:
        return
    forget, proc.forget = proc.forget, []
    try:
        measure = batch[0].session.memory_limit is not None
        send_frame(proc.conn_in,
                   pickle.dumps(("run", entries, forget, measure), pickle.HIGHEST_PROTOCOL))
    except OSError:
        return  # it died; the receiver sees it and requeues the batch
    announce(proc.inflight[0], proc)


def take(pending: deque[Sent], want: int) -> list[Sent]:
    """Up to ``want`` jobs from the front of ``pending``; one with a timeout
    goes alone (its clock starts when it is sent)."""
    batch: list[Sent] = []
    while pending and len(batch) < want:
        if pending[0].job.timeout is not None and batch:
            break
        batch.append(pending.popleft())
        if batch[-1].job.timeout is not None:
            break
    return batch
