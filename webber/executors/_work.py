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


_names: dict[tuple[int, int], str] = {}


def worker_name() -> str:
    """``pid/thread-name`` of the running thread (cached: it is asked twice a job)."""
    key = (os.getpid(), threading.get_ident())
    name = _names.get(key)
    if name is None:
        if len(_names) > 1024:  # thread pools come and go: keep the cache small
            _names.clear()
        name = _names[key] = f"{key[0]}/{threading.current_thread().name}"
    return name


def run_job(job: Job, report: Report | None = None, *, catch_interrupt: bool = True) -> Outcome:
    """Run ``job`` and describe what happened; never raises for the task's sake.

    A task's ``SystemExit`` is its failure, not the caller's exit. So is its
    ``KeyboardInterrupt`` when it runs on a worker; in the caller's own thread
    (``catch_interrupt=False``, the inline executor) a KeyboardInterrupt
    cannot be told apart from the user's Ctrl-C, so it stops the run.
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
    except KeyboardInterrupt as e:
        if not catch_interrupt:
            raise
        ok, value = False, e
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


def run_chain(job: Job, report: Report, *, catch_interrupt: bool = True) -> None:
    """Run ``job`` and its chain, reporting each; stop at the first failure."""
    outcome = run_job(job, report, catch_interrupt=catch_interrupt)
    report(outcome)
    for link in job.then:
        if not outcome.ok:
            return
        outcome = run_job(follow(link, outcome.value), report, catch_interrupt=catch_interrupt)
        report(replace(outcome, job=link))  # the engine knows the link by identity
