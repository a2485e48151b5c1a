"""I/O-bound tasks on threads: 8 slow reads of 0.2 s each finish in ~0.2 s, not 1.6 s.

Run it: ``python examples/io_threads.py``, or ``python -m webber run
examples/io_threads.py -e threads`` (which runs ``build()``'s flow).

Each task waits 0.2 s (standing in for a network call or a slow disk) and then
counts the words of a local temp file. Waiting releases the GIL, so threads are
enough: with ``executor="threads"`` all 8 wait at the same time. The default
thread count is min(32, cores + 4); ``max_workers=8`` gives each task its own
thread whatever the machine. For CPU-bound work use the default, processes.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import time
from pathlib import Path

import webber
from webber import Flow, task

FILES = 8
LATENCY = 0.2  # seconds per read


@task
def fetch(path: str) -> int:
    time.sleep(LATENCY)  # the "network"
    words = len(Path(path).read_text().split())
    print(f"{Path(path).name}: {words} words")
    return words


@task
def total(counts: list[int]) -> int:
    return sum(counts)


def build(folder: str | None = None) -> Flow:
    """The flow over FILES files it writes to ``folder`` (by default a temporary
    folder removed when the program exits)."""
    if folder is None:
        folder = tempfile.mkdtemp(prefix="webber-io-")
        atexit.register(shutil.rmtree, folder, True)
    paths = []
    for i in range(FILES):
        path = Path(folder) / f"page-{i}.txt"
        path.write_text("lorem ipsum dolor " * (i + 1))
        paths.append(str(path))

    with Flow("io") as flow:
        counts = [fetch(p) for p in paths]  # 8 independent tasks
        total(counts)  # a list of Promises: waits for all 8
    return flow


def main() -> webber.Run:
    with tempfile.TemporaryDirectory() as folder:
        flow = build(folder)
        start = time.perf_counter()
        run = flow.run(executor="threads", max_workers=FILES)
        elapsed = time.perf_counter() - start

    counts = [f"fetch-{i}" for i in range(1, FILES + 1)]  # node ids: name and counter
    words = "total-1"

    busy = sum(run.durations[c] for c in counts)
    # How many fetches were waiting at the same moment (from the run's record).
    spans = [(a.started, a.started + a.duration) for c in counts for a in run.attempts[c]]
    at_once = max(sum(s <= t < e for s, e in spans) for t, _ in spans)
    print(f"words in {FILES} files: {run[words]}")
    print(f"time in the {FILES} tasks, added up: {busy:.2f} s (the time one after the other)")
    print(f"most fetches waiting at once: {at_once} of {FILES}")
    print(f"wall time on threads: {elapsed:.2f} s")
    return run


if __name__ == "__main__":
    main()
