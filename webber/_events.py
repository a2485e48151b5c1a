"""Callbacks on a run: what the progress bar, the run record and users build on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from webber._plan import Plan
    from webber._run import Attempt, Run, State

__all__ = ["Listener", "overrides"]


class Listener:
    """Callbacks on a run. Subclass it, override what you need, and pass it to
    ``flow.run(listeners=[...])``.

    Every method is called in the caller's process and thread (the one that
    called ``run()``), whatever the executor, so a listener needs no locks.
    Per task the order is: ``on_task_start`` and ``on_attempt_end`` for each
    attempt (a fan-out node has one per element), then ``on_task_result`` and
    ``on_task_end`` once. A skipped task, or one reused by ``run(resume=...)``
    or loaded from ``run(cache=...)``, only gets ``on_task_result`` and
    ``on_task_end`` (``worker="cache"`` for a cache hit). A listener that
    raises is logged and left out for the rest of the run; the run goes on.

    >>> from webber import DAG, Listener
    >>> class Log(Listener):
    ...     def on_task_end(self, node, state, attempt, duration, worker):
    ...         print(node, state, attempt)
    >>> dag = DAG()
    >>> n = dag.add_node(len, "abc")
    >>> run = dag.run(executor="inline", listeners=[Log()])
    len-1 success 1
    """

    def on_run_start(self, plan: Plan) -> None:
        """Before the first task is submitted; ``len(plan)`` is the number of tasks."""

    def on_task_start(self, node: str, attempt: int, index: int | None, worker: str) -> None:
        """Attempt number ``attempt`` (1 for the first) of ``node`` began on ``worker``;
        ``index`` is the fan-out element, else None."""

    def on_attempt_end(self, attempt: Attempt) -> None:
        """One attempt ended (``attempt.ok`` says how); a retry may follow."""

    def on_task_result(self, node: str, state: State, value: Any) -> None:
        """``node`` reached its final ``state``; ``value`` is its result (success),
        its exception (failed) or None (skipped). Called just before ``on_task_end``;
        a result kept remote (dask) is fetched for it."""

    def on_task_end(
        self, node: str, state: State, attempt: int, duration: float, worker: str
    ) -> None:
        """``node`` reached its final ``state`` after ``attempt`` attempts (0 when it
        did not run), ``duration`` seconds from its first start to its last end,
        last run on ``worker`` ("" when it did not run)."""

    def on_run_end(self, run: Run) -> None:
        """After the last task is final, with the finished :class:`~webber.Run`."""


def overrides(listener: Listener, event: str) -> bool:
    """Whether ``listener`` has its own ``event`` callback (a duck-typed object
    that is no Listener may define only some): only those are called."""
    own = getattr(type(listener), event, None)
    return own is not None and own is not getattr(Listener, event)
