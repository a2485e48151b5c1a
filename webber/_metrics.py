"""DAGMetrics: 0.4.0's summary of a finished run, derived from the Run's record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from webber._run import Run

__all__ = ["DAGMetrics", "metrics_of"]


@dataclass(frozen=True)
class DAGMetrics:
    """0.4.0's telemetry of a finished run: ``run.metrics`` (built on first use
    from the Run's states and attempts).

    >>> from webber import DAG
    >>> dag = DAG()
    >>> ok = dag.add_node(len, "abc")
    >>> bad = dag.add_node(int, "x")
    >>> m = dag.run(executor="inline").metrics
    >>> m.completed, m.failed, m.total_nodes, m.completed_count
    ({'len-1'}, {'int-1'}, 2, 1)
    >>> sorted(m.task_durations) == ["int-1", "len-1"]
    True
    """

    total_duration: float
    """Seconds from the start of the run to its end."""
    task_durations: dict[str, float] = field(default_factory=dict)
    """Node id -> seconds from its first start to its last end, for the nodes that ran."""
    task_start_times: dict[str, float] = field(default_factory=dict)
    """Node id -> when its first attempt began, as ``time.time()`` (0.4.0 used
    ``perf_counter()`` values; only differences between them meant anything)."""
    completed: set[str] = field(default_factory=set)
    """Ids of the nodes that succeeded."""
    failed: set[str] = field(default_factory=set)
    """Ids of the nodes that failed."""
    skipped: set[str] = field(default_factory=set)
    """Ids of the nodes that were skipped."""
    total_nodes: int = 0
    """How many nodes the run had."""

    @property
    def completed_count(self) -> int:
        """``len(completed)``."""
        return len(self.completed)

    @property
    def failed_count(self) -> int:
        """``len(failed)``."""
        return len(self.failed)

    @property
    def skipped_count(self) -> int:
        """``len(skipped)``."""
        return len(self.skipped)


def metrics_of(run: Run) -> DAGMetrics:
    """The DAGMetrics of ``run``."""
    attempts = run.attempts
    ran = [n for n in run.plan.nodes if attempts[n]]
    return DAGMetrics(
        total_duration=run.duration,
        task_durations={n: run.durations[n] for n in ran},
        task_start_times={n: min(a.started for a in attempts[n]) for n in ran},
        completed=set(run.succeeded),
        failed=set(run.failed),
        skipped=set(run.skipped),
        total_nodes=len(run.plan),
    )
