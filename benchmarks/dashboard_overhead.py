"""What ``run(dashboard=True)`` costs a run: 1,000 no-op tasks with and without it.

Four ways, on the threads and on the processes executor:

1. no dashboard;
2. a listener with the callback the dashboard uses (``on_batch``, once per
   wake-up of the engine with what happened since), doing nothing: what the
   engine spends on telling any listener that much -- the floor under the
   dashboard's numbers;
3. a dashboard with no page open;
4. the same with a page open: a separate process, like a browser, that
   loaded the page once and reads its event stream for the whole benchmark
   (the stream moves on to each new run, as an open page does); each run is
   timed until that reader has read the run's end (for a run that went
   well: every task's end and the outcome, its attempts to follow with the
   page's next look, which runs that follow at once leave out: see the
   dashboard guide).

A dashboard is made once, as ``dashboard=True`` makes one per program: a
run pays for its server's start once, and a page is loaded once, however
many runs it shows. Those one-off costs are printed apart: the wall time of
starting a server, and the caller's CPU time of serving one page load.

Two measures, each the best of 50 runs after a warm-up (modes interleaved),
as ratios with / without (the target: at most 1.20 for 3 and 4; the medians
of the 50 are printed too):

- wall: the time ``run()`` takes (for 4: until the page has the run's end);
- CPU: the CPU time of this process (the caller: engine, listeners, the
  server's threads) over the same span -- what the dashboard costs the
  machine beside the tasks, steady on a loaded machine where the wall time
  is not (the reader's own CPU, a browser's, is not counted; the workers'
  is the same either way).

Run: ``python3 dev.py bench dashboard_overhead``.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import subprocess
import sys
import time
import urllib.request
from typing import IO, Any

from _common import import_webber_from_checkout, table
from _workloads import build_noops

TARGET = 1.20
REPEAT = 50
MODES = ("off", "listener", "on", "page")


def read_events(url: str) -> None:
    """Load the page, then read its event stream like the browser does, for
    as long as it is open: say "done" at each run's end (once: the run's
    attempts may follow its end, in a batch that says "done" again)."""
    with urllib.request.urlopen(url, timeout=60) as page:
        page.read()
    with urllib.request.urlopen(url.replace("/?", "/events?"), timeout=600) as stream:
        print("connected", flush=True)
        run = ended = b""
        for raw in stream:
            if raw.startswith(b"id: "):
                run = raw[4:].partition(b":")[0]
            elif raw.startswith(b"data: ") and b'"done":[' in raw and run != ended:
                ended = run
                print("done", flush=True)


def timed(flow: Any, executor: str, mode: str, boards: dict[str, Any],
          reader: IO[str]) -> tuple[float, float]:
    from webber import Listener

    class Quiet(Listener):
        def on_batch(self, started: Any, attempts: Any, ended: Any) -> None:
            pass

    listeners = [Quiet()] if mode == "listener" else []
    c0, t0 = time.process_time(), time.perf_counter()
    run = flow.run(executor=executor, dashboard=boards.get(mode, False), listeners=listeners)
    if mode == "page":
        assert reader.readline() == "done\n"
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert run.ok
    return elapsed, cpu


def medians(samples: dict[tuple[str, str, str], list[float]], head: list[str]) -> list[list[str]]:
    """The table's rows again, of the median run of each mode (reported
    beside the best: the target is on the best)."""
    rows = [head]
    for executor, measure in dict.fromkeys((e, m) for e, m, _ in samples):
        off = statistics.median(samples[executor, measure, "off"])
        row = [executor, measure, f"{off * 1e3:.1f} ms"]
        for mode in MODES[1:]:
            t = statistics.median(samples[executor, measure, mode])
            row += [f"{t * 1e3:.1f} ms", f"{t / off:.2f}"]
        rows.append(row)
    return rows


def one_offs(flow: Any) -> tuple[float, float]:
    """Wall seconds to start a dashboard's server; caller CPU seconds to serve
    one page load (the page with a 1,000-task run's graph, and the run)."""
    from webber import Dashboard

    t0 = time.perf_counter()
    board = Dashboard()
    url = board.url  # starts the server
    start = time.perf_counter() - t0
    flow.run(executor="threads", dashboard=board)
    c0 = time.process_time()
    with urllib.request.urlopen(url, timeout=60) as page:
        page.read()
    load = time.process_time() - c0
    board.stop()
    return start, load


def main() -> None:
    import_webber_from_checkout()
    from webber import DAG, Dashboard

    flow = build_noops(DAG())
    rows = [["executor", "measure", "no dashboard", "listener", "ratio", "dashboard", "ratio",
             "+ a page open", "ratio"]]
    worst = {"wall": 0.0, "CPU": 0.0}
    samples: dict[tuple[str, str, str], list[float]] = {}
    with contextlib.redirect_stderr(io.StringIO()):  # each server prints its URL
        boards = {"on": Dashboard(), "page": Dashboard()}
        flow.run(executor="threads", dashboard=boards["page"])
        reader = subprocess.Popen([sys.executable, __file__, "--read", boards["page"].url],
                                  stdout=subprocess.PIPE, text=True)
        assert reader.stdout is not None
        assert reader.stdout.readline() == "connected\n"
        assert reader.stdout.readline() == "done\n"  # the run it found
        for executor in ("threads", "processes"):
            best: dict[tuple[str, str], float] = {}
            for mode in MODES:  # warm-up: pool up, modules imported
                timed(flow, executor, mode, boards, reader.stdout)
            for mode in MODES * REPEAT:
                measured = timed(flow, executor, mode, boards, reader.stdout)
                for measure, t in zip(("wall", "CPU"), measured, strict=True):
                    best[measure, mode] = min(best.get((measure, mode), t), t)
                    samples.setdefault((executor, measure, mode), []).append(t)
            for measure in ("wall", "CPU"):
                off = best[measure, "off"]
                worst[measure] = max(worst[measure], best[measure, "on"] / off,
                                     best[measure, "page"] / off)
                row = [executor, measure, f"{off * 1e3:.1f} ms"]
                for mode in MODES[1:]:
                    t = best[measure, mode]
                    row += [f"{t * 1e3:.1f} ms", f"{t / off:.2f}"]
                rows.append(row)
        reader.kill()
        reader.wait()
        for board in boards.values():
            board.stop()
        start, load = one_offs(flow)
    print(f"1,000 no-op tasks; best of {REPEAT} after a warm-up (modes interleaved)\n")
    print(table(rows))
    print(f"\nThe same, the median of the {REPEAT} runs of each (what a run usually costs):\n")
    print(table(medians(samples, rows[0])))
    print(f"\nonce per program: a server starts in {start * 1e3:.1f} ms; once per page: "
          f"serving it takes {load * 1e3:.1f} ms of the caller's CPU")
    for measure, ratio in worst.items():
        verdict = "within" if ratio <= TARGET else "OVER"
        print(f"worst {measure} ratio of the dashboard {ratio:.2f}: {verdict} the target of "
              f"{TARGET:.2f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--read"]:
        read_events(sys.argv[2])
    else:
        main()
