"""DAGCallbacks: 0.4.0's six callback hooks, as a thin adapter over Listener events."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from webber._events import Listener

if TYPE_CHECKING:
    from webber._plan import Plan
    from webber._run import Run, State

__all__ = ["DAGCallbacks", "listener_for"]


@dataclass
class DAGCallbacks:
    """0.4.0's callbacks on a run, passed as ``run(callbacks=...)`` or
    ``execute(callbacks=...)``. Every field is optional; a hook left as None
    costs nothing. Like every :class:`~webber.Listener` event, each hook is
    called in the caller's thread, whatever the executor; one that raises is
    logged, naming it, and gets no more calls in that run (the other hooks go on).

    >>> from webber import DAG, DAGCallbacks
    >>> dag = DAG()
    >>> n = dag.add_node(len, "abc")
    >>> seen = []
    >>> callbacks = DAGCallbacks(
    ...     on_task_complete=lambda node, name, result: seen.append((name, result)),
    ...     on_progress=lambda done, failed, skipped, total: seen.append((done, total)),
    ... )
    >>> run = dag.run(executor="inline", callbacks=callbacks)
    >>> seen
    [('len', 3), (1, 1)]
    """

    on_dag_start: Callable[[int], Any] | None = None
    """Before the first task: ``(total_nodes)``."""
    on_task_start: Callable[[str, str], Any] | None = None
    """Each time a task begins (a retry begins again; a fan-out task once): ``(node, name)``."""
    on_task_complete: Callable[[str, str, Any], Any] | None = None
    """A task succeeded: ``(node, name, result)``."""
    on_task_error: Callable[[str, str, BaseException], Any] | None = None
    """A task failed for good (after its retries): ``(node, name, exception)``."""
    on_progress: Callable[[int, int, int, int], Any] | None = None
    """After every task reaches its final state: ``(completed, failed, skipped, total)``."""
    on_dag_complete: Callable[[int, int, int, float], Any] | None = None
    """After the last task: ``(completed, failed, skipped, duration_seconds)``."""


def listener_for(callbacks: DAGCallbacks) -> Listener:
    """A Listener that overrides only the events ``callbacks`` needs, so the
    engine calls nothing for the hooks left unset."""
    hooks = ("on_task_start", "on_task_complete", "on_task_error", "on_progress",
             "on_dag_complete")
    if not all(hasattr(callbacks, hook) for hook in hooks):
        from webber._errors import ListenerError

        raise ListenerError(
            f"callbacks= takes a webber.DAGCallbacks, not {type(callbacks).__name__} "
            f"{callbacks!r}; e.g. run(callbacks=DAGCallbacks(on_task_complete=...))")
    # Only overridden events cost anything (the engine skips the others, and
    # executors report task starts only when someone listens to them).
    wanted: dict[str, Any] = {"on_run_start": _Adapter._run_start}  # names, total
    if callbacks.on_task_start is not None:
        wanted["on_task_start"] = _Adapter._task_start
    if callbacks.on_task_complete is not None or callbacks.on_task_error is not None:
        wanted["on_task_result"] = _Adapter._task_result
    if callbacks.on_progress is not None:
        wanted["on_task_end"] = _Adapter._task_end
    if callbacks.on_dag_complete is not None:
        wanted["on_run_end"] = _Adapter._run_end
    kind = type("DAGCallbacksListener", (_Adapter,), wanted)
    adapter: _Adapter = kind(callbacks)
    return adapter


class _Adapter(Listener):
    """The hooks of one DAGCallbacks as Listener events. Each hook is called
    through :meth:`_call`, which logs a raising hook by its own name (not the
    event behind it: on_task_complete, not on_task_result) and drops that hook
    alone: a bug in on_progress does not silence on_dag_complete."""

    def __init__(self, callbacks: DAGCallbacks) -> None:
        self.callbacks = callbacks
        self.names: dict[str, str] = {}
        self.total = 0
        self.counts = {"success": 0, "failed": 0, "skipped": 0}
        self.mapped: set[str] = set()
        self.dropped: set[str] = set()

    def __repr__(self) -> str:
        return f"<listener for {self.callbacks!r}>"

    def _call(self, hook: str, *args: Any) -> None:
        if hook in self.dropped:
            return
        call = getattr(self.callbacks, hook)
        try:
            call(*args)
        except Exception:
            self.dropped.add(hook)
            logging.getLogger("webber").exception(
                "DAGCallbacks hook %s (%s) raised; it gets no more calls in this run, "
                "the other hooks go on", hook, getattr(call, "__qualname__", None) or repr(call),
            )

    def _run_start(self, plan: Plan) -> None:
        self.names = {n: node.name for n, node in plan.nodes.items()}
        self.total = len(plan)
        if self.callbacks.on_dag_start is not None:
            self._call("on_dag_start", self.total)

    def _task_start(self, node: str, attempt: int, index: int | None, worker: str) -> None:
        if index is not None:  # a fan-out node starts once, at its first element
            if node in self.mapped:
                return
            self.mapped.add(node)
        self._call("on_task_start", node, self.names.get(node, node))

    def _task_result(self, node: str, state: State, value: Any) -> None:
        name = self.names.get(node, node)
        if state == "success" and self.callbacks.on_task_complete is not None:
            self._call("on_task_complete", node, name, value)
        elif state == "failed" and self.callbacks.on_task_error is not None:
            self._call("on_task_error", node, name, value)

    def _task_end(
        self, node: str, state: State, attempt: int, duration: float, worker: str
    ) -> None:
        self.counts[state] += 1
        c = self.counts
        self._call("on_progress", c["success"], c["failed"], c["skipped"], self.total)

    def _run_end(self, run: Run) -> None:
        self._call("on_dag_complete", len(run.succeeded), len(run.failed), len(run.skipped),
                   run.duration)
