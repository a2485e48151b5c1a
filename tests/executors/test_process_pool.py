"""How the process pool is shared and kept clean (reliability rows 23, 25, 27, 30, 31, 36).

Forks of the caller, workers that a task changed, shared memory without
room, flows run inside workers, and runs with different ``max_workers`` at
once. Each test cannot hang (pytest-timeout) and leaves no process behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

import webber
from tests.conftest import Starts
from tests.executors.test_process_faults import _children, _script
from webber import DAG, task
from webber.executors import ProcessExecutor, _shm

pytestmark = pytest.mark.timeout(120)

def _workers() -> list[psutil.Process]:
    """The worker processes of this process's pool (and anything they started)."""
    return _children()


@pytest.fixture(autouse=True)
def _no_process_left_behind() -> Iterator[None]:
    webber.shutdown()  # each test starts its own pool
    yield
    webber.shutdown()
    deadline = time.monotonic() + 5
    while _workers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _workers() == []


# -- row 23: os.fork() after a run -------------------------------------------------------
FORK = """
    import os, sys, threading, time, traceback
    import psutil, webber
    from webber import DAG, Listener, task

    def workers():
        return sorted(c.pid for c in psutil.Process().children())

    dag = DAG()
    n = dag.add_node(os.getpid)

    def worker_pid():
        return dag.run(executor="processes", max_workers=2)[n]

    assert worker_pid() in workers()
    parent_workers = workers()

    busy = sys.argv[1] == "busy"
    if busy:  # a run in the parent, under way across the fork and the child's run
        slow = DAG()
        sleepers = [slow.add_node(task(timeout=60)(time.sleep), 2) for _ in range(2)]
        started = threading.Event()

        class Started(Listener):
            def on_task_start(self, node, attempt, index, worker):
                started.set()

        done = {}
        thread = threading.Thread(target=lambda: done.update(
            run=slow.run(executor="processes", max_workers=2, listeners=[Started()])))
        thread.start()
        assert started.wait(30)

    pid = os.fork()
    if pid == 0:
        try:
            child_worker = worker_pid()  # must not hang, nor use the parent's workers
            mine = workers()
            again = worker_pid()
            webber.shutdown()
            good = (child_worker in mine and again in mine
                    and not set(mine) & set(parent_workers) and workers() == [])
            os._exit(0 if good else 3)
        except BaseException:
            traceback.print_exc()
            os._exit(4)

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done_pid, status = os.waitpid(pid, os.WNOHANG)
        if done_pid:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        sys.exit("the child hung")
    print("child exit", os.waitstatus_to_exitcode(status))
    if busy:
        thread.join(60)
        print("busy run ok", done["run"].ok and all(done["run"].state(s) == "success"
                                                       for s in sleepers))
    after = worker_pid()
    now = workers()  # the same pool: its workers still there (the busy run may add one)
    print("parent pool untouched",
          set(parent_workers) <= set(now) and after in now and len(now) <= 2)
"""


@pytest.mark.parametrize("parent", ["idle", "busy"])
def test_row23_a_forked_child_gets_its_own_pool_and_the_parent_keeps_its_own(
    tmp_path: Path, parent: str
) -> None:
    script = _script(tmp_path, FORK)
    out = subprocess.run([sys.executable, str(script), parent], capture_output=True,
                         text=True, timeout=100)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "child exit 0" in out.stdout, out.stdout + out.stderr
    assert "parent pool untouched True" in out.stdout, out.stdout + out.stderr
    if parent == "busy":
        assert "busy run ok True" in out.stdout, out.stdout + out.stderr


def test_row23_a_forked_child_does_not_keep_the_parents_workers_alive(tmp_path: Path) -> None:
    """The child closes its copies of the lifelines: when the parent dies, its
    workers exit even though the child lives on."""
    script = _script(tmp_path, """
        import os, sys, time, webber
        dag = webber.DAG()
        n = dag.add_node(os.getpid)
        dag.run(executor="processes", max_workers=2)
        if os.fork() == 0:
            time.sleep(60)  # outlives the parent
            os._exit(0)
        print("ready", flush=True)
        time.sleep(60)
    """)
    caller = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert caller.stdout is not None and caller.stdout.readline().strip() == "ready"
        me = psutil.Process(caller.pid)
        family = me.children()
        workers = [p for p in family if "webber.executors._worker" in " ".join(p.cmdline())]
        child = [p for p in family if p not in workers]
        assert len(workers) >= 1 and len(child) == 1
        caller.kill()
        caller.wait()
        _, alive = psutil.wait_procs(workers, timeout=15)
        assert alive == []
    finally:
        caller.kill()
        caller.wait()
        for proc in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if "script.py" in " ".join(proc.cmdline()):
                    proc.kill()


# -- row 25: tasks that change their worker process ----------------------------------------
def _poison() -> tuple[int, str | None]:
    """Returns its worker and what an earlier task left there, then leaves its own mark."""
    seen = os.environ.get("WEBBER_TEST_POISON")
    os.environ["WEBBER_TEST_POISON"] = "left by an earlier task"
    return os.getpid(), seen


def _independent(count: int, func: object) -> tuple[DAG, list[str]]:
    dag = DAG()
    return dag, [dag.add_node(func) for _ in range(count)]  # type: ignore[arg-type]


def test_row25_max_tasks_per_worker_gives_each_task_a_fresh_process() -> None:
    dag, nodes = _independent(4, _poison)
    run = dag.run(executor=ProcessExecutor(1, max_tasks_per_worker=1))
    pids = [run[n][0] for n in nodes]
    assert len(set(pids)) == 4
    assert [run[n][1] for n in nodes] == [None] * 4  # nothing of an earlier task
    assert all(not psutil.pid_exists(p) or psutil.Process(p).status() == "zombie"
               for p in pids[:3])  # the recycled ones are gone
    # Without the option the same worker serves all: the reuse the option is for.
    run = dag.run(executor=ProcessExecutor(1))
    assert len({run[n][0] for n in nodes}) == 1


def test_row25_max_tasks_per_worker_replaces_a_worker_an_earlier_run_wore_out() -> None:
    # A run without the option leaves its workers in the pool, each having run
    # tasks: a run with max_tasks_per_worker=1 must not hand them one more.
    dag, nodes = _independent(4, _poison)
    worn = {dag.run(executor=ProcessExecutor(1))[n][0] for n in nodes}
    run = dag.run(executor=ProcessExecutor(1, max_tasks_per_worker=1))
    assert not worn & {run[n][0] for n in nodes}
    assert [run[n][1] for n in nodes] == [None] * 4  # nothing of an earlier task


def test_row25_max_tasks_per_worker_recycles_after_n() -> None:
    dag, nodes = _independent(6, _poison)
    run = dag.run(executor=ProcessExecutor(1, max_tasks_per_worker=2))
    pids = [run[n][0] for n in nodes]
    assert len(set(pids)) == 3
    assert sorted(pids.count(p) for p in set(pids)) == [2, 2, 2]


_HOARD: list[bytes] = []
#: a timeout makes a task go to a worker alone: not batched, not a chain link
_LIMITED_GETPID = task(timeout=60)(os.getpid)


def _hoard() -> int:
    _HOARD.append(b"x" * (200 << 20))  # written, so resident: a leak that stays
    return os.getpid()


def _hoarder_then_other() -> tuple[DAG, str, str]:
    dag = DAG()
    first = dag.add_node(_hoard)
    # timeout: not a chain link of `first`, so it may go to another worker
    second = dag.add_node(_LIMITED_GETPID)
    dag.add_edge(first, second)
    return dag, first, second


def test_row25_a_worker_over_its_memory_limit_is_recycled_after_its_task() -> None:
    dag, first, second = _hoarder_then_other()
    run = dag.run(executor=ProcessExecutor(1, memory_limit="100MB"))
    assert run.ok and run[first] != run[second]
    assert run[first] not in [p.pid for p in _workers()]
    # Without a limit, the next task lands in the bloated worker.
    run = dag.run(executor=ProcessExecutor(1))
    assert run[first] == run[second]


def test_row25_with_a_memory_limit_no_batched_task_follows_an_oversized_one() -> None:
    dag = DAG()
    first = dag.add_node(_hoard)
    others = [dag.add_node(os.getpid) for _ in range(3)]  # would share its batch
    run = dag.run(executor=ProcessExecutor(1, memory_limit="100MB"))
    assert run.ok and run[first] not in {run[n] for n in others}


def _killed_by_the_kernel() -> None:
    os.kill(os.getpid(), 9)  # what the OOM killer does


def test_row25_a_worker_killed_for_memory_fails_its_node_clearly() -> None:
    dag = DAG()
    n = dag.add_node(_killed_by_the_kernel)
    run = dag.run(executor=ProcessExecutor(1, memory_limit=2**30))
    with pytest.raises(webber.WorkerCrashedError, match="SIGKILL") as info:
        run[n]
    assert n in str(info.value) and "memory_limit is 1,024 MiB" in str(info.value)
    # In the unit it was given in: "100MB" is 100 MB, not 95 (its MiB).
    from webber.executors._process import crash_error

    assert "memory_limit is 100 MB:" in str(crash_error("t-1", 1, -9, 100_000_000))


@pytest.mark.parametrize(
    "options",
    [{"max_tasks_per_worker": 0}, {"max_tasks_per_worker": 1.5}, {"memory_limit": "lots"},
     {"memory_limit": -1}, {"memory_limit": "0GB"}, {"memory_limit": 0.0},
     {"memory_limit": 0.5}, {"memory_limit": -1.5e9}, {"memory_limit": True},
     {"memory_limit": float("nan")}, {"memory_limit": float("inf")}],
)
def test_row25_bad_hygiene_options_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(webber.ExecutorError, match=next(iter(options))):
        ProcessExecutor(**options)  # type: ignore[arg-type]


def test_a_bad_memory_limit_says_what_it_takes() -> None:
    with pytest.raises(webber.ExecutorError) as info:
        ProcessExecutor(memory_limit=float("nan"))
    assert str(info.value) == (
        "memory_limit=nan: must be a number of bytes >= 1 (such as 2_000_000_000 or 1.5e9) "
        "or a string such as '2GB' or '512MiB', or None for no limit"
    )


@pytest.mark.parametrize(("text", "size"), [("2GB", 2 * 10**9), ("512 MiB", 512 * 2**20),
                                            (1000, 1000), ("1.5gb", 15 * 10**8),
                                            (1.5e9, 15 * 10**8), (1000.9, 1000)])
def test_memory_limit_takes_bytes_or_units(text: float | str, size: int) -> None:
    assert ProcessExecutor(memory_limit=text).memory_limit == size


# -- row 27: shared memory that is small, full or missing ----------------------------------
def _digest(data: Any) -> str:
    return hashlib.sha256(data).hexdigest()


def _make(size: int) -> bytes:
    return bytes(range(256)) * (size // 256)


@pytest.fixture
def no_shared_memory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Segments go to a directory that does not exist (workers are told at start)."""
    monkeypatch.setattr(_shm, "_DIR", str(tmp_path / "missing"))
    monkeypatch.setattr(_shm, "_warned", False)
    webber.shutdown()
    yield
    webber.shutdown()


def _shm_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "webber" and "shared memory" in r.getMessage()]


def test_row27_an_argument_without_room_in_shared_memory_goes_through_the_pipe(
    no_shared_memory: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="webber")
    np = pytest.importorskip("numpy")
    data = np.frombuffer(_make(20 << 20), dtype=np.uint8)  # a buffer sent out of band
    dag = DAG()
    n = dag.add_node(_digest, data)
    m = dag.add_node(_digest, data)
    run = dag.run(executor="processes", max_workers=1)
    assert run[n] == run[m] == _digest(data)
    warnings = _shm_warnings(caplog)
    assert len(warnings) == 1, warnings
    assert "pipe" in warnings[0] and "20 MB" in warnings[0] and "missing" in warnings[0]


def test_row27_a_result_without_room_in_shared_memory_goes_through_the_pipe(
    no_shared_memory: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="webber")
    dag = DAG()
    made = dag.add_node(_make, 20 << 20)
    again = dag.add_node(task(timeout=60)(_make), 20 << 20)  # not a chain: two results arrive
    run = dag.run(executor="processes", max_workers=1)
    assert _digest(run[made]) == _digest(run[again]) == _digest(_make(20 << 20))
    warnings = _shm_warnings(caplog)  # the worker's notice, logged here once
    assert len(warnings) == 1, warnings
    assert "pipe" in warnings[0]


SMALL_SHM = """
    import hashlib, logging, os, numpy, webber
    logging.basicConfig()
    def check(data):
        return hashlib.sha256(data).hexdigest(), data[::-1].copy()
    data = numpy.frombuffer(os.urandom(200 << 20), dtype=numpy.uint8)
    dag = webber.DAG()
    n = dag.add_node(check, data)
    digest, back = dag.run(executor="processes", max_workers=1)[n]
    print("intact", digest == hashlib.sha256(data).hexdigest() and (back == data[::-1]).all())
    print("shm left", [f for f in os.listdir("/dev/shm") if f.startswith("webber-")])
"""


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="mounts a small tmpfs on /dev/shm in a private mount namespace")
def test_row27_a_200mb_array_with_a_64mb_dev_shm(tmp_path: Path) -> None:
    """Docker's default: a 64 MB /dev/shm (here in a mount namespace of its own)."""
    pytest.importorskip("numpy")
    script = _script(tmp_path, SMALL_SHM)
    shell = f"mount -t tmpfs -o size=64m tmpfs /dev/shm && exec {sys.executable} {script}"
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs tmpfs /dev/shm"],
                           capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {probe.stderr!r}")
    out = subprocess.run(["unshare", "-m", "sh", "-c", shell], capture_output=True,
                         text=True, timeout=110)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "intact True" in out.stdout
    assert "shm left []" in out.stdout
    assert out.stderr.count("has no room for a 200 MB buffer") == 1, out.stderr
    assert "cannot be pickled" not in out.stderr


# -- row 30: flows run inside workers ---------------------------------------------------
def _inner_flow() -> tuple[int, list[int]]:
    inner = DAG("inner")
    nodes = [inner.add_node(_LIMITED_GETPID) for _ in range(4)]
    run = inner.run(executor="processes")  # default size: this worker's share
    return os.getpid(), [run[n] for n in nodes]


def test_row30_flows_run_inside_workers_leave_no_pool_behind() -> None:
    dag = DAG()
    nodes = [dag.add_node(_inner_flow) for _ in range(2)]
    run = dag.run(executor="processes", max_workers=2)
    assert run.ok
    share = max(1, (os.cpu_count() or 1) // 2)
    for n in nodes:
        outer, inner = run[n]
        assert outer not in inner  # it ran on processes of its own
        assert len(set(inner)) <= share
    workers = _workers()
    assert {run[n][0] for n in nodes} <= {w.pid for w in workers}
    assert all(w.children(recursive=True) == [] for w in workers), [
        w.children(recursive=True) for w in workers]


def _prints(x: int) -> int:
    print(f"inner {x}")
    return x


def _inner_flow_that_prints() -> int:
    inner = DAG("inner")
    inner.add_node(task(name="printer")(_prints), 5)
    return inner.run(executor="processes", max_workers=1).ok


def test_row30_lines_of_a_flow_run_inside_a_worker_keep_their_tasks_name(
        caplog: pytest.LogCaptureFixture) -> None:
    # They reached the worker's logging on a pool thread, outside any task,
    # and arrived nameless ("                : inner 5").
    caplog.set_level(logging.INFO)
    dag = DAG()
    dag.add_node(_inner_flow_that_prints)
    assert dag.run(executor="processes", max_workers=1).ok
    lines = [r for r in caplog.records if r.getMessage() == "inner 5"]
    assert [(vars(r)["task"], vars(r)["stream"]) for r in lines] == [("printer", "stdout")]
    assert vars(lines[0])["node"].startswith("printer")


# -- row 31: runs at once, each with its own max_workers ----------------------------------
def _span() -> tuple[float, float]:
    start = time.time()
    time.sleep(0.4)
    return start, time.time()


_LIMITED_SPAN = task(timeout=60)(_span)


def _most_at_once(spans: list[tuple[float, float]]) -> int:
    return max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)


def test_row31_two_runs_at_once_each_keep_to_their_max_workers() -> None:
    small, small_nodes = DAG(), []
    big, big_nodes = DAG(), []
    for _ in range(8):  # a timeout: each task is sent alone, not in a batch
        small_nodes.append(small.add_node(_LIMITED_SPAN))
        big_nodes.append(big.add_node(_LIMITED_SPAN))
    started = threading.Event()

    runs: dict[str, webber.Run] = {}
    first = threading.Thread(target=lambda: runs.update(
        small=small.run(executor="processes", max_workers=2, listeners=[Starts(started)])))
    first.start()
    assert started.wait(30)  # the small run is under way when the big one starts
    runs["big"] = big.run(executor="processes", max_workers=6)
    first.join(60)
    assert runs["small"].ok and runs["big"].ok
    assert _most_at_once([runs["small"][n] for n in small_nodes]) <= 2
    assert _most_at_once([runs["big"][n] for n in big_nodes]) <= 6
    assert len({a.worker for n in small_nodes for a in runs["small"].attempts[n]}) <= 6
    assert len(_workers()) <= 6  # one shared pool, as large as the largest limit


def test_a_fault_in_the_pool_itself_fails_one_task_and_the_run_ends(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug in the pool's handling of a worker's message must not leave the
    run waiting forever: the worker is replaced, its current task fails
    (unless the worker's ledger shows it had finished: then its result is
    kept, as the others' are), the rest run, and the log says what happened."""
    from webber.executors import _pool

    original = _pool.Pool._settle
    calls = [0]

    def broken_once(self: Any, proc: Any, results: Any) -> Any:
        calls[0] += 1
        if calls[0] == 1:
            raise RuntimeError("injected")
        return original(self, proc, results)

    webber.shutdown()  # a fresh pool, whose receiver runs the patched method
    monkeypatch.setattr(_pool.Pool, "_settle", broken_once)
    dag = DAG()
    nodes = [dag.add_node(int, str(i)) for i in range(5)]
    with caplog.at_level(logging.ERROR, logger="webber"):
        run = dag.run(executor="processes", max_workers=1)
    assert calls[0] > 1
    assert len(run.failed) <= 1  # (none when the ledger still held every result)
    assert all(isinstance(run.error(n), webber.WorkerCrashedError) for n in run.failed)
    assert [run[n] for n in nodes if n not in run.failed] == [
        i for i, n in enumerate(nodes) if n not in run.failed
    ]
    assert "the process pool failed on a message of its worker" in caplog.text
    webber.shutdown()


def _fork_and_print(i: int) -> int:
    pid = os.fork()
    if pid == 0:  # the child prints, then ends without Python's teardown
        print(f"child of {i}")
        sys.stdout.flush()
        os._exit(0)
    os.waitpid(pid, 0)
    return i


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork")
def test_a_task_whose_forked_child_prints_gets_each_result_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A worker keeps the results of a batch to send together; a child that a
    task forks must not send them (again), and its lines still arrive."""
    dag = DAG()
    nodes = [dag.add_node(_fork_and_print, i) for i in range(20)]
    with caplog.at_level(logging.INFO, logger="webber"):
        run = dag.run(executor="processes", max_workers=1)
    assert [run[n] for n in nodes] == list(range(20))
    assert sorted(r.getMessage() for r in caplog.records if "child of" in r.getMessage()) == \
        sorted(f"child of {i}" for i in range(20))


def _big(n: int) -> bytes:
    return bytes([n]) * (3 << 20)  # out of band: a shared-memory segment of the worker's


def test_a_large_result_of_a_worker_recycled_after_it_arrives_intact() -> None:
    """A worker recycled after its last task (max_tasks_per_worker) is stopped
    before that task's result is read; what it left in shared memory is
    removed only after."""
    dag = DAG()
    nodes = [dag.add_node(_big, i) for i in range(4)]
    run = dag.run(executor=ProcessExecutor(1, max_tasks_per_worker=1))
    assert run.ok, {n: run.error(n) for n in run.failed}
    assert [run[n] for n in nodes] == [bytes([i]) * (3 << 20) for i in range(4)]


def test_a_large_result_of_a_worker_stopped_before_it_is_read_arrives_intact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another thread may stop an idle worker (the pool resized down as
    another run ended) while the receiver thread has matched that worker's
    last results and not yet read them: its segments go only after."""
    from webber.executors import _pool, processes

    real = _pool.deliver

    def stopped_first(name: str, spans: Any, results: Any) -> None:
        pool = processes._pool
        assert pool is not None
        with pool.lock:  # as _dispatch does, in another thread, just now
            for proc in [p for p in pool.procs if p.name == name and not p.inflight]:
                pool._stop(proc)
        real(name, spans, results)

    monkeypatch.setattr(_pool, "deliver", stopped_first)
    webber.shutdown()
    dag = DAG()
    nodes = [dag.add_node(_big, i) for i in range(4)]
    run = dag.run(executor="processes", max_workers=1)
    assert run.ok, {n: run.error(n) for n in run.failed}
    assert [run[n] for n in nodes] == [bytes([i]) * (3 << 20) for i in range(4)]
    webber.shutdown()


@pytest.mark.parametrize("told_to_stop", [True, False])
def test_a_worker_told_to_stop_leaves_its_segments_to_the_caller(
    monkeypatch: pytest.MonkeyPatch, told_to_stop: bool,
) -> None:
    """The caller closes a worker's lifeline when it stops it, and may read
    that worker's last results after it exited (a worker recycled after its
    last task); so only a worker whose caller went away unasked removes its
    own segments."""
    from webber.executors import _worker

    removed: list[int] = []
    monkeypatch.setattr(_worker._shm, "remove_segments_of", removed.append)
    monkeypatch.setattr(_worker._spawn, "end_tree", lambda life: None)
    monkeypatch.setattr(_worker, "_ORPHANED", 0.0)
    if told_to_stop:
        monkeypatch.setattr(_worker, "_stopping", threading.Event())
        _worker._stopping.set()
    read, write = os.pipe()
    os.close(write)  # the lifeline closed
    try:
        _worker._watch_caller(read, os.getppid())
    finally:
        os.close(read)
    assert removed == ([] if told_to_stop else [os.getpid()])


def _answers(count: int, each: float, first_started: float = 1000.0) -> list[tuple[Any, ...]]:
    """A worker's answers to ``count`` jobs of ``each`` seconds, back to back."""
    return [(tag, True, (None,), [], first_started + tag * each, each, None, 0)
            for tag in range(count)]


def test_batches_grow_only_while_a_runs_tasks_prove_tiny() -> None:
    """Tiny tasks go BIG_BATCH to a message (its costs shared by more jobs);
    longer ones never more than MAX_BATCH, so a run's last jobs still spread
    over the workers; a few answers, or a job that could not load (it says
    it started at 0), tell nothing."""
    from webber.executors._session import BIG_BATCH, MAX_BATCH, PACE, Session

    session = Session(lambda message: None)
    assert session.batch == MAX_BATCH
    session.pace(_answers(MAX_BATCH // 4, 1e-6))
    assert session.batch == MAX_BATCH  # too few to tell
    session.pace(_answers(MAX_BATCH, 1e-6))
    assert session.batch == BIG_BATCH
    session.pace(_answers(MAX_BATCH, 4 * PACE / BIG_BATCH))
    assert session.batch == BIG_BATCH // 4
    session.pace(_answers(MAX_BATCH, 0.01))
    assert session.batch == MAX_BATCH
    unloadable = (MAX_BATCH, False, b"", [], 0.0, 0.0, ("E", "e", ""), 0)
    for answers in ([unloadable, *_answers(MAX_BATCH, 1e-6)],
                    [*_answers(MAX_BATCH, 1e-6), unloadable]):
        session.pace(_answers(MAX_BATCH, 1e-6))
        assert session.batch == BIG_BATCH
        session.pace(answers)
        assert session.batch == MAX_BATCH


def test_a_wide_run_of_tiny_tasks_gets_every_result_once() -> None:
    """Batches grow during the run (see above): every task still runs once,
    its result where it belongs."""
    dag = DAG()
    nodes = [dag.add_node(str, i) for i in range(3000)]
    run = dag.run(executor="processes", max_workers=2)
    assert [run[n] for n in nodes] == [str(i) for i in range(3000)]
    assert all(len(run.attempts[n]) == 1 for n in nodes)


def _add(a: int, b: int = 0) -> int:
    return a + b


def send_to_a_stand_in(batch: list[Any], report: Any = None) -> tuple[list[Any], Any]:
    """``send_batch`` of ``batch`` to a stand-in worker (a pipe): the messages
    it got, unpickled, and the stand-in (its ``inflight``)."""
    import itertools
    import pickle
    import types
    from collections import deque

    from webber.executors._frames import Frames
    from webber.executors._sending import send_batch
    from webber.executors._session import Session

    read, write = os.pipe()
    proc = types.SimpleNamespace(conn_in=write, fids=set(), forget=[], inflight=deque(),
                                 up=False, name="fake", served=0)
    try:
        send_batch(proc, Session(report or (lambda message: None)), batch,  # type: ignore[arg-type]
                   itertools.count(), itertools.count())
        frames = Frames(read).read()
    finally:
        os.close(read)
        os.close(write)
    return [pickle.loads(frame) for frame in frames], proc


def test_jobs_of_one_function_with_plain_arguments_travel_as_one_column() -> None:
    """A column: the function's id and name once, then the nodes and their
    arguments in two lists, tagged one after the other; a job with keyword
    arguments, inputs or arguments that are not plain goes as its own entry,
    and ends the column (the next one starts anew)."""
    from webber.executors._base import Job

    def job(node: str, *args: object, **kwargs: object) -> Job:
        return Job(node, None, 1, "_add", _add, args, kwargs, None, None)

    batch = [job("a", 1), job("b", 2, 3), job("c", 1, b=2), job("d", [1j]), job("e"), job("f", 4),
             job("g", [1, {"x": (2.5, None)}])]
    (fn, run), proc = send_to_a_stand_in(batch)
    assert fn[0] == "fn" and run[0] == "run"
    fid = fn[1]
    entries = run[1]
    assert entries[0] == (0, fid, "_add", ["a", "b"], [(1,), (2, 3)])
    assert entries[1][:2] == (2, fid) and entries[1][2][0] == "c"  # its own: keywords
    assert entries[2][:2] == (3, fid) and entries[2][2].__class__ is bytes  # not plain: pickled
    # (a small container of plain values is as plain as a number)
    assert entries[3] == (4, fid, "_add", ["e", "f", "g"], [(), (4,), ([1, {"x": (2.5, None)}],)])
    assert [task.tag for task in proc.inflight] == list(range(7))
    assert [task.job for task in proc.inflight] == batch


def _speak(k: int) -> int:
    if k == 2:
        raise ValueError("two")
    if k == 3:
        raise SystemExit(3)
    print(f"line of {k}")
    print(f"rest of {k}", end="")  # no newline: still this task's line, not the next one's
    from webber import _context

    assert _context.active_flow.get() is None  # a task calls tasks, no flow is active
    return k * 10


def test_a_column_keeps_each_jobs_output_failure_and_result_its_own(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Jobs of one column run in one context (see _work.call_column): each
    line still names its own node, an unfinished last line ends with its
    job, a failure (also a SystemExit) is that job's alone."""
    caplog.set_level(logging.INFO, logger="webber")
    dag = DAG()
    nodes = [dag.add_node(_speak, k) for k in range(6)]
    run = dag.run(executor="processes", max_workers=1)  # one worker: one column
    assert run.failed == [nodes[2], nodes[3]]
    assert isinstance(run.error(nodes[2]), ValueError)
    assert isinstance(run.error(nodes[3]), webber.TaskExitError)
    assert [run[n] for n in nodes if n not in run.failed] == [0, 10, 40, 50]
    said = [(r.node, r.getMessage()) for r in caplog.records if hasattr(r, "stream")]  # type: ignore[attr-defined]
    assert said == [
        (nodes[k], text) for k in (0, 1, 4, 5) for text in (f"line of {k}", f"rest of {k}")
    ]


def test_a_job_whose_function_cannot_be_sent_fails_alone_between_columns() -> None:
    """send_batch: a job whose function does not pickle fails alone
    (JobSendError); the columns before and after it go, tagged in order."""
    from webber.executors._base import Job, Outcome

    lock = threading.Lock()

    def holds_a_lock() -> bool:
        return lock.locked()

    def job(node: str, func: Any, *args: object) -> Job:
        return Job(node, None, 1, func.__name__, func, args, {}, None, None)

    reported: list[Any] = []
    batch = [job("a", _add, 1), job("b", _add, 2), job("c", holds_a_lock),
             job("d", _add, 3), job("e", _add, 4)]
    messages, proc = send_to_a_stand_in(batch, reported.append)
    run = messages[-1]
    fid = run[1][0][1]
    assert run[1] == [(0, fid, "_add", ["a", "b"], [(1,), (2,)]),
                      (3, fid, "_add", ["d", "e"], [(3,), (4,)])]
    assert [(task.tag, task.job.node) for task in proc.inflight] == [
        (0, "a"), (1, "b"), (3, "d"), (4, "e")]
    (failed,) = reported
    assert isinstance(failed, Outcome) and failed.job is batch[2] and not failed.ok
    assert isinstance(failed.value, webber.JobSendError)


# -- dispatch: tasks that took long go one at a time -----------------------------------
def slow() -> int:
    time.sleep(1.0)
    return os.getpid()


def quick() -> int:
    time.sleep(0.001)
    return os.getpid()


def test_tasks_that_took_long_go_one_at_a_time_to_the_first_worker_free() -> None:
    dag = DAG()
    long = dag.add_node(slow)
    shorts = [dag.add_node(quick) for _ in range(5)]
    dag.run(executor="processes", max_workers=2)  # the pool learns how long each took
    run = dag.run(executor="processes", max_workers=2)
    # Shared out up front, the slow task's worker would hold quick ones behind it;
    # sent one at a time, the other worker runs them all meanwhile.
    assert run.ok
    assert run[long] not in {run[n] for n in shorts}
    assert len({run[n] for n in shorts}) == 1


def slow_of(_: int) -> int:
    time.sleep(0.3)
    return os.getpid()


def test_tasks_that_took_long_and_are_ready_together_go_to_idle_workers_first() -> None:
    dag = DAG()
    made = dag.add_node(quick)
    both = [dag.add_node(slow_of, webber.Promise(made)) for _ in range(2)]
    dag.run(executor="processes", max_workers=2)  # the pool learns how long each took
    run = dag.run(executor="processes", max_workers=2)
    # The second is not queued behind the first (where their input was made):
    # the other worker is idle.
    assert run.ok and len({run[n] for n in both}) == 2


def _rotated(data: bytes, k: int) -> bytes:
    return data[k:] + data[:k]


@pytest.mark.timeout(60)
def test_batches_and_results_larger_than_a_pipe_holds_do_not_stall_the_pool() -> None:
    # 2,000 tasks taking and returning 3 KB each (in the pickles, not shared memory):
    # a batch fills the worker's pipe while its results fill the caller's. The
    # caller writing under its lock, and its receiver waiting for that lock to read,
    # stalled both for good until a worker read its messages as they came.
    payload = bytes(range(256)) * 12
    dag = DAG()
    tasks = [dag.add_node(_rotated, payload, k % 7) for k in range(2000)]
    run = dag.run(executor="processes", max_workers=2)
    assert [run[t] for t in tasks] == [_rotated(payload, k % 7) for k in range(2000)]


# -- the pool shut down under a run of another thread --------------------------------------
def test_a_run_whose_pool_another_thread_shuts_down_fails_instead_of_waiting_forever(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    # webber.shutdown(), or Ctrl-C in a run of another thread
    # (its executor shuts the pool down): this run waited for answers no
    # worker would send, for ever, and each worker's flusher thread printed
    # a BrokenPipeError traceback when its task ended.
    from tests.conftest import appears
    from webber.executors import processes

    release = tmp_path / "release"
    started = threading.Event()

    dag = DAG()
    dag.add_node(appears, str(release))
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            dag.run(executor="processes", max_workers=1, listeners=[Starts(started)])
            outcome.append(None)
        except BaseException as e:
            outcome.append(e)

    running = threading.Thread(target=run)
    running.start()
    try:
        assert started.wait(60)
        pool = processes._pool
        assert pool is not None
        stopping = threading.Thread(target=webber.shutdown)  # it waits for the worker
        stopping.start()
        deadline = time.monotonic() + 60
        while not pool.closed and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        release.touch()  # the task ends: after the pool closed, its answer goes nowhere
    stopping.join(60)
    running.join(60)
    assert not running.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], webber.PoolClosedError), outcome
    assert "run the flow again" in str(outcome[0])
    err = capfd.readouterr().err
    assert "BrokenPipeError" not in err, err



def test_results_read_as_the_pool_shuts_down_start_no_worker_it_would_not_stop(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Ctrl-C (or webber.shutdown() in another thread) while a worker's results
    # were being read: once the pool had closed, the receiver handed them over
    # and dispatched the run's next queued job, to a worker it started for it
    # -- in a closed pool, which nothing stopped after a Ctrl-C: it outlived
    # webber.shutdown(), for good.
    from tests.conftest import appears
    from webber.executors import _pool, processes

    release = tmp_path / "release"
    arrived, go = threading.Event(), threading.Event()
    finished = _pool.Pool.finished

    def held_back(self: _pool.Pool, proc: Any, results: list[Any]) -> None:
        if results and not arrived.is_set():
            arrived.set()  # read off the pipe; handed over once the pool closed
            assert go.wait(60)
        finished(self, proc, results)
        if self.closed:
            started.extend(p.pid for p in self.procs)

    started: list[int] = []
    monkeypatch.setattr(_pool.Pool, "finished", held_back)
    dag = DAG()
    dag.add_node(appears, str(release))
    dag.add_node(int, 2)  # queued behind it (a memory limit sends one job at a time)
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            dag.run(executor=ProcessExecutor(1, memory_limit="1TB"))
            outcome.append(None)
        except BaseException as e:
            outcome.append(e)

    running = threading.Thread(target=run)
    running.start()
    try:
        deadline = time.monotonic() + 60
        while processes._pool is None and time.monotonic() < deadline:
            time.sleep(0.01)
        pool = processes._pool
        assert pool is not None
    finally:
        release.touch()
    assert arrived.wait(60)
    stopping = threading.Thread(target=webber.shutdown)
    stopping.start()
    while not pool.closed and time.monotonic() < deadline:
        time.sleep(0.01)
    go.set()
    stopping.join(60)
    running.join(60)
    assert len(outcome) == 1 and isinstance(outcome[0], webber.PoolClosedError), outcome
    # (here the run, called off, kills its worker; a Ctrl-C's shutdown had come first)
    assert started == []
    assert pool.procs == [] and _workers() == []

# -- a run called off while another goes on ---------------------------------------------
def _pid_then_wait(pidfile: str, marker: str) -> bool:
    from tests.conftest import appears

    Path(pidfile).write_text(str(os.getpid()))
    return appears(marker)


def test_a_cancelled_arun_kills_its_own_workers_and_another_run_goes_on(tmp_path: Path) -> None:
    # An asyncio server's request timing out (wait_for) cancels its run: that
    # killed the whole pool, and a run of another request going on at the same
    # time failed with PoolClosedError.
    import asyncio

    from tests.conftest import appears

    pidfile, never, release = (str(tmp_path / name) for name in ("pid", "never", "release"))
    other = DAG()
    waits = other.add_node(appears, release)
    called_off = DAG()
    called_off.add_node(_pid_then_wait, pidfile, never)

    async def main() -> tuple[webber.Run, int]:
        going_on = asyncio.create_task(other.arun(executor="processes", max_workers=2))
        cancelled = asyncio.create_task(called_off.arun(executor="processes", max_workers=2))
        deadline = time.monotonic() + 60
        while not (os.path.exists(pidfile) and os.path.getsize(pidfile)):
            assert time.monotonic() < deadline, "the task never started"
            await asyncio.sleep(0.01)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        pid = int(Path(pidfile).read_text())
        while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "the cancelled run's worker was not killed"
            await asyncio.sleep(0.01)
        Path(release).touch()
        return await going_on, pid

    run, pid = asyncio.run(main())
    assert run.ok and run[waits] is True
    assert pid not in [w.pid for w in _children()]


def test_a_run_called_off_while_the_pool_changed_shuts_the_pool_down(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A Ctrl-C (or an error) that cut a change to the pool short may have left
    # any run's jobs in no queue: only shutting the pool down is safe then.
    from webber.executors import _pool, processes

    def cut_short(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("cut short")

    dag = DAG()
    dag.add_node(int, 1)
    dag.run(executor="processes")
    pool = processes._pool
    assert pool is not None
    monkeypatch.setattr(_pool, "send_batch", cut_short)
    with pytest.raises(RuntimeError, match="cut short"):
        dag.run(executor="processes")
    assert pool.torn and pool.closed and processes._pool is not pool
    monkeypatch.undo()
    assert dag.run(executor="processes").ok  # on a new pool


# -- row 36: a task reads its standard input -----------------------------------------------


def asks() -> str:
    return input("name? ")


def reads_all() -> str:
    return sys.stdin.read()


def reads_lines() -> list[str]:
    return list(sys.stdin)


def reads_bytes() -> bytes:
    return sys.stdin.buffer.read()


def asks_or_default() -> str:
    try:
        return input()
    except EOFError:  # TaskStdinError is one: code written for input()'s EOF still works
        return "default"


def test_row36_a_task_reading_stdin_in_a_worker_fails_saying_which_and_what_to_do() -> None:
    dag = DAG()
    nodes = {how: dag.add_node(func) for how, func in [
        ("input()", asks), ("sys.stdin.read()", reads_all),
        ("for line in sys.stdin", reads_lines), ("sys.stdin.buffer.read()", reads_bytes)]}
    caught = dag.add_node(asks_or_default)
    run = dag.run(executor="processes")
    for how, node in nodes.items():
        error = run.error(node)
        assert isinstance(error, webber.TaskStdinError), (how, error)
        assert isinstance(error, EOFError) and isinstance(error, webber.TaskError)
        assert error.task == node
        assert f"task {node!r}" in str(error) and how in str(error)
        assert "as an argument" in str(error) and "executor='threads'" in str(error)
    with pytest.raises(EOFError):
        run[nodes["input()"]]
    assert run[caught] == "default"


# -- a first run's first worker ------------------------------------------------------------
def _pool_at_compile(monkeypatch: pytest.MonkeyPatch, dag: DAG) -> list[int]:
    """The pool's workers when ``dag`` starts compiling (the test runs it after)."""
    from webber.executors import processes

    seen: list[int] = []
    compile_ = DAG.compile

    def watched(self: DAG) -> Any:
        pool = processes._pool
        seen.append(len(pool.procs) if pool is not None else 0)
        return compile_(self)

    monkeypatch.setattr(DAG, "compile", watched)
    return seen


def test_a_first_runs_worker_starts_before_the_flow_compiles(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # (it comes up while the flow compiles: a script's first run waits less)
    dag = DAG()
    n = dag.add_node(sum, [1, 2])
    seen = _pool_at_compile(monkeypatch, dag)
    assert dag.run(executor="processes")[n] == 3
    assert seen == [1]


def test_a_first_run_that_may_run_nothing_starts_no_worker_before_it_compiles(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # cache= and resume= may find every result already: no worker for nothing
    dag = DAG()
    n = dag.add_node(sum, [1, 2])
    first = dag.run(executor="inline", cache=str(tmp_path))
    seen = _pool_at_compile(monkeypatch, dag)
    assert dag.run(executor="processes", cache=str(tmp_path))[n] == 3
    assert dag.run(executor="processes", resume=first)[n] == 3
    assert seen == [0, 0]
    assert _workers() == []


def test_a_first_run_of_an_empty_flow_starts_no_worker(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    # It runs nothing: a worker started for it stayed for the rest of the script.
    dag = DAG()
    seen = _pool_at_compile(monkeypatch, dag)
    with caplog.at_level(logging.WARNING, logger="webber"):
        assert dag.run(executor="processes").ok
    assert "has no tasks to run" in caplog.text
    assert seen == [0]
    assert _workers() == []
