"""Drawing flows and runs with graphviz.

``to_graphviz`` builds a ``graphviz.Digraph`` (pure Python, no ``dot``
needed); ``visualize`` also writes a file when given a path, which needs
Graphviz's ``dot`` program. The graphviz package is imported only here, on
first use.
"""

from __future__ import annotations

import os
import re
from html import escape as _escape
from typing import TYPE_CHECKING, Any

from webber._errors import DiagramError

if TYPE_CHECKING:
    import graphviz

    from webber._flow import DAG
    from webber._plan import Plan
    from webber._run import Run

__all__ = ["DIAGRAM_SUFFIXES", "to_graphviz", "visualize", "visualize_run"]

#: edge condition -> graphviz edge attributes
EDGE_STYLES: dict[str, dict[str, str]] = {
    "Success": {"color": "#2e7d32"},
    "Failure": {"color": "#c62828", "label": "on failure", "fontcolor": "#c62828"},
    "AnyCase": {"color": "#1565c0", "label": "any case", "fontcolor": "#1565c0"},
}
#: ordering-only edges (``a >> b``): no data passed
ORDER_STYLE = {"style": "dashed"}
#: final state -> fill colour; "retried" is a success that needed more than one attempt
STATE_COLORS = {
    "success": "#c8e6c9", "retried": "#ffe082", "failed": "#ffcdd2", "skipped": "#eeeeee",
}
#: control characters, which dot refuses (but tab and newline): shown as Python writes them
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _shown(text: str) -> str:
    """``text`` with its control characters written out (a name made of a
    terminal's coloured text, a NUL: dot failed on the whole diagram)."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def escape(text: str) -> str:
    """``text`` for an HTML label."""
    return _escape(_shown(text))


def _graphviz() -> Any:
    try:
        import graphviz
    except ImportError as e:  # pragma: no cover - graphviz is a dependency
        raise DiagramError(
            "drawing needs the graphviz package: pip install graphviz "
            "(and Graphviz's `dot` program to write files)"
        ) from e
    return graphviz


def to_graphviz(plan: Plan, run: Run | None = None, legend: bool = True) -> graphviz.Digraph:
    """The plan as a Digraph: a box per task, levels as ranks, edges by condition,
    and (``legend=True``) a legend of the edge styles and, for a run, the colours."""
    gv = _graphviz()
    dot = gv.Digraph(_dot_id(plan.name), graph_attr={"rankdir": "TB"}, node_attr={
        "shape": "box", "style": "rounded,filled", "fillcolor": "white", "fontname": "Helvetica",
    }, edge_attr={"fontname": "Helvetica", "fontsize": "10"})
    for level in plan.levels:
        with dot.subgraph() as rank:
            rank.attr(rank="same")
            for n in level:
                node = plan.nodes[n]
                # The task's name, then (small, grey) its id and what happened.
                small = [n] if node.name != n else []
                attrs: dict[str, str] = {}
                if node.node.fan_out:
                    small.append("map")
                    attrs["peripheries"] = "2"
                if run is not None:
                    state = _state(run, n)
                    attrs["fillcolor"] = STATE_COLORS[state]
                    if n in run.cached:
                        small.append("cached")
                    elif n in run.reused:
                        small.append("reused")
                    elif state != "skipped":
                        small.append(_timing(run, n))
                detail = "".join(
                    f'<BR/><FONT POINT-SIZE="9" COLOR="#616161">{escape(line)}</FONT>'
                    for line in small
                )
                rank.node(_dot_id(n), f"<{escape(node.name)}{detail}>", **attrs)
    for n, node in plan.nodes.items():
        # A set when there are many parents: `in` on the tuple made a wide
        # fan-in (N tasks into one sum) quadratic.
        deps = node.deps if len(node.deps) < 8 else set(node.deps)
        for u, condition in node.parents.items():
            attrs = dict(EDGE_STYLES[condition.name])
            if u not in deps:
                attrs.update(ORDER_STYLE)
            dot.edge(_dot_id(u), _dot_id(n), **attrs)
    if legend:
        _legend(dot, run is not None)
    return dot


def _dot_id(name: str) -> str:
    """``name`` as a DOT id (the graph's, a box's; labels are apart). graphviz
    quotes it but leaves its backslashes: one at its end would escape the
    closing quote, and dot would fail on the whole diagram. Doubled, they
    stay as written in the id (one id for each name); and a name in angle
    brackets is not taken for an HTML label."""
    dot_id: str = _graphviz().nohtml(_shown(name).replace("\\", "\\\\"))
    return dot_id


def _state(run: Run, n: str) -> str:
    state = run.state(n)
    if state == "success" and any(not a.ok for a in run.attempts[n]):
        return "retried"
    return state


def _legend(dot: graphviz.Digraph, states: bool) -> None:
    """A small key in one node: a sample line per edge style, and the state colours."""
    order = EDGE_STYLES["Success"]["color"]
    rows = [
        f'<TR><TD ALIGN="LEFT"><FONT COLOR="{style["color"]}">&#9473;&#9473;&#9654;</FONT>'
        f'</TD><TD ALIGN="LEFT">{label}</TD></TR>'
        for label, style in (
            ("on success", EDGE_STYLES["Success"]),
            ("on failure", EDGE_STYLES["Failure"]),
            ("in any case", EDGE_STYLES["AnyCase"]),
        )
    ]
    rows.append(
        f'<TR><TD ALIGN="LEFT"><FONT COLOR="{order}">- - &#9654;</FONT></TD>'
        f'<TD ALIGN="LEFT">order only</TD></TR>'
    )
    if states:
        rows += [
            f'<TR><TD BGCOLOR="{colour}" BORDER="1" COLOR="#9e9e9e"> </TD>'
            f'<TD ALIGN="LEFT">{state}</TD></TR>'
            for state, colour in STATE_COLORS.items()
        ]
    table = (
        '<<TABLE BORDER="1" COLOR="#bdbdbd" CELLBORDER="0" CELLSPACING="1" CELLPADDING="2">'
        f'<TR><TD COLSPAN="2"><B>legend</B></TD></TR>{"".join(rows)}</TABLE>>'
    )
    dot.node("_legend", table, shape="plaintext", style="", fontsize="10")


def _timing(run: Run, n: str) -> str:
    """``0.120 s, 1 attempt``; a fan-out also says how many items it ran."""
    attempts = run.attempts[n]
    items = len({a.index for a in attempts})
    text = f"{run.durations[n]:.3f} s"
    if items > 1 or (attempts and attempts[0].index is not None):
        text += f", {items} items"
    text += f", {len(attempts)} attempt{'s' * (len(attempts) != 1)}"
    return text


#: the files a diagram is written as (Graphviz's formats that draw it)
DIAGRAM_SUFFIXES = (".svg", ".png", ".pdf", ".jpg", ".jpeg", ".gif", ".dot", ".gv", ".ps")


def _write(dot: graphviz.Digraph, path: str) -> None:
    gv = _graphviz()
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in DIAGRAM_SUFFIXES:
        told = f"a {suffix} file" if suffix else "the format of a file without a suffix"
        raise DiagramError(f"cannot write {told} ({path!r}): end it in "
                           f"{', '.join(DIAGRAM_SUFFIXES)}")
    try:
        # Piped, not render(): render writes the source beside the target first,
        # and left it there when dot was interrupted or killed on a large graph.
        image = dot.pipe(format=suffix[1:])
    except gv.ExecutableNotFound as e:
        raise DiagramError(
            f"writing {path!r} needs Graphviz's `dot` program, which is not installed: "
            f"apt-get install graphviz, brew install graphviz, or conda install graphviz "
            f"(the diagram's source is available without it: .visualize().source)"
        ) from e
    except gv.CalledProcessError as e:
        how = f"killed by signal {-e.returncode}" if e.returncode < 0 else f"exit {e.returncode}"
        said = (e.stderr or b"").decode(errors="replace").strip()
        raise DiagramError(
            f"Graphviz's `dot` failed writing {path!r} ({how}){': ' + said if said else ''}; "
            f"nothing was written (the diagram's source: .visualize().source)"
        ) from e
    try:
        with open(path, "wb") as f:
            f.write(image)
    except OSError as e:  # (a folder that does not exist, or is not ours)
        raise DiagramError(
            f"cannot write {os.fspath(path)!r} ({type(e).__name__}: {e.strerror or e}): "
            f"pass a path in a folder that exists and you may write to"
        ) from e


#: what ``visualize(type=...)`` accepts (webber 0.4.0's argument): "browser"
#: and "gui" open the diagram; "plt" (0.4.0's notebook drawing) returns it, and
#: Jupyter shows the returned Digraph inline
TYPES = ("browser", "gui", "plt")
OPENS = ("browser", "gui")


def visualize(
    dag: DAG, path: str | None = None, type: str | None = None, legend: bool = True
) -> graphviz.Digraph:
    """``dag.visualize()``: the Digraph; with ``path``, also the file; with
    ``type="browser"``, also opens it in the system's browser."""
    dot = to_graphviz(dag.compile(), legend=legend)
    return _deliver(dot, path, type)


def visualize_run(
    run: Run, path: str | None = None, type: str | None = None, legend: bool = True
) -> graphviz.Digraph:
    """``run.visualize()``: nodes coloured by final state, with durations."""
    return _deliver(to_graphviz(run.plan, run, legend=legend), path, type)


def _deliver(dot: graphviz.Digraph, path: str | None, type: str | None) -> graphviz.Digraph:
    if path in TYPES and type is None:  # webber 0.4.0's positional dag.visualize("browser")
        path, type = None, path
    if type is not None and type not in TYPES:
        raise DiagramError(
            f"visualize(type={type!r}) is not supported: the types are "
            f"{', '.join(map(repr, TYPES))}; use type='browser' to open the "
            f"diagram, a path ('flow.svg', '.png', '.pdf') to write it, or neither to get "
            f"the graphviz.Digraph (Jupyter shows it inline)"
        )
    if path is not None:
        if not isinstance(path, (str, os.PathLike)):
            raise DiagramError(
                f"visualize(path={path!r}): give a file path such as 'flow.svg', or "
                f"type='browser' to open the diagram (a {path.__class__.__name__} is no path)"
            )
        _write(dot, path)
    if type in OPENS:
        open_in_browser(dot)
    return dot


def open_in_browser(dot: graphviz.Digraph) -> str:
    """Render ``dot`` to an SVG in a temporary folder, open it with the system's
    browser (Python's ``webbrowser``) and return the file's path."""
    import tempfile
    import webbrowser

    folder = tempfile.mkdtemp(prefix="webber-")
    path = os.path.join(folder, f"{dot.name or 'flow'}.svg")
    _write(dot, path)
    if not webbrowser.open("file://" + path):  # a server without a browser: say where it is
        import logging

        logging.getLogger("webber").warning(
            "no browser could be opened here to show the diagram; it is written to %s "
            "(or write it where you like: visualize('flow.svg'))", path,
        )
    return path
