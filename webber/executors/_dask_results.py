"""Results the dask executor keeps on the cluster, and how a Run fetches them.

One dask task of a run is a :class:`Box` (its jobs: a head and its chain's
links); each job's result is a :class:`Handle`, the
:class:`~webber.executors.Remote` the engine holds instead of the value. A Run
fetches a Box's result the first time one of its handles is read, once, and
a fan-out's handles in one round trip (:func:`gather`). A chain whose later
link crashed its worker lost the earlier links' results with it: they are
run again (``redo``), as dask recomputes a result lost with a worker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from webber._errors import ResultLostError
from webber.executors._base import Job, Remote

__all__ = ["Box", "Handle", "gather"]

# distributed's objects are handled as Any (see dask.py)
_Future = Any


@dataclass(eq=False, slots=True)
class Box:
    """One dask task of a run: its jobs (the head, then its chain), its Future,
    and, once a Run asked for it, its result."""

    jobs: tuple[Job, ...]
    future: _Future = None
    #: submits the first n jobs again (a chain's results lost with its worker)
    redo: Callable[[int], _Future] | None = None
    reported: int = 0  # how many of the jobs have an Outcome with the engine
    succeeded: int = 0  # how many of them succeeded (a Run may read their results)
    failed: bool = False  # one of them failed: the rest never ran
    abandoned: bool = False
    fetched: bool = False
    value: Any = None  # once fetched: the result, or a chain's list of results
    error: BaseException | None = None  # once fetched: why there is no result (dask's error)
    #: guards the report counts above (taken by the client's event-loop thread)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: one fetch at a time. Not ``lock``: a fetch waits for the whole dask task,
    #: whose later links report through the event loop meanwhile, and those
    #: reports take ``lock`` (a chain's head is fetched mid-chain when a
    #: listener wants task results)
    gate: threading.Lock = field(default_factory=threading.Lock)

    @property
    def chain(self) -> bool:
        return len(self.jobs) > 1

    def result(self, position: int | None) -> Any:
        with self.gate:
            if not self.fetched:
                self.load(None, fetched=False)
        if self.error is not None:
            raise _lost(self.jobs[position or 0], self.error)
        return self.value if position is None else self.value[position]

    def load(self, value: Any, fetched: bool) -> None:
        """Keep ``value`` (``fetched``), or fetch the result; with ``gate`` held."""
        client = self.future.client
        try:
            self.value = value if fetched else client.gather(self.future)
        except Exception as e:
            if self.redo is None or self.future.status != "error":
                self.error = e
            else:
                # A later job of the chain crashed its worker after these had
                # succeeded, and their results died with it: run them again, as
                # dask recomputes a result lost with a worker.
                n = self.succeeded
                try:
                    values = client.gather(self.redo(n))
                except Exception as again:
                    self.error = again
                else:
                    self.value = values if n > 1 else [values]
        self.fetched = True


def _lost(job: Job, error: BaseException) -> ResultLostError:
    lost = ResultLostError(
        f"task {job.node!r}: its result could not be fetched from the dask cluster "
        f"({type(error).__name__}: {error}); keep the Client open while you read the "
        f"Run, and the workers that hold the results alive"
    )
    lost.__cause__ = error
    return lost


class Handle(Remote):
    """The result of one job, kept on the cluster until a Run reads it."""

    __slots__ = ("box", "position")

    def __init__(self, box: Box, position: int | None) -> None:
        self.box = box
        self.position = position  # the link in a chain, else None

    def fetch(self) -> Any:
        return self.box.result(self.position)

    def ready(self) -> bool:
        # Every job of its dask task reported success (a chain's link waits
        # for the links after it: they share one dask task and one fetch).
        box = self.box
        return box.fetched or (box.reported == len(box.jobs) and not box.failed)

    def __reduce__(self) -> tuple[Any, ...]:
        # (a Run pickled with results not read yet: its Box holds locks and a Future)
        return (_as_is, (self.fetch(),))

    @classmethod
    def fetch_many(cls, remotes: Sequence[Remote]) -> list[Any]:
        handles = [r for r in remotes if isinstance(r, Handle)]
        gather({id(h.box): h.box for h in handles}.values())
        return [remote.fetch() for remote in remotes]

    def __repr__(self) -> str:
        job = self.box.jobs[self.position or 0]
        return f"<result of {job.node!r} on the dask cluster>"


def _as_is(value: Any) -> Any:
    """What an unpickled Handle becomes: the value it had fetched."""
    return value


def gather(boxes: Any) -> None:
    """Fetch the results of several boxes, in one round trip where it works."""
    todo = [b for b in boxes if not b.fetched and b.future is not None]
    if not todo:
        return
    try:
        values = todo[0].future.client.gather([b.future for b in todo])
    except Exception:  # one of them is lost: each box fetches its own
        values = None
    for i, box in enumerate(todo):
        with box.gate:
            if not box.fetched:
                box.load(None if values is None else values[i], fetched=values is not None)
