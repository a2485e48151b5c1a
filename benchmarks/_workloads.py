"""The workloads of benchmarks/peers.py, importable by every engine's workers."""

from __future__ import annotations

from typing import Any

#: loop count of one CPU-bound task (about 50 ms of pure Python on the CI machine)
BURN = 1_300_000
#: elements of the large array (100 MB of float64)
ARRAY = 100 * (1 << 20) // 8


def burn(n: int = BURN) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def noop() -> None:
    return None


def inc(x: int) -> int:
    return x + 1


def make_array(n: int = ARRAY) -> Any:
    import numpy as np

    return np.ones(n)


def consume(a: Any) -> float:
    return float(a.sum())
