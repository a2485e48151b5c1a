"""A function of ``__main__`` travels with its source lines (_source): a method
too, whose code is its ``__func__``'s (a method has no ``__code__`` to set)."""

from __future__ import annotations

import linecache
import pickle
import traceback
import types
from pathlib import Path
from typing import Any

import cloudpickle

from webber.executors._source import restore, source_of, with_source

SCRIPT = """\
class Acc:
    def __init__(self):
        self.k = 3

    def mul(self, x):
        return self.k * int(x)  # the method's line

    @classmethod
    def make(cls, x):
        return int(x) + 1  # the classmethod's line

    @staticmethod
    def halve(x):
        return int(x) // 2  # the staticmethod's line
"""


def _script_class(filename: str) -> Any:
    """The class ``Acc`` as a script's ``__main__`` defines it, its code from ``filename``."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(SCRIPT, filename, "exec"), namespace)
    return namespace["Acc"]


def _failing_line(func: Any) -> list[str]:
    """The last frame of the traceback of ``func("x")``: its file and line, its source."""
    try:
        func("x")
    except ValueError as e:
        return traceback.format_exception(e)[-2].splitlines()
    raise AssertionError("func('x') did not raise")


def test_a_method_of_main_travels_with_the_lines_of_its_function(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    acc = _script_class(str(script))
    lines = SCRIPT.splitlines(keepends=True)
    assert source_of(acc.halve) == (str(script), lines)  # a staticmethod is its function
    assert source_of(print) is None and source_of(len.__call__) is None
    for method in (acc().mul, acc.make):
        assert isinstance(method, types.MethodType)
        assert source_of(method) == (str(script), lines)
        # (Unpickled here, in the process that pickled it, cloudpickle finds
        # the class it sent and sets the class's functions anew: check last.)
        sent = pickle.loads(cloudpickle.dumps(with_source(method)))
        assert isinstance(sent, types.MethodType)  # unpickled as the method itself
        assert sent.__func__.__code__.co_filename == str(script)
        assert sent(5) == (15 if method.__name__ == "mul" else 6)


def test_restore_names_the_code_under_a_bound_method_and_a_classmethod() -> None:
    # As in a worker: cloudpickle rebuilt the class with its code unnamed, and
    # restore() gives it its file back (the file need not exist there).
    filename = "/nowhere/my_script.py"
    lines = SCRIPT.splitlines(keepends=True)
    acc = _script_class("<dynamic-code>")
    instance = acc()
    for method, line in ((instance.mul, 6), (acc.make, 10), (acc.halve, 14)):
        assert restore(method, filename, lines) is method
        assert linecache.getlines(filename) == lines
        frame = _failing_line(method)
        assert frame[0].strip().startswith(f'File "{filename}", line {line}, in ')
        assert frame[1].strip() == lines[line - 1].strip()
    assert instance.mul(5) == 15 and acc.make(1) == 2 and acc.halve(9) == 4
