"""``async def`` tasks: 100 awaits of 0.5 s each overlap on one event loop.

Run it: ``python examples/async_tasks.py``.

Each ``fetch`` awaits 0.5 s (standing in for an HTTP call made with an async
client) and returns a number. An async task takes no thread while it waits:
the threads executor awaits all of them on one event loop, so the 100 waits
overlap and the run takes about 0.5 s, not 100 x 0.5 s. The Promise of an
async task stands for the value it returns once awaited, so ``total(pages)``
type-checks with ``mypy --strict`` as it reads. ``flow.arun()`` runs the same
flow from code that is itself async, without blocking its event loop.
"""

from __future__ import annotations

import asyncio
import time

import webber
from webber import Flow, task

PAGES = 100
LATENCY = 0.5  # seconds per "request"


@task
async def fetch(page: int) -> int:
    await asyncio.sleep(LATENCY)  # the "network"
    return page * 2


@task
async def words(total: int) -> list[str]:
    await asyncio.sleep(0)
    return ["word"] * (total // 1000)


@task
def total(sizes: list[int]) -> int:
    return sum(sizes)


def flow_and_results() -> tuple[Flow, list[int], int, list[str]]:
    with Flow("async") as flow:
        pages = [fetch(p) for p in range(PAGES)]  # Promises of int, not coroutines
        summed = total(pages)
        listed = words(summed)  # an async task fed a result of async tasks
    return flow, pages, summed, listed


def build() -> Flow:
    """The flow alone (``python -m webber run examples/async_tasks.py`` runs it)."""
    return flow_and_results()[0]


async def from_async_code() -> int:
    flow, _, summed, _ = flow_and_results()
    run = await flow.arun(executor="threads")  # the loop keeps running meanwhile
    return int(run[summed])


def main() -> webber.Run:
    flow, pages, summed, listed = flow_and_results()
    start = time.perf_counter()
    run = flow.run(executor="threads")
    elapsed = time.perf_counter() - start

    busy = sum(run.durations[p] for p in pages)
    spans = [(a.started, a.started + a.duration) for p in pages for a in run.attempts[p]]
    at_once = max(sum(s <= t < e for s, e in spans) for t, _ in spans)
    print(f"sum of {PAGES} pages: {run[summed]}; words: {len(run[listed])}")
    print(f"time in the {PAGES} tasks, added up: {busy:.1f} s")
    print(f"most fetches waiting at once: {at_once} of {PAGES}")
    print(f"wall time on threads: {elapsed:.2f} s")
    print(f"the same from async code (await flow.arun()): {asyncio.run(from_async_code())}")
    return run


if __name__ == "__main__":
    main()
