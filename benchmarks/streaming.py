"""Streaming throughput: items per second through a 3-stage pipeline.

Two workloads, each a root that produces the items and two more stages:
no-op stages (what the machinery costs per item), and stages of ~10 ms of
pure-Python CPU each (whether the stages run in parallel). Engines, in one
run on the same machine:

- webber's QueueDAG on processes (a worker process per stage; the root in
  the caller) and on threads;
- webber's ``stream()`` on processes (the source an iterable);
- webber 0.4.0's QueueDAG (threads; in its own venv, see peers.py);
- a hand-written ``multiprocessing`` pipeline: a process per stage, joined
  by bounded ``multiprocessing.Queue``s.

Each number is the best of 3 after a warm-up. Run: ``python3 dev.py bench streaming``.
"""

from __future__ import annotations

import json
import multiprocessing
import subprocess
from typing import Any

from _common import best, import_webber_from_checkout, table
from _workloads import BURN_10MS, Source, build_stream, step
from peers import HERE, python_040

ITEMS = {"noop": 2000, "cpu": 40}
WORK = {"noop": 0, "cpu": BURN_10MS}
MAXSIZE = 16


# -- webber ----------------------------------------------------------------------------
def webber_rates() -> dict[str, dict[str, float]]:
    import_webber_from_checkout()
    import webber
    from webber import Promise, QueueDAG, stream

    rates: dict[str, dict[str, float]] = {}
    for executor in ("processes", "threads"):
        rates[f"QueueDAG {executor}"] = {}
        for kind in ITEMS:
            qdag = build_stream(QueueDAG(), Promise, ITEMS[kind], WORK[kind])
            out = qdag.execute(executor=executor, maxsize=MAXSIZE)
            assert out == list(range(ITEMS[kind])), "in order, every item"
            rates[f"QueueDAG {executor}"][kind] = ITEMS[kind] / best(
                lambda q=qdag, e=executor: q.execute(executor=e, maxsize=MAXSIZE)
            )
    rates["stream() processes"] = {}
    for kind in ITEMS:
        work = WORK[kind]

        def run(kind: str = kind, work: int = work) -> list[Any]:
            return stream(
                (Source(work)() for _ in range(ITEMS[kind])), lambda x: x,
                lambda x, w=work: step(x, w), lambda x, w=work: step(x, w),
                executor="processes", maxsize=MAXSIZE,
            )

        rates["stream() processes"][kind] = ITEMS[kind] / best(run)
    webber.shutdown()
    return rates


# -- multiprocessing by hand -------------------------------------------------------------
_DONE = None


def _source_stage(out: Any, items: int, work: int) -> None:
    source = Source(work)
    for _ in range(items):
        out.put(source())
    out.put(_DONE)


def _middle_stage(inbox: Any, out: Any, work: int) -> None:
    while (x := inbox.get()) is not _DONE:
        out.put(step(x, work))
    out.put(_DONE)


def hand_written(items: int, work: int) -> list[int]:
    q1, q2, q3 = (multiprocessing.Queue(MAXSIZE) for _ in range(3))
    procs = [
        multiprocessing.Process(target=_source_stage, args=(q1, items, work)),
        multiprocessing.Process(target=_middle_stage, args=(q1, q2, work)),
        multiprocessing.Process(target=_middle_stage, args=(q2, q3, work)),
    ]
    for p in procs:
        p.start()
    results = []
    while (x := q3.get()) is not _DONE:
        results.append(x)
    for p in procs:
        p.join()
    return results


def multiprocessing_rates() -> dict[str, float]:
    assert hand_written(10, 0) == list(range(10))
    return {kind: ITEMS[kind] / best(lambda k=kind: hand_written(ITEMS[k], WORK[k]))
            for kind in ITEMS}


def upstream_rates() -> dict[str, float]:
    out = subprocess.run(
        [str(python_040()), str(HERE / "_upstream040.py"), "stream", str(ITEMS["noop"])],
        capture_output=True, text=True, check=True, cwd=HERE,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    engines = webber_rates()
    upstream = upstream_rates()
    engines["webber 0.4.0 QueueDAG"] = upstream
    engines["multiprocessing by hand"] = multiprocessing_rates()
    serial = 3 * 0.010  # seconds per item through three 10 ms stages, one after another
    rows = [["engine", f"3 no-op stages ({ITEMS['noop']} items)",
             f"3 x 10 ms CPU stages ({ITEMS['cpu']} items)"]]
    def cell(rates: dict[str, float], kind: str) -> str:
        rate = f"{rates[kind]:,.0f}" if kind == "noop" else f"{rates[kind]:,.1f}"
        outputs = rates.get(f"{kind}_outputs", ITEMS[kind])
        if outputs != ITEMS[kind]:
            return f"broke: {outputs:.0f} of {ITEMS[kind]} outputs"
        if not rates.get(f"{kind}_in_order", 1.0):
            return f"{rate} items/s, out of order"
        return f"{rate} items/s"

    for name, rates in engines.items():
        rows.append([name, cell(rates, "noop"), cell(rates, "cpu")])
    print(f"{multiprocessing.cpu_count()} cores; one item through the three CPU stages "
          f"serially ~ {serial * 1e3:.0f} ms ({1 / serial:.0f} items/s)\n")
    print(table(rows))
    ours = engines["QueueDAG processes"]
    checks = [
        ("CPU stages run in parallel (processes >= 1.3x threads)",
         ours["cpu"] >= 1.3 * engines["QueueDAG threads"]["cpu"]),
        ("CPU stages within 0.7x of multiprocessing by hand",
         ours["cpu"] >= 0.7 * engines["multiprocessing by hand"]["cpu"]),
    ]
    print()
    for label, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {label}")


if __name__ == "__main__":
    main()
