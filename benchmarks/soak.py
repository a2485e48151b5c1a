"""Soak: many runs on ``processes`` mixing every kind of fault; nothing may leak.

Each run has normal tasks, a task that raises, one that calls ``os._exit``,
one that SIGKILLs its own worker, one that runs past its timeout, an ``async
def`` task, and two 50 MB numpy results, each passed to a consumer. Workers
are recycled after every few tasks (``max_tasks_per_worker``), and after each
run the script
forks: the child runs a flow on a pool of its own and exits. Run as root, the
soak runs in a mount namespace of its own with a 64 MB ``/dev/shm`` (Docker's
default): the first 50 MB result fills it, so the second goes through the
pipe. After a warm-up run, it measures the caller's child processes, open
file descriptors, threads, ``/dev/shm`` segments and memory (RSS); after
RUNS runs it measures them again and prints both. Both are measured with the
pool shut down (its workers come and go); after the runs, the caller must
have no more processes under it than the pool's 2 workers. Growth fails the
script (exit status 1).

    python3 dev.py bench soak            # 100 runs
    python benchmarks/soak.py 10         # a short one (tests/test_soak.py runs this)
"""

from __future__ import annotations

import gc
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from typing import Any

import psutil

try:
    from _common import import_webber_from_checkout, our_segments, table
except ImportError:  # imported as benchmarks.soak
    from benchmarks._common import import_webber_from_checkout, our_segments, table

import_webber_from_checkout()

import webber  # noqa: E402
from webber import DAG, Condition, Flow, task  # noqa: E402
from webber.executors import ProcessExecutor  # noqa: E402
from webber.executors._pool import GRACE  # noqa: E402

RESULT_MB = 50
#: /dev/shm in the soak's own mount namespace (when run as root): one result fits
SHM_MB = 64
#: tasks a worker runs before it is replaced: several recycles per run
MAX_TASKS = 4
#: RSS may move by allocator noise, never by the size of what each run made
RSS_SLACK_MB = 40


def normal(x: int) -> int:
    return sum(i * i for i in range(20_000 + x))


def raises(x: int) -> int:
    raise ValueError(f"bad input {x}")


def exits() -> None:
    print("about to _exit")
    os._exit(3)


def kills() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def sleeps() -> None:
    time.sleep(30)


async def awaits(x: int) -> int:
    import asyncio

    await asyncio.sleep(0.01)  # on the worker's event loop
    return x + 1


def big() -> Any:
    import numpy as np

    return np.ones(RESULT_MB * 2**20 // 8)


def total(array: Any) -> float:
    return float(array.sum())


def build() -> Flow:
    with Flow("soak") as flow:
        outs = [task(normal)(i) for i in range(4)]
        failing = task(raises)(outs[0])
        handler = task(lambda error: type(error).__name__, name="handler")(failing)
        task(exits)()
        task(kills)()
        task(sleeps, timeout=0.3)()
        summed = task(total)(task(big)())
        outs[1] >> summed
        task(total)(task(big)())  # no room left in a small /dev/shm: the pipe
        task(awaits)(outs[2])
    flow.update_edges((failing, handler), continue_on=Condition.Failure)
    return flow


def expected_states() -> dict[str, str]:
    return {
        "normal-1": "success", "normal-2": "success", "normal-3": "success",
        "normal-4": "success", "raises-1": "failed", "handler-1": "success",
        "exits-1": "failed", "kills-1": "failed", "sleeps-1": "failed",
        "big-1": "success", "total-1": "success", "big-2": "success", "total-2": "success",
        "awaits-1": "success",
    }


def fork_and_run() -> None:
    """A forked child runs a flow on a pool of its own; the parent's is untouched."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            dag = DAG()
            n = dag.add_node(os.getpid)
            worker = dag.run(max_workers=1)[n]
            code = 0 if worker != os.getpid() else 1
            webber.shutdown()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the forked child's run failed"


def measure() -> dict[str, float]:
    # A timed-out worker gets SIGKILL GRACE seconds after SIGTERM, from a timer
    # thread: let pending ones finish first (they end on their own).
    time.sleep(GRACE + 0.5)
    gc.collect()
    me = psutil.Process()
    return {
        "child processes": len(me.children(recursive=True)),
        "open fds": me.num_fds(),
        "threads": me.num_threads(),
        "/dev/shm segments": len(our_segments("/dev/shm")),
        "RSS (MB)": me.memory_info().rss / 2**20,
    }


def soak(runs: int) -> tuple[dict[str, float], dict[str, float], float]:
    flow = build()
    want = expected_states()
    executor = ProcessExecutor(2, max_tasks_per_worker=MAX_TASKS)
    flow.run(executor=executor)  # warm-up: imports done
    fork_and_run()
    # Measured without a pool: its workers come and go (recycled, replaced), so
    # how many are up at a given moment says nothing; how many at most, below.
    webber.shutdown()
    before = measure()
    t0 = time.perf_counter()
    for i in range(runs):
        run = flow.run(executor=executor)
        states = dict(run.states)
        wrong = {n: f"{s}: {run.error(n)!r}" for n, s in states.items() if s != want.get(n)}
        assert states == want, f"run {i}: {wrong}"
        assert run["total-1"] == run["total-2"] == RESULT_MB * 2**20 // 8
        assert run["handler-1"] == "ValueError"
        del run
        fork_and_run()
    elapsed = time.perf_counter() - t0
    time.sleep(GRACE + 0.5)  # (as in measure: a timed-out worker ends on its own)
    workers = len(psutil.Process().children(recursive=True))
    assert workers <= 2, f"{workers} processes under the caller after the runs: the pool has 2"
    webber.shutdown()
    after = measure()
    return before, after, elapsed


def grew(before: dict[str, float], after: dict[str, float]) -> list[str]:
    problems = []
    for key in before:
        slack = RSS_SLACK_MB if key == "RSS (MB)" else 0
        if after[key] > before[key] + slack:
            problems.append(f"{key}: {before[key]:g} -> {after[key]:g}")
    return problems


def small_shm() -> bool:
    """Whether /dev/shm here is the soak's own small tmpfs."""
    return os.environ.get("WEBBER_SOAK_SMALL_SHM") == "1"


def in_small_shm(runs: int) -> int | None:
    """Run this script again in a mount namespace with a SHM_MB /dev/shm; its
    exit status, or None when that is not possible (not root, no unshare)."""
    if small_shm() or os.geteuid() != 0 or shutil.which("unshare") is None:
        return None
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs tmpfs /dev/shm"],
                           capture_output=True)
    if probe.returncode != 0:
        return None
    shell = (f"mount -t tmpfs -o size={SHM_MB}m tmpfs /dev/shm && "
             f"exec {sys.executable} {os.path.abspath(__file__)} {runs}")
    env = {**os.environ, "WEBBER_SOAK_SMALL_SHM": "1"}
    return subprocess.call(["unshare", "-m", "sh", "-c", shell], env=env)


def main(runs: int = 100) -> int:
    code = in_small_shm(runs)
    if code is not None:
        return code
    # The failures are expected; their log lines (with tracebacks) would bury the
    # table, and so would the notice that /dev/shm is short.
    logging.getLogger("webber").setLevel(logging.CRITICAL)
    before, after, elapsed = soak(runs)
    rows = [["", "before", f"after {runs} runs", "growth"]]
    for key in before:
        fmt = "{:.0f}" if key == "RSS (MB)" else "{:g}"
        rows.append([key, fmt.format(before[key]), fmt.format(after[key]),
                     fmt.format(after[key] - before[key])])
    shm = (f"a {SHM_MB} MB /dev/shm (the second result through the pipe)" if small_shm()
           else "/dev/shm as it is (not root: no small tmpfs)")
    print(f"soak: {runs} runs on processes (2 workers, recycled every {MAX_TASKS} tasks) in "
          f"{elapsed:.1f} s; each run: 4 normal tasks, a raise + handler, os._exit, SIGKILL, "
          f"a timeout, an async task, two {RESULT_MB} MB results, then a fork whose child "
          f"runs a flow; {shm}")
    print(table(rows))
    problems = grew(before, after)
    webber.shutdown()
    if problems:
        print("GROWTH: " + "; ".join(problems))
        return 1
    print("no growth")
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100))
