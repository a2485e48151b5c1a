"""Callbacks on a run: what the progress bar, the run record and users build on."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from webber._compile import Plan
    from webber._run import Run, State

__all__ = ["Listener"]


class Listener:
    """Callbacks on a run, called in the caller's thread. Override what you need."""

    def on_run_start(self, plan: Plan) -> None:
        """Before the first task is submitted."""

    def on_task_start(self, node: str, attempt: int, index: int | None, worker: str) -> None:
        """An attempt at a task (or at one fan-out element) began on ``worker``."""

    def on_task_end(self, node: str, state: State, duration: float, attempts: int) -> None:
        """A node reached its final state."""

    def on_run_end(self, run: Run) -> None:
        """After the last node is final."""
