"""The dask executor beyond the conformance suite: whose client is closed,
worker deaths, results that stay on the cluster, Ctrl-C (dask missing:
test_dask_missing.py)."""

from __future__ import annotations

import _thread
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import webber
from webber import DAG, Flow, Promise, task
from webber.executors._dask_main import UNGUARDED

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")
psutil = pytest.importorskip("psutil")


def _cluster(n_workers: int) -> Any:
    return distributed.LocalCluster(
        n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0"
    )


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    cluster = _cluster(2)
    client = distributed.Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()


def add(a: int, b: int) -> int:
    return a + b


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


@pytest.mark.timeout(60)
def test_the_users_client_stays_open_and_serves_several_runs(client: Any) -> None:
    executor = webber.DaskExecutor(client)
    dag = DAG()
    a = dag.add_node(add, 1, 2)
    b = dag.add_node(add, Promise(a), 10)
    for _ in range(2):  # an executor serves one run after another
        run = dag.run(executor=executor)
        assert run[b] == 13
        assert client.status == "running"
    assert run.attempts[a][0].worker.startswith("dask tcp://")
    assert repr(executor).startswith("DaskExecutor(<Client")


@pytest.mark.timeout(60)
def test_executor_dask_starts_a_cluster_for_the_run_and_leaves_none(client: Any) -> None:
    before = _children()  # the module's cluster is ours too
    dag = DAG()
    a = dag.add_node(add, 1, 2)
    b = dag.add_node(add, Promise(a), 10)
    run = dag.run(executor="dask", max_workers=1)
    assert run[b] == 13 and run[a] == 3  # fetched before the cluster closed
    assert "WEBBER_DASK_UNGUARDED" not in os.environ  # (its workers' only: _dask_main)
    deadline = time.monotonic() + 10
    while _children() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _children() - before == set()


def _die() -> None:
    print("about to die")
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.timeout(90)
def test_a_task_that_kills_its_worker_fails_with_a_clear_error() -> None:
    # allowed-failures=1: dask gives up on a task when a second worker dies
    # running it (the default: a fourth). Not 0: a task merely queued on the
    # dying worker would be given up on too.
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = _cluster(2)
    try:
        with distributed.Client(cluster, set_as_default=False) as client:
            with Flow() as flow:
                first = task(add)(1, 2)
                dies = task(_die)()
                first >> dies  # a chain: one dask task, the crash is its second job
                after = task(add)(dies, 1)
                other = task(add)(3, 4)
            t0 = time.monotonic()
            run = flow.run(executor=webber.DaskExecutor(client))
            assert time.monotonic() - t0 < 60
            assert run.state(dies) == "failed" and run.state(after) == "skipped"
            assert run[first] == 3 and run[other] == 7
            error = run.error(dies)
            assert isinstance(error, webber.WorkerCrashedError)
            assert isinstance(error, webber.TaskError)
            assert "task 'die-1'" in str(error) and "KilledWorker" in str(error)
            assert "chain from 'add-1'" in str(error)
            assert isinstance(error.__cause__, distributed.KilledWorker)
            assert run[first] == 3  # read again: the result is kept, not run a third time
            # The cluster goes on (the nannies start new workers).
            assert DAG().run(executor=webber.DaskExecutor(client)).ok
            healthy = DAG()
            n = healthy.add_node(add, 5, 6)
            assert healthy.run(executor=webber.DaskExecutor(client))[n] == 11
    finally:
        cluster.close()


def make_array() -> Any:
    import numpy as np

    return np.ones(12_500_000)  # 100 MB of float64


def total(array: Any) -> float:
    return float(array.sum())


@pytest.mark.timeout(90)
def test_a_large_result_moves_between_workers_not_through_the_caller(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("numpy")
    fetched: list[Any] = []  # every value the caller received from the cluster
    gather, result = distributed.Client.gather, distributed.Future.result

    def gather_and_note(self: Any, futures: Any, *args: Any, **kwargs: Any) -> Any:
        values = gather(self, futures, *args, **kwargs)
        fetched.extend(values if isinstance(futures, list) else [values])
        return values

    def result_and_note(self: Any, *args: Any, **kwargs: Any) -> Any:
        value = result(self, *args, **kwargs)
        fetched.append(value)
        return value

    monkeypatch.setattr(distributed.Client, "gather", gather_and_note)
    monkeypatch.setattr(distributed.Future, "result", result_and_note)

    dag = DAG()
    array = dag.add_node(make_array)
    sums = [dag.add_node(total, Promise(array)) for _ in range(2)]
    run = dag.run(executor=webber.DaskExecutor(client))
    assert run.ok
    assert fetched == []  # nothing came here during the run
    assert [run[s] for s in sums] == [12_500_000.0] * 2
    assert run[sums[0]] == 12_500_000.0  # read again: not fetched again
    assert fetched == [12_500_000.0] * 2
    # The tracking sees a large value when one is read: the array itself.
    assert run[array].nbytes == 100_000_000
    assert len(fetched) == 3 and fetched[-1].nbytes == 100_000_000


def _sleep(seconds: float) -> str:
    time.sleep(seconds)
    return "slept"


def _pending(dask_scheduler: Any) -> list[str]:
    active = ("released", "waiting", "queued", "no-worker", "processing")
    return [str(k) for k, ts in dask_scheduler.tasks.items() if ts.state in active]


@pytest.mark.timeout(60)
def test_ctrl_c_cancels_the_runs_tasks_and_keeps_the_client(client: Any) -> None:
    dag = DAG()
    for _ in range(4):  # 2 run, 2 wait for a worker
        dag.add_node(_sleep, 2.0)
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            dag.run(executor=webber.DaskExecutor(client))
    finally:
        timer.cancel()
    assert client.status == "running"
    # The scheduler forgets every task of the run (the two running ones
    # finish on their workers, their results dropped).
    deadline = time.monotonic() + 10
    while client.run_on_scheduler(_pending) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.run_on_scheduler(_pending) == []


def _wait_for_event(event: str) -> str:
    distributed.Event(event).wait()
    return "released"


@pytest.mark.timeout(60)
def test_a_task_past_its_timeout_holds_up_no_task_of_its_worker(client: Any) -> None:
    """A running thread cannot be stopped: the stuck task keeps its worker's
    thread, and dask counts it busy, until it returns (here, once the run is
    over). No task is given that thread meanwhile: the run ends."""
    release = distributed.Event(f"release-{os.getpid()}-{time.time()}", client=client)
    dag = DAG()
    stuck = dag.add_node(_wait_for_event, release.name)
    dag.update_nodes(stuck, timeout=0.5)
    quick = [dag.add_node(_sleep, 0.1) for _ in range(20)]  # 2 s of work
    try:
        run = dag.run(executor=webber.DaskExecutor(client))
    finally:
        release.set()
    assert isinstance(run.error(stuck), webber.TaskTimeoutError)
    assert all(run.state(n) == "success" for n in quick)


def _submits(x: int) -> int:
    with distributed.worker_client() as inner:
        return int(inner.submit(add, x, 1).result())


@pytest.mark.timeout(60)
def test_a_task_with_a_timeout_runs_on_its_dask_thread(client: Any) -> None:
    """So it may leave the thread pool to wait for tasks it submits itself
    (worker_client, secede), as one without a timeout may."""
    dag = DAG()
    n = dag.add_node(_submits, 41)
    dag.update_nodes(n, timeout=30)
    assert dag.run(executor=webber.DaskExecutor(client))[n] == 42


@pytest.mark.timeout(60)
def test_max_workers_belongs_to_the_cluster_webber_starts(client: Any) -> None:
    with pytest.raises(webber.ExecutorError, match="size your own cluster"):
        webber.DaskExecutor(client, max_workers=2)
    with pytest.raises(webber.ExecutorError, match=r"expected a distributed\.Client"):
        webber.DaskExecutor("tcp://127.0.0.1:8786")  # type: ignore[arg-type]
    assert webber.DaskExecutor(max_workers=3).max_workers == 3


def _wait_for(marker: str, value: int) -> int:
    # Waits (on the worker) until the caller has begun fetching the chain's head.
    deadline = time.monotonic() + 60
    while not os.path.exists(marker):
        assert time.monotonic() < deadline, "the caller never fetched the chain's head"
        time.sleep(0.01)
    return value + 1


def test_fetching_a_chain_head_while_the_chain_runs_does_not_deadlock(
    client: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A listener of task results makes the engine fetch the head of a chain
    # (one dask task) as soon as the head reports, while its links still run:
    # the fetch waits for the whole dask task, and the links' reports must
    # get through meanwhile (they once waited for a lock the fetch held).
    from webber.executors import _dask_results

    marker = str(tmp_path / "fetching")
    load = _dask_results.Box.load

    def load_and_mark(box: Any, value: Any, fetched: bool) -> None:
        open(marker, "w").close()  # the link may end only now, mid-fetch
        load(box, value, fetched)

    monkeypatch.setattr(_dask_results.Box, "load", load_and_mark)
    seen: dict[str, Any] = {}

    class Results(webber.Listener):
        def on_task_result(self, node: str, state: Any, value: Any) -> None:
            seen[node] = value

    with Flow() as flow:
        head = task(add)(1, 2)
        middle = task(_wait_for)(marker, head)
        last = task(add)(middle, 10)
    assert flow.compile().nodes[head.key].next_link == middle.key  # one chain, one dask task
    runs: list[Any] = []
    runner = threading.Thread(
        target=lambda: runs.append(
            flow.run(executor=webber.DaskExecutor(client), listeners=[Results()])),
        daemon=True,
    )
    runner.start()
    runner.join(120)  # the cluster is up already: this times the run alone
    assert not runner.is_alive(), "the run deadlocked"
    assert runs[0][last] == 14
    assert seen == {head.key: 3, middle.key: 4, last.key: 14}


def _pid_and_sum(values: list[int]) -> tuple[int, int]:
    return os.getpid(), sum(values)


def test_a_cache_hit_goes_as_a_value_when_workers_cannot_see_the_store(
    client: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from webber import _cache

    with Flow() as flow:
        values = task(list)(range(10))
        used = task(_pid_and_sum, cache=False)(values)
    executor = webber.DaskExecutor(client)
    flow.run(executor=executor, cache=tmp_path)
    asked: list[Any] = []
    loads: list[bool] = []
    run_on_workers, read = distributed.Client.run, _cache._read

    def elsewhere(self: Any, function: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(args)  # as if the workers were on machines without the store
        return {address: False for address in run_on_workers(self, function, *args, **kwargs)}

    def counted(f: Any, check: bool = True) -> Any:
        loads.append(check)
        return read(f, check)

    monkeypatch.setattr(distributed.Client, "run", elsewhere)
    monkeypatch.setattr(_cache, "_read", counted)
    run = flow.run(executor=executor, cache=tmp_path)
    assert run.cached == [values.key] and len(asked) == 1  # asked once a run
    pid, total = run[used]
    assert total == 45 and pid != os.getpid()
    assert loads == [False]  # loaded here (its checksum read once, by the check) and sent


UNPICKLABLE_RESULT = """\
import threading
from webber import Flow, task

@task
def make_lock():
    return threading.Lock()

@task
def child(lock):
    return "ran"

if __name__ == "__main__":
    with Flow() as flow:
        lock = make_lock()
        after = child(lock)
    run = flow.run(executor="dask")
    print(run.ok, run.states)
    print(type(run.error(lock)).__name__)
"""


@pytest.mark.timeout(180)
def test_a_result_that_cannot_be_pickled_fails_without_dasks_tracebacks(
    tmp_path: Path,
) -> None:
    # It used to succeed, and reading it printed ~150 lines of distributed's
    # serialization tracebacks (its workers' logs, on stderr).
    script = tmp_path / "unpicklable_result.py"
    script.write_text(UNPICKLABLE_RESULT)
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=150,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[-2:] == [
        "False {'make_lock-1': 'failed', 'child-1': 'skipped'}", "ResultSendError",
    ], result.stdout
    assert "Could not serialize" not in result.stderr + result.stdout
    assert len((result.stderr + result.stdout).splitlines()) < 40, result.stderr


UNGUARDED_SCRIPT = """\
from webber import Flow, task

@task
def double(x):
    return 2 * x

print("top level")
with Flow() as flow:
    d = double(21)
run = flow.run(executor="dask")
print(run[d])
"""


@pytest.mark.timeout(180)
def test_a_script_without_a_main_guard_gets_one_clear_error(tmp_path: Path) -> None:
    # Its workers import it again and each tried to start a cluster: hundreds of
    # lines of "distributed.nanny - ERROR - Failed to start process", then
    # "RuntimeError: Nanny failed to start."
    script = tmp_path / "unguarded.py"
    script.write_text(UNGUARDED_SCRIPT)
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=150,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}, check=False,
    )
    assert result.returncode == 1
    assert "top level" in result.stdout and "42" not in result.stdout
    last = result.stderr.splitlines()[-1]
    assert last == f"webber.ExecutorError: {UNGUARDED}"
    assert 'under `if __name__ == "__main__":`' in last and "'processes' needs no guard" in last
    assert "Nanny" not in result.stderr and "bootstrapping" not in result.stderr
    assert len(result.stderr.splitlines()) < 40, result.stderr


def test_a_spawned_process_importing_main_again_cannot_start_a_cluster(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Not a worker of webber's cluster (another spawn child): it says so itself.
    import multiprocessing.process

    monkeypatch.setattr(multiprocessing.process.current_process(), "_inheriting", True,
                        raising=False)
    monkeypatch.delenv("WEBBER_DASK_UNGUARDED", raising=False)
    dag = DAG()
    dag.add_node(add, 1, 2)
    with pytest.raises(webber.ExecutorError) as info:
        dag.run(executor="dask")
    assert str(info.value) == UNGUARDED
