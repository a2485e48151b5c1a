"""Drawing flows and runs with graphviz.

``to_graphviz`` builds a ``graphviz.Digraph`` (pure Python, no ``dot``
needed); ``visualize`` also writes a file when given a path, which needs
Graphviz's ``dot`` program. The graphviz package is imported only here, on
first use.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from webber._errors import WebberError

if TYPE_CHECKING:
    import graphviz

    from webber._compile import Plan
    from webber._flow import DAG
    from webber._run import Run

__all__ = ["to_graphviz", "visualize", "visualize_run"]

#: edge condition -> graphviz edge attributes
EDGE_STYLES: dict[str, dict[str, str]] = {
    "Success": {"color": "#2e7d32"},
    "Failure": {"color": "#c62828", "label": "on failure", "fontcolor": "#c62828"},
    "AnyCase": {"color": "#1565c0", "label": "any case", "fontcolor": "#1565c0"},
}
STATE_COLORS = {"success": "#c8e6c9", "failed": "#ffcdd2", "skipped": "#eeeeee"}


def _graphviz() -> Any:
    try:
        import graphviz
    except ImportError as e:  # pragma: no cover - graphviz is a dependency
        raise WebberError(
            "drawing needs the graphviz package: pip install graphviz "
            "(and Graphviz's `dot` program to write files)"
        ) from e
    return graphviz


def to_graphviz(plan: Plan, run: Run | None = None) -> graphviz.Digraph:
    """The plan as a Digraph: a box per task, levels as ranks, edges by condition."""
    gv = _graphviz()
    dot = gv.Digraph(plan.name, graph_attr={"rankdir": "TB"}, node_attr={
        "shape": "box", "style": "rounded,filled", "fillcolor": "white", "fontname": "Helvetica",
    })
    for level in plan.levels:
        with dot.subgraph() as rank:
            rank.attr(rank="same")
            for n in level:
                node = plan.nodes[n]
                lines = [node.name, n] if node.name != n else [n]
                attrs: dict[str, str] = {}
                if node.map:
                    lines.append("(map)")
                    attrs["peripheries"] = "2"
                if run is not None:
                    state = run.state(n)
                    attrs["fillcolor"] = STATE_COLORS[state]
                    if state != "skipped":
                        lines.append(_timing(run, n))
                # "\n" is DOT's centred line break
                rank.node(n, "\\n".join(lines), **attrs)
    for n, node in plan.nodes.items():
        for u, condition in node.parents.items():
            attrs = dict(EDGE_STYLES[condition.name])
            if u not in node.deps:
                attrs["style"] = "dashed"  # ordering only: no data passed
            dot.edge(u, n, **attrs)
    return dot


def _timing(run: Run, n: str) -> str:
    """``0.120 s``, with retries when there were any (counted per fan-out element)."""
    attempts = run.attempts[n]
    tries = len(attempts) - len({a.index for a in attempts})
    text = f"{run.durations[n]:.3f} s"
    if len({a.index for a in attempts}) > 1 or (attempts and attempts[0].index is not None):
        text += f", {len({a.index for a in attempts})} items"
    if tries:
        text += f", {tries} retr{'y' if tries == 1 else 'ies'}"
    return text


def _write(dot: graphviz.Digraph, path: str) -> None:
    gv = _graphviz()
    if not os.path.splitext(path)[1]:
        raise WebberError(f"cannot tell the format of {path!r}: end it in .svg, .png or .pdf")
    try:
        dot.render(outfile=path, cleanup=True)
    except gv.ExecutableNotFound as e:
        raise WebberError(
            f"writing {path!r} needs Graphviz's `dot` program, which is not installed: "
            f"apt-get install graphviz, brew install graphviz, or conda install graphviz "
            f"(the diagram's source is available without it: .visualize().source)"
        ) from e


def visualize(dag: DAG, path: str | None = None) -> graphviz.Digraph:
    """``dag.visualize()``: the Digraph; with ``path``, also the file."""
    dot = to_graphviz(dag.compile(executor="inline"))  # drawing runs nothing
    if path is not None:
        _write(dot, path)
    return dot


def visualize_run(run: Run, path: str | None = None) -> graphviz.Digraph:
    """``run.visualize()``: nodes coloured by final state, with durations."""
    dot = to_graphviz(run.plan, run)
    if path is not None:
        _write(dot, path)
    return dot
