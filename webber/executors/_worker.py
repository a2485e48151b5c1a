"""The worker process of the process executor (``python -c ... _worker.main``).

A worker is started by the pool through ``_spawn.py`` (three pipe file
descriptors, or on the portable path two sockets it connects back with) and
runs jobs one at a time, in the order they arrive::

    caller --(fd_in)-->  worker     ("init", sys.path, shm directory, share of cores) once, then
                                    ("fn", fid, pickle, segments)   a function, once per worker
                                    ("ctx", Context, warning filters)   the caller's cwd,
                                    environment and more, when they changed (_caller)
                                    ("run", [(tag, fid, fields, segments, links), ...], forget,
                                     measure: whether to report the RSS after each job,
                                     first: the run's first batch here: put the caller's
                                     context back where tasks of earlier runs changed it)
                                    fields: the job's 8 fields, or their pickle (:data:`Fields`)
                                    links: the rest of a chain, [(tag, fid, fields, segments), ...],
                                    or (first tag, fid, name, [node, ...]) for links that each
                                    take the one before's result alone (a chained column), or None
                                    or a column of jobs (tags tag, tag + 1, ...) calling one
                                    function with plain arguments: (tag, fid, name, [node, ...],
                                    [args, ...]) (see _sending)
    caller <--(fd_out)-- worker     ("ready", ledger path or None)   once, when it is up
                                    ("out", name, node, stream, line)   each printed line, at once
                                    ("start", tag, time)   a job with a timeout begins, at once
                                    ("note", text)   shared memory was short (once)
                                    ("cls", digest, pickle)   a class of the caller's
                                    ``__main__`` (or made in a function), once, before
                                    the results that name it by its digest
                                    (_pickling._by_digest)
                                    ("done", [(tag, ok, pickle, segments, started, duration,
                                               info, rss or 0), ...])
                                    (a plain result as it is, segments None: _pickling.Packed)
                                    the results of a batch together: at its end, before a
                                    line is printed, or FLUSH seconds after the first
                                    waiting one; each kept meanwhile in the worker's
                                    ledger (``_ledger.py``), which outlives a crash
    caller --(fd_life)   worker     never written; EOF means the caller died

On the POSIX path it leads its own session (process group), so a timeout
kills its children too, and the terminal's Ctrl-C reaches only the caller,
which then stops the pool (on the portable path the worker ignores Ctrl-C).
A watchdog thread blocks on the lifeline: when the caller dies, the read
returns EOF and the worker kills its tree. Lines a task prints go down
the pipe as they are printed, so they reach the caller even if the task then
kills the process.

A task may run a flow of its own on processes: that nested run gets a pool
of this worker's share of the cores by default (:data:`share`), and the
pool is shut down when the task ends, so no idle processes stay behind.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import pickle
import queue
import signal
import sys
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from webber import _logs, _output
from webber._task_errors import JobLoadError
from webber.executors import _pickling, _shm, _spawn, _stdin
from webber.executors._base import Job, Outcome
from webber.executors._caller import follow, restore
from webber.executors._codec import encode_failure
from webber.executors._frames import Frames, send_frame
from webber.executors._ledger import Ledger, last_tag, ledger_path
from webber.executors._pickling import PLAIN, dumps_value, loads
from webber.executors._sendable import result_send_error
from webber.executors._shm import Segment, remove_segments
from webber.executors._work import call, call_column, fed, run_links, start_async

if TYPE_CHECKING:  # (its module costs a worker's start 0.5 ms: asyncio imports it if needed)
    from concurrent.futures import Future

__all__ = ["FLUSH", "main", "share"]

#: a job's fields as the caller sends them: the 8 fields themselves when
#: plain (the message's pickle carries them), else their pickle; a chain link
#: that takes its predecessor's result alone, ``(node, name)`` (see _sending)
Fields = bytes | tuple[Any, ...]

#: seconds a result may wait to share a message with the next ones
FLUSH = 0.002

#: the default max_workers of a process run inside this worker: its share of
#: the cores (cores // the pool's size when it was started), never below 1
share: int | None = None


def _rss() -> int:
    """This process's resident memory in bytes (its peak where /proc is missing)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        try:
            import resource
        except ImportError:  # Windows: unknown, so a memory_limit never recycles
            return 0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def _end_nested_pool() -> None:
    """The task is over: stop the pool a flow it ran on processes started here."""
    processes = sys.modules.get("webber.executors.processes")
    if processes is not None and processes._pool is not None:
        processes.shutdown()


#: set when the caller said stop (it closes the lifeline then too: it lives on)
_stopping = threading.Event()
#: seconds a worker whose caller closed the lifeline unasked waits to be sure it
#: died (it is given another parent a moment after its files are closed)
_ORPHANED = 2.0


def _watch_caller(life: _spawn.End, caller: int) -> None:
    _spawn.wait_closed(life)
    # The caller told this worker to stop, or is gone: end this worker and
    # whatever its task started; if gone, remove what shared memory the two
    # left (RAM, in /dev/shm, until a reboot), the caller's own only once it
    # is sure the caller died.
    deadline = time.monotonic() + _ORPHANED
    while not _stopping.is_set() and os.getppid() == caller and time.monotonic() < deadline:
        time.sleep(0.01)
    if os.getppid() != caller:
        _shm.remove_segments_of(caller)
    if not _stopping.is_set():
        # Unasked. Told to stop, the caller removes them itself once it has read
        # the results they hold (a worker recycled after its last task).
        with contextlib.suppress(OSError):
            os.unlink(ledger_path(_shm.directory(), os.getpid()))
        _shm.remove_segments_of(os.getpid())  # (last: its task may be writing one till now)
    _spawn.end_tree(life)


class _Worker:
    def __init__(self, frames: Frames, out: _spawn.End) -> None:
        self.frames = frames
        self.out = out
        self.lock = threading.Lock()  # a task's own threads may print too
        self.functions: dict[Any, Any] = {}  # fid -> function, or its pickle until first use
        self.coroutines: dict[Any, bool] = {}  # fid -> whether it is an ``async def``
        self.measure = False  # the run has a memory limit: report the RSS (16 us a job)
        #: where results not sent yet are kept (see the module doc)
        self.ledger: Ledger | None = None
        self.due = threading.Event()  # a result waits: the flusher sends it FLUSH s later
        #: the last job run, held until its answer is sent: letting go of a large
        #: input (unmapping 100 MB) takes milliseconds the answer need not wait
        self.last: tuple[Any, ...] | None = None

    def start_ledger(self) -> str | None:
        """Keep waiting results in a ledger (its path is returned); without one
        (no shared memory to write, or none that works: Windows), each result
        is sent as soon as it exists."""
        if not _shm.USABLE:
            return None
        path = ledger_path(_shm.directory(), os.getpid())
        with contextlib.suppress(OSError):
            self.ledger = Ledger(path)
        if self.ledger is None:
            return None
        threading.Thread(target=self.flusher, name="webber-flush", daemon=True).start()
        return path

    def send(self, message: tuple[Any, ...]) -> None:
        data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
        with self.lock:
            self.flush_locked()  # the results before it come first
            send_frame(self.out, data)

    def tell(self, digest: bytes, data: bytes) -> None:
        """Send a class's pickle ahead of the results that name it by digest."""
        message = pickle.dumps(("cls", digest, data), pickle.HIGHEST_PROTOCOL)
        with self.lock:
            send_frame(self.out, message)

    def emit(self, name: str, line: str, stream: str, node: str) -> None:
        self.send(("out", name, node, stream, line))

    def done(self, tag: int, ok: bool, payload: Any, segments: list[Segment] | None,
             started: float, duration: float, info: Any) -> None:
        entry = (tag, ok, payload, segments, started, duration, info,
                 _rss() if self.measure else 0)
        with self.lock:
            ledger = self.ledger
            if ledger is not None:
                first = ledger.empty
                if ledger.add(entry):
                    if first:
                        self.due.set()
                    return
                self.flush_locked()  # the results kept come first
            send_frame(self.out, pickle.dumps(("done", [entry]), pickle.HIGHEST_PROTOCOL))

    def forked(self) -> None:
        """In a child a task forked: its lines still go to the caller, but
        the results kept here are the parent's to send (and its lock may
        have been held by the parent's flusher thread at the fork)."""
        self.lock = threading.Lock()
        self.ledger = None

    def flush(self) -> None:
        with self.lock:
            self.flush_locked()
        self.last = None

    def flush_locked(self) -> None:
        ledger = self.ledger
        if ledger is not None and not ledger.empty:
            send_frame(self.out, ledger.message())  # ("done", [...]), pickled as kept
            ledger.clear()

    def flusher(self) -> None:
        """Send waiting results FLUSH seconds after the first: a long job after
        a short one must not hold the short one's result back."""
        while True:
            self.due.wait()
            time.sleep(FLUSH)  # what finishes meanwhile shares the message
            with self.lock:
                self.due.clear()
                try:
                    self.flush_locked()
                except BrokenPipeError:  # (see main)
                    return

    def function(self, fid: Any) -> Any:
        entry = self.functions[fid]
        if isinstance(entry, tuple):  # still pickled: load on first use, once
            entry = loads(*entry)
            self.functions[fid] = entry
        return entry

    def run_chain(self, tag: int, fid: Any, data: Fields, segments: list[Segment],
                  links: list[tuple[int, Any, Fields, list[Segment]]] | tuple[Any, ...]
                  ) -> None:
        """Run a job, then its links while they succeed, each fed the last result."""
        if links.__class__ is tuple:  # a chained column: (first tag, fid, name, nodes)
            first, link_fid, name, nodes = links
            links = [(first + k, link_fid, (node, name), []) for k, node in enumerate(nodes)]
        if not links:
            self.run(tag, fid, data, segments, None)
            return

        def dropped(rest: Sequence[tuple[int, Any, Fields, list[Segment]]]) -> None:
            for _, _, _, unused in rest:
                remove_segments(unused)

        def step(entry: tuple[int, Any, Fields, list[Segment]],
                 previous: tuple[Any] | None) -> tuple[bool, Any]:
            return self.run(*entry, previous)

        run_links([(tag, fid, data, segments), *links], step, dropped)

    def run(self, tag: int, fid: Any, data: Fields, segments: list[Segment],
            previous: tuple[Any] | None) -> tuple[bool, Any]:
        """Run one job and report it; ``previous`` holds a chain link's input."""
        func = self.functions.get(fid)
        if (data.__class__ is tuple and previous is None and func is not None
                and func.__class__ is not tuple):
            # Plain fields and a loaded function (most jobs): load() in short.
            node, _, _, name, args, kwargs, inputs, timeout = data
        else:
            job = self.load(fid, data, segments, previous)
            if isinstance(job, BaseException):
                self.fail(tag, job, 0.0, 0.0)
                return False, None
            node, _, _, name, func, args, kwargs, inputs, timeout = job
            self.last = job
        if timeout is not None:
            self.send(("start", tag, time.time()))  # its clock starts now, not while it waited
        ok, value, started, duration = call(name, node, func, args, kwargs, inputs, time.time())
        _end_nested_pool()
        return self.finish(tag, node, ok, value, started, duration)

    def load(self, fid: Any, data: Fields, segments: list[Segment],
             previous: tuple[Any] | None) -> tuple[Any, ...] | BaseException:
        """The job as sent -- a Job's fields, links aside -- or why it cannot
        be loaded (to report as its failure). Not a Job: none is needed to
        run it (the cost of making one is a worker's to pay per task)."""
        try:
            func = self.function(fid)
            if previous is not None and data.__class__ is tuple and len(data) == 2:
                # a link fed its predecessor's result alone (_sending._pack_link)
                return data[0], None, 1, data[1], func, previous, {}, None, None
            node, index, attempt, name, args, kwargs, inputs, timeout = (  # (see Fields)
                data if data.__class__ is tuple else loads(data, segments))  # type: ignore[arg-type]
            if previous is not None and inputs is not None:
                inputs = fed(inputs, previous[0])
        except BaseException as e:
            error = JobLoadError(
                f"its worker process could not unpickle its function or arguments "
                f"({type(e).__name__}: {e}); make sure the worker can import what they "
                f"refer to (the same packages and sys.path as the caller)"
            )
            error.__cause__ = e
            return error
        return node, index, attempt, name, func, args, kwargs, inputs, timeout

    def finish(self, tag: int, node: str, ok: bool, value: Any, started: float,
               duration: float) -> tuple[bool, Any]:
        """Send the outcome of the job ``tag`` (of ``node``) to the caller."""
        if not ok:
            self.fail(tag, value, started, duration)
            return False, None
        try:
            result, result_segments = dumps_value(value)
        except BaseException as e:
            self.fail(tag, result_send_error(node, value, e), started, duration)
            return False, None
        self.done(tag, True, result, result_segments, started, duration, None)
        return True, value

    def run_batch(
        self, entries: list[tuple[int, Any, Fields, list[Segment], list[Any] | None]]
    ) -> None:
        """Run a batch of jobs, answering in the order they came (the caller
        matches answers to jobs by order). ``async def`` tasks go to the event
        loop as they come and run there together, while the jobs between them
        wait their turn; each answer is sent once the ones before it are."""
        awaiting: list[tuple[int, Job, Future[Outcome]]] = []
        if self.ledger is not None and entries:  # (if it dies now, these may be to blame)
            self.ledger.begin(last_tag(entries[-1]))

        def answer_awaiting() -> None:
            for tag, job, future in awaiting:
                done = future.result()
                self.finish(tag, job.node, done.ok, done.value, done.started, done.duration)
            if awaiting:
                _end_nested_pool()
            awaiting.clear()

        coroutines = self.coroutines
        for tag, fid, data, segments, links in self.expanded(entries):
            if data.__class__ is str:  # a column: (name, nodes, args)
                if awaiting:
                    answer_awaiting()
                self.run_column(tag, fid, data, segments, links)
            elif links:
                answer_awaiting()
                self.run_chain(tag, fid, data, segments, links)
            elif coroutines.get(fid) is not False and self.is_async(fid):
                fields = self.load(fid, data, segments, None)
                if isinstance(fields, BaseException):
                    answer_awaiting()
                    self.fail(tag, fields, 0.0, 0.0)
                else:
                    job = Job(*fields)
                    if job.timeout is not None:
                        self.send(("start", tag, time.time()))
                    awaiting.append((tag, job, start_async(job)))
            else:
                if awaiting:
                    answer_awaiting()
                self.run(tag, fid, data, segments, None)
        answer_awaiting()
        self.flush()

    def expanded(self, entries: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """``entries`` with each column this worker cannot run as one (its
        function is ``async def``, or does not load: each job then says why)
        made into jobs of their own."""

        def apart(entry: tuple[Any, ...]) -> bool:
            fid = entry[1]
            return entry[2].__class__ is str and (self.is_async(fid) or not self.loads(fid))

        if not any(map(apart, entries)):
            return entries  # (every batch but the rarest)
        out: list[tuple[Any, ...]] = []
        for entry in entries:
            if apart(entry):
                tag, fid, name, nodes, argses = entry
                out.extend((tag + k, fid, (node, None, 1, name, args, {}, None, None), (), None)
                           for k, (node, args) in enumerate(zip(nodes, argses, strict=True)))
            else:
                out.append(entry)
        return out

    def loads(self, fid: Any) -> bool:
        """Whether the function ``fid`` loads (a job's ``load`` says why not)."""
        try:
            self.function(fid)
        except BaseException:
            return False
        return True

    def run_column(self, tag: int, fid: Any, name: str, nodes: list[str],
                   argses: list[tuple[Any, ...]]) -> None:
        """Run a column of jobs (tagged ``tag``, ``tag + 1``, ...), each
        reported as it ends: :meth:`run` without a tuple of fields per job."""
        finish, done, scalars = self.finish, self.done, PLAIN
        attempts = call_column(name, nodes, self.function(fid), argses)
        for k, (ok, value, started, duration) in enumerate(attempts):
            _end_nested_pool()
            if ok and value.__class__ in scalars:  # (finish() of a plain value, written out)
                done(tag + k, True, value, None, started, duration, None)
            else:
                finish(tag + k, nodes[k], ok, value, started, duration)

    def is_async(self, fid: Any) -> bool:
        known = self.coroutines.get(fid)
        if known is None:
            try:
                known = inspect.iscoroutinefunction(self.function(fid))
            except BaseException:
                return False  # it will fail to load as an ordinary job, and say why
            self.coroutines[fid] = known
        return known

    def fail(self, tag: int, error: BaseException, started: float, duration: float) -> None:
        data, info = encode_failure(error)
        self.done(tag, False, data, [], started, duration, info)

    def serve(self) -> None:
        # A thread reads the caller's messages as they come, whatever the jobs
        # do: the caller, writing a batch larger than the pipe holds, must
        # never wait on a worker that waits in turn for the caller to read its
        # results (both pipes full: both stuck for good).
        inbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        threading.Thread(target=self.read, args=(inbox,), name="webber-read",
                         daemon=True).start()
        while (frame := inbox.get()) is not None:
            if not self.handle(pickle.loads(frame)):
                return

    def read(self, inbox: queue.SimpleQueue[bytes | None]) -> None:
        """Put each message of the caller in ``inbox``, then None at its end."""
        try:
            while True:
                for frame in self.frames.read():
                    inbox.put(frame)
        except (EOFError, OSError):
            inbox.put(None)

    def handle(self, message: tuple[Any, ...]) -> bool:
        """Act on one message from the caller; False means stop."""
        kind = message[0]
        if kind == "run":
            for fid in message[2]:  # functions of runs that have ended
                self.functions.pop(fid, None)
                self.coroutines.pop(fid, None)
            self.measure = message[3]
            if message[4]:
                restore()
            self.run_batch(message[1])
        elif kind == "fn":
            self.functions[message[1]] = (message[2], message[3])
        elif kind == "ctx":
            follow(message[1], message[2])
        elif kind == "init":
            global share
            sys.path[:], directory, share = message[1:]
            _shm.use_directory(directory, os.getppid())
            self.send(("ready", self.start_ledger()))  # up: the caller may start the next
        elif kind == "stop":
            _stopping.set()
            return False
        return True


def main() -> None:
    frames, out, life = _spawn.connect(sys.argv[1:])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle
    threading.Thread(target=_watch_caller, args=(life, os.getppid()), daemon=True).start()
    worker = _Worker(frames, out)
    _pickling.lookup = worker.function  # (classes sent once, named in jobs' pickles)
    _pickling.tell = worker.tell  # (and those of results, told once)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=worker.forked)
    _output.set_emitter(worker.emit)
    _logs.forward(worker.emit)
    _stdin.install()  # input() in a task: an error saying why it has no data, and what to do
    _shm.notify = lambda text: worker.send(("note", text))  # the caller logs it
    # A broken pipe: the caller closed it (its pool shut down with tasks still
    # running here), so nobody reads what is left to send; exit quietly (each
    # worker printed a BrokenPipeError traceback).
    with _output.redirected(), contextlib.suppress(BrokenPipeError):
        worker.serve()
    with contextlib.suppress(ValueError, OSError):  # a task may have closed the real stdout
        sys.stdout.flush()
    # Skip interpreter teardown: nothing to flush, and it could print noise.
    os._exit(0)
