"""What ``run(dashboard=True)`` costs a run: 1,000 no-op tasks with and without it.

Four ways, on the threads and on the processes executor:

1. no dashboard;
2. a listener with the three callbacks the dashboard uses (task start,
   attempt end, task end), doing nothing: what the engine spends on telling
   any listener that much (the workers report each start so the page can
   show tasks running) -- the floor under the dashboard's numbers;
3. ``dashboard=True``'s work with no browser connected (a new server per run,
   its start included);
4. the same with one browser-like client reading the server-sent events: a
   separate process, like a browser (it connects before the run, gets the
   run's graph on the same stream as the page does, and reads until the
   run's end).

Two measures, each the best of 15 runs after a warm-up (modes interleaved),
as ratios with / without (the target: at most 1.20 for 3 and 4):

- wall: the time ``run()`` takes;
- CPU: the CPU time of this process (the caller: engine, listeners, the
  server's threads) from the start of ``run()`` until the client has read the
  whole run -- what the dashboard costs the machine beside the tasks, steady
  on a loaded machine where the wall time is not (the client's own CPU, a
  browser's, is not counted; the workers' is the same either way).

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
    """Load the page and read its event stream like the browser does, until
    the end of a run it did not have when it loaded (the page moves on to the
    next run shown on the same stream)."""
    with urllib.request.urlopen(url, timeout=60) as page:
        run = re.search(r'"run":(\d+)', page.read().decode())
    assert run is not None
    events = url.replace("/?", "/events?") + "&run=" + run.group(1)
    with urllib.request.urlopen(events, timeout=60) as stream:
        print("connected", flush=True)
        moved = False
        for raw in stream:
            line = raw.decode()
            moved = moved or line.startswith("event: run")
            if moved and line.startswith("data: ") and '"done":[' in line:
                return


MODES = ("off", "listener", "on", "client")


def timed(flow: Any, executor: str, mode: str) -> tuple[float, float]:
    from webber import Dashboard, Listener

    class Quiet(Listener):
        def on_task_start(self, node: str, attempt: int, index: int | None, worker: str) -> None:
            pass

        def on_attempt_end(self, attempt: Any) -> None:
            pass

        def on_task_end(self, node: str, state: Any, attempt: int, duration: float,
                        worker: str) -> None:
            pass

    board = Dashboard() if mode in ("on", "client") else None
    listeners = [Quiet()] if mode == "listener" else []
    reader = None
    if mode == "client":
        assert board is not None
        reader = subprocess.Popen([sys.executable, __file__, "--read", board.url],
                                  stdout=subprocess.PIPE, text=True)
        assert reader.stdout is not None
        assert reader.stdout.readline() == "connected\n"
    c0, t0 = time.process_time(), time.perf_counter()
    run = flow.run(executor=executor, dashboard=board or False, listeners=listeners)
    elapsed = time.perf_counter() - t0
    assert run.ok
    if reader is not None:
        reader.communicate(timeout=60)
    cpu = time.process_time() - c0
    if board is not None:
        board.stop()
    return elapsed, cpu


def main() -> None:
    import_webber_from_checkout()
    from webber import DAG

    flow = build_noops(DAG())
    rows = [["executor", "measure", "no dashboard", "listener", "ratio", "dashboard", "ratio",
             "+ 1 client", "ratio"]]
    worst = {"wall": 0.0, "CPU": 0.0}
    with contextlib.redirect_stderr(io.StringIO()):  # each server prints its URL
        for executor in ("threads", "processes"):
            best: dict[tuple[str, str], float] = {}
            for mode in MODES:
                timed(flow, executor, mode)  # warm-up: pool up, modules imported
            for mode in MODES * REPEAT:
                for measure, t in zip(("wall", "CPU"), timed(flow, executor, mode), strict=True):
                    best[measure, mode] = min(best.get((measure, mode), t), t)
            for measure in ("wall", "CPU"):
                off = best[measure, "off"]
                worst[measure] = max(worst[measure], best[measure, "on"] / off,
                                     best[measure, "client"] / off)
                row = [executor, measure, f"{off * 1e3:.1f} ms"]
                for mode in MODES[1:]:
                    t = best[measure, mode]
                    row += [f"{t * 1e3:.1f} ms", f"{t / off:.2f}"]
                rows.append(row)
    print(f"1,000 no-op tasks; best of {REPEAT} after a warm-up (modes interleaved)\n")
    print(table(rows))
    for measure, ratio in worst.items():
        verdict = "within" if ratio <= TARGET else "OVER"
        print(f"worst {measure} ratio of the dashboard {ratio:.2f}: {verdict} the target of "
              f"{TARGET:.2f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--read"]:
        read_events(sys.argv[2])
    else:
        main()
