"""The dask cluster the conformance suite shares (see the executor fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="package")
def dask_client() -> Iterator[Any]:
    """A Client of a LocalCluster of 2 single-threaded worker processes.

    Package scope: it is closed when the conformance suite ends, before tests
    that check that no child process is left behind."""
    distributed = pytest.importorskip("distributed")
    import dask

    with dask.config.set({"distributed.worker.daemon": False}):  # tasks may start processes
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
    client = distributed.Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()
