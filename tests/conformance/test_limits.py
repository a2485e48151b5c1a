"""run(limits={tag: n}) with @task(limit=tag): at most n such tasks at once, on
every executor. Overlaps are recorded by the tasks themselves (a file per
running task), not inferred from timings."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import webber
from webber import Flow, task

pytestmark = pytest.mark.timeout(120)


def occupy(folder: str, i: int, others: int, patience: float = 0.3) -> int:
    """Mark this task running; wait (up to ``patience`` seconds) until ``others``
    more are running too, so that tasks that may overlap do; return the most
    seen at once. A task that met the others stays until they have all seen
    it too (``met-*``), so none of them waits out its patience alone."""
    here = Path(folder)
    me = here / f"running-{i}"
    me.touch()
    most = 0
    deadline = time.monotonic() + patience
    try:
        while True:
            most = max(most, len(list(here.glob("running-*"))))
            if most > others:
                (here / f"met-{i}").touch()
                if len(list(here.glob("met-*"))) > others:
                    return most
            if time.monotonic() > deadline:
                return most
            time.sleep(0.005)  # polls the folder; the limit, not this, orders the tasks
    finally:
        me.unlink()


def test_at_most_n_tagged_tasks_at_once(executor: str, tmp_path: Path) -> None:
    limited = task(limit="db")(occupy)
    free = task(occupy)
    (tmp_path / "db").mkdir()
    (tmp_path / "free").mkdir()
    with Flow() as flow:
        capped = [limited(str(tmp_path / "db"), i, 1) for i in range(4)]
        # Patient: on a cluster of 2 workers one may wait for a capped task to end.
        # (Inline, they cannot meet: no control to wait for.)
        patience = 0.3 if executor == "inline" else 30.0
        uncapped = [free(str(tmp_path / "free"), i, 1, patience) for i in range(2)]
    run = flow.run(executor=executor, max_workers=None if executor == "dask" else 4,
                   limits={"db": 1})
    assert all(run[c] == 1 for c in capped)  # never two at once
    if executor != "inline":
        # The control: untagged tasks do meet, so the test would see a breach.
        assert max(run[u] for u in uncapped) == 2


def test_limit_holds_for_fan_out_elements(executor: str, tmp_path: Path) -> None:
    (tmp_path / "api").mkdir()
    mapped = task(lambda i, folder: occupy(folder, i, 1), limit="api")
    with Flow() as flow:
        seen = mapped.map(list(range(4)), str(tmp_path / "api"))
    run = flow.run(executor=executor, limits={"api": 1})
    assert run[seen] == [1, 1, 1, 1]


def test_limits_are_checked() -> None:
    with Flow() as flow:
        task(len, limit="db")("x")
    for bad in ({"db": 0}, {"db": 1.5}, {3: 1}, ["db"]):
        with pytest.raises(webber.LimitError):
            flow.run(executor="inline", limits=bad)  # type: ignore[arg-type]
    with pytest.raises(webber.TaskDefinitionError, match="limit"):
        task(len, limit="")
    # A tag without a limit runs unlimited.
    assert flow.run(executor="inline", limits={"other": 1}).ok


def test_a_tag_no_task_has_is_named_in_a_warning(
    executor: str, caplog: pytest.LogCaptureFixture
) -> None:
    with Flow() as flow:
        task(limit="db")(abs)(-1)
    with caplog.at_level("WARNING", logger="webber"):
        run = flow.run(executor=executor, limits={"dbb": 1, "db": 1})
    assert run.ok  # it ran: a tag kept for other flows is no error
    (warning,) = [r.getMessage() for r in caplog.records if "limits nothing" in r.getMessage()]
    assert "the tag 'dbb'" in warning and "(the tags here: 'db')" in warning
    caplog.clear()
    with caplog.at_level("WARNING", logger="webber"):
        flow.run(executor=executor, limits={"db": 1})
    assert not [r for r in caplog.records if "limits nothing" in r.getMessage()]
