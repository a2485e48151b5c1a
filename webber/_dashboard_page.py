"""What a dashboard's page is sent: the page itself (one HTML file, script
and style inline, the graph and, in a report, a batch of the whole run
embedded as JSON) and its events -- a ``run`` event with the next run's
graph, and batches of what a board's columns have that the page has not
(see ``_dashboard_http.py`` for the server that sends them)."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import operator
import re
import sys
from array import array
from collections.abc import Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from webber._dashboard_board import Board
    from webber._dashboard_columns import Columns
    from webber._plan import Plan

__all__ = [
    "NO_GRAPH", "Seen", "batch", "batch_event", "batch_parts", "column", "end_parts", "graph",
    "page", "run_event", "shown", "with_nodes",
]

#: JSON as the page takes it (no spaces; NaN refused)
_json = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


# -- the page ---------------------------------------------------------------------------
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


@functools.cache
def _asset(name: str) -> str:
    return (resources.files("webber") / "_assets" / name).read_text(encoding="utf-8")


@functools.cache
def _script_digest() -> str:
    """The page script's sha256, which the page's Content-Security-Policy allows."""
    return base64.b64encode(hashlib.sha256(_asset("dashboard.js").encode()).digest()).decode()


def page(data: dict[str, Any], nodes: str, news: str | None = None) -> str:
    """The page with ``data``, the graph ``nodes`` (already JSON, see
    ``Board.graph``) and, in a report, the whole run's ``news`` (a
    :func:`batch`'s JSON) embedded, its script and style inline: one file that
    needs no network. The JSON is made safe to sit in a <script> element."""
    payload = _safe(with_nodes(data, nodes, news))
    parts = {
        "csp": _csp(_script_digest()),
        "style": _asset("dashboard.css"),
        "data": payload,
        "script": _asset("dashboard.js"),
    }
    # One pass: text put in is never searched for placeholders again.
    return _PLACEHOLDER.sub(lambda m: parts[m.group(1)], _asset("dashboard.html"))


def with_nodes(data: dict[str, Any], nodes: str, news: str | None = None) -> str:
    """``data`` as JSON, with the graph ``nodes`` (JSON already) as its
    ``"nodes"``, and ``news`` (JSON too) as its ``"batch"``."""
    text = _json(data)[:-1] + ',"nodes":' + nodes
    return text + (',"batch":' + news + "}" if news is not None else "}")


def run_event(data: dict[str, Any], nodes: str) -> bytes:
    """The ``run`` event that starts a page over with a run (see ``with_nodes``)."""
    return b"event: run\ndata: %s\n\n" % with_nodes(data, nodes).encode()


def batch_event(number: int, seen: Seen, news: list[bytes], before: bytes = b"") -> bytes:
    """A batch of run ``number`` (``news``: :func:`batch_parts`) as an event
    (its id says where the page is), after ``before``: one copy of it all."""
    return b"".join([before, b"id: %d:%d.%d.%d.%d\ndata: " % (number, *seen), *news, b"\n\n"])


def _safe(text: str) -> str:
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _csp(script_digest: str) -> str:
    return (f"default-src 'none'; script-src 'sha256-{script_digest}'; "
            f"style-src 'unsafe-inline'; connect-src 'self'; img-src data:")


# -- what the page is sent -----------------------------------------------------------
#: where a page is in a Board's lists: ends, attempts, lines, tracebacks
Seen = tuple[int, int, int, int]
#: the graph of a page that waits for a run (see graph())
NO_GRAPH = '{"id":[],"name":[],"level":[],"map":[],"parents":{}}'


def shown(board: Board | None) -> tuple[dict[str, Any], str]:
    """The page's data for ``board`` (None: waiting for a run) and its graph's JSON."""
    if board is None:
        return {"name": "webber", "live": True, "waiting": True, "run": 0}, NO_GRAPH
    return {**board.head(), "live": True, "run": board.number}, board.graph()


def batch(board: Board, since: Seen = (0, 0, 0, 0)) -> tuple[Seen, bool, bytes]:
    """What ``board`` has that a page at ``since`` has not, as the page takes
    it: where the page is then, whether that is the run's end, and the JSON::

        {"from": since, "to": [ends, attempts, lines, tracebacks],
         "att": {"n": attempts, "index": C, "number": C, "ok": C, "error": C,
                 "workers": [names]},
         "end": {"n": ends, "state": C, "same": true when the ends' nodes are
                 the attempts' (each task's end right after its one attempt)},
         "line": [[node, stream, text], ...], "tb": [[node, text], ...],
         "run": [[node, index, number, worker, started], ...],  (all running now)
         "done": [duration, ok] or null,
         "size": [bytes of a node's position, of a worker's],
         "bin": base64 of the numbers, little-endian, one column after another:
                the attempts' nodes (unsigned, of "size"), their workers (the
                same), started (doubles) and durations (doubles); the ends'
                nodes (unless "same")}

    A column C whose values are all the same is sent as that value (see
    ``_dashboard_columns.Columns`` for the rest). The attempts and ends are what the
    board's columns have (``Board.pack``), so what is sent is whole: a
    task's end never comes before its attempts -- but in the end of a run
    that went well (:func:`end_parts`), whose ``"end"`` has ``"all"``: the
    state of every task, their attempts to follow.
    """
    to, finished, parts = batch_parts(board, since)
    return to, finished, b"".join(parts)


def batch_parts(board: Board, since: Seen = (0, 0, 0, 0)) -> tuple[Seen, bool, list[bytes]]:
    """:func:`batch`, its JSON in parts (joined once, into what is sent)."""
    finished = board.finished
    columns = board.pack()
    to = (*columns.to, len(board.lines), len(board.tracebacks))
    running = board.running.copy()
    sizes, same, numbers = _numbers(columns, since, to)
    head = _json({
        "from": since, "to": to,
        "att": {"n": to[1] - since[1], "index": columns.index.slice(since[1], to[1]),
                "number": columns.number.slice(since[1], to[1]),
                "ok": columns.ok.slice(since[1], to[1]),
                "error": columns.error.slice(since[1], to[1]), "workers": columns.workers[:]},
        "end": {"n": to[0] - since[0], "state": columns.state.slice(since[0], to[0]),
                "same": same},
        "line": board.lines[since[2]:to[2]],
        "tb": board.tracebacks[since[3]:to[3]],
        "run": [[n, i, number, worker, at] for (n, i), (number, worker, at) in running.items()],
        "done": board.outcome if finished else None,
        "size": sizes,
    })
    # base64 needs no escaping in JSON: put in as it is (json.dumps would scan it).
    return to, finished, [head[:-1].encode(), b',"bin":"', base64.b64encode(numbers), b'"}']


def end_parts(board: Board) -> tuple[Seen, list[bytes]] | None:
    """A finished run's end for a page that saw none of it, without its
    attempts (a timeline's worth of numbers per task): the outcome, printed
    lines and tracebacks, and the final state of every task as one value
    (``"all"``) -- when every task ended in the same state, and none tried
    twice or fanned out (so the attempts change no task's look). None
    otherwise: the page is sent the whole run then (:func:`batch_parts`).
    The attempts follow with the page's next look (at most BATCH later),
    unless another run is shown by then: a page shows the run going on."""
    states, plan = board.states, board.plan
    if states is None or plan is None or not states or board.running \
            or len(states) != len(plan.nodes) or not board.layout().firsts:
        return None
    state = next(iter(states.values()))
    if operator.countOf(states.values(), state) != len(states):
        return None
    to = (len(states), 0, len(board.lines), len(board.tracebacks))
    head = _json({
        "from": (0, 0, 0, 0), "to": to,
        "att": {"n": 0, "index": [], "number": [], "ok": [], "error": [], "workers": []},
        "end": {"n": 0, "state": [], "same": True, "all": state},
        "line": board.lines[:to[2]], "tb": board.tracebacks[:to[3]], "run": [],
        "done": board.outcome, "size": [2, 2], "bin": "",
    })
    return to, [head.encode()]


def _numbers(columns: Columns, since: Seen, to: Seen) -> tuple[list[int], bool, bytes]:
    """The sizes, whether the ends' nodes are left out (the attempts' are
    theirs), and the bytes of ``batch``'s ``bin``."""
    # Each column read once: the engine's thread may put a wider one in its place.
    node, worker, end = columns.node, columns.worker, columns.end
    ends, attempts = slice(since[0], to[0]), slice(since[1], to[1])
    nodes, ended = node[attempts], end[ends]
    same = since[0] == since[1] and to[0] == to[1] and nodes == ended
    numbers: list[array[Any]] = [nodes, worker[attempts], columns.started[attempts],
                                 columns.duration[attempts]]
    if not same:
        numbers.append(ended)
    if sys.byteorder == "big":
        for part in numbers:
            part.byteswap()
    return [node.itemsize, worker.itemsize], same, b"".join(numbers)


def graph(plan: Plan) -> dict[str, Any]:
    """The graph for the page, as columns (a column whose values are all the
    same is that value; a few times cheaper to make and encode than a list per
    node)::

        {"id": [...], "name": [...], "level": [...],
         "map": [positions of the fan-out nodes],
         "parents": {position: [[parent, condition, passes_data], ...]}}
    """
    nodes = list(plan.nodes.values())
    return {
        "id": list(plan.nodes),
        "name": column([n.node.options.name for n in nodes]),
        "level": column([n.level for n in nodes]),
        "map": [i for i, n in enumerate(nodes) if n.node.fan_out],
        "parents": {i: [[u, c.name, u in n.deps] for u, c in n.parents.items()]
                    for i, n in enumerate(nodes) if n.parents},
    }


def column(values: Sequence[Any]) -> Any:
    """``values``, or its one value when all are the same (ok: all True, say);
    the page reads either (``col()`` in dashboard.js)."""
    if values and values.count(values[0]) == len(values):
        return values[0]
    return values
