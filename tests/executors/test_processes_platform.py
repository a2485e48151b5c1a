"""Where the process executor cannot run, it says so and names the alternative."""

from __future__ import annotations

import pytest

import webber
from webber.executors import processes


def test_non_posix_systems_get_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(processes.os, "name", "nt")
    with pytest.raises(webber.ExecutorError, match="executor='threads'"):
        processes.ProcessExecutor().start(lambda message: None)
