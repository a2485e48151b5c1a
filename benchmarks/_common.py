"""Helpers shared by the benchmark scripts (not a benchmark itself)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def import_webber_from_checkout() -> None:
    """Make ``import webber`` work when run as ``python benchmarks/x.py``."""
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)


def our_segments(directory: str) -> list[str]:
    """webber's shared-memory segments in ``directory``
    ("webber-<creator pid>.<its pid namespace>-...") made by this process, its
    workers, or processes now dead: not those of another webber program
    running beside this one, nor another container's."""
    import psutil

    from webber.executors._shm import owner

    if not os.path.isdir(directory):
        return []
    me = psutil.Process()
    family = {me.pid, *(c.pid for c in me.children(recursive=True))}
    here = owner(0)[1:]  # ".<namespace>"
    found = []
    for name in os.listdir(directory):
        creator = name.split("-")[1] if name.startswith("webber-") else ""
        if creator.endswith(here) and creator[:-len(here)].isdigit():
            pid = int(creator[:-len(here)])
            if pid in family or not psutil.pid_exists(pid):
                found.append(name)
    return found


def table(rows: list[list[str]]) -> str:
    """A plain-text table: first row is the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def best(fn: Callable[[], Any], repeat: int = 3) -> float:
    """Best wall-clock seconds of ``repeat`` calls, after one warm-up call."""
    fn()  # warm-up: pools started, functions imported
    fastest = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        fastest = min(fastest, time.perf_counter() - t0)
    return fastest


def paired(serial: Callable[[], Any], fn: Callable[[], Any], repeat: int = 3) -> dict[str, float]:
    """Best wall-clock seconds of ``fn`` and of ``serial`` (the same work in
    one process), measured in turn -- serial, fn, serial, fn, ... -- after a
    warm-up of each: ``{"": fn's, "serial": serial's}``.

    A ratio of the two is then of the same stretch of time. This VM's speed
    drifts within a run: a serial baseline measured once, at the start, made
    an engine 2.41x faster than serial on 2 cores (2026-12-02)."""
    serial()
    fn()
    fastest = {"": float("inf"), "serial": float("inf")}
    for _ in range(repeat):
        for key, call in (("serial", serial), ("", fn)):
            t0 = time.perf_counter()
            call()
            fastest[key] = min(fastest[key], time.perf_counter() - t0)
    return fastest
