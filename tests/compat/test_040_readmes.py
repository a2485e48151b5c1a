"""Item 8 of the 0.4.0 drop-in: every Python block of the seed README and of
0.4.0's own README (its PyPI description, stored here as test data) runs
unchanged on each executor and prints what it promises.

Only blocks that call things 0.4.0 itself never shipped would be rewritten:
none needed it.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.compat.conftest import HERE, run_script

FENCE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
SEED = (HERE / "seed_readme.md").read_text(encoding="utf-8")
PYPI = (HERE / "webber040_readme.txt").read_text(encoding="utf-8")
STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"


def blocks(text: str) -> list[str]:
    return [m.group(1) for m in FENCE.finditer(text)]


def test_the_test_data_is_the_shipped_text() -> None:
    shared = HERE.parents[2] / "shared" / "seed" / "webber-readme.md"
    if shared.exists():  # CI has ../shared read-only; the copy here must match it
        assert shared.read_text(encoding="utf-8") == SEED
    assert len(blocks(SEED)) == 1
    # 0.4.0's PyPI description is one line with no code: nothing to run from it
    assert PYPI.startswith("A Pythonic platform for no-latency ETL") and blocks(PYPI) == []


def test_the_seed_readme_block_runs_and_prints_what_it_shows(
    executor: str, tmp_path: Path
) -> None:
    (block,) = blocks(SEED)
    # the script also reports what dag.visualize() returned (the README's last line)
    code = block.replace("dag.visualize()", "print(type(dag.visualize()).__name__)")
    result = run_script(code, tmp_path, {"WEBBER_EXECUTOR": executor})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # the README shows "print: Hello" and "print: World!" on two lines: 0.4.0 logged
    # each write() of one print() call; webber logs the printed line, once
    assert re.fullmatch(STAMP + r" {11}print: Hello World!", lines[0]), lines
    assert lines[1:] == ["Digraph"]
    assert result.stderr == ""
