"""The worker side of the dask executor: what runs inside a dask task.

``run_remote`` runs a job (and its links) with webber's chain runner on a
dask worker and reports each job's start and end as ``log_event`` messages;
the caller side (``dask.py``) turns those into the engine's Started and
Outcome. Kept apart because this code runs in another process, on another
machine even, and needs nothing of the caller's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from webber import _output
from webber.executors._base import Job, Started
from webber.executors._codec import encode_failure
from webber.executors._sendable import unsendable
from webber.executors._source import restore_each
from webber.executors._work import feed, run_job, run_links

__all__ = ["Slot", "Spec", "fill", "run_remote"]


@dataclass(frozen=True, slots=True)
class Slot:
    """Stands for a parent's result in a job sent to a worker: argument ``dep``
    of the dask task (a Future the worker receives as its value), or item
    ``position`` of it when the parent ran in a chain (a list of values)."""

    dep: int
    position: int | None


@dataclass(frozen=True, slots=True)
class Spec:
    """What a dask task needs besides its parents' values."""

    topic: str
    token: str  # the executor run the events belong to
    tag: int  # the dask task within that run
    job: Job  # its inputs and Remote arguments replaced by Slots
    starts: bool = False  # report every job's start when it starts (Executor.report_starts)
    #: the file name and lines of each function of the job and its links that
    #: travels by value (``_source``), in order; None: none does
    sources: tuple[tuple[str, list[str]] | None, ...] | None = None


def fill(value: Any, deps: Sequence[Any]) -> Any:
    if isinstance(value, Slot):
        found = deps[value.dep]
        return found if value.position is None else found[value.position]
    if type(value) is list and value and any(isinstance(v, Slot) for v in value):
        return [fill(v, deps) for v in value]  # a fan-out's results (partial: and errors)
    return value


def run_remote(spec: Spec, *deps: Any) -> Any:
    """The dask task: run the job and its chain here, report each by event.

    Returns the job's value, or for a chain the list of its links' values
    (up to the first failure); never raises for the task's sake."""
    from distributed import get_client, get_worker

    worker = get_worker()
    where = f"dask {worker.address}"
    job = spec.job
    if spec.sources is not None:  # their tracebacks show their lines
        restore_each([link.func for link in (job, *job.links)], spec.sources)
    if job.inputs is not None:
        job = replace(job, inputs={k: fill(v, deps) for k, v in job.inputs.items()})
    if job.index is not None and job.args:  # a fan-out element: its item may be remote
        job = replace(job, args=(fill(job.args[0], deps), *job.args[1:]))

    def started(message: Started) -> None:
        # Only a job with a timeout (its clock starts there) or a run whose
        # listeners want starts needs its start now; the others' start comes
        # with their end, one event instead of two.
        assert isinstance(message, Started)
        worker.log_event(spec.topic, ("start", spec.token, spec.tag, position, message.at, where))

    values: list[Any] = []
    links = (job, *job.links)
    position = 0

    def step(link: Job, previous: tuple[Any] | None) -> tuple[bool, Any]:
        nonlocal position
        position = len(values)
        if previous is not None:
            link = feed(link, previous[0])
        with _output.collecting() as lines:
            outcome = run_job(link, started if link.timeout is not None or spec.starts else None)
        if outcome.ok and (unsent := unsendable(link.node, outcome.value)) is not None:
            # Fail it now, as webber's pool does: kept here, it would pass for a
            # success until something asked dask to move it.
            outcome = replace(outcome, ok=False, value=unsent)
        error, info = encode_failure(outcome.value) if not outcome.ok else (b"", None)
        message = ("done", spec.token, spec.tag, position, outcome.ok, outcome.started,
                   outcome.duration, where, lines, error, info)
        if outcome.ok and position < len(links) - 1:
            # Another job runs next, here: the scheduler must have this report
            # before it starts, or a crash in the next one would be blamed on
            # this one (its report lost with the worker). A round trip (~1 ms).
            get_client().log_event(spec.topic, message)
        else:
            # The last report: the worker's own stream sends it before the
            # task's result, which is all the order needed.
            worker.log_event(spec.topic, message)
        if outcome.ok:
            values.append(outcome.value)
        return outcome.ok, outcome.value

    with _output.redirected():
        run_links(links, step)
    if job.links:
        return values
    return values[0] if values else None
