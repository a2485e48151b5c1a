"""Runs the peers workloads on webber 0.4.0 (in its own venv); prints JSON.

Invoked by peers.py as ``<venv>/bin/python _upstream040.py``; 0.4.0 runs
tasks on threads, so its numbers are what users of the PyPI release see.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from _common import best
from _workloads import BURN_10MS, build_chain, build_lattice, build_noops, build_stream, burn

import webber  # 0.4.0
from webber.xcoms import Promise


def quiet(dag: Any) -> Callable[[], Any]:
    return lambda: dag.execute()


def stream_rates(noop_items: int) -> dict[str, float]:
    """Items per second through 0.4.0's QueueDAG (benchmarks/streaming.py)."""
    counts = {"noop": noop_items, "cpu": 40}
    result: dict[str, float] = {}
    for kind, work in (("noop", 0), ("cpu", BURN_10MS)):
        items = counts[kind]
        qdag = build_stream(webber.QueueDAG(), Promise, items, work, explicit_edges=True)
        # 0.4.0's stages poll LIFO queues: record what came out, and how.
        outputs = qdag.execute() or []
        result[kind] = items / best(quiet(qdag))
        result[f"{kind}_outputs"] = len(outputs)
        result[f"{kind}_in_order"] = float(outputs == list(range(items)))
    return result


def main() -> None:
    import io
    import logging

    logging.disable(logging.CRITICAL)
    sink = io.StringIO()
    real_stdout = sys.stdout
    sys.stdout = sink  # 0.4.0 prints a line per task
    try:
        cpu = webber.DAG()
        for _ in range(8):
            cpu.add_node(burn)
        many = build_noops(webber.DAG())
        chain = build_chain(webber.DAG(), Promise, explicit_edges=True)
        result: dict[str, float]
        if sys.argv[1:2] == ["stream"]:  # benchmarks/streaming.py: items per second
            result = stream_rates(int(sys.argv[2]) if len(sys.argv) > 2 else 2000)
        else:
            result = {
                "cpu": best(quiet(cpu)),
                "noop1000": best(quiet(many)),
                "chain300": best(quiet(chain)),
                # end to end: build + execute a fresh DAG each time
                "noop1000 fresh": best(lambda: build_noops(webber.DAG()).execute()),
                "noop10000 fresh": best(lambda: build_noops(webber.DAG(), 10_000).execute(),
                                        repeat=1),
                "chain300 fresh": best(
                    lambda: build_chain(webber.DAG(), Promise, explicit_edges=True).execute()
                ),
                "lattice fresh": best(
                    lambda: build_lattice(webber.DAG(), Promise, explicit_edges=True).execute()
                ),
            }
    finally:
        sys.stdout = real_stdout
    print(json.dumps(result))


if __name__ == "__main__":
    main()
