"""NumPy arrays between tasks on worker processes: one 50 MB array, two consumers.

Run it: ``python examples/data_science.py`` (needs numpy: ``pip install numpy``;
without it the script prints that hint and exits 0), or ``python -m webber run
examples/data_science.py`` (which runs ``build()``'s flow).

``make`` draws 6.25 million normal samples (50 MB of float64) in one worker;
``moments`` and ``extremes`` read it in parallel. Buffers of 1 MB or more do not
go through the pipe: the array is written once to shared memory (/dev/shm) and
each consumer maps it, however many read it. The script prints the statistics
(mean ~0, std ~1 for a standard normal), each task's time and the run's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import webber
from webber import Flow, task

try:
    import numpy as np
except ImportError:  # numpy is optional for webber
    np = None  # type: ignore[assignment]

if TYPE_CHECKING:  # annotations are not evaluated at run time (see __future__)
    from numpy.typing import NDArray

SAMPLES = 50 * 1024 * 1024 // 8  # float64: 50 MB


@task
def make(n: int, seed: int) -> NDArray[np.float64]:
    return np.random.default_rng(seed).standard_normal(n)


@task
def moments(a: NDArray[np.float64]) -> dict[str, float]:
    return {"mean": float(a.mean()), "std": float(a.std())}


@task
def extremes(a: NDArray[np.float64]) -> dict[str, float]:
    low, high = np.percentile(a, [1, 99])
    return {"min": float(a.min()), "p1": float(low), "p99": float(high), "max": float(a.max())}


HINT = "this example needs numpy: pip install numpy"


def build() -> Flow:
    """The flow: one array, two consumers."""
    if np is None:
        raise ImportError(HINT)
    with Flow("stats") as flow:
        array = make(SAMPLES, seed=0)
        moments(array)  # two consumers of one array: they run in parallel
        extremes(array)
    return flow


def main() -> webber.Run | None:
    if np is None:
        print(HINT)
        return None

    run = build().run(executor="processes")
    array, stats, spread = "make-1", "moments-1", "extremes-1"  # node ids: name and counter
    print(f"array: {SAMPLES:,} float64 = {SAMPLES * 8 / 2**20:.0f} MB")
    for name, value in {**run[stats], **run[spread]}.items():
        print(f"  {name:<5} {value: .4f}")
    for node in (array, stats, spread):
        print(f"  {node:<11} {run.durations[node]:.3f} s")
    print(f"run time: {run.duration:.3f} s")
    return run


if __name__ == "__main__":
    main()
