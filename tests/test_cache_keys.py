"""A cache key does not depend on the name of the module a task's function
lives in: one script shares its store whether it runs as ``python FILE.py``,
through ``python -m webber run FILE.py`` or imported by another module."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

from webber import task
from webber._cli import main
from webber._fingerprint import function_token, key_pickler

SCRIPT = textwrap.dedent('''
    import dataclasses
    import logging
    from webber import Flow, task

    log = logging.getLogger(__name__)  # __main__, __webber_cli__ or the module's name


    @dataclasses.dataclass
    class Config:
        factor: int


    @task
    def load(n: int) -> list[int]:
        log.info("loading %d rows", n)
        return list(range(n))


    @task
    def scale(rows: list[int], config: Config) -> list[int]:
        return [r * config.factor for r in rows]


    with Flow("daily") as flow:
        scaled = scale(load(4), Config(3))

    if __name__ == "__main__":
        import sys
        print(flow.run(executor="inline", cache=sys.argv[1]).cached)
''')


def test_a_script_run_three_ways_shares_its_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script, store = tmp_path / "pipeline.py", tmp_path / "store"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    as_main = subprocess.run([sys.executable, str(script), str(store)], capture_output=True,
                             text=True, env=env, check=True)
    assert as_main.stdout.strip() == "[]"  # the first run fills the store

    assert main(["run", str(script), "--cache", str(store), "--executor", "inline"]) == 0
    assert "2 loaded from the cache" in capsys.readouterr().out

    spec = importlib.util.spec_from_file_location("pipeline_imported", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    run = module.flow.run(executor="inline", cache=store)
    assert sorted(run.cached) == ["load-1", "scale-1"]


@task
def _add_one(x: int) -> int:
    return x + 1


def _calls_add_one(x: int) -> int:
    return _add_one(x) * 10


def test_editing_a_task_of_a_module_changes_the_key_of_a_function_calling_it() -> None:
    # A task of an importable module pickles by its name (so that the standard
    # pickle can write it): the key must still describe its body.
    before = function_token(_calls_add_one, key_pickler({}))
    code = _add_one.fn.__code__
    _add_one.fn.__code__ = (lambda x: x + 2).__code__
    try:
        after = function_token(_calls_add_one, key_pickler({}))
    finally:
        _add_one.fn.__code__ = code
    assert after != before
    assert function_token(_calls_add_one, key_pickler({})) == before


def test_editing_a_function_of_ones_own_module_changes_the_key_of_a_task_calling_it_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `import helpers; helpers.clean(rows)`: before, the key saw `helpers` as
    # the module's name alone, so editing clean() (or a constant it reads
    # there) loaded the stale result of the task calling it from the store.
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # (each edit compiled anew)
    monkeypatch.syspath_prepend(str(tmp_path))
    source = tmp_path / "own_helpers_for_keys.py"
    source.write_text("FACTOR = 10\n\ndef h(y):\n    return y * FACTOR\n")
    helpers = importlib.import_module("own_helpers_for_keys")
    try:
        _edit_a_helper(source, helpers)
    finally:
        del sys.modules["own_helpers_for_keys"]


def _edit_a_helper(source: Path, helpers: types.ModuleType) -> None:
    namespace: dict[str, object] = {"helpers": helpers, "os": os}
    exec("def calls(y):\n    return os.path.basename(str(helpers.h(y)))\n", namespace)
    calls = namespace["calls"]
    assert callable(calls)

    def token() -> str:
        return function_token(calls, key_pickler({}))

    first = token()
    assert token() == first  # (stable)
    source.write_text("FACTOR = 10\n\ndef h(y):\n    return y * FACTOR + 1\n")
    importlib.reload(helpers)
    edited = token()
    assert edited != first
    source.write_text("FACTOR = 11\n\ndef h(y):\n    return y * FACTOR + 1\n")
    importlib.reload(helpers)
    assert token() not in (first, edited)
