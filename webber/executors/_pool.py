"""The pool behind the process executor: workers, their pipes, dispatch and faults.

Data flow (one pool per Python process, shared by every run on it)::

    engine thread                     pool                      worker processes
    submit(job, --> the Session's --> _dispatch(): batches small --fd_in--> run the batch,
      Column)       pending deque     jobs of one run to an idle            one job at a time
                    (a Column is      worker (a busy one gets its
                    split to fit)     next: _prefetch), bigger while
                                      they prove tiny (Session.pace);
                                      _sending packs them, functions once
    engine queue <-- report(Outcomes, <- receiver thread <--fd_out-- "out" lines, "done" results
                     ColumnOutcomes)    (waits on every worker's pipe
                                         and its death: never polls;
                                         _answers matches the answers)

Workers are fresh interpreters (no ``fork()`` of this process, so threads holding locks here
cannot deadlock a child, and the caller's ``__main__`` is never re-imported), at most
``BOOTING`` at a time and the next ``GROW_AFTER`` s after one is up, so that workers coming up
on few cores do not slow down the first jobs. How one is started, talked to, watched and killed
is ``_spawn.py``'s: pipes and process groups on POSIX, or the portable path (sockets, psutil;
``WEBBER_POOL=portable``). One lock guards everything the pool knows; the receiver thread
(``_receiver.py``) is the only reader of the workers' pipes.

Faults: a worker that dies (exit code or signal) fails only the job it was
running (:class:`~webber.WorkerCrashedError`), none if it died before it read
that job's batch (its ledger says which it began); the results it had not sent
are read back from its ledger (``_ledger.py``), and the jobs queued behind
it go back to the front of the queue without spending a retry. A timeout
kills the worker's process tree (SIGTERM, then SIGKILL after ``GRACE``
seconds). Ctrl-C in the caller kills the pool; a run called off otherwise (an error in
its engine, its ``arun`` cancelled) kills only the workers busy with its jobs
(:meth:`Pool.cancel`). If the caller dies, every worker sees its lifeline close and kills
its own tree.

Runs share the pool, each within its own limit: a run (a :class:`Session`)
never has more than ``limit`` workers busy with its jobs, and the pool grows
to the largest limit among the runs under way (idle workers beyond it are
stopped). Runs with work waiting take turns at each free worker. A worker
is recycled (stopped when idle) once it has run a run's ``max_tasks`` tasks
(earlier runs' count), or when its RSS after a task passed its ``memory_limit``.

After ``os.fork()`` the child must not touch this pool: :meth:`Pool.forget`
closes the child's copies of its pipes and nothing else.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pickle
import threading
from collections.abc import Sequence
from typing import Any

from webber._errors import PoolClosedError
from webber._gc import MANY, frozen
from webber.executors import _caller, _shm, _spawn
from webber.executors._answers import (
    Span,
    crashed_node,
    deliver,
    match,
    report_crash,
    requeue,
    unanswered,
    waiting,
)
from webber.executors._base import Column, Job, Started
from webber.executors._frames import send_frame
from webber.executors._interrupts import held
from webber.executors._ledger import began, hold, recover, release
from webber.executors._pickling import forget_told
from webber.executors._process import Proc, crash_error, reap, spawn
from webber.executors._receiver import receive
from webber.executors._sending import send_batch, take, took
from webber.executors._session import LONG, MAX_BATCH, Session, announce, near, worn
from webber.executors._shm import remove_segments, remove_segments_of

__all__ = ["BOOTING", "GRACE", "GROW_AFTER", "MAX_BATCH", "Pool", "STRIKES", "Session"]

#: seconds between SIGTERM and SIGKILL when a task times out
GRACE = 1.0
#: most workers starting at once: one core stays with the caller, so workers
#: coming up do not slow each other (or the first tasks) down on few cores
BOOTING = max(1, (os.cpu_count() or 1) - 1)
#: seconds after a worker is up before the next one starts (see Pool.ready)
GROW_AFTER = 0.01
#: workers dying in a row before they read their batch after which its first
#: job is blamed all the same (a broken environment must not loop for ever)
STRIKES = 3


class Pool:
    def __init__(self, size: int, depth: int = 1) -> None:
        #: most workers: the largest limit among the runs under way (or of the last run)
        self.size = size
        #: jobs a worker may hold at once: 1 shares the queue among the workers
        #: as they free up; more keeps one worker fed, no round trip between
        #: batches (a streaming stage's own worker)
        self.depth = depth
        self.lock = threading.RLock()
        self.procs: list[Proc] = []
        #: each worker's ledger, open for reading if it dies (see _ledger)
        self.ledgers: dict[Proc, int] = {}
        #: workers started that are not up yet (importing)
        self.booting: set[Proc] = set()
        #: workers stopped, whose told classes the receiver forgets once it read their last results
        self.left: list[Proc] = []
        #: the runs under way, in the order they take turns at a free worker
        self.sessions: list[Session] = []
        self.tags = itertools.count()
        self.fids = itertools.count()
        #: a task name -> about how long its tasks took, the last ones (see _dispatch)
        self.seconds: dict[str, float] = {}
        self.closed = False
        #: workers that died before they read their batch, in a row (see _blamed)
        self.strikes = 0
        #: whether a change to the pool was cut short (see submit): only shutdown is safe
        self.torn = False
        self.posix = _spawn.mode() == "posix"
        self.waker = _spawn.Waker()
        self.thread = threading.Thread(target=receive, args=(self,), name="webber-pool",
                                       daemon=True)
        self.thread.start()

    # -- workers -------------------------------------------------------------------
    def _spawn(self) -> Proc:
        # A run inside the worker defaults to its share of the cores (see _worker).
        share = max(1, (os.cpu_count() or 1) // max(1, self.size))
        # Whole before a Ctrl-C: the worker in procs (shutdown reaches it) and
        # watched by the receiver (else a run would wait for it for ever).
        with held():
            proc = spawn(_shm.directory(), share, self.posix)
            self.procs.append(proc)
            self.booting.add(proc)
            self.waker.wake()
        return proc

    def warm(self) -> None:
        """Start a worker if there is none, before any job (see ProcessExecutor._prepare)."""
        with self.lock:
            if not (self.procs or self.closed):
                # Only a head start: if it fails (the portable path's worker
                # killed before it connected, no fds), a job starts one.
                with contextlib.suppress(OSError):
                    self._spawn()

    def _close(self, proc: Proc, kill: bool = True) -> None:
        """Forget ``proc``; kill its tree first when ``kill``."""
        if proc in self.procs:
            self.procs.remove(proc)
        self.booting.discard(proc)
        proc.close(kill)

    # -- sending -------------------------------------------------------------------
    def begin(self, session: Session) -> None:
        """A run starts: the pool grows to its limit if that is the largest."""
        with self.lock:
            self.sessions.append(session)
            self.size = max(s.limit for s in self.sessions)

    def submit(self, jobs: Sequence[Job | Column], session: Session) -> None:
        with self.lock:
            if self.closed:
                raise PoolClosedError()
            try:
                session.pending.extend(jobs)
                session.extra += sum(len(c.nodes) - 1 for c in jobs if c.__class__ is Column)
                self._dispatch()
            except BaseException:
                # (Ctrl-C lands anywhere in the main thread: a batch of any run may be
                # half sent, taken off its queue and in no worker's; see cancel)
                self.torn = True
                raise

    def _busy(self, session: Session) -> int:
        """How many workers run ``session``'s jobs (a worker serves one run at a time)."""
        return sum(
            1 for p in self.procs
            if len(p.inflight) >= self.depth and p.inflight[0].session is session
        )

    def _next_session(self) -> Session | None:
        """The next run, in turn, with jobs waiting and a worker to spare under its limit."""
        for i, session in enumerate(self.sessions):
            if session.pending and self._busy(session) < session.limit:
                self.sessions.append(self.sessions.pop(i))  # the others go first next time
                return session
        return None

    def _dispatch(self) -> None:
        if self.closed:  # (results read as it shut down: a worker now would be nobody's)
            return
        while (session := self._next_session()) is not None:
            idle = self._takers(session)
            if not idle:
                if len(self.procs) >= self.size or len(self.booting) >= BOOTING:
                    return  # (a worker coming up dispatches again)
                try:
                    idle = [self._spawn()]
                except OSError:  # (the portable path's worker dead before it connected)
                    if not self.procs:
                        raise  # nobody to run them: the run fails with it
                    return  # the workers there take the jobs; a later dispatch tries again
            pending = session.pending
            proc = near(pending[0], session, idle)
            # Share the run's queue among the workers it may use now (an async batch runs at once)
            free = min(session.limit - self._busy(session), len(idle) + self.size - len(self.procs))
            queued = len(pending) + session.extra
            want = max(1, min(session.batch, -(-queued // max(1, free))))
            if session.max_tasks is not None:  # no more than it may still run
                want = max(1, min(want, session.max_tasks - proc.tasks))
            if session.memory_limit is not None:
                want = 1  # its memory is measured after each job: none may follow blindly
            # Tasks of a name that took long go one at a time, each to the first
            # worker free (not shared out up front, to wait behind a slow one).
            self._send(proc, session, take(session, want, self.seconds))
            self._prefetch(proc)
        surplus = len(self.procs) - self.size
        for proc in [p for p in self.procs if not p.inflight][: max(0, surplus)]:
            self._stop(proc)  # the pool was resized down

    def _prefetch(self, proc: Proc) -> None:
        """A second full batch behind the one ``proc`` runs, while its run has
        many small jobs queued (or a second task, of tasks that take long) and
        no other run waits: the worker goes on without waiting for the round
        trip (recycling and timeouts need a worker that comes back idle, so
        not for those)."""
        if not proc.inflight or proc not in self.procs:
            return
        head = proc.inflight[0]
        session, pending, size = head.session, head.session.pending, head.session.batch
        if not (pending and head.job.timeout is None and pending[0].timeout is None
                and session.max_tasks is None and session.memory_limit is None
                and not any(s.pending for s in self.sessions if s is not session)):
            return
        seconds = self.seconds
        if (len(proc.inflight) <= size and unanswered(proc.inflight, size) <= size
                and len(pending) + session.extra >= 2 * size * len(self.procs)):
            self._send(proc, session, take(session, size, seconds))
        elif (len(proc.inflight) == 1 and seconds.get(pending[0].name, 0) >= LONG
              and len(self.procs) >= self.size and all(p.inflight for p in self.procs)):
            # Tasks that take long go one at a time: one more, to start as this
            # one ends, once every worker has one (a worker that is slow holds
            # back one, no more; an idle one, or one to come, takes it first).
            self._send(proc, session, take(session, 1, seconds))

    def _send(self, proc: Proc, session: Session, batch: list[Job | Column]) -> None:
        _caller.tell(proc, session.context)
        with frozen.adding(len(batch) >= MANY):  # (what it makes: a wide flow's Sents; see _gc)
            send_batch(proc, session, batch, self.tags, self.fids)

    def _stop(self, proc: Proc) -> None:
        """Stop idle ``proc``. What it left in shared memory goes once the receiver
        thread is past its last results (they may be read just now: see _receiver)."""
        with held():  # (out of procs, it must be reaped and gone: nothing else would)
            proc.note_tree()
            with contextlib.suppress(OSError):
                send_frame(proc.conn_in, pickle.dumps(("stop",)))
            self._close(proc, kill=False)
            reap(proc)
            proc.signal_tree()  # what its tasks left running (a group outlives its leader)
            self._gone(proc)

    def _gone(self, proc: Proc) -> None:
        """Forget ``proc``, closed and reaped; the receiver thread removes its
        segments once it is past its last results."""
        self.left.append(proc)
        self.waker.wake()
        release(self.ledgers.pop(proc, None))
        for session in self.sessions:
            session.where = {n: p for n, p in session.where.items() if p is not proc}

    def _takers(self, session: Session) -> list[Proc]:
        """Workers that may take ``session``'s jobs (idle ones its limits wore out: replaced)."""
        if session.max_tasks is not None or session.memory_limit is not None:
            for proc in [p for p in self.procs if not p.inflight and worn(p, session)]:
                self._stop(proc)
        return [p for p in self.procs
                if len(p.inflight) < self.depth and not worn(p, session)]

    # -- receiving -----------------------------------------------------------------
    def finished(self, proc: Proc, results: list[tuple[Any, ...]]) -> None:
        if results:
            with self.lock:
                tasks = self._settle(proc, results)
            deliver(proc.name, tasks, results)

    def _settle(self, proc: Proc, results: list[tuple[Any, ...]]) -> list[Span]:
        """Take ``results`` off ``proc``'s queue (under the lock); feed it anew when
        empty. Returns the tasks of the results, in their order (see _answers)."""
        spans = match(proc, results)
        proc.tasks += len(results)
        self.strikes = 0  # a worker answers: workers do not all die before their first job
        proc.rss = results[-1][7]
        last = spans[-1][0].session
        last.pace(results)
        # How long tasks of a name take, from the first and last answered (not
        # a look per task: a long one is rarely answered among many others).
        took(self.seconds, spans[0][0].job.name, results[spans[0][2] - 1][5])
        if len(spans) > 1:
            took(self.seconds, spans[-1][0].job.name, results[-1][5])
        if proc.inflight:
            announce(proc.inflight[0], proc)
            self._prefetch(proc)
        else:
            if proc in self.procs and worn(proc, last):
                self._stop(proc)  # recycled: a fresh one replaces it on demand
            self._dispatch()
        return spans

    def lost(self, proc: Proc) -> None:
        """``proc`` died: fail the job it ran, requeue the rest, replace it."""
        with self.lock:
            if proc not in self.procs:
                return
            self._close(proc)
            code = reap(proc)
            # What it finished but had not sent: those jobs succeeded (or failed) on their own.
            kept = recover(self.ledgers.get(proc), waiting(proc.inflight))
            if kept:  # delivered now: its segments go once the receiver is past them (_gone)
                deliver(proc.name, self._settle(proc, kept), kept)
            tasks = list(proc.inflight)
            blamed = bool(tasks) and self._blamed(proc)
            self._gone(proc)
            for task in tasks:
                remove_segments(task.segments)
            if tasks:  # the first task crashed (if blamed); the others never started
                requeue(tasks, blamed)
            if self.closed:
                return
            had = min(self.size, len(self.procs) + 1)
            self._dispatch()
            if len(self.procs) < had and proc.up:
                # Replace it now, not at the next run's first task: the pool
                # keeps its size (and the next run its warm start). If that
                # fails (no fds, no memory), the next task spawns one instead.
                # Not one that died as it started: where each does (a broken
                # environment), replacing it at once would start them for ever.
                with contextlib.suppress(OSError):
                    self._spawn()
        if blamed and not tasks[0].abandoned:
            task = tasks[0]
            error = crash_error(crashed_node(task), proc.pid, code, task.session.memory_limit,
                                self.strikes)
            report_crash(task, error, proc.name)

    def _blamed(self, proc: Proc) -> bool:
        """Whether dead ``proc``'s first unanswered job is to blame: it may have
        run it. Not if it died before it read that job's batch (as it started,
        or killed between batches): then every job of it goes again, unless
        workers kept dying so, STRIKES in a row (no worker will run them)."""
        if proc.up and began(self.ledgers.get(proc), waiting(proc.inflight)[0]):
            self.strikes = 0  # (this one got to a job: they do not all die as they start)
            return True
        self.strikes += 1
        return self.strikes > STRIKES

    def ready(self, proc: Proc, ledger: str | None) -> None:
        """``proc`` is up: hold its ledger open, the name gone (read if it dies,
        see _ledger); the next worker may start. Not at once: if its first
        jobs are small it may take the rest itself (a short first run on few
        cores is faster on one worker than while another one starts)."""
        with self.lock:
            fd = hold(ledger) if ledger is not None else None
            if fd is not None:
                self.ledgers[proc] = fd
            self.booting.discard(proc)
            proc.up = True
            if proc.inflight:
                announce(proc.inflight[0], proc)
        timer = threading.Timer(GROW_AFTER, self._grow)
        timer.daemon = True
        timer.start()

    def begun(self, proc: Proc, tag: int, at: float) -> None:
        """The job ``tag`` (one with a timeout) began on ``proc`` at ``at``."""
        with self.lock:
            task = proc.inflight[0] if proc.inflight else None
            if task is None or task.tag != tag or task.abandoned or task.job.__class__ is not Job:
                return  # (a column has no timeout: never)
        task.session.report(Started(task.job, at, proc.name))

    def _grow(self) -> None:
        with self.lock:
            if not self.closed:
                self._dispatch()  # starts a worker if jobs still wait for one

    # -- control -------------------------------------------------------------------
    def abandon(self, job: Job) -> None:
        with self.lock:
            for proc in self.procs:
                if proc.inflight and proc.inflight[0].job is job:
                    proc.inflight[0].abandoned = True
                    proc.signal_tree(kill=False)
                    # Lives GRACE seconds, then SIGKILLs whatever of the tree is left.
                    timer = threading.Timer(GRACE, proc.signal_tree)
                    timer.name = f"webber-kill-{proc.pid}"
                    timer.daemon = True
                    timer.start()
                    return

    def cancel(self, session: Session) -> bool:
        """A run is called off (an error in its engine, its ``arun`` cancelled):
        the workers busy with its jobs are killed, with what their tasks started
        (fresh ones replace them on demand), and its queued jobs dropped; the
        other runs on the pool go on. Returns False, changing nothing, when
        only shutting the pool down is safe: a change to it was cut short
        (``torn``), which may have left any run's jobs in no queue."""
        with self.lock, held():
            if self.torn:
                return False
            for proc in [p for p in self.procs if p.inflight and p.inflight[0].session is session]:
                self._close(proc)
                reap(proc)
                for task in proc.inflight:
                    remove_segments(task.segments)
                self._gone(proc)
            self.end(session)
        return True

    def end(self, session: Session) -> None:
        """A run is over: its functions may be dropped by the workers."""
        with self.lock:
            fids = [fid for fid, _, _ in session.functions.values()]
            for proc in self.procs:
                gone = proc.fids.intersection(fids)
                proc.fids -= gone
                proc.forget.extend(gone)
            session.pending.clear()
            session.extra = 0
            session.where.clear()
            if session in self.sessions:
                self.sessions.remove(session)
                if self.sessions:  # the others' limits: stop the workers beyond them
                    self.size = max(s.limit for s in self.sessions)
                    if not self.closed:
                        self._dispatch()
        session.holder.release()

    def shutdown(self, kill: bool = False) -> None:
        # Whole, even under a second Ctrl-C: a worker closed and not reaped
        # would stay a zombie, its segments and the receiver thread's fds kept.
        with held():
            self._shut(kill)

    def _shut(self, kill: bool) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
            procs, runs = list(self.procs), list(self.sessions)
            for proc in procs:
                if kill or proc in self.booting:  # (one still importing would finish first)
                    self._close(proc)
                else:
                    proc.note_tree()
                    with contextlib.suppress(OSError):
                        send_frame(proc.conn_in, pickle.dumps(("stop",)))
                    self._close(proc, kill=False)
            self.waker.wake()
        for proc in procs:
            reap(proc)
            proc.signal_tree()  # what its tasks left running (see _stop)
            release(self.ledgers.pop(proc, None))
        if threading.current_thread() is not self.thread:
            self.thread.join(timeout=5)
        for proc in [*procs, *self.left]:  # (stopped ones the receiver thread did not get to)
            remove_segments_of(proc.pid)
            forget_told(proc)
        self.waker.close()
        for session in runs:  # (another thread's run waited forever for its answers)
            session.report(PoolClosedError())

    def forget(self) -> None:
        """In the child of an ``os.fork()``: drop this (the parent's) pool.

        Closes the child's copies of the pipes -- above all the lifelines, so
        the workers still notice when the parent dies -- and nothing else: no
        message, no signal, no lock (another thread of the parent may have
        held it; that thread does not exist here), no segment removed.
        """
        self.closed = True
        for proc in self.procs:
            proc.close(kill=False)
        for fd in self.ledgers.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self.waker.close()
        self.procs = []
        self.sessions = []

