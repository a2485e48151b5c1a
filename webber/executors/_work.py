"""Running jobs where the executor runs them: substitute, capture, call, time.

:func:`run_job` runs one job; :func:`run_chain` is the one chain runner of
every executor: a job, then its links (``Job.links``) in order, each fed the
previous one's result, stopping at the first failure. How a link is run and
reported differs by executor (a thread reports an Outcome object, a worker
process pickles it down a pipe, a dask worker sends an event), so each
passes its own ``step``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from webber import _context
from webber._output import capture
from webber._refs import Ref, substitute
from webber.executors._base import Job, Outcome, Report, Started

__all__ = ["feed", "materialize", "run_chain", "run_job", "run_links", "worker_name"]

L = TypeVar("L")


def materialize(job: Job) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The job's arguments with each Ref replaced by its parent's result."""
    if job.inputs is None:
        return job.args, dict(job.kwargs)
    inputs = job.inputs

    def value(ref: Ref) -> Any:
        return inputs[ref.id]

    args, kwargs = substitute((job.args, dict(job.kwargs)), Ref, value)
    return args, kwargs


_local = threading.local()


def worker_name() -> str:
    """``pid/thread-name`` of the running thread (cached per thread: it is asked
    twice a job). Not keyed by thread id: ids are reused by later threads."""
    name: str | None = getattr(_local, "name", None)
    if name is None:
        name = _local.name = f"{os.getpid()}/{threading.current_thread().name}"
    return name


def run_job(job: Job, report: Report | None = None) -> Outcome:
    """Run ``job`` and describe what happened; never raises for the task's sake.

    A task's ``SystemExit`` and ``KeyboardInterrupt`` are its failure, not the
    caller's exit (the inline executor tells the user's Ctrl-C apart itself).
    ``report``, when given, gets the job's Started before the task runs.
    """
    started = time.time()
    t0 = time.perf_counter()
    worker = worker_name()
    if report is not None:
        report(Started(job, started, worker))
    token = _context.active_flow.set(None)  # a task calling tasks calls them
    try:
        args, kwargs = materialize(job)
        with capture(job.name, job.node):
            value = job.func(*args, **kwargs)
        ok = True
    except BaseException as e:
        ok, value = False, e
    finally:
        _context.active_flow.reset(token)
    return Outcome(job, ok, value, started, time.perf_counter() - t0, worker)


def feed(link: Job, previous: Any) -> Job:
    """``link`` with its parent's result filled in (a chain link has one parent)."""
    if link.inputs is None:
        return link
    return replace(link, inputs=dict.fromkeys(link.inputs, previous))


def run_links(
    links: Sequence[L],
    step: Callable[[L, tuple[Any] | None], tuple[bool, Any]],
    dropped: Callable[[Sequence[L]], None] | None = None,
) -> None:
    """The chain runner: ``step(link, previous)`` for each link in order, where
    ``previous`` is ``(value,)`` of the link before (None for the first); stop
    at the first that returns ``(False, ...)`` and hand the links that will not
    run to ``dropped``."""
    previous: tuple[Any] | None = None
    for position, link in enumerate(links):
        ok, value = step(link, previous)
        if not ok:
            if dropped is not None and position + 1 < len(links):
                dropped(links[position + 1:])
            return
        previous = (value,)


def run_chain(job: Job, report: Report) -> None:
    """Run ``job`` and its links in this thread, reporting a Started (when the
    engine wants starts, or the job has a timeout) and an Outcome for each."""

    def step(link: Job, previous: tuple[Any] | None) -> tuple[bool, Any]:
        if previous is not None:
            link = feed(link, previous[0])
        outcome = run_job(link, report)
        report(outcome)
        return outcome.ok, outcome.value

    run_links((job, *job.links), step)
