"""``async def`` tasks (reliability row 24) and ``await flow.arun()`` -- on every executor."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

import webber
from tests.conftest import Starts, appears
from webber import DAG, Flow, Promise, task


@task
async def double(x: int) -> int:
    await asyncio.sleep(0.01)
    print(f"doubled {x}")
    return 2 * x


@task
def add(a: int, b: int) -> int:
    return a + b


@task
async def refuse(x: int) -> int:
    await asyncio.sleep(0)
    raise ValueError(f"no {x}")


@pytest.mark.timeout(120)
def test_row24_async_tasks_are_awaited(executor: str, caplog: pytest.LogCaptureFixture) -> None:
    with Flow() as flow:
        a = double(1)  # async
        b = add(a, 10)  # sync, fed an async result
        c = double(b)  # async, fed a sync result
        d = double(c)  # async after async (never chained: each goes to the loop)
        many = double.map([1, 2, 3])
        bad = refuse(5)
    run = flow.run(executor=executor)
    assert (run[a], run[b], run[c], run[d], run[many]) == (2, 12, 24, 48, [2, 4, 6])
    with pytest.raises(ValueError, match="no 5"):
        run[bad]
    assert "doubled 12" in caplog.text  # its output reaches the log, as a sync task's


@task
async def nap(seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds


@pytest.mark.timeout(120)
def test_row24_awaits_overlap_beyond_the_worker_count(executor: str) -> None:
    # 12 tasks awaiting 1 s on 2 workers: on threads and processes they share
    # an event loop per process, so more than 2 wait at the same time (read
    # from the run's record, not from the clock of the run).
    # (Where they cannot overlap, shorter naps say as much: 12 x 1 s inline.)
    seconds = 1.0 if executor in ("threads", "processes") else 0.2
    with Flow() as flow:
        naps = [nap(seconds) for _ in range(12)]
    run = flow.run(executor=executor, max_workers=2)
    assert [run[n] for n in naps] == [seconds] * 12
    spans = [(a.started, a.started + a.duration) for n in naps for a in run.attempts[n]]
    at_once = max(sum(s <= t < e for s, e in spans) for t, _ in spans)
    if executor in ("threads", "processes"):
        assert at_once > 2, spans
    else:  # inline awaits one at a time; dask runs one task per worker thread
        assert at_once <= 2


@pytest.mark.timeout(120)
def test_async_task_timeout(executor: str) -> None:
    # Threads, inline and a dask worker cancel the awaiting task (inline and
    # dask waited it out, 300 s), processes kill the worker.
    limited = task(timeout=0.5)(nap.fn)
    with Flow() as flow:
        n = limited(300.0)
        other = add(1, 2)
    run = flow.run(executor=executor)
    assert isinstance(run.error(n), webber.TaskTimeoutError)
    assert run[other] == 3


@pytest.mark.timeout(120)
def test_arun_does_not_block_the_event_loop(executor: str, tmp_path: Path) -> None:
    marker = tmp_path / "loop-ran"
    dag = DAG()
    n = dag.add_node(appears, str(marker))

    async def main() -> bool:
        running = asyncio.ensure_future(dag.arun(executor=executor))
        await asyncio.sleep(0.05)
        marker.touch()  # only happens if the loop runs while the flow does
        run = await running
        return bool(run[n])

    # (Inline runs the task in arun's thread: the loop is free all the same.)
    assert asyncio.run(main()) is True


def touch(path: str) -> None:
    Path(path).touch()


@pytest.mark.timeout(120)
def test_cancelling_arun_stops_the_run(executor: str, tmp_path: Path) -> None:
    # A notebook's interrupt of `await flow.arun()`: the run went on in the
    # background, its later tasks too, and asyncio.run() (the kernel) waited for it.
    if executor == "inline":
        pytest.skip("its tasks run in arun's thread: the run stops after the one running")
    release, after = tmp_path / "release", tmp_path / "after"
    started = threading.Event()

    dag = DAG()
    first = dag.add_node(appears, str(release))
    dag.add_edge(first, dag.add_node(touch, str(after)))

    async def main() -> None:
        running = asyncio.ensure_future(dag.arun(executor=executor, listeners=[Starts(started)]))
        assert await asyncio.to_thread(started.wait, 60)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running

    try:
        asyncio.run(main())  # returns once arun's thread ends: its run stopped
        assert not after.exists()
    finally:
        release.touch()


def touch_after(_previous: object, path: str) -> None:
    Path(path).touch()


@pytest.mark.timeout(120)
def test_cancelling_arun_stops_a_chain_between_its_links(executor: str, tmp_path: Path) -> None:
    # The link running when arun is cancelled runs to its end (a thread cannot
    # be stopped); the links after it must not start. Before, on threads, they did.
    if executor == "inline":
        pytest.skip("its tasks run in arun's thread: the run stops after the one running")
    if executor == "dask":
        pytest.skip("a chain is one dask task, which runs to its end (docs/guide/executors.md)")
    release, after = tmp_path / "release", tmp_path / "after"
    started = threading.Event()

    dag = DAG()
    first = dag.add_node(appears, str(release))
    dag.add_node(touch_after, Promise(first), str(after))  # (a link of first's chain)

    async def main() -> None:
        running = asyncio.ensure_future(dag.arun(executor=executor, listeners=[Starts(started)]))
        assert await asyncio.to_thread(started.wait, 60)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running

    try:
        asyncio.run(main())
    finally:
        release.touch()
    for thread in threading.enumerate():  # (the first link ends now, on threads)
        if thread.name.startswith("webber_"):
            thread.join(30)
    assert not after.exists()  # (on processes its worker was killed with the run)


def test_an_async_failure_is_the_task_s_own_exception(executor: str) -> None:
    @task
    async def refuse() -> None:
        raise ValueError("nope")

    with Flow() as flow:
        p = refuse()
    error = flow.run(executor=executor).error(p)
    assert type(error) is ValueError and str(error) == "nope"
    # Nothing of webber's in its chain (a traceback would show it: "During handling
    # ..."); from a worker process, the cause is the worker's traceback, as text.
    assert error.__context__ is None
    cause = error.__cause__
    assert cause is None or type(cause).__name__ == "RemoteTraceback"
    assert "no running event loop" not in str(cause)
