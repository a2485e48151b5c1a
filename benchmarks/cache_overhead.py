"""What ``run(cache=...)`` costs, and what a hit saves.

1. 1,000 independent no-op tasks on the threads executor: no cache; with a
   cache, cold (an empty store: every key computed, every result written);
   warm (every result loaded). Best of 5 after a warm-up, as ratios against
   the run without a cache in the same process.
2. A task that makes a 100 MB NumPy array (``np.random.default_rng().random``,
   a stand-in for a step that computes one) and a task that reads it, inline:
   running it against loading it from the store (memory-mapped).
3. The same on the process executor (2 workers), the reader summing the
   whole array: computing it in a worker (its result comes to the caller
   and goes on to the reader through shared memory) against a hit, which
   the reader's worker loads from the store itself (the caller only checks
   the entry); and, as the way a hit travelled before, the caller loading
   the entry and sending the array to the reader as an argument.

The stores are made in the checkout, not in /tmp: on the CI machine creating
a file in /tmp costs ~1.7 ms, in the checkout (the same ext4 disk) ~0.1 ms,
and a store usually lives beside the project.

Run: ``python3 dev.py bench cache_overhead``.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from typing import Any

from _common import ROOT, import_webber_from_checkout, table

REPEAT = 5


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def noop(i: int) -> None:
    return None


def noops() -> list[list[str]]:
    import webber

    dag = webber.DAG("noops")
    for i in range(1000):
        dag.add_node(noop, i)  # an argument each: 1,000 keys, 1,000 entries

    plain = min(_timed(lambda: dag.run("threads", max_workers=2)) for _ in range(REPEAT + 1))
    colds, warms = [], []
    for _ in range(REPEAT):
        folder = tempfile.mkdtemp(dir=ROOT)
        try:
            colds.append(_timed(lambda f=folder: dag.run("threads", max_workers=2, cache=f)))
            run = dag.run("threads", max_workers=2, cache=folder)
            assert len(run.cached) == 1000
            warms.append(_timed(lambda f=folder: dag.run("threads", max_workers=2, cache=f)))
        finally:
            shutil.rmtree(folder)
    cold, warm = min(colds), min(warms)
    return [
        ["1,000 no-op tasks (threads)", "seconds", "vs no cache", "per task"],
        ["no cache", f"{plain:.3f}", "1.00x", f"{plain * 1000:.0f} us"],
        ["cache, cold (all stored)", f"{cold:.3f}", f"{cold / plain:.2f}x",
         f"{cold * 1000:.0f} us"],
        ["cache, warm (all loaded)", f"{warm:.3f}", f"{warm / plain:.2f}x",
         f"{warm * 1000:.0f} us"],
    ]


def make_array(mb: int) -> Any:
    import numpy as np

    return np.random.default_rng(0).random(mb * 1_000_000 // 8)


def total(array: Any) -> float:
    return float(array[::4096].sum())


def array_hit() -> list[list[str]]:
    import webber

    with webber.Flow("array") as flow:
        result = webber.task(total, cache=False)(webber.task(make_array)(100))
    folder = tempfile.mkdtemp(dir=ROOT)
    try:
        compute = min(_timed(lambda: flow.run("inline")[result]) for _ in range(REPEAT))
        first = _timed(lambda: flow.run("inline", cache=folder)[result])
        loads = []
        for _ in range(REPEAT):
            run = flow.run("inline", cache=folder)
            assert len(run.cached) == 1
            loads.append(_timed(lambda: flow.run("inline", cache=folder)[result]))
        load = min(loads)
    finally:
        shutil.rmtree(folder)
    return [
        ["100 MB array (inline)", "seconds", "vs computing"],
        ["computed, no cache", f"{compute:.3f}", "1.00x"],
        ["computed and stored (cold)", f"{first:.3f}", f"{first / compute:.2f}x"],
        ["loaded from the store (warm)", f"{load:.3f}", f"{load / compute:.2f}x"],
    ]


def whole_total(array: Any) -> float:
    return float(array.sum())


def array_hit_processes() -> list[list[str]]:
    import webber

    with webber.Flow("array") as flow:
        made = webber.task(make_array)(100)
        result = webber.task(whole_total, cache=False)(made)
    folder = tempfile.mkdtemp(dir=ROOT)
    go = {"executor": "processes", "max_workers": 2}
    try:
        flow.run(**go)  # warm-up: the pool starts
        compute = min(_timed(lambda: flow.run(**go)[result]) for _ in range(REPEAT))
        flow.run(**go, cache=folder)
        store = webber.Cache(folder)
        (entry,) = [e for e in store.entries() if e.task == "make_array"]
        hits, sends = [], []
        for _ in range(REPEAT):
            run = flow.run(**go, cache=folder)
            assert run.cached == [made.key]
            hits.append(_timed(lambda: flow.run(**go, cache=folder)[result]))

            def load_and_send() -> float:
                found, value = store.load(entry.key, entry.task)
                assert found
                with webber.Flow("sent") as sent:
                    given = webber.task(whole_total)(value)
                return float(sent.run(**go)[given])

            sends.append(_timed(load_and_send))
    finally:
        shutil.rmtree(folder)
    hit, send = min(hits), min(sends)
    return [
        ["100 MB array, whole sum (processes)", "seconds", "vs computing"],
        ["computed, no cache", f"{compute:.3f}", "1.00x"],
        ["hit, loaded by the reader's worker", f"{hit:.3f}", f"{hit / compute:.2f}x"],
        ["hit loaded by the caller, sent", f"{send:.3f}", f"{send / compute:.2f}x"],
    ]


def main() -> None:
    import_webber_from_checkout()
    print(table(noops()))
    print()
    print(table(array_hit()))
    print()
    print(table(array_hit_processes()))


if __name__ == "__main__":
    main()
