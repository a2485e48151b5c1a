"""The examples in webber's docstrings run and show what they claim."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import webber

MODULES = sorted(
    name
    for _, name, _ in pkgutil.walk_packages(webber.__path__, "webber.")
    if not name.startswith("webber.executors.process")  # spawns workers; tested elsewhere
    and name != "webber.__main__"  # runs the CLI when imported; tests/test_cli.py
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    failures, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert failures == 0
