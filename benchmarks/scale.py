"""What a user pays per task as flows grow: build, compile and run a fresh flow.

For wide flows (independent no-ops) and chains of 1,000, 10,000 and 100,000
tasks on the process executor, each size in a fresh Python process (so the
caller's peak RSS is that size's), five times (the median of each number),
prints per task:

- wall microseconds end to end (build + compile + run, the pool warm: a
  first tiny run starts it, as a script's earlier runs would have);
- the caller's CPU microseconds (all its threads) in each phase;
- the caller's peak RSS in MB.

The cost per task should stay flat as flows grow (issue: within 1.5x from 1k
to 100k). Run: ``python3 dev.py bench scale`` (``--quick`` stops at 10,000).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT, table

SIZES = (1_000, 10_000, 100_000)

CHILD = r"""
import json, resource, sys, time
sys.path[:0] = [{root!r}, {bench!r}]
import webber
from webber import DAG, Promise
from _workloads import build_chain, build_noops

shape, size = {shape!r}, {size}
warm = DAG()
for _ in range(4):  # long enough that the pool grows to all its workers (one a time)
    warm.add_node(time.sleep, 0.05)
warm.run()  # the pool is started: what is measured is the flow, not the pool
cpu, wall = time.process_time, time.perf_counter
t0, c0 = wall(), cpu()
dag = build_noops(DAG(), size) if shape == "wide" else build_chain(DAG(), Promise, size)
c1 = cpu()
plan = dag.compile()
c2 = cpu()
run = dag.run()
c3, t1 = cpu(), wall()
assert run.ok and len(run.succeeded) == size
webber.shutdown()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
print(json.dumps({{"wall": t1 - t0, "build": c1 - c0, "compile": c2 - c1, "run": c3 - c2,
                   "rss": peak}}))
"""


#: fresh processes per flow; each number is their median (one script's run is one
#: sample, and one sample on a busy machine says more about the machine)
PROCESSES = 5


def measure(shape: str, size: int) -> dict[str, float]:
    code = CHILD.format(root=str(ROOT), bench=str(Path(__file__).parent), shape=shape,
                        size=size)
    samples = []
    for _ in range(PROCESSES):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, timeout=1800)
        samples.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {key: statistics.median(s[key] for s in samples) for key in samples[0]}


def main() -> None:
    sizes = SIZES[:2] if "--quick" in sys.argv else SIZES
    rows = []
    for shape in ("wide", "chain"):
        base: float | None = None
        for size in sizes:
            started = time.perf_counter()
            m = measure(shape, size)
            us = {k: m[k] / size * 1e6 for k in ("wall", "build", "compile", "run")}
            base = base or us["wall"]
            rows.append([
                f"{shape} {size:,}", f"{us['wall']:.1f}", f"{us['build']:.1f}",
                f"{us['compile']:.1f}", f"{us['run']:.1f}", f"{m['rss']:.0f}",
                f"{us['wall'] / base:.2f}x", f"{time.perf_counter() - started:.0f} s",
            ])
    print(table([["flow", "us/task wall", "build cpu", "compile cpu", "run cpu",
                  "peak RSS MB", "vs 1k", "took"], *rows]))


if __name__ == "__main__":
    main()
