"""Sending jobs to a worker: functions once per worker, jobs packed by batch.

The pool (``_pool.py``) decides which jobs go to which worker; this module
turns a batch into the worker's "run" message (see ``_worker.py``): each
job's function travels once per worker as an "fn" message and is named by
its id afterwards; plain fields travel inside the message (``_pickling``).
Jobs one after the other that call the same function with plain positional
arguments alone (a wide flow's tasks, a fan-out's elements) travel as one
column: the function's id and the name once, then each job's node and
arguments, in two lists (no tuple of fields per job to make, pickle and
take apart).
"""

from __future__ import annotations

import contextlib
import pickle
import time
from collections.abc import Iterator, Mapping
from itertools import islice, repeat
from typing import Any

from webber._bounded import remember
from webber._refs import Ref
from webber._task_errors import JobSendError
from webber.executors._base import Column, ColumnOutcomes, Job, Outcome
from webber.executors._frames import send_frame
from webber.executors._pickling import Packer, dumps, plain
from webber.executors._process import Proc
from webber.executors._session import BIG_BATCH, LONG, Sent, Session, announce
from webber.executors._shm import remove_segments
from webber.executors._source import with_source

__all__ = ["send_batch", "take", "took"]


def _function_id(proc: Proc, task: Sent, fids: Iterator[int]) -> str:
    """The id ``proc`` knows ``task``'s function by, sending it first if needed."""
    return _sent_id(proc, task.session, task.job.func, fids)


def _sent_id(proc: Proc, session: Session, func: Any, fids: Iterator[int]) -> str:
    """The id ``proc`` knows ``func`` (a function, or a class sent by value) by
    in this run, sending it first if needed."""
    known = session.functions.get(id(func))
    if known is None:
        # What the function holds in large buffers (a closure's or a __main__
        # global's array) every worker maps from one copy in shared memory
        # while the run lasts, instead of a copy through each worker's pipe.
        data, segments = dumps(with_source(func), holder=session.holder, lend=True)
        known = session.functions[id(func)] = (f"f{next(fids)}", func, (data, segments))
    fid, _, packed = known
    if fid not in proc.fids:
        # A dead worker's pipe: not the job's fault (see _send_run), so no JobSendError
        with contextlib.suppress(OSError):
            send_frame(proc.conn_in, pickle.dumps(("fn", fid, *packed), pickle.HIGHEST_PROTOCOL))
        proc.fids.add(fid)
    return fid


def _packer(proc: Proc, session: Session, fids: Iterator[int]) -> Packer:
    """What pickles the jobs of a batch for ``proc``, naming each class sent by
    value by its id: the class sent to ``proc`` once in the run, as functions
    are (see _pickling.known)."""
    return Packer(session.holder, lambda cls: _sent_id(proc, session, cls, fids))


def _pack(task: Sent, fid: str, links: list[Any] | tuple[Any, ...] | None,
          packer: Packer) -> tuple[Any, ...]:
    """``task`` as an entry of the "run" message, ``links`` (packed) behind it:
    its fields as they are when plain (the message's pickle carries them), else
    their own pickle by ``packer`` (cloudpickle, large buffers in shared memory)."""
    job = task.job
    kwargs = dict(job.kwargs) if job.kwargs else {}
    inputs = None if job.inputs is None else dict(job.inputs)
    fields = (job.node, job.index, job.attempt, job.name, job.args, kwargs, inputs, job.timeout)
    # (the other fields are a str, ints and None: only these can be anything)
    if (inputs is None and not kwargs and not job.args) or plain((job.args, kwargs, inputs)):
        return (task.tag, fid, fields, (), links)
    data, task.segments = packer.dumps(fields)
    return (task.tag, fid, data, task.segments, links)


def _pack_link(link: Sent, fid: str, packer: Packer) -> tuple[Any, ...]:
    """A chain link as its head's entry carries it (4 fields: no links of its
    own). One that takes its predecessor's result as its only argument (most
    links) travels as ``(node, name)``: the worker calls it with that result,
    so no Ref is pickled per link, nor substituted there."""
    job = link.job
    args, inputs = job.args, job.inputs
    if (len(args) == 1 and not job.kwargs and inputs is not None and len(inputs) == 1
            and args[0].__class__ is Ref and args[0].id in inputs):
        return (link.tag, fid, (job.node, job.name), ())
    return _pack(link, fid, None, packer)[:4]


def send_batch(
    proc: Proc, session: Session, batch: list[Job | Column], tags: Iterator[int],
    fids: Iterator[int],
) -> None:
    """Send ``batch``, jobs of ``session`` (each job's chain links behind it),
    to ``proc`` in one message; a job that cannot be packed fails alone
    (JobSendError). Each job becomes a Sent here, as it leaves: a run's
    queue holds its jobs as the engine made them (none made per job for a
    wide flow's whole queue)."""
    entries: list[tuple[Any, ...]] = []
    packer = _packer(proc, session, fids)
    inflight = proc.inflight
    func: Any = None  # the last job's function, and its id: most batches have one
    fid = ""
    k = 0
    while k < len(batch):
        start, job, k = k, batch[k], k + 1
        task = Sent(next(tags), job, session)
        if job.__class__ is Column:  # the engine's own column (see module doc)
            entry = _column_entry(proc, task, tags, fids)
            if entry is not None:
                entries.append(entry)
                inflight.append(task)
            continue
        assert isinstance(job, Job)
        links: list[Sent] = []  # (not None: _unsendable reads it)
        try:
            if job.func is not func:
                fid = _function_id(proc, task, fids)
                func = job.func
            # (a job with inputs, most of a graph's, begins no column: no call to tell)
            end = start if job.inputs is not None else _column_end(batch, start, func, job.name)
            if end > start:  # (a column: see the module doc; its jobs' tags follow each other)
                rest = batch[k:end]
                inflight.append(task)
                inflight.extend(map(Sent, islice(tags, len(rest)), rest, repeat(session)))
                column = batch[start:end]
                entries.append((task.tag, fid, job.name, [j.node for j in column],
                                [j.args for j in column]))
                k = end
                continue
            if job.chain is None and not job.links:
                entries.append(_pack(task, fid, None, packer))
                inflight.append(task)
                continue
            entry = _chain_entry(proc, task, fid, links, tags, fids, packer)
        except Exception as e:
            _unsendable(task, links, e)
            continue
        entries.append(entry)
        inflight.append(task)
        inflight.extend(links)
    if entries:
        _send_run(proc, session, entries)


def _chain_entry(proc: Proc, task: Sent, fid: str, links: list[Sent], tags: Iterator[int],
                 fids: Iterator[int], packer: Packer) -> tuple[Any, ...]:
    """The entry of ``task``, a chain's head, with its links behind it (their
    Sents added to ``links``, each link's tag following the one before's): a
    chained column as ``(tag, fid, name, nodes)`` (each link takes the one
    before's result alone: see _chains), else each link packed."""
    job = task.job
    assert isinstance(job, Job)
    chain, session = job.chain, task.session
    if chain is not None:
        next(islice(tags, len(chain.nodes) - 1, None))  # the links' tags (the first: tag + 1)
        links.append(Sent(task.tag + 1, chain, session, link=True))
        chain_fid = fid if chain.func is job.func else _function_id(proc, links[0], fids)
        task.links_after = 1
        return _pack(task, fid, (task.tag + 1, chain_fid, chain.name, chain.nodes), packer)
    after = len(job.links)  # (each link: how many follow it)
    links += [Sent(next(tags), link, session, (), False, after - i, True)
              for i, link in enumerate(job.links, 1)]
    task.links_after = after
    return _pack(task, fid, [
        _pack_link(link, fid if link.job.func is job.func else _function_id(proc, link, fids),
                   packer)
        for link in links
    ], packer)


def _send_run(proc: Proc, session: Session, entries: list[tuple[Any, ...]]) -> None:
    """Send the "run" message of ``entries`` to ``proc``."""
    forget, proc.forget = proc.forget, []
    first = proc.served != session.serial
    proc.served = session.serial
    try:
        measure = session.memory_limit is not None
        message = ("run", entries, forget, measure, first)
        send_frame(proc.conn_in, pickle.dumps(message, pickle.HIGHEST_PROTOCOL))
    except OSError:
        return  # it died; the receiver sees it and requeues the batch
    announce(proc.inflight[0], proc)


def _column_entry(proc: Proc, task: Sent, tags: Iterator[int], fids: Iterator[int]
                  ) -> tuple[Any, ...] | None:
    """The engine's column ``task`` as the worker's column entry, its tasks
    tagged ``task.tag``, ``task.tag + 1``, ...; None when its function
    cannot be sent (then each of its tasks fails)."""
    column = task.job
    assert isinstance(column, Column)
    if len(column.nodes) > 1:
        next(islice(tags, len(column.nodes) - 2, None))  # its other tasks' tags
    try:
        fid = _function_id(proc, task, fids)
    except Exception as e:
        _unsendable_column(column, task.session, e)
        return None
    return (task.tag, fid, column.name, column.nodes, column.args)


def _column_end(batch: list[Job | Column], start: int, func: Any, name: str) -> int:
    """Where the column ``batch[start]`` begins ends: past the jobs from it
    on that call ``func`` as ``name`` with plain positional arguments alone
    (``start`` when it begins none)."""
    for end in range(start, len(batch)):
        job = batch[end]
        if (job.__class__ is Column or job.func is not func or job.name is not name
                or job.inputs is not None or job.kwargs or job.links or job.chain is not None
                or job.timeout is not None
                or (job.args and not plain((job.args,)))):
            return end
    return len(batch)


def _unsendable(task: Sent, links: list[Sent], e: Exception) -> None:
    """``task`` (or a link of its chain) cannot be packed: it fails alone."""
    remove_segments(task.segments)
    for link in links:
        remove_segments(link.segments)
    assert isinstance(task.job, Job)
    task.session.report(Outcome(task.job, False, _send_error(task.job.node, e), time.time(),
                                0.0, ""))


def _unsendable_column(column: Column, session: Session, e: Exception) -> None:
    """The function of ``column`` cannot be sent: each of its tasks fails."""
    count = len(column.nodes)
    session.report(ColumnOutcomes(column, 0, [False] * count,
                                  [_send_error(n, e) for n in column.nodes],
                                  [time.time()] * count, [0.0] * count, ""))


def _send_error(node: str, e: Exception) -> JobSendError:
    error = JobSendError(
        f"task {node!r} cannot be sent to a worker process: "
        f"{type(e).__name__}: {e}; use executor='threads' for tasks that "
        f"hold locks, sockets or open files",
        node,
    )
    error.__cause__ = e
    return error


def took(seconds: dict[str, float], name: str, duration: float) -> None:
    """A task of ``name`` took ``duration``: ``seconds[name]``, about how long
    its tasks take (read by :func:`take`), is halfway between the last ones
    and this one (one look per answer)."""
    known = seconds.get(name)
    if known is None:
        remember(seconds, name, duration, 4096)  # (names come and go)
    else:
        seconds[name] = (known + duration) / 2


def take(session: Session, want: int,
         seconds: Mapping[str, float] | None = None) -> list[Job | Column]:
    """Up to ``want`` tasks from the front of ``session``'s queue (a column
    there is split if need be); one with a timeout goes alone (its clock
    starts when it is sent), as does one whose tasks took long (``seconds``:
    a task name -> about how long its tasks took, see :func:`took`; ``Pool._dispatch``)."""
    batch: list[Job | Column] = []
    pending = session.pending
    while want > 0 and pending:
        head = pending[0]
        alone = head.timeout is not None or (
            seconds is not None and seconds.get(head.name, 0.0) >= LONG)
        if alone:
            if batch:
                break
            want = 1
        if head.__class__ is Column:
            assert isinstance(head, Column)
            count = len(head.nodes)
            if count > want:  # the rest stays at the front, in parts of BIG_BATCH at
                # most: a part is copied again at each split, not the whole column
                step = max(want, BIG_BATCH)
                pending.popleft()
                pending.extendleft(head.part(k, k + step)
                                   for k in reversed(range(want, count, step)))
                session.extra -= want - 1 + -(-(count - want) // step)  # (the parts: 1 each)
                batch.append(head.part(0, want))
                break
            session.extra -= count - 1
            want -= count
        else:
            want -= 1
        batch.append(pending.popleft())
        if alone:
            break
    return batch
