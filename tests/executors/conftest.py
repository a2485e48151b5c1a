"""Fixtures of the executor tests."""

from __future__ import annotations

from typing import Any

import pytest

from webber.executors import ProcessExecutor, _pickling


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


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the buffers written to shared memory by this process, in order."""
    sizes: list[int] = []
    write_segment = _pickling.write_segment

    def counted(raw: memoryview) -> Any:
        sizes.append(raw.nbytes)
        return write_segment(raw)

    monkeypatch.setattr(_pickling, "write_segment", counted)
    return sizes
