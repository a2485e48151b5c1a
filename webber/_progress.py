"""``run(progress=True)``: a progress bar built on the engine's Listener.

With tqdm installed (``pip install 'webber[progress]'``) the bar is
``tqdm.auto``'s: a widget in Jupyter, a redrawn line in a terminal. Without
it, a plain line on stderr. Nothing here is imported unless progress is on.
"""

from __future__ import annotations

import itertools
import sys
import time
import warnings
from collections.abc import Sequence
from typing import Any, TextIO

from webber._events import AttemptRow, Listener
from webber._plan import Plan
from webber._run import Run, Span, State

__all__ = ["Bar", "PlainBar", "TqdmBar", "progress_bar"]


def progress_bar() -> Bar:
    """tqdm's bar if tqdm is installed, else the plain one. Both write to the
    ``sys.stderr`` of now: during the run it is webber's output router."""
    try:
        with warnings.catch_warnings():
            # In Jupyter without ipywidgets tqdm falls back to its text bar (fine
            # in a cell) but warns about it on every first import.
            warnings.filterwarnings("ignore", message="IProgress not found")
            from tqdm.auto import tqdm
    except ImportError:
        return PlainBar(sys.stderr)
    return TqdmBar(tqdm, sys.stderr)


class Bar(Listener):
    """A progress bar: counts of ended tasks, shown as they change."""

    def __init__(self) -> None:
        self.total = 0
        self.counts: dict[State, int] = {"success": 0, "failed": 0, "skipped": 0}
        self._counted = 0  # final states counted so far (on_batch_columns)

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    def on_run_start(self, plan: Plan) -> None:
        self.total = len(plan)
        self._counted = 0

    def on_batch(self, started: Sequence[tuple[str, int, int | None, str, float]],
                 attempts: Sequence[AttemptRow], ended: Sequence[tuple[str, State]]) -> None:
        for _, state in ended:
            self.counts[state] += 1
        self._counted += len(ended)
        self.update()

    def on_batch_columns(self, started: Sequence[tuple[str, int, int | None, str, float]],
                         rows: list[AttemptRow], told: int, states: dict[str, State],
                         ended: int, spans: list[Span], counted: int) -> None:
        """on_batch, handed the run record (see ``Hooks.batch``): a bar counts
        the tasks that ended by the batch, so the engine may still send plain
        tasks as columns (no event per task) while it is shown."""
        new = ended - self._counted
        if new <= 0:
            return
        # The newest ``new``, read from the end: the engine calls this with ``states``
        # as long as ``ended`` (nothing done per task but counting).
        for state in itertools.islice(reversed(states.values()), new):
            self.counts[state] += 1
        self._counted = ended
        self.update()

    def update(self) -> None:
        """Show the new counts."""

    def cut(self) -> None:
        """The run stopped before its end (Ctrl-C): the bar as it stood, closed."""

    def summary(self) -> str:
        return f"{self.counts['failed']} failed, {self.counts['skipped']} skipped"


class TqdmBar(Bar):
    """tqdm.auto's bar: ``webber: 100%|####| 10/10 [00:01, 1 failed, 0 skipped]``."""

    def __init__(self, tqdm: Any, stream: TextIO) -> None:
        super().__init__()
        self.tqdm = tqdm
        self.stream = stream
        self.bar: Any = None
        self.shown = 0

    def on_run_start(self, plan: Plan) -> None:
        super().on_run_start(plan)
        self.bar = self.tqdm(total=self.total, desc="webber", unit="task", leave=True,
                             file=self.stream)

    def update(self) -> None:
        done = self.done
        self.bar.set_postfix_str(self.summary(), refresh=False)
        self.bar.update(done - self.shown)  # tqdm limits its own redraw rate
        self.shown = done

    def on_run_end(self, run: Run) -> None:
        self.bar.set_postfix_str(self.summary(), refresh=False)
        self.bar.close()

    def cut(self) -> None:
        if self.bar is not None:
            self.bar.close()


class PlainBar(Bar):
    """``webber: [#####     ] 5/10 done (1 failed, 0 skipped)`` on stderr.

    In a terminal the line redraws in place (at most 10 times a second);
    elsewhere (CI logs, files) it prints only the final line.
    """

    def __init__(self, stream: TextIO, width: int = 20) -> None:
        super().__init__()
        self.width = width
        self.last = 0.0
        self.stream = stream

    def update(self) -> None:
        now = time.monotonic()
        if now - self.last >= 0.1 and self._tty():
            self.last = now
            self._draw("\r")

    def on_run_end(self, run: Run) -> None:
        self.cut()

    def cut(self) -> None:
        self._draw("\r" if self._tty() else "")
        self.stream.write("\n")
        self.stream.flush()

    def _tty(self) -> bool:
        return bool(getattr(self.stream, "isatty", lambda: False)())

    def _draw(self, prefix: str) -> None:
        filled = self.width * self.done // max(self.total, 1)
        bar = "#" * filled + " " * (self.width - filled)
        self.stream.write(
            f"{prefix}webber: [{bar}] {self.done}/{self.total} done ({self.summary()})"
        )
        self.stream.flush()
