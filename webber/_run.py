"""Run: what a finished run computed, per node (values, states, timings, attempts)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from webber._errors import TaskSkippedError, UnknownNodeError
from webber._promise import Promise
from webber.executors._base import resolve

if TYPE_CHECKING:
    import graphviz

    from webber._compile import Plan

__all__ = ["Attempt", "Run", "State"]

State = Literal["success", "failed", "skipped"]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try at a task (or at one element of a fan-out)."""

    node: str
    number: int  # 1 for the first try
    index: int | None  # the fan-out element, else None
    ok: bool
    started: float  # time.time()
    duration: float  # seconds
    worker: str
    error: str | None = None  # "ValueError: bad row" when it failed


class _ByNode(dict[str, Any]):
    """A dict keyed by node id that also takes the Promise of a node."""

    def __missing__(self, key: Any) -> Any:
        if isinstance(key, Promise) and isinstance(key.key, str) and key.key in self:
            return self[key.key]
        raise KeyError(key)


class Run:
    """The outcome of ``flow.run()``: values, states, durations, attempts.

    ``run[node]`` is the node's value (an id, a Promise, or the callable of a
    single node); reading a failed node raises its exception, a skipped one
    raises :class:`~webber.TaskSkippedError`.

    >>> from webber import DAG
    >>> dag = DAG()
    >>> n = dag.add_node(divmod, 7, 2)
    >>> run = dag.run(executor="inline")
    >>> run[n], run.state(n), run.ok
    ((3, 1), 'success', True)
    """

    def __init__(
        self,
        plan: Plan,
        states: Mapping[str, State],
        values: Mapping[str, Any],
        durations: Mapping[str, float],
        attempts: Mapping[str, tuple[Attempt, ...]],
        started: float,
        duration: float,
    ) -> None:
        self.plan = plan
        self._states = dict(states)
        self._values = dict(values)
        self._durations = dict(durations)
        self._attempts = dict(attempts)
        self.started = started
        #: seconds from the start of the run to its end
        self.duration = duration

    def __repr__(self) -> str:
        return (
            f"<Run {self.plan.name!r}: {len(self.succeeded)} succeeded, "
            f"{len(self.failed)} failed, {len(self.skipped)} skipped in {self.duration:.3f} s>"
        )

    def _id(self, ref: Any) -> str:
        key = ref.key if isinstance(ref, Promise) else ref
        if isinstance(key, str) and key in self._states:
            return key
        if callable(key):
            func = getattr(key, "fn", key)
            found = [n for n, node in self.plan.nodes.items() if node.func is func]
            if len(found) == 1:
                return found[0]
        raise UnknownNodeError(
            f"run of {self.plan.name!r} has no node {ref!r}; its nodes: "
            f"{', '.join(list(self._states)[:10])}{' ...' if len(self._states) > 10 else ''}",
            ref,
        )

    def __getitem__(self, ref: Any) -> Any:
        n = self._id(ref)
        state = self._states[n]
        if state == "failed":
            error: BaseException = self._values[n]
            raise error.with_traceback(error.__traceback__)
        if state == "skipped":
            node = self.plan.nodes[n]
            why = "skip_node()" if node.skip else "an edge condition was not met"
            raise TaskSkippedError(
                f"task {n!r} was skipped ({why}), so it has no result; check "
                f"run.state({n!r}) before reading it",
                n,
            )
        return self._value(n)

    def _value(self, n: str) -> Any:
        """A successful node's value, fetched (once) if the executor kept it remote."""
        value = self._values[n]
        fetched = resolve(value)
        if fetched is not value:
            self._values[n] = fetched
        return fetched

    def __contains__(self, ref: Any) -> bool:
        try:
            self._id(ref)
        except UnknownNodeError:
            return False
        return True

    def get(self, ref: Any, default: Any = None) -> Any:
        """The node's value, or ``default`` if it failed or was skipped."""
        return self[ref] if self.state(ref) == "success" else default

    def state(self, ref: Any) -> State:
        """``"success"``, ``"failed"`` or ``"skipped"``."""
        return self._states[self._id(ref)]

    def error(self, ref: Any) -> BaseException | None:
        """The exception of a failed node, else None."""
        n = self._id(ref)
        return self._values[n] if self._states[n] == "failed" else None

    @property
    def states(self) -> dict[str, State]:
        """Node id -> final state, in plan order."""
        return _ByNode(self._states)

    @property
    def ok(self) -> bool:
        """True when no task failed."""
        return "failed" not in self._states.values()

    @property
    def succeeded(self) -> list[str]:
        return [n for n, s in self._states.items() if s == "success"]

    @property
    def failed(self) -> list[str]:
        return [n for n, s in self._states.items() if s == "failed"]

    @property
    def skipped(self) -> list[str]:
        return [n for n, s in self._states.items() if s == "skipped"]

    @property
    def durations(self) -> dict[str, float]:
        """Node id -> seconds from its first start to its last end (0.0 if skipped)."""
        return _ByNode(self._durations)

    @property
    def attempts(self) -> dict[str, tuple[Attempt, ...]]:
        """Node id -> every attempt, in order (empty for a skipped node)."""
        return _ByNode(self._attempts)

    def visualize(self, path: str | None = None) -> graphviz.Digraph:
        """The graph coloured by state, with durations (a ``graphviz.Digraph``)."""
        from webber import viz

        return viz.visualize_run(self, path)
