"""Faults a run on the process executor must survive (shared/design/reliability.md).

Every test here cannot hang (pytest-timeout), checks that the error names the
task, that unrelated work still finishes, that the next run on the same pool
works, and -- after ``webber.shutdown()`` -- that no child process is left.
"""

from __future__ import annotations

import contextlib
import faulthandler
import hashlib
import io
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

import webber
from tests.conftest import task_lines
from webber import DAG, Condition, Flow, Promise, task
from webber.executors import _pool, _process, _shm, processes

pytestmark = pytest.mark.timeout(90)


def _children() -> list[psutil.Process]:
    """This process's descendants, less multiprocessing's resource tracker: a
    dask LocalCluster in an earlier test (tests/executors/test_dask.py, the
    dask conformance runs) starts it, and it lives as long as this process."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "multiprocessing.resource_tracker" in " ".join(child.cmdline()):
                continue
        except psutil.Error:  # gone meanwhile
            continue
        found.append(child)
    return found


@pytest.fixture(autouse=True)
def _no_process_left_behind() -> Iterator[None]:
    yield
    webber.shutdown()
    deadline = time.monotonic() + 5
    while _children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _children() == []


def slow_ok(seconds: float = 0.5) -> str:
    time.sleep(seconds)
    return "sibling done"


def then_works() -> None:
    """The same pool still runs work after the fault."""
    dag = DAG()
    n = dag.add_node(os.getpid)
    run = dag.run()
    assert run.ok and run[n] != os.getpid()


def _exit_one() -> None:
    os._exit(1)


def _sigkill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _segfault() -> None:
    faulthandler.disable()  # keep the test log clean
    faulthandler._sigsegv()


# -- row 1: a task raises beside a slow sibling ------------------------------------------
def test_row01_task_raises_beside_a_slow_sibling() -> None:
    def bad() -> None:
        raise ValueError("bad row 7")

    dag = DAG()
    b = dag.add_node(bad)
    s = dag.add_node(slow_ok, 0.3)
    on_fail = dag.add_node(str, "handled")
    on_ok = dag.add_node(str, "never")
    dag.add_edge(b, on_fail, continue_on=Condition.Failure)
    dag.add_edge(b, on_ok)
    run = dag.run(executor="processes")
    assert run.states == {b: "failed", s: "success", on_fail: "success", on_ok: "skipped"}
    with pytest.raises(ValueError, match="bad row 7") as info:
        run[b]
    assert "bad" in str(info.value.__cause__)  # the worker-side traceback
    assert ", in bad\nValueError: bad row 7" in str(info.value.__cause__)
    then_works()


# -- row 2: a worker dies -------------------------------------------------------------
@pytest.mark.parametrize(
    ("killer", "why"),
    [(_exit_one, "exit code 1"), (_sigkill, "SIGKILL"), (_segfault, "SIGSEGV")],
)
def test_row02_worker_death_fails_only_its_node(killer: object, why: str) -> None:
    dag = DAG()
    dead = dag.add_node(killer)  # type: ignore[arg-type]
    siblings = [dag.add_node(slow_ok, 0.2) for _ in range(3)]
    run = dag.run(executor="processes", max_workers=2)
    assert run.state(dead) == "failed"
    with pytest.raises(webber.WorkerCrashedError, match=why) as info:
        run[dead]
    assert dead in str(info.value)
    assert all(run[s] == "sibling done" for s in siblings)
    assert all(len(run.attempts[s]) == 1 for s in siblings)  # no retries spent
    then_works()


def _exit_late() -> None:
    time.sleep(0.3)  # after its sibling is done: nothing waits when it dies
    os._exit(1)


def test_row02_the_pool_replaces_a_dead_worker_at_once() -> None:
    """Not only when the next task needs one: the pool keeps its size."""
    dag = DAG()
    dead = dag.add_node(_exit_late)
    dag.add_node(os.getpid)
    run = dag.run(executor="processes", max_workers=2)
    assert run.state(dead) == "failed"
    dead_pid = int(run.attempts[dead][0].worker.split()[-1])  # "process 1234"
    workers = [p.pid for p in _children()]
    assert len(workers) == 2 and dead_pid not in workers, (dead_pid, workers)
    then_works()


def test_row02_jobs_queued_behind_a_crash_rerun_without_spending_retries(tmp_path: Path) -> None:
    # One worker, one batch: the crash takes the queued jobs down with it.
    dag = DAG()
    dead = dag.add_node(_exit_one)
    after = [dag.add_node(str, i) for i in range(20)]
    run = dag.run(executor="processes", max_workers=1)
    assert run.state(dead) == "failed"
    assert [run[a] for a in after] == [str(i) for i in range(20)]
    assert all(len(run.attempts[a]) == 1 for a in after)


def _count_run(path: str, i: int) -> int:
    with open(path, "a") as f:  # one line per time it ran
        f.write(f"{i}\n")
    return i


def test_row02_jobs_that_finished_before_a_crash_in_their_batch_keep_their_results(
    tmp_path: Path,
) -> None:
    """A worker answers a batch of small jobs together; when it dies running
    one, the results it had not sent yet are read back from its ledger: the
    jobs before it succeeded once (never run again), the crash is blamed on
    the job that crashed, and the jobs after it run once."""
    log = tmp_path / "ran"
    dag = DAG()
    before = [dag.add_node(_count_run, str(log), i) for i in range(10)]
    dead = dag.add_node(_sigkill)
    after = [dag.add_node(_count_run, str(log), 100 + i) for i in range(10)]
    run = dag.run(executor="processes", max_workers=1)  # one worker, one batch
    assert run.state(dead) == "failed"
    with pytest.raises(webber.WorkerCrashedError, match=f"task '{dead}'"):
        run[dead]
    assert [run[n] for n in before] == list(range(10))
    assert [run[n] for n in after] == [100 + i for i in range(10)]
    ran = log.read_text().split()
    assert sorted(map(int, ran)) == [*range(10), *range(100, 110)]  # each exactly once
    assert all(len(run.attempts[n]) == 1 for n in [*before, *after])
    then_works()


def _count_twice(path: str, i: int) -> int:
    return 2 * _count_run(path, i)


def _count_next(path: str, i: int) -> int:
    return _count_run(path, i + 1)


def test_row02_a_batch_of_several_functions_and_a_chain_keeps_each_result_once(
    tmp_path: Path,
) -> None:
    """The jobs of one batch alternate between functions (each sent to the
    worker once, named by its id) and carry a chain; a crash after them
    still blames its own task, and nothing that finished runs again."""
    log = tmp_path / "ran"
    dag = DAG()
    mixed = [dag.add_node(_count_run if i % 2 else _count_twice, str(log), i) for i in range(8)]
    head = dag.add_node(_count_run, str(log), 10)
    link = dag.add_node(_count_next, str(log), Promise(head))
    last = dag.add_node(_count_next, str(log), Promise(link))
    dead = dag.add_node(_sigkill)
    after = [dag.add_node(_count_twice, str(log), 100 + i) for i in range(4)]
    run = dag.run(executor="processes", max_workers=1)  # one worker, one batch
    with pytest.raises(webber.WorkerCrashedError, match=f"task '{dead}'"):
        run[dead]
    assert [run[n] for n in mixed] == [i if i % 2 else 2 * i for i in range(8)]
    assert (run[head], run[link], run[last]) == (10, 11, 12)
    assert [run[n] for n in after] == [2 * (100 + i) for i in range(4)]
    ran = sorted(map(int, log.read_text().split()))
    assert ran == [*range(8), 10, 11, 12, *range(100, 104)]  # each exactly once
    assert all(len(run.attempts[n]) == 1 for n in [*mixed, head, link, last, *after])
    then_works()


def _count_or_die(path: str, i: int) -> int:
    if i == 10:
        os.kill(os.getpid(), signal.SIGKILL)
    return _count_run(path, i)


def test_row02_a_crash_inside_a_column_of_one_function_blames_its_own_task(
    tmp_path: Path,
) -> None:
    """Jobs of one function with plain arguments travel to the worker as a
    column; one of them kills the worker: the crash is blamed on it alone,
    the jobs of the column before it keep their results (run once), and
    those after it run once, on the replacement."""
    log = tmp_path / "ran"
    dag = DAG()
    nodes = [dag.add_node(_count_or_die, str(log), i) for i in range(30)]
    run = dag.run(executor="processes", max_workers=1)  # one worker, one column
    with pytest.raises(webber.WorkerCrashedError, match=f"task '{nodes[10]}'"):
        run[nodes[10]]
    assert run.failed == [nodes[10]]
    assert [run[n] for n in nodes[:10] + nodes[11:]] == [*range(10), *range(11, 30)]
    ran = sorted(map(int, log.read_text().split()))
    assert ran == [*range(10), *range(11, 30)]  # each exactly once
    assert all(len(run.attempts[n]) == 1 for n in nodes)
    then_works()


def _refuse_load() -> None:
    raise ImportError("no such module here")


class LoadsNowhere:
    """A task that pickles, but cannot be unpickled in a worker."""

    def __call__(self, i: int) -> int:
        return i

    def __reduce__(self) -> tuple[object, ...]:
        return (_refuse_load, ())


def test_a_column_whose_function_does_not_load_fails_each_of_its_tasks_alone() -> None:
    dag = DAG()
    bad = LoadsNowhere()
    nodes = [dag.add_node(bad, i) for i in range(3)]
    fine = [dag.add_node(str, i) for i in range(3)]
    run = dag.run(executor="processes", max_workers=1)
    assert sorted(run.failed) == sorted(nodes)
    for n in nodes:
        with pytest.raises(webber.JobLoadError, match="no such module here"):
            run[n]
    assert [run[n] for n in fine] == ["0", "1", "2"]
    then_works()


def _big_result(n: int) -> bytes:
    return bytes([n]) * (3 << 20)  # out of band: a shared-memory segment of the worker's


def test_row02_a_large_result_finished_before_a_crash_in_its_batch_arrives_intact() -> None:
    """Its segment belongs to the dead worker: it is read before what the
    worker left is removed."""
    dag = DAG()
    big = dag.add_node(_big_result, 7)
    dead = dag.add_node(_sigkill)
    run = dag.run(executor="processes", max_workers=1)  # one worker, one batch
    assert run.state(dead) == "failed"
    assert run[big] == bytes([7]) * (3 << 20)
    assert len(run.attempts[big]) == 1
    then_works()


def test_row02_crash_with_retries_counts_attempts(tmp_path: Path) -> None:
    marker = tmp_path / "crashed"

    @task(retries=2)
    def crash_once(path: str) -> str:
        if not os.path.exists(path):
            Path(path).write_text("x")
            os._exit(1)
        return "recovered"

    with Flow() as flow:
        n = crash_once(str(marker))
    run = flow.run()
    assert run[n] == "recovered"
    assert [a.ok for a in run.attempts[n]] == [False, True]
    assert "WorkerCrashedError" in (run.attempts[n][0].error or "")


# -- row 2: a worker killed before it read its batch ---------------------------------
def _dead(pid: int) -> None:
    """Wait until child ``pid`` is dead (not reaping it: the pool does)."""
    with contextlib.suppress(ChildProcessError):  # reaped already: the portable pool's watcher
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)


def _kill_workers_as_they_start(monkeypatch: pytest.MonkeyPatch, count: int) -> list[int]:
    """The next ``count`` workers the pool starts are killed (SIGKILL) before
    they read anything, and are dead before the pool hears of them; their pids."""
    start, killed = _process.start, []

    def starts_dead(*args: object) -> object:
        ends = start(*args)  # type: ignore[arg-type]
        if len(killed) < count:
            killed.append(ends.popen.pid)
            os.kill(ends.popen.pid, signal.SIGKILL)
            _dead(ends.popen.pid)
        return ends

    monkeypatch.setattr(_process, "start", starts_dead)
    return killed


def test_row02_a_worker_killed_as_it_starts_blames_no_task(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Killed before it read its batch (SIGKILL as it starts, as the OOM
    killer may): no task ran there, so none fails or spends a retry; each
    runs once, on its replacement."""
    webber.shutdown()  # (a fresh pool: its first worker is the one killed)
    killed = _kill_workers_as_they_start(monkeypatch, 1)
    log = tmp_path / "ran"
    dag = DAG()
    nodes = [dag.add_node(_count_run, str(log), i) for i in range(10)]
    run = dag.run(executor="processes", max_workers=1)
    assert len(killed) == 1
    assert run.failed == []
    assert [run[n] for n in nodes] == list(range(10))
    assert all(len(run.attempts[n]) == 1 for n in nodes)
    assert all(str(killed[0]) not in run.attempts[n][0].worker for n in nodes)
    assert sorted(map(int, log.read_text().split())) == list(range(10))  # each once
    then_works()


def test_row02_an_idle_worker_killed_before_it_read_its_batch_blames_no_task(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A worker that is up (its ledger open) and idle is stopped, sent a batch
    it never reads, then killed: no task of the batch is blamed, none spends a
    retry, each runs once, and its listeners hear of one start per task."""
    webber.shutdown()
    then_works()  # one worker, up and idle
    (worker,) = processes._pool.procs  # type: ignore[union-attr]
    os.kill(worker.pid, signal.SIGSTOP)
    os.waitid(os.P_PID, worker.pid, os.WSTOPPED | os.WNOWAIT)
    send_batch = _pool.send_batch

    def sent_then_killed(proc: Any, *args: Any) -> None:
        send_batch(proc, *args)
        if proc is worker:
            os.kill(worker.pid, signal.SIGKILL)

    monkeypatch.setattr(_pool, "send_batch", sent_then_killed)
    starts: list[str] = []

    class Starts(webber.Listener):
        def on_task_start(self, node: str, attempt: int, index: int | None,
                          worker: str) -> None:
            starts.append(node)

    log = tmp_path / "ran"
    dag = DAG()
    nodes = [dag.add_node(_count_run, str(log), i) for i in range(10)]
    run = dag.run(executor="processes", max_workers=1, listeners=[Starts()])
    assert run.failed == []
    assert [run[n] for n in nodes] == list(range(10))
    assert all(len(run.attempts[n]) == 1 for n in nodes)
    assert all(run.attempts[n][0].worker != worker.name for n in nodes)
    assert sorted(map(int, log.read_text().split())) == list(range(10))  # each once
    assert sorted(starts) == sorted(nodes)  # (one each, not one more for the dead worker)
    then_works()


def test_row02_a_portable_worker_killed_before_it_connects_fails_no_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The portable path: the first run's first worker (started before its
    flow compiles) killed before it read its token. The run failed with the
    BrokenPipeError of writing the token, raised from that early start; now
    a worker comes up when a job needs one and each task runs once."""
    import subprocess as sp

    webber.shutdown()
    monkeypatch.setenv("WEBBER_POOL", "portable")
    popen, killed = sp.Popen, []

    def dies_at_once(*args: Any, **kwargs: Any) -> Any:
        started = popen(*args, **kwargs)
        if not killed:
            killed.append(started.pid)
            os.kill(started.pid, signal.SIGKILL)
            _dead(started.pid)
        return started

    monkeypatch.setattr(sp, "Popen", dies_at_once)
    log = tmp_path / "ran"
    dag = DAG()
    nodes = [dag.add_node(_count_run, str(log), i) for i in range(10)]
    run = dag.run(executor="processes", max_workers=1)
    assert len(killed) == 1
    assert run.failed == [] and [run[n] for n in nodes] == list(range(10))
    assert all(len(run.attempts[n]) == 1 for n in nodes)
    assert sorted(map(int, log.read_text().split())) == list(range(10))
    monkeypatch.undo()
    webber.shutdown()


def test_row02_a_portable_worker_killed_before_it_connects_as_the_pool_grows_is_no_error(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """The portable path: the second worker, started as the pool grows to the
    run's max_workers, killed before it read its token. Its BrokenPipeError
    came out of the pool's grow timer as a thread's traceback on stderr (or
    failed the run, when the pool grew as jobs were submitted); the worker
    there takes the jobs instead."""
    import subprocess as sp

    webber.shutdown()
    monkeypatch.setenv("WEBBER_POOL", "portable")
    popen, started = sp.Popen, []

    def second_dies(*args: Any, **kwargs: Any) -> Any:
        worker = popen(*args, **kwargs)
        started.append(worker.pid)
        if len(started) == 2:
            os.kill(worker.pid, signal.SIGKILL)
            _dead(worker.pid)
        return worker

    monkeypatch.setattr(sp, "Popen", second_dies)
    dag = DAG()
    nodes = [dag.add_node(str, i) for i in range(2000)]
    run = dag.run(executor="processes", max_workers=2)
    assert len(started) >= 2
    assert run.failed == [] and [run[n] for n in nodes] == [str(i) for i in range(2000)]
    assert all(len(run.attempts[n]) == 1 for n in nodes)
    monkeypatch.undo()
    webber.shutdown()
    err = capfd.readouterr().err
    assert "Traceback" not in err, err


def _settled(pool: Any) -> list[Any]:
    """``pool``'s workers once none is starting (the receiver thread had
    each death; a replacement joins the pool in the same step)."""
    deadline = time.monotonic() + 60
    while True:
        with pool.lock:
            if not pool.booting or time.monotonic() > deadline:
                return list(pool.procs)
        time.sleep(0.01)


def test_row02_workers_that_keep_dying_as_they_start_fail_the_task_and_the_run_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker that never gets to its batch is not the task's fault, but one
    dying after another as they start (a broken environment) must not send
    the batch round for ever: after a few, the task fails, saying so. (How
    many die is not fixed: the first run's first worker, started before its
    flow compiles, may die before any job is queued to it.)"""
    webber.shutdown()
    killed = _kill_workers_as_they_start(monkeypatch, 10**6)  # every one
    dag = DAG()
    n = dag.add_node(str, "never")
    run = dag.run(executor="processes", max_workers=1)
    assert run.failed == [n]
    with pytest.raises(webber.WorkerCrashedError, match="before it began") as info:
        run[n]
    assert "workers in a row" in str(info.value)
    pool = processes._pool
    assert pool is not None
    assert _settled(pool) == []  # (none replaced the last: it died as it started)
    assert len(killed) in (4, 5)
    monkeypatch.undo()
    then_works()


def test_row02_a_worker_dying_as_it_starts_with_no_job_is_not_started_again_and_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Workers dying as they start (a broken environment), none with a job:
    the first run's first worker, started before its flow compiles, and the
    flow refused. Each death started a replacement at once, which died too:
    thousands of processes a second, for as long as the script lived."""
    webber.shutdown()
    killed = _kill_workers_as_they_start(monkeypatch, 10**6)
    dag = DAG()
    dag.add_node(str, threading.Lock())
    with pytest.raises(webber.UnpicklableTaskError, match="cannot be pickled"):
        dag.run(executor="processes", max_workers=1)
    pool = processes._pool
    assert pool is not None
    assert _settled(pool) == []
    assert len(killed) == 1
    monkeypatch.undo()
    then_works()  # (a job starts one on demand)


# -- row 3: sys.exit / KeyboardInterrupt inside a task --------------------------------
def _sys_exit() -> None:
    sys.exit(3)


def _keyboard_interrupt() -> None:
    raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("func", "kind"), [(_sys_exit, SystemExit), (_keyboard_interrupt, KeyboardInterrupt)]
)
def test_row03_exit_and_interrupt_are_ordinary_failures(func: object, kind: type) -> None:
    dag = DAG()
    n = dag.add_node(func)  # type: ignore[arg-type]
    other = dag.add_node(str, "fine")
    run = dag.run(executor="processes")
    assert run.state(n) == "failed" and run[other] == "fine"
    error = run.error(n)
    assert isinstance(error, webber.TaskExitError) and isinstance(error.__cause__, kind)
    # The worker's traceback is still there, under the original.
    assert "RemoteTraceback" in type(error.__cause__.__cause__).__name__
    then_works()


# -- rows 4, 5, 6: results and exceptions that do not travel ----------------------------
def _returns_a_lock() -> object:
    return {"lock": threading.Lock()}


class Unloadable:
    def __reduce__(self) -> tuple[object, ...]:
        return (_refuse, ())


def _refuse() -> None:
    raise RuntimeError("this object cannot be rebuilt")


def _returns_unloadable() -> object:
    return Unloadable()


class NeedsTwo(Exception):
    def __init__(self, a: int, b: int) -> None:
        super().__init__(f"needs {a} and {b}")


def _raises_needs_two() -> None:
    raise NeedsTwo(1, 2)


def test_row04_unpicklable_result_fails_its_node_naming_the_type() -> None:
    dag = DAG()
    n = dag.add_node(_returns_a_lock)
    ok = dag.add_node(str, "fine")
    run = dag.run()
    assert run[ok] == "fine"
    with pytest.raises(TypeError, match="cannot be pickled to send back") as info:
        run[n]
    assert n in str(info.value)
    assert "dict" in str(info.value) and "lock" in str(info.value)
    # The worker's frames end at the pickling error; the task's error is said once, below.
    shown = "".join(traceback.format_exception(info.value))
    assert shown.count("cannot be pickled to send back") == 1, shown
    assert "TypeError: cannot pickle '_thread.lock' object" in str(info.value.__cause__)
    then_works()


def test_row05_result_that_cannot_be_unpickled_fails_only_its_node() -> None:
    dag = DAG()
    n = dag.add_node(_returns_unloadable)
    ok = dag.add_node(str, "fine")
    run = dag.run()
    assert run[ok] == "fine"
    with pytest.raises(TypeError, match="cannot be unpickled") as info:
        run[n]
    assert n in str(info.value)
    then_works()


class HoldsALock(Exception):
    def __init__(self, a: int, b: int) -> None:
        super().__init__(f"lock {a} {b}")
        self.lock = threading.Lock()  # cannot be pickled at all


def _raises_holds_a_lock() -> None:
    raise HoldsALock(1, 2)


def test_row06_exception_with_extra_init_args_still_reaches_the_caller() -> None:
    dag = DAG()
    n = dag.add_node(_raises_needs_two)
    run = dag.run()
    # Rebuilt without calling __init__: the real type, so `except NeedsTwo` works.
    with pytest.raises(NeedsTwo, match="needs 1 and 2") as info:
        run[n]
    assert info.value.args == ("needs 1 and 2",)
    assert "_raises_needs_two" in str(info.value.__cause__)
    then_works()


def test_row06_an_exception_with_an_unpicklable_attribute_keeps_its_class() -> None:
    dag = DAG()
    n = dag.add_node(_raises_holds_a_lock)
    run = dag.run()
    error = run.error(n)
    # Its own class (so `except HoldsALock` works), the lock as its repr.
    assert type(error) is HoldsALock and str(error) == "lock 1 2"
    assert isinstance(error.lock, str) and "lock" in error.lock
    assert "_raises_holds_a_lock" in str(error.__cause__)
    then_works()


class _NoClassHere(Exception):
    pass


def test_row06_an_exception_that_cannot_travel_at_all_keeps_its_name_and_text() -> None:
    from webber.executors._codec import decode_failure, encode_failure

    data, info = encode_failure(_NoClassHere("gone"))
    # The caller cannot load it (here: a pickle that fails): name and text remain.
    error = decode_failure("n-1", b"not a pickle" if data else data, info)
    assert isinstance(error, webber.TaskError) and error.task == "n-1"
    assert "_NoClassHere: gone" in str(error)
    assert "gone" in str(error.__cause__)


# -- row 39: a failed task's arguments in the worker ----------------------------------
class _Held:
    """What a failed task's frames hold (in life, a 100 MB array argument)."""


def _fails_holding(value: _Held) -> None:
    try:
        {}["key"]
    except KeyError:
        raise ValueError(f"bad input: {type(value).__name__}")  # noqa: B904  # (its context)


def test_row39_a_worker_keeps_no_frames_of_a_failure_it_sent() -> None:
    # The worker's side of the conformance row: a failure's frames held the
    # task's arguments in a reference cycle until the worker's next full
    # collection; its caller gets the traceback's text, not the frames.
    import gc
    import weakref

    from webber.executors._codec import decode_failure, encode_failure
    from webber.executors._work import call_column

    held = _Held()
    gone = weakref.ref(held)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        [(ok, error, _, _)] = list(call_column("fails", ["fails-1"], _fails_holding, [(held,)]))
        assert not ok and isinstance(error, ValueError)
        data, info = encode_failure(error)
        text = info[2]
        assert "in _fails_holding" in text and "KeyError" in text  # its text, frames and all
        assert error.__traceback__ is None and error.__context__.__traceback__ is None
        del error, held
        assert gone() is None
        arrived = decode_failure("fails-1", data, info)
        assert isinstance(arrived, ValueError) and arrived.__traceback__ is None
        assert "in _fails_holding" in str(arrived.__cause__)
    finally:
        if was_enabled:
            gc.enable()


# -- row 7: refused before anything runs ---------------------------------------------
def test_row07_unpicklable_task_or_argument_refused_before_running(tmp_path: Path) -> None:
    lock = threading.Lock()
    ran = tmp_path / "ran"
    dag = DAG()
    dag.add_node(Path.write_text, ran, "x")
    dag.add_node(lambda: lock.locked())
    refused = r"task 'lambda-1'.*function 'lambda'"
    with pytest.raises(webber.UnpicklableTaskError, match=refused) as info:
        dag.run()
    assert "lock" in str(info.value) and "executor='threads'" in str(info.value)
    assert not ran.exists()

    dag2 = DAG()
    dag2.add_node(print, "a", threading.Lock())
    with pytest.raises(webber.UnpicklableTaskError, match=r"'print-1'.*argument 1 \(lock"):
        dag2.run()
    assert dag2.compile().levels == [["print-1"]]  # the graph is fine: the executor refuses
    assert dag2.run(executor="threads").ok


def read_it(handle: object) -> str:
    return handle.read()  # type: ignore[attr-defined, no-any-return]


@pytest.mark.parametrize("mode", ["r", "rb", "a"])
def test_row07_an_open_file_is_refused_as_documented(tmp_path: Path, mode: str) -> None:
    # cloudpickle would send a snapshot of its text as a StringIO: the task
    # would read stale data, and its writes would go nowhere.
    path = tmp_path / "data.txt"
    path.write_text("v1")
    with open(path, mode) as handle:
        dag = DAG()
        dag.add_node(read_it, handle)
        with pytest.raises(webber.UnpicklableTaskError, match=r"'read_it-1'.*open file") as info:
            dag.run(executor="processes")
        assert "pass its path" in str(info.value)
    dag = DAG()
    n = dag.add_node(read_it, io.StringIO("in memory"))  # a buffer travels, as before
    assert dag.run(executor="processes")[n] == "in memory"


# -- row 8: an argument kills the worker while it is unpickled ----------------------------
class KillsOnLoad:
    def __reduce__(self) -> tuple[object, ...]:
        return (os._exit, (7,))


def _identity(x: object) -> object:
    return x


def test_row08_argument_that_kills_the_worker_on_load() -> None:
    # Made here, unpickled in the worker. (A *result* like this would kill the
    # caller when it is unpickled there: pickle runs code; nothing can stop that.)
    dag = DAG()
    n = dag.add_node(_identity, KillsOnLoad())
    other = dag.add_node(str, "fine")
    run = dag.run()
    assert run[other] == "fine"
    with pytest.raises(webber.WorkerCrashedError, match="exit code 7"):
        run[n]
    then_works()


# -- row 9: 200 MB through the pool -------------------------------------------------------
def _big(n: int) -> bytes:
    return os.urandom(n)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.slow
def test_row09_200mb_argument_and_result_arrive_intact() -> None:
    dag = DAG()
    big = dag.add_node(_big, 200 << 20)
    digest = dag.add_node(_digest, webber.Promise(big))
    run = dag.run()
    assert run[digest] == hashlib.sha256(run[big]).hexdigest()
    assert len(run[big]) == 200 << 20
    mine = f"webber-{_shm.owner(os.getpid())}-"
    leftovers = [f for f in os.listdir("/dev/shm") if f.startswith(mine)]
    assert leftovers == []


# -- row 10: timeouts kill the worker and its children ------------------------------------
def _spin() -> None:
    while True:
        pass


def _ignore_term() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(30)


def _child_sleeps(pidfile: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    Path(pidfile).write_text(str(child.pid))
    time.sleep(60)


@pytest.mark.parametrize("func", [slow_ok, _spin, _ignore_term])
def test_row10_timeout_kills_the_worker(func: object) -> None:
    limited = task(timeout=0.5)(func)  # type: ignore[call-overload]
    with Flow() as flow:
        n = limited(30) if func is slow_ok else limited()
        other = task(str)("fine")
    start = time.monotonic()
    run = flow.run()
    assert time.monotonic() - start < 10
    assert run[other] == "fine"
    with pytest.raises(webber.TaskTimeoutError, match=r"timed out after 0\.5 s"):
        run[n]
    then_works()


class _SlowToLoad:
    """A task whose loading in the worker takes a second (a slow import, say)."""

    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (_load_slowly, ())

    def __call__(self) -> str:
        return "ran"


def _load_slowly() -> _SlowToLoad:
    time.sleep(1.0)
    return _SlowToLoad()


def test_row10_a_timeout_counts_the_call_not_the_load_nor_the_wait() -> None:
    # The clock starts when the worker calls the task: not while the task
    # waited behind another on its one worker, nor while the worker loaded
    # its function (a worker that is still starting is the same case).
    dag = DAG()
    dag.add_node(int, 1)
    dag.run(max_workers=1)  # the worker is up
    ahead = dag.add_node(slow_ok, 1.0)
    limited = dag.add_node(task(timeout=0.5)(_SlowToLoad()))
    run = dag.run(max_workers=1)
    assert run.ok, run.failed
    assert run[ahead] == "sibling done" and run[limited] == "ran"
    (attempt,) = run.attempts[limited]
    assert attempt.started >= run.attempts[ahead][0].started + 1.0


def test_row10_timeout_kills_the_tasks_children_and_retries(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    limited = task(timeout=1.0, retries=1)(_child_sleeps)
    with Flow() as flow:
        n = limited(str(pidfile))
    run = flow.run()
    assert run.state(n) == "failed"
    assert len(run.attempts[n]) == 2
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while psutil.pid_exists(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not psutil.pid_exists(grandchild) or psutil.Process(grandchild).status() == "zombie"


# -- rows 11, 12, 13: the caller is interrupted, killed, or just ends --------------------
SCRIPT_HEADER = f"import sys; sys.path.insert(0, {str(Path(__file__).parents[2])!r})\n"


def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "script.py"
    path.write_text(SCRIPT_HEADER + textwrap.dedent(body))
    return path


def test_row11_ctrl_c_in_the_caller_stops_run_and_workers(tmp_path: Path) -> None:
    script = _script(tmp_path, """
        import _thread, threading, time, psutil, webber
        dag = webber.DAG()
        for _ in range(4):
            dag.add_node(time.sleep, 30)
        threading.Timer(1.0, _thread.interrupt_main).start()
        start = time.monotonic()
        try:
            dag.run()
        except KeyboardInterrupt:
            print("interrupted after", round(time.monotonic() - start, 1))
        time.sleep(0.5)
        print("children", len(psutil.Process().children(recursive=True)))
    """)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=30)
    assert "interrupted after" in out.stdout, out.stderr
    seconds = float(out.stdout.split("interrupted after")[1].split()[0])
    assert seconds < 3.5  # the timer fires at 1 s; webber must answer within ~2 s
    assert "children 0" in out.stdout


def test_row12_caller_killed_workers_exit(tmp_path: Path) -> None:
    script = _script(tmp_path, """
        import os, time, webber
        dag = webber.DAG()
        for _ in range(2):
            dag.add_node(time.sleep, 60)
        dag.run()
    """)
    caller = subprocess.Popen([sys.executable, str(script)])
    proc = psutil.Process(caller.pid)
    deadline = time.monotonic() + 15
    while len(proc.children(recursive=True)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = proc.children(recursive=True)
    assert len(workers) >= 2
    caller.kill()
    caller.wait()
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert alive == []


def test_row12_what_a_killed_caller_held_in_shared_memory_is_removed(tmp_path: Path) -> None:
    script = _script(tmp_path, """
        import time, webber
        def make():
            return bytes(4 << 20)  # (through shared memory: over 1 MB)
        def hold(data):
            time.sleep(60)
        dag = webber.DAG()
        for _ in range(2):
            dag.add_node(hold, webber.Promise(dag.add_node(make)))
        dag.run()
    """)
    caller = subprocess.Popen([sys.executable, str(script)])
    held = f"webber-{_shm.owner(caller.pid)}-"
    deadline = time.monotonic() + 30
    while not _segments(held) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _segments(held)  # the results it passes on: kept as its own until the run ends
    workers = psutil.Process(caller.pid).children(recursive=True)
    caller.kill()  # (as the kernel's OOM killer, or a notebook's restart, does)
    caller.wait()
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert alive == []
    assert _segments(held) == []  # its workers removed them as they ended
    # (A ledger, of a worker killed before its caller took it, is the ledger sweep's.)
    left = [name for w in workers for name in _segments(f"webber-{_shm.owner(w.pid)}-")]
    assert [name for name in left if not name.endswith("-ledger")] == []


def _segments(prefix: str) -> list[str]:
    return [f for f in os.listdir(_shm.directory()) if f.startswith(prefix)]


def test_row13_script_ends_without_shutdown(tmp_path: Path) -> None:
    script = _script(tmp_path, """
        import webber
        dag = webber.DAG()
        n = dag.add_node(sum, [1, 2, 3])
        assert dag.run()[n] == 6
    """)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    assert out.stderr == ""


def test_row13_what_a_task_left_running_ends_with_the_program(tmp_path: Path) -> None:
    # A task's child outlives the task (its worker's process group outlives the
    # worker): the pool's shutdown at exit ends it, as recycling a worker does.
    script = _script(tmp_path, """
        import subprocess
        import webber

        def leave() -> int:
            return subprocess.Popen(["sleep", "300"]).pid

        dag = webber.DAG()
        n = dag.add_node(leave)
        print(dag.run()[n])
    """)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    pid = int(out.stdout.split()[-1])
    deadline = time.monotonic() + 20  # (the kill is sent before exit; reaping may lag)
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(pid)


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE  # (a zombie has ended)
    except psutil.Error:
        return False


# -- rows 14, 15: tasks that start processes or flows ---------------------------------
def _pool_in_task() -> list[int]:
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2) as pool:
        return list(pool.map(abs, [-1, -2, -3]))


def _flow_in_task() -> int:
    inner = DAG("inner")
    n = inner.add_node(sum, [1, 2, 3])
    return int(inner.run(executor="processes", max_workers=1)[n])


def test_row14_task_starts_its_own_process_pool() -> None:
    dag = DAG()
    n = dag.add_node(_pool_in_task)
    assert dag.run()[n] == [1, 2, 3]


@pytest.mark.skipif(sys.platform != "linux", reason="a fork-started pool: Linux's default")
def test_row14_a_pool_a_task_starts_takes_the_scripts_own_functions(tmp_path: Path) -> None:
    # In a worker, __main__ is webber's: the script's functions a task refers
    # to are lent to it, so that the pool pickles them by reference as in the
    # script (they failed with "attribute lookup sq on __main__ failed").
    script = _script(tmp_path, """
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        import webber

        class Box:
            def __init__(self, v):
                self.v = v

        def square(x):
            return Box(x * x)

        def pool():
            fork = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(2, mp_context=fork) as p:
                return [box.v for box in p.map(square, range(4))]

        def main():
            return 1  # (a name the worker's own __main__ has: not replaced)

        dag = webber.DAG()
        n, m = dag.add_node(pool), dag.add_node(main)
        run = dag.run()
        print(run[n], run[m])
    """)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[-2] == "[0, 1, 4, 9] 1"


def test_row15_task_runs_a_flow() -> None:
    dag = DAG()
    n = dag.add_node(_flow_in_task)
    assert dag.run()[n] == 6


# -- row 20: threads holding locks in the caller ---------------------------------------
def _logs_in_the_worker() -> int:
    import logging

    logging.getLogger("row20").warning("a worker can log")  # would hang on an inherited lock
    return os.getpid()


def test_row20_a_worker_born_while_a_thread_holds_the_logging_lock_can_log() -> None:
    import logging

    from webber.executors import processes

    webber.shutdown()
    release, held = threading.Event(), threading.Event()

    def hold() -> None:
        with logging._lock:  # type: ignore[attr-defined]  # the module lock fork() would copy
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(5)
    try:
        pool = processes._get_pool(1)
        with pool.lock:
            pool._spawn()  # born while another thread holds logging's lock
    finally:
        release.set()
        holder.join()
    dag = DAG()
    n = dag.add_node(_logs_in_the_worker)
    run = dag.run(executor=webber.executors.ProcessExecutor(1))
    assert run.ok and run[n] != os.getpid()


# -- row 21: output printed right before a crash -----------------------------------------
def _print_then_die() -> None:
    print("last words")
    sys.stdout.flush()
    os._exit(1)


def test_row21_lines_printed_before_a_crash_reach_the_log(caplog: pytest.LogCaptureFixture) -> None:
    dag = DAG()
    n = dag.add_node(_print_then_die)
    run = dag.run()
    assert run.state(n) == "failed"
    assert ("_print_then_die", "last words") in task_lines(caplog)


# -- locality (not a fault, but a property of this executor) ------------------------------
def test_a_task_runs_where_its_input_was_made_when_that_worker_is_free() -> None:
    dag = DAG()
    a = dag.add_node(os.getpid)
    b = dag.add_node(_identity, webber.Promise(a))
    c = dag.add_node(_identity, webber.Promise(a))  # two children: no chain
    run = dag.run(executor="processes", max_workers=2)
    assert run.attempts[b][0].worker == run.attempts[a][0].worker
    assert run[b] == run[c] == run[a]
