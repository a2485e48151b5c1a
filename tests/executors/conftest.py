"""Fixtures of the executor tests."""

from __future__ import annotations

from typing import Any

import pytest

from webber.executors import ProcessExecutor


@pytest.fixture
def submitted(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What the engine hands the process executor, as it hands it over."""
    seen: list[Any] = []
    original = ProcessExecutor.submit_many

    def spy(self: ProcessExecutor, jobs: Any) -> None:
        seen.extend(jobs)
        original(self, jobs)

    monkeypatch.setattr(ProcessExecutor, "submit_many", spy)
    return seen
