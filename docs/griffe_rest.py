"""A Griffe extension: webber's reST-flavoured docstrings, as Markdown for mkdocstrings.

webber's docstrings are written for ``help()`` and Sphinx habits: doctest
blocks, ``text::`` literal blocks and roles such as :class:`~webber.Run`.
Rendered as Markdown unchanged, a doctest's ``>>>`` becomes nested quotes and
``d["nodes"][1]`` a broken link. This extension rewrites each docstring of the
package once it is loaded (the source files stay as they are):

- a doctest block (``>>>`` lines up to a blank line) becomes a ``pycon`` fence;
- ``text::`` followed by an indented block becomes ``text:`` and a ``text`` fence;
- a role becomes a link to the API reference when it names a public object of
  webber (``webber.NAME`` or one of its members), else inline code.

mkdocs.yml loads it with ``extensions: [docs/griffe_rest.py]`` (a path from the
repository root, where ``mkdocs build`` runs).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|mod|exc|data|obj):`([^`]+)`")
TITLED = re.compile(r"^(.*?)\s*<([^>]+)>$")


class RestToMarkdown(griffe.Extension):
    """Rewrite the docstrings of the ``webber`` package (see the module docstring)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        if pkg.name != "webber":
            return
        public = _public_paths(pkg)
        for obj in _walk(pkg):
            _rewrite(obj, public)


def _rewrite(obj: griffe.Object, public: dict[str, str]) -> None:
    if obj.docstring is not None:
        text = _fence_literal_blocks(_fence_doctests(obj.docstring.value))
        obj.docstring.value = ROLE.sub(lambda m: _role(m.group(1), obj, public), text)


def _walk(obj: griffe.Object) -> list[griffe.Object]:
    """``obj`` and every object defined under it (aliases are left to their targets)."""
    found = [obj]
    for member in obj.members.values():
        if not member.is_alias:
            found += _walk(member)  # type: ignore[arg-type]
    return found


def _public_paths(pkg: griffe.Module) -> dict[str, str]:
    """Canonical path -> documented path, for ``webber.NAME`` in ``__all__`` and
    the members of those names (``webber._flow.DAG.run`` -> ``webber.DAG.run``)."""
    paths: dict[str, str] = {}
    for name in pkg.exports or ():
        if not isinstance(name, str) or name not in pkg.members:
            continue
        member = pkg.members[name]
        try:
            target = member.final_target if member.is_alias else member  # type: ignore[union-attr]
        except griffe.AliasResolutionError:
            continue
        public = f"webber.{name}"
        paths[target.path] = public
        paths[public] = public
        for child in target.all_members:
            paths[f"{target.path}.{child}"] = f"{public}.{child}"
            paths[f"{public}.{child}"] = f"{public}.{child}"
    return paths


def _role(content: str, obj: griffe.Object, public: dict[str, str]) -> str:
    titled = TITLED.match(content)
    if titled:
        title, target = titled.groups()
    elif content.startswith("~"):
        target = content[1:]
        title = target.rsplit(".", 1)[-1]
    else:
        title = target = content
    path = _resolve(target, obj, public)
    return f"[`{title}`][{path}]" if path else f"`{title}`"


def _resolve(target: str, obj: griffe.Object, public: dict[str, str]) -> str | None:
    """The documented path of ``target`` as seen from ``obj``, or None."""
    if target in public:
        return public[target]
    scopes = [obj, *_parents(obj)]
    for scope in scopes:
        path = f"{scope.path}.{target}"
        if path in public:
            return public[path]
        if target in scope.members:
            member = scope.members[target]
            try:
                canonical = member.final_target.path if member.is_alias else member.path  # type: ignore[union-attr]
            except griffe.AliasResolutionError:
                continue
            if canonical in public:
                return public[canonical]
    return public.get(f"webber.{target}")


def _parents(obj: griffe.Object) -> list[griffe.Object]:
    found: list[griffe.Object] = []
    parent = obj.parent
    while parent is not None:
        found.append(parent)
        parent = parent.parent
    return found


def _fence_doctests(text: str) -> str:
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.lstrip().startswith(">>>"):
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        if out and out[-1].strip():
            out.append("")
        out.append(f"{indent}```pycon")
        while i < len(lines) and lines[i].strip():
            out.append(lines[i])
            i += 1
        out.append(f"{indent}```")
    return "\n".join(out)


def _fence_literal_blocks(text: str) -> str:
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.rstrip().endswith("::"):
            out.append(line)
            continue
        intro = line.rstrip()[:-2].rstrip()
        if intro.strip():
            out.append(intro + ("" if line.rstrip()[-3:-2] == " " else ":"))
        indent = len(line) - len(line.lstrip())
        block: list[str] = []
        while i < len(lines) and not lines[i].strip():
            i += 1
        while i < len(lines) and (
            not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent
        ):
            block.append(lines[i])
            i += 1
        while block and not block[-1].strip():
            block.pop()
        if not block:
            continue
        cut = min(len(b) - len(b.lstrip()) for b in block if b.strip())
        pad = " " * indent
        out += ["", f"{pad}```text", *(pad + b[cut:] for b in block), f"{pad}```", ""]
    return "\n".join(out)
