"""Run-time fan-out with the DAG API: one task per element of a list that only exists at run time.

Run it: ``python examples/iter_promise.py``.

``list_orders`` returns a list; ``IterPromise(orders)`` makes ``price`` run
once per order, in parallel (worker processes by default), and ``total``
receives the list of prices in order. ``IterPromise(a, b, zip=True)`` runs
once per pair; ``partial=True`` keeps going when an element fails, leaving
its exception in its place.
"""

from __future__ import annotations

import webber
from webber import DAG, IterPromise, Promise

PRICES = {"apple": 0.5, "bread": 2.25, "cheese": 7.0}


def list_orders() -> list[tuple[str, int]]:
    return [("apple", 6), ("bread", 2), ("cheese", 1), ("caviar", 1)]


def price(order: tuple[str, int]) -> float:
    item, count = order
    return PRICES[item] * count  # KeyError for what the shop does not sell


def receipt(prices: list[float | Exception]) -> str:
    ok = [p for p in prices if not isinstance(p, Exception)]
    return f"{len(ok)} of {len(prices)} orders priced, total {sum(ok):.2f}"


def label(pair: tuple[tuple[str, int], float | Exception]) -> str:
    (item, count), cost = pair
    return f"{count} x {item}: {'not sold' if isinstance(cost, Exception) else f'{cost:.2f}'}"


def build() -> DAG:
    """The shop's DAG (``python -m webber run examples/iter_promise.py`` runs it)."""
    dag = DAG("shop")
    orders = dag.add_node(list_orders)
    prices = dag.add_node(price, IterPromise(orders, partial=True))
    dag.add_node(receipt, Promise(prices))
    dag.add_node(label, IterPromise(orders, prices, zip=True))
    return dag


def main() -> webber.Run:
    run = build().run()
    for line in run["label-1"]:
        print(line)
    print(run["receipt-1"])
    return run


if __name__ == "__main__":
    main()
