"""A plain progress line for ``run(progress=True)``, built on the engine's Listener."""

from __future__ import annotations

import sys
import time

from webber._compile import Plan
from webber._events import Listener
from webber._run import Run, State

__all__ = ["ProgressBar"]


class ProgressBar(Listener):
    """``webber: [#####     ] 5/10 done (1 failed, 0 skipped)`` on stderr.

    In a terminal the line redraws in place (at most 10 times a second);
    elsewhere (CI logs, files) it prints only the final line.
    """

    def __init__(self, width: int = 20) -> None:
        self.width = width
        self.total = 0
        self.counts: dict[State, int] = {"success": 0, "failed": 0, "skipped": 0}
        self.last = 0.0
        self.stream = sys.__stderr__ or sys.stderr

    def on_run_start(self, plan: Plan) -> None:
        self.total = len(plan)

    def on_task_end(self, node: str, state: State, duration: float, attempts: int) -> None:
        self.counts[state] += 1
        now = time.monotonic()
        if now - self.last >= 0.1 and self._tty():
            self.last = now
            self._draw("\r")

    def on_run_end(self, run: Run) -> None:
        self._draw("\r" if self._tty() else "")
        self.stream.write("\n")
        self.stream.flush()

    def _tty(self) -> bool:
        return bool(getattr(self.stream, "isatty", lambda: False)())

    def _draw(self, prefix: str) -> None:
        done = sum(self.counts.values())
        filled = self.width * done // max(self.total, 1)
        bar = "#" * filled + " " * (self.width - filled)
        self.stream.write(
            f"{prefix}webber: [{bar}] {done}/{self.total} done "
            f"({self.counts['failed']} failed, {self.counts['skipped']} skipped)"
        )
        self.stream.flush()
