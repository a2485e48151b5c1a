"""The engine's verdicts on one task that need none of its state: whether
an edge's condition holds for its parent's outcome, the log lines of a retry
and of a failure, the error of a timeout, and the listeners' events when a
task is final (``on_task_result``, ``on_task_end``)."""

from __future__ import annotations

import logging
from typing import Any

from webber._events import Hooks
from webber._graph import Condition
from webber._output import current_run
from webber._plan import PlanNode
from webber._run import State
from webber._task_errors import TaskTimeoutError, message_of
from webber.executors._base import Job, fetch

__all__ = ["holds", "log_failure", "log_retry", "ran_late", "tell_final", "timeout_error"]

log = logging.getLogger("webber")

#: (read once: an enum member read from its class costs 0.1 us on Python 3.11)
_ANY_CASE, _ON_SUCCESS = Condition.AnyCase, Condition.Success


def holds(condition: Condition, parent: State) -> bool:
    """Whether a child may run on an edge of ``condition`` from a parent
    its children see as ``parent``."""
    if condition is _ANY_CASE:
        return True
    return parent == ("success" if condition is _ON_SUCCESS else "failed")


def _about(node: PlanNode) -> dict[str, Any]:
    """A log record's extras for ``node``: its name, its id, and this run."""
    return {"task": node.name, "node": node.id, "run": current_run()}


def _where(job: Job) -> str:
    return job.node if job.index is None else f"{job.node}[{job.index}]"


def log_retry(node: PlanNode, job: Job, error: BaseException, delay: float) -> None:
    log.warning(
        "attempt %d of %d failed (%s: %s); retrying %s in %.3g s",
        job.attempt, node.options.retries + 1, type(error).__name__, message_of(error), _where(job),
        delay, extra=_about(node),
    )


#: a fan-out's elements whose failures are logged one by one; then one line says
#: that more failed (100,000 failing elements logged 52 MB of tracebacks; the
#: node's error, or its results with partial=True, say which failed)
SHOWN = 3


def log_failure(node: PlanNode, job: Job, error: BaseException, tracebacks: bool,
                before: int = 0) -> None:
    """``job`` failed for good (its traceback logged too when ``tracebacks``);
    ``before``: how many elements of its fan-out had failed before it."""
    if before >= SHOWN:
        if before == SHOWN:
            log.error(
                "task %s: more than %d of its elements failed; the others are not logged "
                "one by one (%s)", job.node, SHOWN, "its results hold their exceptions"
                if node.node.partial else "the node fails with the first one's error",
                extra=_about(node),
            )
        return
    if job.index is not None and node.node.partial:
        # Expected by the flow's author: the exception takes the element's place.
        log.warning(
            "task %s failed after %d attempt%s (partial=True: its exception stays in "
            "the results): %s: %s",
            _where(job), job.attempt, "s" * (job.attempt != 1), type(error).__name__,
            message_of(error),
            extra=_about(node),
        )
    else:
        log.error(
            "task %s failed after %d attempt%s: %s: %s",
            _where(job), job.attempt, "s" * (job.attempt != 1), type(error).__name__,
            message_of(error),
            exc_info=error if tracebacks else None,
            extra=_about(node),
        )


def ran_late(job: Job, ok: bool, value: Any, duration: float) -> bool:
    """Whether an attempt that ended ran past its timeout, so it failed of it:
    only the inline executor's can, which cannot interrupt a task (an async
    one it cancels at the limit, a TimeoutError: see ``executors/_work``)."""
    return (job.timeout is not None and duration > job.timeout
            and (ok or isinstance(value, TimeoutError)))


def timeout_error(job: Job) -> TaskTimeoutError:
    return TaskTimeoutError(
        f"task {_where(job)!r} timed out after {job.timeout:g} s (attempt {job.attempt}); "
        f"raise its timeout=, or make it faster",
        job.node,
    )


def tell_final(hooks: Hooks, n: str, state: State, value: Any,
               rows: list[tuple[Any, ...]] | None, hit: bool) -> None:
    """Tell the listeners ``n`` is final: ``rows`` are its attempts' (None: it
    did not run; ``hit``: it was loaded from the cache)."""
    if hooks.on_task_result:
        hooks.emit("on_task_result", n, state, fetch(value) if state == "success" else value)
    if hooks.on_task_end:
        if rows is None:  # did not run: skipped, reused, or loaded from the cache
            number, duration, worker = 0, 0.0, "cache" if hit else ""
        elif len(rows) == 1:
            number, duration, worker = rows[0][1], rows[0][5], rows[0][6]
        else:  # (a fan-out's elements, retries): from the first start to the last end
            number, worker = max(r[1] for r in rows), rows[-1][6]
            duration = max(r[4] + r[5] for r in rows) - min(r[4] for r in rows)
        hooks.task_end(n, state, number, duration, worker)
