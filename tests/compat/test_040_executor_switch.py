"""Item 7 of the 0.4.0 drop-in: choosing threads without touching the code.

0.4.0 ran tasks on threads, so its tasks may append to the caller's lists.
Processes stay the default; ``WEBBER_EXECUTOR`` and ``webber.config`` switch."""

from __future__ import annotations

from pathlib import Path

import pytest

import webber
from tests.compat.conftest import run_script
from webber import DAG, ExecutorError

APPENDS = """
import threading, webber
seen = []
def collect(x):
    seen.append((x, threading.current_thread() is threading.main_thread()))
dag = webber.DAG()
for i in range(3):
    dag.add_node(collect, i)
run = dag.execute()
assert run.ok
print(sorted(seen))
"""


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        (None, "[]"),  # processes: the caller's list is untouched (the documented difference)
        ("threads", "[(0, False), (1, False), (2, False)]"),
        ("inline", "[(0, True), (1, True), (2, True)]"),
        ("processes", "[]"),
    ],
)
def test_the_environment_variable_chooses_the_executor(
    setting: str | None, expected: str, tmp_path: Path
) -> None:
    env = {} if setting is None else {"WEBBER_EXECUTOR": setting}
    result = run_script(APPENDS, tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected


def test_an_unknown_value_names_the_variable(tmp_path: Path) -> None:
    result = run_script(APPENDS, tmp_path, {"WEBBER_EXECUTOR": "thread"})
    assert result.returncode == 1
    assert "ExecutorError" in result.stderr and "WEBBER_EXECUTOR" in result.stderr
    assert "'threads'" in result.stderr


@pytest.mark.parametrize(
    ("value", "expected"),
    [(" threads ", "threads"), ("THREADS", "threads"), ("Inline\n", "inline"),
     ("", "processes"), ("  ", "processes")],  # blank: as if unset
)
def test_the_environment_variable_is_forgiven_case_and_spaces(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: str
) -> None:
    monkeypatch.setenv("WEBBER_EXECUTOR", value)
    assert webber.config.default_executor() == expected


def test_names_in_code_stay_exact() -> None:
    for name in (" threads ", "THREADS", " "):
        with pytest.raises(ExecutorError, match=r"webber\.config\.executor is .*: use one of"):
            webber.config.executor = name
        with pytest.raises(ExecutorError, match=r"unknown executor .*; use one of"):
            DAG().run(executor=name)
    assert webber.config.executor is None


def test_an_unknown_value_is_named_after_forgiving(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBBER_EXECUTOR", " Thread ")
    with pytest.raises(ExecutorError) as info:
        webber.config.default_executor()
    assert str(info.value).startswith(
        "the environment variable WEBBER_EXECUTOR is 'thread': use one of 'processes', "
    )


def test_the_cli_uses_it_too(tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_text(
        "import threading, webber\n"
        "dag = webber.DAG()\n"
        "dag.add_node(lambda: print(threading.current_thread().name))\n",
        encoding="utf-8",
    )
    result = run_script(
        "import sys\nfrom webber._cli import main\nsys.exit(main(['run', 'flow.py']))\n",
        tmp_path, {"WEBBER_EXECUTOR": "inline"},
    )
    assert result.returncode == 0, result.stderr
    assert "MainThread" in result.stdout


def where() -> str:
    import threading

    return threading.current_thread().name


def test_config_set_is_a_setting_and_a_context_manager(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBBER_EXECUTOR", "threads")
    dag = DAG()
    n = dag.add_node(where)
    assert dag.run()[n].startswith("webber")  # the environment variable
    with webber.config.set(executor="inline"):  # the setting beats the variable
        assert webber.config.executor == "inline"
        assert dag.execute()[n] == "MainThread"
        assert dag.run("threads")[n] != "MainThread"  # the call beats both
    assert webber.config.executor is None
    webber.config.executor = "inline"
    try:
        assert dag.run()[n] == "MainThread"
    finally:
        webber.config.executor = None
    with pytest.raises(ExecutorError, match=r"webber\.config"):
        webber.config.set(executor="thread")
    assert webber.config.executor is None
    # Set directly, a misspelt name raises at that line too, not at the next run.
    with pytest.raises(ExecutorError, match=r"webber\.config\.executor is 'thread': use one of"):
        webber.config.executor = "thread"
    assert webber.config.executor is None


def test_a_misspelt_setting_of_webber_config_is_refused() -> None:
    # webber.config.exector = "threads" was kept as a new attribute and changed
    # nothing: the runs went on on processes, silently.
    with pytest.raises(webber.OptionError, match="no setting 'exector'; its one setting is "
                                                 "executor"):
        webber.config.exector = "threads"  # type: ignore[attr-defined]
    with pytest.raises(webber.OptionError, match="did you mean executor="):
        webber.config.set(exector="threads")  # type: ignore[call-arg]
    assert webber.config.executor is None
