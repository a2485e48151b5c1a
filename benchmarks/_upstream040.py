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
from _workloads import BURN_10MS, build_chain, build_noops, build_stream, burn

import webber  # 0.4.0
from webber.xcoms import Promise


def quiet(dag: Any) -> Callable[[], Any]:
    return lambda: dag.execute()


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
        if sys.argv[1:2] == ["stream"]:  # benchmarks/streaming.py: items per second
            counts = {"noop": int(sys.argv[2]) if len(sys.argv) > 2 else 2000, "cpu": 40}
            result: dict[str, float] = {}
            for kind, work in (("noop", 0), ("cpu", BURN_10MS)):
                items = counts[kind]
                qdag = build_stream(webber.QueueDAG(), Promise, items, work, explicit_edges=True)
                # 0.4.0's stages poll LIFO queues: record what came out, and how.
                outputs = qdag.execute() or []
                result[kind] = items / best(quiet(qdag))
                result[f"{kind}_outputs"] = len(outputs)
                result[f"{kind}_in_order"] = float(outputs == list(range(items)))
        else:
            result = {
                "cpu": best(quiet(cpu)),
                "noop1000": best(quiet(many)),
                "chain300": best(quiet(chain)),
            }
    finally:
        sys.stdout = real_stdout
    print(json.dumps(result))


if __name__ == "__main__":
    main()
