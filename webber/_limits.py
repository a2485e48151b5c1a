"""``run(limits={tag: n})``: how many jobs of each concurrency tag may run at once.

The engine asks :meth:`Limits.acquire` before it submits a job of a task
with ``@task(limit=tag)``; a job that finds its tag full waits here, in
order, and :meth:`Limits.release` hands the slot of a finished job to the
next one. Nothing here runs anything, so it holds on every executor.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from webber._errors import LimitError

if TYPE_CHECKING:
    from webber._plan import Plan

__all__ = ["Limits"]


class Limits:
    """The slots of one run's concurrency tags."""

    def __init__(self, limits: Mapping[str, int] | None, plan: Plan | None = None) -> None:
        self.caps = _check(limits)
        if plan is not None and self.caps:
            _warn_unused(self.caps, {p.options.limit for p in plan.nodes.values()})
        self.active = dict.fromkeys(self.caps, 0)
        self.held: dict[str, deque[Any]] = {tag: deque() for tag in self.caps}

    def limited(self, tag: str | None) -> bool:
        """Whether jobs tagged ``tag`` are counted (tags missing from ``limits`` are not)."""
        return tag is not None and tag in self.caps

    def acquire(self, tag: str | None, waiting: Any) -> bool:
        """Take a slot of ``tag`` (True), or keep ``waiting`` until one is free (False)."""
        if tag is None or tag not in self.caps:
            return True
        if self.active[tag] >= self.caps[tag]:
            self.held[tag].append(waiting)
            return False
        self.active[tag] += 1
        return True

    def release(self, tag: str | None) -> Any | None:
        """Give back a slot of ``tag``; the next job waiting for it, if any (to submit)."""
        if tag is None or tag not in self.caps:
            return None
        self.active[tag] -= 1
        return self.held[tag].popleft() if self.held[tag] else None


def _warn_unused(caps: Mapping[str, int], tags: set[str | None]) -> None:
    """Say which tags of ``limits`` no task has: a misspelt one limits nothing."""
    unused = [tag for tag in caps if tag not in tags]
    if unused:
        known = sorted(t for t in tags if t is not None)
        logging.getLogger("webber").warning(
            "run(limits=...): no task of this flow has the tag %s, so it limits nothing "
            "(the tags here: %s); tasks name theirs with @task(limit=...)",
            ", ".join(map(repr, unused)), ", ".join(map(repr, known)) or "none",
        )


def _check(limits: Mapping[str, int] | None) -> dict[str, int]:
    if limits is None:
        return {}
    if not isinstance(limits, Mapping):
        raise LimitError(
            f"limits={limits!r}: must be a dict of tag -> how many may run at once, "
            f"e.g. limits={{\"db\": 2}}"
        )
    for tag, count in limits.items():
        if not isinstance(tag, str):
            raise LimitError(f"limits={dict(limits)!r}: tag {tag!r} must be a str; "
                             f"tasks name theirs with @task(limit=\"...\")")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise LimitError(f"limits={dict(limits)!r}: the limit of {tag!r} must be a whole "
                             f"number >= 1; leave a tag out to not limit it")
    return dict(limits)
