"""The engine: one event loop that owns a run from the first job to the Run.

State, all in the caller's thread (no locks; executors only enqueue)::

    waiting[n]   parents of n not yet final, kept from its first parent's end to its last
    seen[n]      what n's children see: success | failed | skipped
                 (skip_node counts as success, or failed with as_failure=True);
                 kept only for nodes with children that may read it
    running      job key -> the Job in flight (its attempt rejects late outcomes of timed-out
                 attempts); a chain's links (Job.links) from the start: never submitted again
    chains       head's key -> the links of a chain in flight; ends: its last
                 link's key -> the head's (a job that fails drops the links after it)
    linked       head's id -> the links of its chain as a chained Column (_chains:
                 no Job or entry in running per link), until the head is final
    inbox        the executors' messages, and timers: retry delays and timeouts
    fan_outs     n -> a fan-out's elements' results as they come (a Column when plain)
    session      run(cache=...)'s keys, hits and misses (_cache_session)
    limits       run(limits=...)'s slots per tag (_limits); a finished job hands its slot on
    column       plain tasks (_to_column) go in Columns when no cache, limit or listener
                 of each task is there (Hooks.columns): no Job or running entry, one pass

The loop blocks in its Inbox (``_inbox.py``) until outcomes arrive or a timer
is due: it never polls for work. A node is decided as soon as its own parents are
final (never level by level): it is skipped (skip_node, or an edge whose
condition its parent's outcome does not meet -- which then spreads by the
same rule) or submitted. Deciding runs from a work list, not recursion, so a
10,000-node chain of skips costs no stack.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from webber import _output
from webber._chains import drop_links, link_column, link_jobs
from webber._events import Hooks, Listener
from webber._fanout import FanOut, element_column, element_deps, items_of
from webber._gc import MANY, frozen
from webber._graph import TaskOptions
from webber._inbox import Inbox
from webber._limits import Limits
from webber._plan import Plan, PlanNode
from webber._run import Attempt, Recorder, Run, State
from webber._verdicts import holds, log_failure, log_retry, ran_late, tell_final, timeout_error
from webber.executors import _base
from webber.executors._base import Column, ColumnOutcomes, Executor, Job, Outcome, Outcomes, Started
from webber.executors._pickling import plain
from webber.executors._sendable import ONE_SHOT, one_shot_error

if TYPE_CHECKING:  # (run(cache=...) alone makes one: its imports cost a first run ~10 ms)
    from webber._cache_session import CacheSession

__all__ = ["run_plan"]

SUCCESS: State = "success"
FAILED: State = "failed"
SKIPPED: State = "skipped"


@dataclass(slots=True)
class _Engine:
    plan: Plan
    executor: Executor
    #: the progress bar and the user's listeners (the run record is ``record``)
    listeners: list[Listener]
    inbox: Inbox = field(default_factory=Inbox)
    waiting: dict[str, int] = field(default_factory=dict)
    seen: dict[str, State] = field(default_factory=dict)
    states: dict[str, State] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    running: dict[tuple[str, int | None], Job] = field(default_factory=dict)
    #: when, and on which worker, each running attempt started
    began: dict[tuple[str, int | None], tuple[float, str]] = field(default_factory=dict)
    chains: dict[tuple[str, int | None], tuple[Job, ...]] = field(default_factory=dict)
    linked: dict[str, Column] = field(default_factory=dict)
    ends: dict[tuple[str, int | None], tuple[str, int | None]] = field(default_factory=dict)
    fan_outs: dict[str, FanOut] = field(default_factory=dict)
    decide: deque[str] = field(default_factory=deque)
    batch: list[Job | Column] | None = None  # jobs of the current decision pass
    #: whether plain tasks go as columns (see _to_column); the pass's, and its options
    columns: bool = False
    column: Column | None = None
    options: TaskOptions | None = None
    record: Recorder = field(default_factory=Recorder)
    #: node id -> its attempts' rows, for on_task_end (kept only when a listener wants it)
    tried: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    #: the listeners (the run record aside: the engine calls it directly)
    hooks: Hooks = field(default_factory=lambda: Hooks(()))
    #: node id -> value taken from an earlier run instead of running the node
    reuse: dict[str, Any] = field(default_factory=dict)
    session: CacheSession | None = None
    limits: Limits = field(default_factory=lambda: Limits(None))
    #: log a failed task's traceback with its failure (``execute(print_exc=False)``: not)
    tracebacks: bool = True
    #: log each retry (``execute(verbose=False)``: not; failures are logged anyway)
    verbose: bool = True

    def run(self) -> Run:
        started, t0 = time.time(), time.perf_counter()
        nodes = self.plan.nodes
        self.hooks = Hooks(self.listeners)
        self.hooks.emit("on_run_start", self.plan)
        # Starts only matter to timeouts (always sent for those) and to listeners.
        self.executor.report_starts = bool(self.hooks.on_task_start or self.hooks.on_batch)
        held = self.executor.held_starts if self.executor.report_starts else None
        self.columns = (self.executor.columns and self.hooks.columns and self.session is None
                        and not self.limits.caps)
        report = self.inbox.report(self._started, held)
        finished = False
        try:  # (a Ctrl-C inside start too: stop undoes what of it was done)
            self.executor.start(self.session.staging(report, self.states) if self.session
                                else report)
            self.decide.extend(n for n, node in nodes.items() if not node.parents)
            self._decide_all()
            while len(self.states) < len(nodes):
                self._wait()
            if self.session is not None:
                self.session.flush(self.states)
            finished = True
        except BaseException:  # (Ctrl-C) the bar and the page show where the run stopped
            if self.session is not None:
                self.session.salvage(self.states)  # before a cluster of its own closes
            if self.hooks.on_batch:
                self.hooks.batch(self.record.rows, self.states, self.record.columns)
            raise
        finally:
            self.executor.stop(cancel=not finished)
            if self.session is not None:
                self.session.discard()  # what was staged and not stored (see _cache_session)
        return self._result(started, time.perf_counter() - t0)

    # -- waiting ------------------------------------------------------------------
    def _wait(self) -> None:
        """Tell on_batch what the last pass did (the first one's starts too), then
        handle what arrives (and due timers), then decide once."""
        if self.hooks.on_batch:
            self.hooks.batch(self.record.rows, self.states, self.record.columns)
        self.inbox.wait(self._started, self._finish_one, self._finish_many)
        self._decide_all()

    # -- deciding: skip, or submit --------------------------------------------------
    def _decide_all(self) -> None:
        """Decide every node whose parents are final; submit the jobs in one go."""
        self.batch = []
        if len(self.decide) < MANY:
            self._decide_each()
        else:  # (a wide flow's roots) see _gc.frozen.adding
            with frozen.adding():
                self._decide_each()
        batch, self.batch, self.column = self.batch, None, None
        if batch:
            self.executor.submit_many(batch)

    def _decide_each(self) -> None:
        decide, states, running = self.decide, self.states, self.running
        nodes, reuse = self.plan.nodes, self.reuse
        while decide:
            n = decide.popleft()
            if n in states or (n, None) in running:
                continue  # already taken care of: final, or in flight
            node = nodes[n]
            if n in reuse:
                self._final(n, SUCCESS, reuse[n], SUCCESS)
            elif node.node.skip:
                self._final(n, SKIPPED, None, FAILED if node.node.skip_as_failure else SUCCESS)
            elif node.parents and not all(holds(c, self.seen[u]) for u, c in node.parents.items()):
                self._final(n, SKIPPED, None, SKIPPED)
            elif self.session is not None and (hit := self.session.load(node, self.states))[0]:
                self._final(n, SUCCESS, hit[1], SUCCESS)  # loaded from the store
            elif node.node.fan_out:
                self._fan_out(node)
            elif not (self.columns and self._to_column(node)):
                self._submit(node, None, 1)

    def _to_column(self, node: PlanNode) -> bool:
        """Submit ``node`` in the pass's column (no Job made: see Column) if it is plain:
        plain positional arguments alone, no input, chain or timeout. Else False."""
        args, record, column = node.args, node.node, self.column
        if node.deps or node.kwargs or node.next_link is not None or (args and not plain((args,))):
            return False
        options = record.options
        if column is None or column.func is not record.func or self.options is not options:
            if options.timeout is not None:
                return False
            column = self.column = Column(record.func, options.name, [], [])
            self.options = options  # (the next node's are most often the same object)
            assert self.batch is not None
            self.batch.append(column)
        column.nodes.append(record.id)
        column.args.append(args)
        if node.children:
            column.leaves = False
        return True

    # -- submitting ---------------------------------------------------------------------
    def _submit(self, node: PlanNode, index: int | None, attempt: int) -> None:
        if self.limits.caps and not self.limits.acquire(node.options.limit, (node, index, attempt)):
            return  # submitted when a job of its tag hands its slot on
        record, args, kwargs, deps = node.node, node.args, node.kwargs, node.deps
        if index is not None:
            fan_out = self.fan_outs[record.id]
            args, kwargs = fan_out.arguments(node, index)
            deps = fan_out.deps
        links: tuple[Job, ...] = ()
        chain = None
        if index is None and node.next_link is not None:
            nodes = self.plan.nodes
            chain = link_column(nodes, node) if self.columns else None
            if chain is None:
                links = link_jobs(nodes, node, self.limits, self.session)
            else:
                self.linked[record.id] = chain
        options = record.options
        job = Job(
            record.id, index, attempt, options.name, record.func, args, kwargs,
            # a failed parent's value is its exception; a skipped one's is None
            {u: self.values.get(u) for u in deps} if deps else None,
            options.timeout, links, chain,
        )
        self.running[(record.id, index)] = job
        if links:
            self.chains[record.id, None] = links
            self.ends[links[-1].node, None] = (record.id, None)
            running = self.running
            for link in links:
                running[link.node, None] = link
        if self.batch is not None:
            self.batch.append(job)  # submitted at the end of the decision pass
        else:
            self.executor.submit(job)

    def _fan_out(self, node: PlanNode) -> None:
        items = items_of(node, self.values)
        if isinstance(items, TypeError):
            self._record(node.id, None, 1, False, items, time.time(), 0.0, "engine")
            self._final(node.id, FAILED, items, FAILED)
        elif not items:
            self._final(node.id, SUCCESS, [], SUCCESS)
        else:
            fan = self.fan_outs[node.id] = FanOut(items, len(items), deps=element_deps(node))
            column = element_column(node, fan) if self.columns else None
            if column is None:
                for index in range(len(items)):
                    self._submit(node, index, 1)
            else:
                assert self.batch is not None  # (deciding: see _decide_each)
                self.batch.append(column)
                self.column = None  # (the pass's next plain tasks: a column after it)

    # -- outcomes ---------------------------------------------------------------------
    def _started(self, message: Started) -> None:
        if message.job.__class__ is Column:  # its worker got to it: its first task runs
            if self.hooks.on_batch and message.job.node not in self.states:  # (not over yet)
                self.hooks.started.append((message.job.node, 1, message.job.element,
                                           message.worker, message.at))
            return
        # The engine's own Job for this attempt, if it is not over: compared
        # by key and attempt, not identity (executors may copy jobs).
        job = self.running.get((message.job.node, message.job.index))
        if job is None or job.attempt != message.job.attempt:
            return
        again = (job.node, job.index) in self.began  # (its worker died before it began it)
        self.began[job.node, job.index] = (message.at, message.worker)
        if job.timeout is not None and not again:
            # Count from the start the executor saw, not from now (the queue may lag).
            delay = job.timeout - (time.time() - message.at)
            self.inbox.after(delay, lambda: self._time_out(job))
        if self.hooks.on_task_start and not again:
            self.hooks.task_start(job.node, job.attempt, job.index, message.worker)
        if self.hooks.on_batch:
            self.hooks.started.append((job.node, job.attempt, job.index, message.worker,
                                       message.at))

    def _finish_one(self, o: Outcome) -> None:  # (a column's come as ColumnOutcomes)
        self._finish_attempt(o.job, o.ok, o.value, o.started, o.duration, o.worker)

    def _finish_many(self, done: Outcomes | ColumnOutcomes) -> None:
        if isinstance(done, ColumnOutcomes):
            self._finish_column(done)
            return
        ok, value, started, duration = done.at
        worker, finish = done.worker, self._finish_attempt
        for job, row in zip(done.jobs, done.rows, strict=True):
            finish(job, row[ok], row[value], row[started], row[duration], worker)

    def _finish_column(self, done: ColumnOutcomes) -> None:
        """The ends of tasks of a column: in one pass when they all succeeded."""
        column, first, oks, worker = done.column, done.first, done.oks, done.worker
        if self.hooks.on_batch and (not column.chained or (column.stop is None and all(oks))):
            # (its next task runs now)
            self.hooks.column_on(column, first + len(oks), worker,
                                 done.starts[-1] + done.durations[-1])
        if column.chained:
            self._finish_links(done)
            return
        nodes = column.nodes[first:first + len(oks)]
        if not all(oks):  # each as a Job's (the rare path)
            for k, (ok, value) in enumerate(zip(oks, done.values, strict=True)):
                job = column.job(first + k)
                self.running[job.key] = job
                self._finish_attempt(job, ok, value, done.starts[k], done.durations[k], worker)
            return
        if column.element is not None:  # a fan-out's elements
            n, index = column.nodes[0], column.element + first
            self.record.elements(n, index, done.starts, done.durations, worker)
            if self.fan_outs[n].succeeded_from(index, done.values):
                self._fan_out_done(n)
            return
        self.record.column(nodes, done.starts, done.durations, worker)
        if column.leaves:
            self.states.update(dict.fromkeys(nodes, SUCCESS))
            self.values.update(zip(nodes, done.values, strict=True))
        else:  # (their children to decide)
            for n, value in zip(nodes, done.values, strict=True):
                self._final(n, SUCCESS, value, SUCCESS)

    def _finish_links(self, done: ColumnOutcomes) -> None:
        """The ends of links of a chain (a chained column): those that succeeded
        in one pass (each link's one child is the next: none to decide but the
        last's), then the first that failed as a Job's; the rest were dropped."""
        column, first, oks, values = done.column, done.first, done.oks, done.values
        count = len(oks) if column.stop is None else min(len(oks), column.stop - first)
        good = count if all(oks) else min(count, list(oks).index(False))
        if good > 0:
            nodes = column.nodes[first:first + good]
            self.record.column(nodes, done.starts[:good], done.durations[:good], done.worker)
            self.states.update(dict.fromkeys(nodes, SUCCESS))
            self.values.update(zip(nodes, values[:good], strict=True))
            if first + good == len(column.nodes):  # the chain's end: its children now
                self._final(nodes[-1], SUCCESS, values[good - 1], SUCCESS)
        if good < count:
            column.stop = k = first + good
            job = self.running[column.nodes[k], None] = column.job(k)
            self._finish_attempt(job, False, values[good], done.starts[good],
                                 done.durations[good], done.worker)

    def _finish_attempt(self, sent: Job, ok: bool, value: Any, started: float,
                        duration: float, worker: str) -> None:
        key = (sent.node, sent.index)  # (as in _started)
        job = self.running.pop(key, None)
        if job is None or job.attempt != sent.attempt:
            if job is not None:
                self.running[key] = job  # a late outcome of an attempt that timed out
            return
        if (not self.began or self.began.pop(key, None) is None) and self.hooks.on_task_start:
            # (started and ended between two looks of the executor: its start comes with its end)
            self.hooks.task_start(job.node, job.attempt, job.index, worker)
        if self.limits.caps:
            self._release(job)
        if self.ends:  # a chain in flight: over when its last link is
            head = self.ends.pop(key, None)
            if head is not None:
                del self.chains[head]
        if ran_late(job, ok, value, duration):  # (inline only)
            ok, value = False, timeout_error(job)
        elif ok and value.__class__ in ONE_SHOT and len(self.plan.nodes[job.node].children) > 1:
            ok, value = False, one_shot_error(job.node, value)
        self._record(job.node, job.index, job.attempt, ok, value, started, duration, worker)
        if not ok:
            if self.chains:
                drop_links(self.chains, self.ends, self.running, job)
            if self.linked and (chain := self.linked.pop(job.node, None)) is not None:
                chain.stop = 0  # the executor ran none of its links, or none counts
            self._attempt_failed(job, value)
        elif job.index is None and self.session is None:
            self._final(job.node, SUCCESS, value, SUCCESS)  # (_succeeded's common case)
        else:
            self._succeeded(job, value)

    def _time_out(self, job: Job) -> None:
        if self.running.get(job.key) is not job:
            return  # finished in time
        del self.running[job.key]
        self.executor.abandon(job)
        if self.limits.caps:
            self._release(job)
        error = timeout_error(job)
        began, worker = self.began.pop(job.key, (time.time(), ""))
        self._record(job.node, job.index, job.attempt, False, error, began,
                     time.time() - began, worker)
        self._attempt_failed(job, error)

    def _release(self, job: Job) -> None:
        """Hand the slot of ``job``'s concurrency tag to the next job waiting."""
        waiting = self.limits.release(self.plan.nodes[job.node].options.limit)
        if waiting is not None:
            self._submit(*waiting)

    def _succeeded(self, job: Job, value: Any) -> None:
        if job.index is None:
            if self.session is not None:
                self.session.keep(job.node, value, self.states, job.attempt)
            self._final(job.node, SUCCESS, value, SUCCESS)
            return
        if self.fan_outs[job.node].succeeded(job.index, value):
            self._fan_out_done(job.node)

    def _attempt_failed(self, job: Job, error: BaseException) -> None:
        node = self.plan.nodes[job.node]
        options = node.options
        if job.attempt <= options.retries and options.retries_on(error, node.id):
            delay = options.retry_delay * options.retry_backoff ** (job.attempt - 1)
            if self.verbose:
                log_retry(node, job, error, delay)

            def retry() -> None:
                self._submit(node, job.index, job.attempt + 1)

            if delay > 0:
                self.inbox.after(delay, retry)
            else:
                retry()
            return
        fan = self.fan_outs.get(job.node) if job.index is not None else None
        log_failure(node, job, error, self.tracebacks, 0 if fan is None else fan.failures)
        if job.index is None:
            self._final(job.node, FAILED, error, FAILED)
            return
        if self.fan_outs[job.node].failed(node, job.index, job.attempt, error):
            self._fan_out_done(job.node)

    def _fan_out_done(self, n: str) -> None:
        fan = self.fan_outs.pop(n)
        if fan.error is None:
            if self.session is not None and not fan.failures:  # (a failed element runs again)
                self.session.keep(n, fan.results, self.states)
            self._final(n, SUCCESS, fan.results, SUCCESS)
        else:
            self._final(n, FAILED, fan.error, FAILED)

    def _record(self, n: str, index: int | None, number: int, ok: bool, value: Any,
                started: float, duration: float, worker: str) -> None:
        row = self.record.attempt(n, number, index, ok, value, started, duration, worker)
        if self.hooks.attempts:
            if self.hooks.on_task_end:
                self.tried.setdefault(n, []).append(row)
            if self.hooks.on_attempt_end:
                self.hooks.attempt_end(Attempt(*row))

    def _final(self, n: str, state: State, value: Any, seen: State) -> None:
        self.states[n] = state
        self.values[n] = value
        if self.hooks.finals:
            hit = self.session is not None and n in self.session.hits
            tell_final(self.hooks, n, state, value, self.tried.pop(n, None), hit)
        if self.linked and self.linked.pop(n, None) is not None:
            return  # its one child, its chain's first link, runs already (Job.chain)
        nodes = self.plan.nodes
        children = nodes[n].children
        waiting, running = self.waiting, self.running
        for child in children:
            if (child, None) in running:
                continue  # in flight (a chain's link, a retry): its outcome decides it
            self.seen[n] = seen
            left = waiting.pop(child, None)
            if left is None:  # its first parent to be final
                left = len(nodes[child].parents)
            if left > 1:
                waiting[child] = left - 1
            else:
                self.decide.append(child)

    def _result(self, started: float, duration: float) -> Run:
        hits = list(self.session.hits) if self.session is not None else []
        run = self.record.run(
            self.plan, self.states, self.values, started, duration, [*self.reuse, *hits],
            hits, self.session.stats() if self.session is not None else None,
        )
        if self.hooks.on_batch:
            self.hooks.batch(self.record.rows, self.states, self.record.columns)
        self.hooks.emit("on_run_end", run)
        return run


def run_plan(plan: Plan, executor: Executor, *, listeners: Sequence[Listener] = (),
             reuse: Mapping[str, Any] | None = None, session: CacheSession | None = None,
             limits: Mapping[str, int] | None = None, tracebacks: bool = True,
             verbose: bool = True) -> Run:
    """Run ``plan`` on ``executor`` (started and stopped here); return the Run.

    ``reuse`` maps node ids to values of an earlier run: those nodes count as
    succeeded with that value and do not run (``run(resume=...)``).
    ``tracebacks=False`` logs failures without their traceback, ``verbose=False``
    leaves retries unlogged (0.4.0's ``print_exc`` and ``verbose``). ``session``
    loads and stores results (``run(cache=...)``); ``limits`` caps how many
    jobs of a concurrency tag run at once (``run(limits=...)``).
    """
    _output.ensure_handler()
    # (refused before the run begins: another run or stream has the executor)
    with _base.in_use(executor), _output.redirected(), _output.this_run(), \
            frozen.running(len(plan)):
        return _Engine(
            plan, executor, list(listeners), record=Recorder(), reuse=dict(reuse or {}),
            tracebacks=tracebacks, verbose=verbose, session=session, limits=Limits(limits, plan),
        ).run()
