"""The documentation site (docs/, mkdocs.yml) and README.md stay true to the code.

- Every ```python block of a page (and of README.md) runs: the blocks of one page, in order, as one
  script in a fresh interpreter and an empty folder (so a sample that calls a
  renamed method, or a wrong argument, fails here). A block right after an
  ``<!-- not run: why -->`` line is skipped; one after ``<!-- needs: dot -->``
  runs only where Graphviz's ``dot`` is installed.
- The API reference documents every name of ``webber.__all__``.
- The command-line page mentions every option of ``python -m webber``.

``python3 dev.py test`` also builds the site with ``mkdocs build --strict``,
which fails on a broken link, a missing anchor or a docstring griffe cannot read.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import webber

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))
FENCE = re.compile(r"^```(\S*)[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)


def python_blocks(text: str) -> list[str]:
    """The ```python blocks of a page that this machine runs, in order."""
    blocks = []
    for match in FENCE.finditer(text):
        if match.group(1) != "python":
            continue
        before = text[: match.start()].rstrip().splitlines()
        marker = before[-1].strip() if before else ""
        if marker.startswith("<!-- not run"):
            continue
        if marker == "<!-- needs: dot -->" and shutil.which("dot") is None:
            continue
        blocks.append(match.group(2))
    return blocks


def test_the_pages_are_found() -> None:
    assert "index.md" in PAGES and "guide/executors.md" in PAGES


@pytest.mark.timeout(120)
@pytest.mark.parametrize("page", [*(p for p in PAGES if p != "reference.md"), "../README.md"])
def test_code_samples_run(page: str, tmp_path: Path) -> None:
    blocks = python_blocks((DOCS / page).read_text(encoding="utf-8"))
    assert blocks, "a guide page without a runnable sample: mark none as not run"
    script = tmp_path / "sample.py"
    script.write_text("\n\n".join(blocks), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
        timeout=100,
    )
    assert result.returncode == 0, (
        f"the samples of docs/{page} failed:\n{result.stdout}\n{result.stderr}"
    )


def test_the_reference_documents_every_public_name() -> None:
    reference = (DOCS / "reference.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^::: webber\.(\w+)\s*$", reference, re.MULTILINE))
    assert set(webber.__all__) - documented == set()


def test_the_cli_page_mentions_every_option() -> None:
    from webber._cli import parser

    page = (DOCS / "guide" / "cli.md").read_text(encoding="utf-8")
    verbs = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    for verb, sub in verbs.choices.items():
        assert f"python -m webber {verb}" in page
        for action in sub._actions:
            for option in action.option_strings:
                assert option in page, f"{verb} {option}"


def _subparser(top: argparse.ArgumentParser, words: list[str]) -> argparse.ArgumentParser:
    for word in words:
        verbs = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
        top = verbs.choices[word]
    return top


@pytest.mark.skipif(sys.version_info >= (3, 13), reason="argparse 3.13 prints metavars once")
def test_the_cli_pages_help_texts_are_the_real_help(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each ```text block of cli.md that starts with a usage line is what --help
    prints at 80 columns, word for word. (Checking that each option appears
    somewhere on the page let a usage without `[ARG ...]` through.)"""
    from webber._cli import parser

    monkeypatch.setenv("COLUMNS", "80")  # argparse reads it when it formats
    page = (DOCS / "guide" / "cli.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```text\n(usage: python -m webber ([a-z ]+?) \[-h\].*?)^```$",
                        page, re.MULTILINE | re.DOTALL)
    assert [verb for _, verb in blocks] == ["run", "show", "cache prune"]
    for text, verb in blocks:
        assert text == _subparser(parser(), verb.split()).format_help(), verb


def test_the_griffe_extension_turns_rest_into_markdown() -> None:
    """docs/griffe_rest.py, as mkdocstrings loads it: doctests fenced, roles linked."""
    griffe = pytest.importorskip("griffe")
    extensions = griffe.load_extensions(str(DOCS / "griffe_rest.py"))
    package = griffe.load("webber", extensions=extensions, search_paths=[str(ROOT)])
    to_json = package["DAG.to_json"].docstring.value
    assert to_json.startswith("[`to_dict`][webber.DAG.to_dict] as JSON text.")
    dag = package["DAG"].docstring.value
    assert "\n```pycon\n>>> import webber\n" in dag and dag.rstrip().endswith("```")
    errors = package["_errors"].docstring.value
    assert "from [`WebberError`][webber.WebberError]" in errors  # a role, resolved in scope
    assert "\n```text\nWebberError\n" in errors  # the `::` literal block
    substitute = package["_refs.substitute"].docstring.value
    assert "Like `copy.deepcopy`," in substitute  # not webber's: plain code, no link


def test_the_errors_guide_shows_the_whole_exception_tree() -> None:
    """docs/guide/results-and-errors.md's tree is webber._errors' docstring's,
    and names every exception webber exports."""
    from webber import _errors

    page = (DOCS / "guide" / "results-and-errors.md").read_text(encoding="utf-8")
    tree = re.search(r"^```text\n(WebberError\n.*?)^```$", page, re.MULTILINE | re.DOTALL)
    assert tree is not None
    doc = _errors.__doc__ or ""
    start, end = doc.index("    WebberError\n"), doc.index("\n\nErrors that cross")
    assert tree.group(1) == "".join(line[4:] + "\n" for line in doc[start:end].splitlines())
    names = set(re.findall(r"\b(\w+Error)\b", tree.group(1)))
    exported = {n for n in webber.__all__ if isinstance(getattr(webber, n), type)
                and issubclass(getattr(webber, n), webber.WebberError)}
    assert exported - names == set()
