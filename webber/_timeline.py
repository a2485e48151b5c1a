"""``run.timeline()``: which worker ran which task, and when, as an SVG Gantt chart.

Plain SVG text (no dependency): one lane per worker, one bar per attempt
(green when it succeeded, red when it failed), the critical path outlined in
black. Idle gaps in a lane are workers waiting; the outlined bars are the
chain of tasks that decided when the run ended. Tasks loaded from the cache
did not run: they have no bar, and the title counts them.
"""

from __future__ import annotations

import math
import re
from html import escape as _escape
from typing import TYPE_CHECKING

from webber._errors import DiagramError

if TYPE_CHECKING:
    from webber._run import Attempt, Run

__all__ = ["Timeline"]

OK_COLOR, FAILED_COLOR = "#81c784", "#e57373"
WIDTH, LEFT, RIGHT, TOP, ROW, BAR = 960, 150, 20, 34, 30, 22
CHAR = 6.6  # average glyph width of 11px sans-serif, to decide if a label fits
#: control characters, which XML refuses (but tab and newline): shown as Python writes them
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape(text: str) -> str:
    """``text`` for SVG: a task's name, its error (colours of a terminal, a
    NUL) never make the whole drawing one that no browser opens."""
    return _escape(_CONTROL.sub(lambda m: repr(m.group())[1:-1], text))


class Timeline:
    """The Gantt chart of one run (see :meth:`Run.timeline <webber.Run.timeline>`).

    ``lanes`` lists the workers in order of first use, ``bars`` pairs each
    attempt with its lane, ``critical_path`` lists the node ids of the chain
    that ended last, and ``svg`` is the drawing.
    """

    def __init__(self, run: Run) -> None:
        self.run = run
        attempts = sorted(
            (a for tries in run.attempts.values() for a in tries), key=lambda a: a.started
        )
        self.lanes: list[str] = []
        lane_of: dict[str, int] = {}
        self.bars: list[tuple[int, Attempt]] = []
        for attempt in attempts:
            worker = attempt.worker or "unknown"
            if worker not in lane_of:
                lane_of[worker] = len(self.lanes)
                self.lanes.append(worker)
            self.bars.append((lane_of[worker], attempt))
        self.critical_path = _critical_path(run)
        self.svg = self._draw()

    def __repr__(self) -> str:
        return (
            f"<Timeline of {self.run.plan.name!r}: {len(self.lanes)} lanes, "
            f"{len(self.bars)} bars>"
        )

    def _repr_svg_(self) -> str:
        """Jupyter shows the chart inline."""
        return self.svg

    def save(self, path: str) -> None:
        """Write the chart as an SVG file (``path`` ends in ``.svg``: else
        :class:`~webber.DiagramError`, not SVG text in a ``.png``)."""
        if not str(path).lower().endswith(".svg"):
            raise DiagramError(f"a timeline is written as SVG: end {str(path)!r} in .svg "
                               f"(a browser opens it, and prints it to PDF)")
        try:
            with open(path, "w", encoding="utf-8") as f:
                f.write(self.svg)
        except OSError as e:  # (a folder that does not exist, or is not ours)
            raise DiagramError(
                f"cannot write {str(path)!r} ({type(e).__name__}: {e.strerror or e}): "
                f"pass a path in a folder that exists and you may write to"
            ) from e

    def _draw(self) -> str:
        run = self.run
        start = min((a.started for _, a in self.bars), default=run.started)
        end = max((a.started + a.duration for _, a in self.bars), default=start)
        span = max(end - start, 1e-6)
        scale = (WIDTH - LEFT - RIGHT) / span
        height = TOP + ROW * max(len(self.lanes), 1) + 30
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" font-family="Helvetica, Arial, sans-serif" '
            f'font-size="11">',
            f'<text x="{LEFT}" y="16" font-size="13">{escape(run.plan.name)}: '
            f"{len(self.bars)} attempts on {len(self.lanes)} workers in "
            f"{_seconds(run.duration)}"
            + (f", {len(run.cached)} tasks loaded from the cache" if run.cached else "")
            + "</text>",
        ]
        out += self._axis(span, scale)
        # On the critical path, outline each node's attempt that ended last (for
        # a fan-out: the element everything downstream waited for).
        on_path = set(self.critical_path)
        last: dict[str, Attempt] = {}
        for _, a in self.bars:
            if a.node in on_path:
                best = last.get(a.node)
                if best is None or a.started + a.duration > best.started + best.duration:
                    last[a.node] = a
        critical = {id(a) for a in last.values()}
        for row, a in self.bars:
            x = LEFT + (a.started - start) * scale
            w = max(a.duration * scale, 1.0)
            y = TOP + ROW * row
            label = a.node if a.index is None else f"{a.node}[{a.index}]"
            tip = f"{label} attempt {a.number}: {_seconds(a.duration)} on {a.worker}"
            if a.error:
                tip += f" -- {a.error}"
            stroke = ' stroke="#212121" stroke-width="2"' if id(a) in critical else ""
            out.append(
                f'<g class="bar" data-node="{escape(a.node)}" data-lane="{row}">'
                f"<title>{escape(tip)}</title>"
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{BAR}" rx="3" '
                f'fill="{OK_COLOR if a.ok else FAILED_COLOR}"{stroke}/>'
            )
            if len(label) * CHAR + 6 <= w:
                out.append(f'<text x="{x + 4:.1f}" y="{y + BAR / 2 + 4:.1f}">'
                           f"{escape(label)}</text>")
            out.append("</g>")
        out.append("</svg>")
        return "\n".join(out)

    def _axis(self, span: float, scale: float) -> list[str]:
        """The time grid with its labels, and the lane names."""
        out = []
        axis_y = TOP + ROW * len(self.lanes) + 4
        step = _tick(span)
        ticks = int(span / step) + 1
        for k in range(ticks + 1):
            t = k * step
            if t > span * 1.0001:
                break
            x = LEFT + t * scale
            out.append(f'<line x1="{x:.1f}" y1="{TOP - 4}" x2="{x:.1f}" y2="{axis_y}" '
                       f'stroke="#e0e0e0"/>')
            out.append(f'<text x="{x:.1f}" y="{axis_y + 14}" text-anchor="middle" '
                       f'fill="#616161">{_seconds(t)}</text>')
        for i, lane in enumerate(self.lanes):
            y = TOP + ROW * i
            out.append(f'<text class="lane" x="{LEFT - 8}" y="{y + BAR / 2 + 4:.1f}" '
                       f'text-anchor="end">{escape(lane)}</text>')
        return out


def _critical_path(run: Run) -> list[str]:
    """From the task that ended last, back through the parent that ended last."""
    ends = {
        n: max(a.started + a.duration for a in tries)
        for n, tries in run.attempts.items() if tries
    }
    if not ends:
        return []
    n: str | None = max(ends, key=ends.__getitem__)
    path = []
    while n is not None:
        path.append(n)
        parents = [u for u in run.plan.nodes[n].parents if u in ends]
        n = max(parents, key=ends.__getitem__) if parents else None
    return path[::-1]


def _tick(span: float) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving 4 to 10 ticks."""
    raw = span / 6
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 5.0):
        if factor * power >= raw:
            return factor * power
    return 10.0 * power


def _seconds(t: float) -> str:
    if t >= 10:
        return f"{t:.0f} s"
    if t >= 1:
        return f"{t:.1f} s"
    if t >= 0.01:
        return f"{t * 1000:.0f} ms"
    return f"{t * 1000:.1f} ms"
