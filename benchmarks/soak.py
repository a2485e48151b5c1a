"""Soak: many runs on ``processes`` mixing every kind of fault; nothing may leak.

Each run has normal tasks, a task that raises, one that calls ``os._exit``,
one that SIGKILLs its own worker, one that runs past its timeout, an ``async
def`` task, and a 50 MB numpy result passed to a consumer. After a warm-up run, it measures the
caller's child processes, open file descriptors, threads, ``/dev/shm``
segments and memory (RSS); after RUNS runs it measures them again and prints
both. Growth fails the script (exit status 1).

    python3 dev.py bench soak            # 100 runs
    python benchmarks/soak.py 10         # a short one (tests/test_soak.py runs this)
"""

from __future__ import annotations

import gc
import logging
import os
import signal
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
from webber import Condition, Flow, task  # noqa: E402
from webber.executors._pool import GRACE  # noqa: E402

RESULT_MB = 50
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
        task(awaits)(outs[2])
    flow.update_edges((failing, handler), continue_on=Condition.Failure)
    return flow


def expected_states() -> dict[str, str]:
    return {
        "normal-1": "success", "normal-2": "success", "normal-3": "success",
        "normal-4": "success", "raises-1": "failed", "handler-1": "success",
        "exits-1": "failed", "kills-1": "failed", "sleeps-1": "failed",
        "big-1": "success", "total-1": "success", "awaits-1": "success",
    }


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
    flow.run(max_workers=2)  # warm-up: the pool is up, imports done
    before = measure()
    t0 = time.perf_counter()
    for i in range(runs):
        run = flow.run(max_workers=2)
        states = dict(run.states)
        assert states == want, f"run {i}: {states}"
        assert run["total-1"] == RESULT_MB * 2**20 // 8
        assert run["handler-1"] == "ValueError"
        del run
    elapsed = time.perf_counter() - t0
    after = measure()
    return before, after, elapsed


def grew(before: dict[str, float], after: dict[str, float]) -> list[str]:
    problems = []
    for key in before:
        slack = RSS_SLACK_MB if key == "RSS (MB)" else 0
        if after[key] > before[key] + slack:
            problems.append(f"{key}: {before[key]:g} -> {after[key]:g}")
    return problems


def main(runs: int = 100) -> int:
    # The failures are expected; their log lines (with tracebacks) would bury the table.
    logging.getLogger("webber").setLevel(logging.CRITICAL)
    before, after, elapsed = soak(runs)
    rows = [["", "before", f"after {runs} runs", "growth"]]
    for key in before:
        fmt = "{:.0f}" if key == "RSS (MB)" else "{:g}"
        rows.append([key, fmt.format(before[key]), fmt.format(after[key]),
                     fmt.format(after[key] - before[key])])
    print(f"soak: {runs} runs on processes (2 workers) in {elapsed:.1f} s; each run: 4 normal "
          f"tasks, a raise + handler, os._exit, SIGKILL, a timeout, an async task, "
          f"a {RESULT_MB} MB result")
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
