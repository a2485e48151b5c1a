"""A small 0.4.0-style graph that the graph-view and record tests read."""

from __future__ import annotations

from webber import DAG, Condition, Promise


def double(x: int) -> int:
    return 2 * x


def add(x: int, y: int = 0) -> int:
    return x + y


def small_dag() -> DAG:
    """double-1 -> add-1 (a Promise), double-1 -> print-1 (AnyCase)."""
    d = DAG()
    a = d.add_node(double, 2)
    d.add_node(add, Promise(a), y=1)
    c = d.add_node(print, "side")
    d.add_edge(a, c, continue_on=Condition.AnyCase)
    return d
