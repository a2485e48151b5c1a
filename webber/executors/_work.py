"""Running one Job where the executor runs it: substitute, capture, call, time."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import replace
from typing import Any

from webber import _context
from webber._output import capture
from webber._promise import Promise, substitute
from webber.executors._base import Job, Outcome, Report, Started

__all__ = ["follow", "materialize", "run_chain", "run_job"]


def materialize(job: Job) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The job's arguments with each Promise replaced by its parent's result."""
    if job.inputs is None:
        return job.args, dict(job.kwargs)
    inputs = job.inputs

    def value(promise: Promise) -> Any:
        return inputs[promise.key]  # type: ignore[index]  # compile() made keys ids

    args, kwargs = substitute((job.args, dict(job.kwargs)), value)
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
    """
    started = time.time()
    t0 = time.perf_counter()
    worker = worker_name()
    if report is not None:
        report(Started(job, started, worker))  # links: see run_chain
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


def follow(link: Job, previous: Any) -> Job:
    """``link`` with its parent's result filled in (a chain link has one parent)."""
    if link.inputs is None:
        return link
    return replace(link, inputs=dict.fromkeys(link.inputs, previous))


def run_chain(job: Job, report: Report) -> None:
    """Run ``job`` and its chain, reporting each; stop at the first failure."""
    outcome = run_job(job, report)
    report(outcome)
    for link in job.then:
        if not outcome.ok:
            return
        outcome = run_job(follow(link, outcome.value), report)
        report(replace(outcome, job=link))  # the engine knows the link by identity
