"""``run(resume=previous)``: which results of an earlier run can be reused.

A node is reused when it succeeded in the earlier run, is unchanged (same
function, arguments, fan-out and skip settings, same parents and edge
conditions) and every parent of it is reused too. So a failed or skipped node
runs again, and so does everything downstream of it or of a changed node.
"""

from __future__ import annotations

import marshal
from typing import TYPE_CHECKING, Any

from webber._errors import ResumeError

if TYPE_CHECKING:
    from webber._plan import Plan, PlanNode
    from webber._run import Run

__all__ = ["reusable"]


def reusable(plan: Plan, previous: Run) -> dict[str, Any]:
    """Node id -> the value ``previous`` computed, for every node that need not run."""
    from webber._run import Run

    if not isinstance(previous, Run):
        raise ResumeError(
            f"resume= takes the Run an earlier run() of this process returned, not "
            f"{type(previous).__name__}; to reuse the results of another process (a file, "
            f"yesterday's script), run with cache=DIR, e.g. run(cache=\".webber-cache\")"
        )
    old_nodes = previous.plan.nodes
    if not set(old_nodes) & set(plan.nodes):
        raise ResumeError(
            f"resume=: the earlier run ({previous.plan.name!r}) shares no node id with "
            f"{plan.name!r}; resume a run of the same flow"
        )
    states = previous.states
    reuse: dict[str, Any] = {}
    for level in plan.levels:  # parents before children
        for n in level:
            new, old = plan.nodes[n], old_nodes.get(n)
            if (
                old is not None
                and states[n] == "success"
                and all(u in reuse for u in new.parents)
                and _unchanged(old, new)
            ):
                reuse[n] = previous[n]
    return reuse


def _unchanged(old: PlanNode, new: PlanNode) -> bool:
    if old.parents != new.parents:
        return False
    a, b = old.node, new.node
    if a is b:  # the same flow, not edited since: its records are frozen
        return True
    if (a.fan_out, a.partial, a.fan_out_slot, a.fan_out_zip, a.skip, a.skip_as_failure) != (
        b.fan_out, b.partial, b.fan_out_slot, b.fan_out_zip, b.skip, b.skip_as_failure
    ):
        return False
    return _same_function(a.func, b.func) and _same_value(
        (old.args, dict(old.kwargs)), (new.args, dict(new.kwargs))
    )


def _same_function(f: Any, g: Any) -> bool:
    if f is g:
        return True
    code_f, code_g = getattr(f, "__code__", None), getattr(g, "__code__", None)
    if code_f is None or code_g is None:
        return False  # builtins and callables: only the same object is the same
    try:
        # The compiled body (line numbers included: moving a function counts as
        # a change, which errs on the side of running it) and what it closes over.
        return bool(
            f.__qualname__ == g.__qualname__
            and marshal.dumps(code_f) == marshal.dumps(code_g)
            and _same_value(
                (f.__defaults__, f.__kwdefaults__, _cells(f)),
                (g.__defaults__, g.__kwdefaults__, _cells(g)),
            )
        )
    except (ValueError, TypeError):
        return False


def _cells(f: Any) -> tuple[Any, ...]:
    return tuple(cell.cell_contents for cell in f.__closure__ or ())


def _same_value(x: Any, y: Any) -> bool:
    if x is y:
        return True
    import cloudpickle

    try:
        return bool(cloudpickle.dumps(x) == cloudpickle.dumps(y))
    except Exception:
        return False  # cannot tell: run it again
