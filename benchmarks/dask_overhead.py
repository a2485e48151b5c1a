"""What webber's DaskExecutor adds to raw dask, on the same cluster and the same work.

One ``LocalCluster`` of 2 single-threaded worker processes serves both:

1. 1,000 independent no-op tasks: raw ``dask.delayed`` + ``client.compute``
   (waited for, results left on the cluster) vs ``flow.run(DaskExecutor(client))``
   (the same: a Run reads results from the cluster only when asked).
2. a chain of 300 dependent tasks (each adds 1 to its parent's result), the last
   value brought to the caller in both.

Every number is the best of 3 after a warm-up; the ratio is webber / raw (the
target: webber adds at most 10 %, a ratio <= 1.10). webber runs a linear chain
as one dask task (one hand-off instead of 300), so there it is faster than
raw dask.

Run: ``python3 dev.py bench dask_overhead``.
"""

from __future__ import annotations

from typing import Any

from _common import best, import_webber_from_checkout, table
from _workloads import build_chain, build_noops, inc, noop

TARGET = 1.10


def main() -> None:
    import_webber_from_checkout()
    import dask
    from distributed import Client, LocalCluster, wait

    from webber import DAG, DaskExecutor, Promise

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    client = Client(cluster)
    try:
        def raw_many() -> None:
            wait(client.compute([dask.delayed(noop, pure=False)() for _ in range(1000)]))

        def raw_chain() -> None:
            x: Any = dask.delayed(int)(0)
            for _ in range(299):
                x = dask.delayed(inc, pure=False)(x)
            assert client.compute(x, sync=True) == 299

        executor = DaskExecutor(client)
        many = build_noops(DAG())
        chain = build_chain(DAG(), Promise)

        def webber_many() -> None:
            assert many.run(executor=executor).ok

        def webber_chain() -> None:
            assert chain.run(executor=executor)[chain.nodes[-1]] == 299

        rows = [["workload", "raw dask", "webber", "webber / raw"]]
        worst = 0.0
        for name, raw, ours in (
            ("1,000 no-op tasks", raw_many, webber_many),
            ("chain of 300 tasks", raw_chain, webber_chain),
        ):
            t_raw, t_ours = best(raw), best(ours)
            ratio = t_ours / t_raw
            worst = max(worst, ratio)
            rows.append([name, f"{t_raw * 1e3:.0f} ms", f"{t_ours * 1e3:.0f} ms", f"{ratio:.2f}"])
    finally:
        client.close()
        cluster.close()
    print("LocalCluster: 2 worker processes x 1 thread; best of 3 after a warm-up\n")
    print(table(rows))
    verdict = "within" if worst <= TARGET else "OVER"
    print(f"\nworst ratio {worst:.2f}: {verdict} the target of {TARGET:.2f}")


if __name__ == "__main__":
    main()
