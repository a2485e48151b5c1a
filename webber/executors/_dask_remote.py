"""The worker side of the dask executor: what runs inside a dask task.

``run_remote`` runs a job (and its chain) with webber's own ``run_job`` on a
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
from webber.executors._base import Job, Outcome, Started
from webber.executors._work import follow, run_job

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


def fill(value: Any, deps: Sequence[Any]) -> Any:
    if isinstance(value, Slot):
        found = deps[value.dep]
        return found if value.position is None else found[value.position]
    if type(value) is list and value and any(isinstance(v, Slot) for v in value):
        return [fill(v, deps) for v in value]  # a fan-out's results (partial: and errors)
    return value


def _event(outcome: Outcome) -> tuple[bool, bytes, tuple[str, str, str] | None]:
    """A finished job as event fields: ok, the pickled exception, (kind, message, traceback)."""
    if outcome.ok:
        return True, b"", None
    from webber.executors._serialize import dumps_exception
    from webber.executors._worker import _failure_info

    error = outcome.value
    try:
        data, _ = dumps_exception(error)  # in-band: no shared-memory segments here
    except Exception:  # the kind, message and traceback still get through
        data = b""
    return False, data, _failure_info(error)


def run_remote(spec: Spec, *deps: Any) -> Any:
    """The dask task: run the job and its chain here, report each by event.

    Returns the job's value, or for a chain the list of its links' values
    (up to the first failure); never raises for the task's sake."""
    from distributed import get_client, get_worker

    worker = get_worker()
    where = f"dask {worker.address}"
    job = spec.job
    if job.inputs is not None:
        job = replace(job, inputs={k: fill(v, deps) for k, v in job.inputs.items()})
    if job.index is not None and job.args:  # a fan-out element: its item may be remote
        job = replace(job, args=(fill(job.args[0], deps), *job.args[1:]))

    def started(message: Started | Outcome) -> None:
        # Only a job with a timeout needs its start now (the clock starts there);
        # the others' start comes with their end, one event instead of two.
        assert isinstance(message, Started)
        worker.log_event(spec.topic, ("start", spec.token, spec.tag, position, message.at, where))

    values: list[Any] = []
    with _output.redirected():
        for position, link in enumerate((job, *job.then)):
            if position:
                link = follow(link, values[-1])
            with _output.collecting() as lines:
                outcome = run_job(link, started if link.timeout is not None else None)
            ok, error, info = _event(outcome)
            message = ("done", spec.token, spec.tag, position, ok, outcome.started,
                       outcome.duration, where, lines, error, info)
            if ok and position < len(job.then):
                # Another job runs next, here: the scheduler must have this report
                # before it starts, or a crash in the next one would be blamed on
                # this one (its report lost with the worker). A round trip (~1 ms).
                get_client().log_event(spec.topic, message)
            else:
                # The last report: the worker's own stream sends it before the
                # task's result, which is all the order needed.
                worker.log_event(spec.topic, message)
            if not ok:
                break
            values.append(outcome.value)
    if job.then:
        return values
    return values[0] if values else None
