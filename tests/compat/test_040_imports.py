"""Item 6 of the 0.4.0 drop-in: the import paths 0.4.0 code uses, at no import cost."""

from __future__ import annotations

import subprocess
import sys

import webber


def test_the_0_4_0_paths_resolve_to_our_names() -> None:
    from webber.core import DAG, Condition
    from webber.edges import Condition as EdgeCondition
    from webber.xcoms import InvalidCallable, Promise

    assert DAG is webber.DAG and Condition is EdgeCondition is webber.Condition
    assert Promise is webber.Promise
    assert issubclass(InvalidCallable, webber.WebberError)
    assert InvalidCallable is webber.InvalidPromiseError


def test_submodules_are_attributes_after_a_plain_import() -> None:
    assert webber.core.DAG is webber.DAG  # type: ignore[attr-defined]
    assert webber.edges.Condition is webber.Condition  # type: ignore[attr-defined]
    assert webber.xcoms.InvalidCallable is webber.InvalidPromiseError


CHECK = """
import sys
import webber
webber.DAG, webber.Condition, webber.Promise, webber.InvalidPromiseError  # what they name
assert "webber.core" not in sys.modules and "webber.edges" not in sys.modules
before = set(sys.modules)
from webber.core import DAG
from webber.edges import Condition
from webber.xcoms import InvalidCallable, Promise
added = sorted(set(sys.modules) - before)
assert set(added) <= {"webber.core", "webber.edges", "webber.xcoms"}, added
print("ok")
"""


def test_the_paths_add_only_themselves_to_the_import() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
