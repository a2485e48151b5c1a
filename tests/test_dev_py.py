"""``python3 dev.py`` as a newcomer types it: help, and a command it does not know."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DEV = Path(__file__).resolve().parent.parent / "dev.py"


def dev(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(DEV), *args], capture_output=True, text=True,
                          timeout=60, check=False)


def test_help_lists_the_commands_and_succeeds() -> None:
    # --help exited 2, as for an error
    for flag in ("--help", "-h"):
        result = dev(flag)
        assert result.returncode == 0 and result.stderr == ""
        for command in ("demo", "test", "package", "pythons", "bench", "figures", "docs"):
            assert f"python3 dev.py {command}" in result.stdout


def test_an_unknown_command_is_named_before_the_list() -> None:
    # it printed the list alone, on stdout, without saying what was wrong
    result = dev("tset")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("dev.py: unknown command 'tset'; the commands:\n")
    assert dev().stderr.startswith("dev.py: no command given; the commands:\n")
