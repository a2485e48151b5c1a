"""What ``run(dashboard=True)`` costs a run: 1,000 no-op tasks with and without it.

Three ways, on the threads and on the processes executor:

1. no dashboard;
2. ``dashboard=True``'s work with no browser connected (a new server per run,
   its start included);
3. the same with one browser-like client reading the server-sent events: a
   separate process, like a browser (it connects before the run, reconnects
   on ``reload`` as the page does, and reads until the run's last entry).

Every number is the best of 5 runs after a warm-up; the ratio is with / without
(the target: at most 1.20).

Run: ``python3 dev.py bench dashboard_overhead``.
"""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
import time
import urllib.request
from typing import Any

from _common import import_webber_from_checkout, table
from _workloads import build_noops

TARGET = 1.20
REPEAT = 15


def read_events(url: str) -> None:
    """Load the page and read its event stream like the browser does (again
    after a ``reload``), until the run's end."""
    while True:
        with urllib.request.urlopen(url, timeout=60) as page:
            run = re.search(r'"run":(\d+)', page.read().decode())
        assert run is not None
        events = url.replace("/?", "/events?") + "&run=" + run.group(1)
        with urllib.request.urlopen(events, timeout=60) as stream:
            print("connected", flush=True)
            reload = False
            for raw in stream:
                line = raw.decode()
                if line.startswith("event: reload"):
                    reload = True
                    break
                if line.startswith("data: ") and '["done",' in line:
                    return
            if not reload:
                return


def timed(flow: Any, executor: str, mode: str) -> float:
    from webber import Dashboard

    board = Dashboard() if mode != "off" else None
    reader = None
    if mode == "client":
        assert board is not None
        reader = subprocess.Popen([sys.executable, __file__, "--read", board.url],
                                  stdout=subprocess.PIPE, text=True)
        assert reader.stdout is not None
        assert reader.stdout.readline() == "connected\n"
    t0 = time.perf_counter()
    run = flow.run(executor=executor, dashboard=board or False)
    elapsed = time.perf_counter() - t0
    assert run.ok
    if reader is not None:
        reader.communicate(timeout=60)
    if board is not None:
        board.stop()
    return elapsed


def main() -> None:
    import_webber_from_checkout()
    from webber import DAG

    flow = build_noops(DAG())
    rows = [["executor", "no dashboard", "dashboard", "ratio", "+ 1 client", "ratio"]]
    worst = 0.0
    with contextlib.redirect_stderr(io.StringIO()):  # each server prints its URL
        for executor in ("threads", "processes"):
            best = {}
            for mode in ("off", "on", "client"):
                timed(flow, executor, mode)  # warm-up: pool up, modules imported
            for mode in ("off", "on", "client") * REPEAT:
                t = timed(flow, executor, mode)
                best[mode] = min(best.get(mode, t), t)
            on, client = best["on"] / best["off"], best["client"] / best["off"]
            worst = max(worst, on, client)
            rows.append([executor, f"{best['off'] * 1e3:.0f} ms", f"{best['on'] * 1e3:.0f} ms",
                         f"{on:.2f}", f"{best['client'] * 1e3:.0f} ms", f"{client:.2f}"])
    print(f"1,000 no-op tasks; best of {REPEAT} after a warm-up (modes interleaved)\n")
    print(table(rows))
    verdict = "within" if worst <= TARGET else "OVER"
    print(f"\nworst ratio {worst:.2f}: {verdict} the target of {TARGET:.2f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--read"]:
        read_events(sys.argv[2])
    else:
        main()
