"""Streaming: items flow through a linear chain of stages, all stages at work at once.

One loop in the caller's thread owns a stream, like the engine owns a run::

    source (an iterable, or a root stage called again and again)
      -> stage 0 -> stage 1 -> ... -> stage n-1 -> results, in order

Each stage has its own executor (one worker process per stage on
``"processes"``, one thread per stage on ``"threads"``; ``"inline"`` and
other executors are shared by every stage), so item k+1 is in stage 0 while
item k is in stage 1. A repeating root runs in the caller's process, on a
thread of its own (see ``stage_executors``). A stage's function travels to its worker once. Between
two stages at most ``maxsize`` items wait or run, so a fast source cannot
fill memory: the loop takes the next item only when stage 0 has room.

An item that fails is retried if its stage has retries; after the last
attempt the items before it finish, then the stream stops (every stage's
executor is stopped, so nothing hangs) and the item's own exception is
raised, with a note naming the item and the stage. Items reach the next
stage in order even when one is retried.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from webber import _inbox, _output
from webber._checks import check_call
from webber._errors import TaskDefinitionError
from webber._graph import TaskOptions
from webber._task_errors import TaskTimeoutError, add_note, message_of
from webber._verdicts import ran_late
from webber.executors import Executor, resolve_executor
from webber.executors._base import Column, Job, Outcome, Started, fetch, in_use

__all__ = [
    "DEFAULT_MAXSIZE",
    "Stage",
    "check_executor",
    "check_maxsize",
    "check_repeat",
    "iter_stream",
    "name_failure",
]

log = logging.getLogger("webber")

#: items that may wait or run between two stages
DEFAULT_MAXSIZE = 16


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage: a task and how the item reaches it."""

    id: str
    name: str
    func: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: "first": the item is the first argument; "inputs": it replaces the
    #: Promise of ``parent`` in the arguments; "none": the stage does not take it
    feed: str = "first"
    parent: str = ""
    #: its task's settings: retries (with retry_on, delay and backoff) and
    #: timeout apply per item
    options: TaskOptions = field(default_factory=lambda: TaskOptions(""))

    @property
    def timeout(self) -> float | None:
        return self.options.timeout

    def job(self, item: int, attempt: int, value: Any) -> Job:
        if self.feed == "first":
            args, inputs = (value, *self.args), None
        elif self.feed == "inputs":
            args, inputs = self.args, {self.parent: value}
        else:
            args, inputs = self.args, None
        return Job(self.id, item, attempt, self.name, self.func, args, self.kwargs, inputs,
                   self.timeout)


def check_repeat(
    where: str, halt_condition: object, iterator: object, max_iter: object
) -> None:
    """Raise TaskDefinitionError naming ``where`` for a bad repeat setting."""
    if halt_condition is not None and not callable(halt_condition):
        raise TaskDefinitionError(
            f"{where}: halt_condition={halt_condition!r} is not callable; pass a function "
            f"of the root's output, e.g. halt_condition=lambda out: out is None"
        )
    if halt_condition is not None:
        try:
            check_call(halt_condition, (None,), {}, "halt_condition")
        except TaskDefinitionError as e:
            reason = str(e).rsplit(";", 1)[0].removeprefix("task 'halt_condition': ")
            raise TaskDefinitionError(
                f"{where}: halt_condition={halt_condition!r}: {reason}; it is called with the "
                f"root's output: halt_condition=lambda out: out is None"
            ) from None
    for what, value in (("iterator", iterator), ("max_iter", max_iter)):
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 0
        ):
            raise TaskDefinitionError(
                f"{where}: {what}={value!r} is not valid; it must be a whole number >= 0 "
                f"(0: the root does not run, as for a count of no items)"
            )
    if halt_condition is None and iterator is None and max_iter is None:
        raise TaskDefinitionError(
            f"{where}: the root would run forever; give it iterator=N (run N times), "
            f"or halt_condition=... with max_iter=N as a safety limit"
        )


def check_maxsize(where: str, maxsize: object) -> None:
    """Raise TaskDefinitionError naming ``where`` for a ``maxsize`` that is no
    whole number >= 1."""
    if not isinstance(maxsize, int) or isinstance(maxsize, bool) or maxsize < 1:
        raise TaskDefinitionError(
            f"{where}: maxsize={maxsize!r} is not valid; it must be a whole number >= 1 (how "
            f"many items may wait or run between two stages; the default is {DEFAULT_MAXSIZE})"
        )


def check_executor(executor: object) -> None:
    """Raise ExecutorError, saying what to pass, for what names no executor:
    a stream recorded in a flow is told at the call, not when the flow runs.
    Starts no executor."""
    from webber.executors import NAMES

    if executor is None or isinstance(executor, Executor) or (
        isinstance(executor, str) and executor in NAMES
    ):
        return
    resolve_executor(executor)  # type: ignore[arg-type]  # raises, naming the fix


def name_failure(error: BaseException, note: str) -> BaseException:
    """``error`` noted with which item and stage failed, and logged."""
    add_note(error, note)
    # (the logger's name says webber: a format showing it would say it twice)
    log.error("%s: %s: %s", note.removeprefix("webber: "), type(error).__name__,
              message_of(error))
    return error


def stage_executors(executor: str | Executor, count: int, local_root: bool) -> list[Executor]:
    """One executor per stage: a worker process or a thread of its own on
    "processes" and "threads"; otherwise one executor serves every stage.
    With ``local_root`` the first stage runs in this process (on its own
    thread, or inline): a repeating root keeps its state, and may read what
    only this process holds (a queue, a socket, an open file)."""
    from webber.executors import runs_here
    from webber.executors.threads import ThreadExecutor

    if isinstance(executor, str):
        executor = runs_here(executor)  # threads on Windows, with one warning
    if executor == "processes":
        from webber.executors.processes import DedicatedProcesses

        chosen: list[Executor] = [DedicatedProcesses() for _ in range(count)]
    elif executor == "threads":
        chosen = [ThreadExecutor(1) for _ in range(count)]
    else:
        chosen = [resolve_executor(executor)] * count
    if local_root and chosen[0].name != "inline":
        chosen[0] = ThreadExecutor(1)
    return chosen


def iter_stream(
    stages: Sequence[Stage],
    executor: str | Executor | None = None,
    *,
    items: Iterable[Any] | None = None,
    halt_condition: Callable[[Any], object] | None = None,
    iterations: int | None = None,
    maxsize: int = DEFAULT_MAXSIZE,
) -> Iterator[Any]:
    """Stream ``items`` (or, without them, the outputs of ``stages[0]`` called
    again and again) through ``stages``: the last stage's outputs, in order,
    each as soon as it is out (``list()`` of it, for a list).

    Without ``items`` the root stage runs until its output meets
    ``halt_condition`` (that output still flows on) or it ran ``iterations``
    times, whichever comes first. ``executor`` None: the configured default
    (``webber.config.executor``, ``WEBBER_EXECUTOR``, processes), as for a run.
    The items are read only as stage 0 takes them (an endless source
    is fine), and closing it (a ``break`` out of the loop over it) stops
    every stage. The stream's loop runs while the caller waits for the next
    output: a timeout is noticed then."""
    if executor is None:
        from webber._config import config

        executor = config.default_executor()
    check_maxsize("stream()", maxsize)
    if not stages:
        return iter(items if items is not None else ())
    _output.ensure_handler()
    return _outputs(_Stream(stages, executor, items, halt_condition, iterations, maxsize))


def _outputs(stream: _Stream) -> Iterator[Any]:
    with _output.redirected():
        try:
            yield from stream.each()
        except BaseException as error:
            if isinstance(error, KeyboardInterrupt):  # (its traceback ends in webber's loop)
                add_note(error, "webber: stream stopped by Ctrl-C; every stage was stopped")
            _let_go(error)
            raise


def _let_go(error: BaseException) -> None:
    """Clear the stream's frames in ``error``'s traceback, ended by now: the
    one that raised it held it, and each held the stream -- a reference cycle
    that kept the items in flight (and the error) until a full collection."""
    own = (__file__, _inbox.__file__)
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename in own:
            with contextlib.suppress(RuntimeError):  # (one still running: none should be)
                tb.tb_frame.clear()
        tb = tb.tb_next


class _Stream:
    def __init__(
        self,
        stages: Sequence[Stage],
        executor: str | Executor,
        items: Iterable[Any] | None,
        halt_condition: Callable[[Any], object] | None,
        iterations: int | None,
        maxsize: int,
    ) -> None:
        self.stages = list(stages)
        self.index = {stage.id: k for k, stage in enumerate(self.stages)}
        self.executors = stage_executors(executor, len(stages), local_root=items is None)
        self.source: Iterator[Any] | None = iter(items) if items is not None else None
        self.halt = halt_condition
        self.limit = math.inf if iterations is None else iterations
        self.maxsize = maxsize
        self.inbox = _inbox.Inbox()
        count = len(stages)
        #: stage -> item -> its Job in flight (or waiting for a retry)
        self.inflight: list[dict[int, Job]] = [{} for _ in range(count)]
        #: stage -> item -> its value, done there and not yet taken by the next stage
        self.ready: list[dict[int, Any]] = [{} for _ in range(count)]
        #: stage -> the next item it takes from the stage before
        self.taken = [0] * count
        self.produced = 0  # items the source gave (or root calls begun)
        self.exhausted = self.limit == 0
        #: the last stage's outputs, in order, not yet handed out; and how many were
        self.results: deque[Any] = deque()
        self.delivered = 0
        self.batch: dict[int, tuple[Executor, list[Job]]] = {}
        #: inline runs each job in this thread as it is submitted: one job a pass,
        #: and an output handed out before the next (else item 0 waited for a
        #: batch in every stage, and a lazy stream read items no one asked for)
        self.one_by_one = any(ex.name == "inline" for ex in self.executors)
        self.held_back = False  # (the last pass moved nothing: see _pump)
        #: the first item (in order) that failed for good, and its error: raised
        #: once the items before it are handed out; none after it moves on
        self.failure: tuple[int, BaseException] | None = None

    # -- the loop -------------------------------------------------------------------
    def each(self) -> Iterator[Any]:
        """The outputs, in order, as they come out; a failure is raised after
        the outputs of the items before it, every stage stopped."""
        started: list[Executor] = []
        holding = contextlib.ExitStack()  # each executor, held for this stream (in_use)
        finished = False
        failure: Exception | None = None
        try:
            for ex in self.executors:
                if not any(ex is s for s in started):
                    holding.enter_context(in_use(ex))  # (refused: not started, nor stopped)
                    ex.report_starts = False  # only jobs with a timeout need theirs
                    ex.start(self.inbox.put)
                    started.append(ex)
            self._pump()
            while True:
                while self.results:
                    yield self.results.popleft()
                if self.failure is not None and self.delivered >= self.failure[0]:
                    error, self.failure = self.failure[1], None  # (else a cycle: see _let_go)
                    raise error
                if self._done():
                    break
                if not self.held_back:  # (else nothing was submitted: none to wait for)
                    self.inbox.wait(self._started, self._finished)
                self._pump()
            finished = True
        except Exception as error:
            failure = error
        finally:  # (also when the caller stops early: GeneratorExit at the yield)
            with holding:
                for ex in started:
                    ex.stop(cancel=not finished)
        if failure is not None:
            self._deliver()
            yield from self.results
            self.results.clear()
            raise failure

    def _done(self) -> bool:
        return self.exhausted and not any(self.inflight) and not any(self.ready)

    # -- moving items on ------------------------------------------------------------------
    def _room(self, k: int) -> bool:
        return len(self.inflight[k]) + len(self.ready[k]) < self.maxsize

    def _pump(self) -> None:
        """Move every item that can move (downstream first, to free room), then
        submit the jobs of this pass together, per executor. Inline: one job a
        pass, none while an output waits to be handed out (see one_by_one)."""
        self._deliver()
        self.held_back = self.one_by_one and bool(self.results)
        if not self.held_back:
            self._move()
        batch, self.batch = self.batch, {}
        for ex, jobs in batch.values():
            ex.submit_many(jobs)

    def _move(self) -> None:
        budget = 1 if self.one_by_one else math.inf
        last = len(self.stages) - 1
        for k in range(last, 0, -1):
            ready = self.ready[k - 1]
            while budget and self._room(k) and self.taken[k] in ready and (
                self.failure is None or self.taken[k] < self.failure[0]
            ):
                item = self.taken[k]
                self.taken[k] += 1
                self._submit(k, self.stages[k].job(item, 1, ready.pop(item)))
                budget -= 1
        while budget and self._room(0) and not self.exhausted:
            if self.source is not None:
                try:
                    value = next(self.source)
                except StopIteration:
                    self.exhausted = True
                    break
                except Exception as e:
                    self._fail(self.produced, name_failure(
                        e, f"webber: the stream's items raised as item {self.produced} "
                           f"(counting from 0) was read; every stage was stopped",
                    ))
                    break
                self._submit(0, self.stages[0].job(self.produced, 1, value))
            else:
                if self.halt is not None and self.inflight[0]:
                    break  # whether to call the root again depends on this output
                self._submit(0, self.stages[0].job(self.produced, 1, None))
            budget -= 1
            self.produced += 1
            if self.produced >= self.limit:
                self.exhausted = True

    def _deliver(self) -> None:
        """The last stage's outputs that are next in order, to hand out."""
        outputs = self.ready[-1]
        while outputs and self.delivered in outputs:
            self.results.append(fetch(outputs.pop(self.delivered)))
            self.delivered += 1

    def _submit(self, k: int, job: Job) -> None:
        self.inflight[k][job.index] = job  # type: ignore[index]
        ex = self.executors[k]
        self.batch.setdefault(id(ex), (ex, []))[1].append(job)

    # -- outcomes -------------------------------------------------------------------
    def _current(self, job: Job | Column) -> tuple[int, Job] | None:
        k = self.index[job.node]
        current = self.inflight[k].get(job.index)  # type: ignore[arg-type]
        if current is None or current.attempt != job.attempt:
            return None  # a late outcome of an attempt that timed out
        return k, current

    def _started(self, message: Started) -> None:
        found = self._current(message.job)
        if found is None or found[1].timeout is None:
            return
        job = found[1]
        delay = job.timeout - (time.time() - message.at)  # type: ignore[operator]
        self.inbox.after(delay, lambda: self._time_out(job))

    def _time_out(self, job: Job) -> None:
        found = self._current(job)
        if found is None:
            return  # it finished in time
        self.executors[found[0]].abandon(job)
        self._failed(found[0], job, _timeout_error(job))

    def _finished(self, outcome: Outcome) -> None:
        found = self._current(outcome.job)
        if found is None:
            return
        k, job = found
        if ran_late(job, outcome.ok, outcome.value, outcome.duration):
            # (inline, which cannot cut a task short: it fails once it returns, as in a run)
            self._failed(k, job, _timeout_error(job))
            return
        if not outcome.ok:
            self._failed(k, job, outcome.value)
            return
        item = job.index
        assert item is not None
        del self.inflight[k][item]
        self.ready[k][item] = outcome.value
        if k == 0 and self.source is None and self.halt is not None:
            try:
                stop = self.halt(fetch(outcome.value))
            except Exception as e:
                raise name_failure(
                    e, f"webber: the halt_condition of stream stage {job.node!r} raised on the "
                       f"output of call {item}",
                ) from None
            if stop:
                self.exhausted = True

    def _failed(self, k: int, job: Job, error: BaseException) -> None:
        assert job.index is not None
        if self.failure is not None and job.index > self.failure[0]:
            del self.inflight[k][job.index]  # (it would never be handed out)
            return
        stage = self.stages[k]
        o = stage.options
        if job.attempt <= o.retries and o.retries_on(error, stage.id):
            delay = o.retry_delay * o.retry_backoff ** (job.attempt - 1)
            again = replace(job, attempt=job.attempt + 1)
            self.inflight[k][job.index] = again  # (holds its place)

            def retry() -> None:
                ex = self.executors[k]
                self.batch.setdefault(id(ex), (ex, []))[1].append(again)

            if delay > 0:
                self.inbox.after(delay, retry)
            else:
                retry()
            return
        attempts = f"{job.attempt} attempt{'s' * (job.attempt != 1)}"
        del self.inflight[k][job.index]
        self._fail(job.index, name_failure(
            error,
            f"webber: item {job.index} of the stream (counting from 0) failed in stage "
            f"{k + 1} of {len(self.stages)}, {stage.id!r}, after {attempts}",
        ))

    def _fail(self, item: int, error: BaseException) -> None:
        """Item ``item`` failed: no item is read any more, none after it moves
        on, and ``error`` is raised once the items before it are handed out
        (the outputs a loop over the items one by one had made)."""
        if self.failure is None or item < self.failure[0]:
            self.failure = (item, error)
        self.exhausted = True


def _timeout_error(job: Job) -> TaskTimeoutError:
    return TaskTimeoutError(
        f"task {job.node!r} timed out after {job.timeout:g} s on item {job.index} "
        f"(attempt {job.attempt}); raise its timeout=, or make it faster",
        job.node,
    )
