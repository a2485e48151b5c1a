"""ETL on worker processes: extract -> transform (fan-out) -> load, with a retry
and a failure handler.

Run it: ``python examples/etl.py`` (add ``--break-load`` to see the handler run),
or ``python -m webber run examples/etl.py`` (which runs ``build()``'s flow).

- ``extract`` reads a CSV file written to a temporary directory;
- ``transform.map(lines)`` parses every line in its own task, spread over the
  worker processes;
- ``load`` writes the records to SQLite. Its first attempt fails (a flaky
  "connection", made deterministic by a marker file); ``retries=2`` runs it again;
- ``alert`` hangs off ``load`` on a ``Condition.Failure`` edge: it runs only if
  ``load`` fails for good, and receives its exception. Edges see the *final*
  state, so after the successful retry it is skipped.
"""

from __future__ import annotations

import atexit
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

import webber
from webber import Condition, Flow, task

ROWS = 12


@task
def extract(path: str) -> list[str]:
    lines = Path(path).read_text().splitlines()[1:]  # drop the header
    print(f"extracted {len(lines)} lines")
    return lines


@task
def transform(line: str) -> tuple[int, str, int]:
    """'7,Grace,12.50' -> (7, 'GRACE', 1250): id, name, amount in cents."""
    ident, name, amount = line.split(",")
    return int(ident), name.strip().upper(), round(float(amount) * 100)


@task(retries=2, retry_delay=0.1)
def load(records: list[tuple[int, str, int]], workdir: str, broken: bool) -> int:
    marker = Path(workdir) / "load-attempted"
    if broken:
        raise ConnectionError("database is down")
    if not marker.exists():  # the first attempt, in whichever worker runs it
        marker.touch()
        raise ConnectionError("database went away")
    with sqlite3.connect(Path(workdir) / "sales.db") as db:
        db.execute("CREATE TABLE sales (id INTEGER PRIMARY KEY, name TEXT, cents INTEGER)")
        db.executemany("INSERT INTO sales VALUES (?, ?, ?)", records)
        (count,) = db.execute("SELECT COUNT(*) FROM sales").fetchone()
    print(f"loaded {count} rows")
    return int(count)


@task
def alert(error: object) -> str:
    print(f"ALERT: load failed: {error!r}")
    return "alerted"


def build(workdir: str | None = None, broken: bool = False) -> Flow:
    """The flow over a CSV file it writes to ``workdir`` (by default a temporary
    folder removed when the program exits)."""
    if workdir is None:
        workdir = tempfile.mkdtemp(prefix="webber-etl-")
        atexit.register(shutil.rmtree, workdir, True)
    csv = Path(workdir) / "sales.csv"
    body = "".join(f"{i},name{i},{i * 2.5:.2f}\n" for i in range(1, ROWS + 1))
    csv.write_text("id,name,amount\n" + body)

    with Flow("etl") as flow:
        lines = extract(str(csv))
        records = transform.map(lines)  # one task per line, known at run time
        count = load(records, workdir, broken)
        handler = alert(count)  # gets load's exception when it failed
    flow.add_edge(count, handler, continue_on=Condition.Failure)
    return flow


def main(broken: bool = False) -> webber.Run:
    with tempfile.TemporaryDirectory() as workdir:
        run = build(workdir, broken).run(executor="processes")
    count, handler = "load-1", "alert-1"  # node ids: the task's name and a counter
    print(run)
    attempts = run.attempts[count]
    outcomes = ", ".join("ok" if a.ok else "failed" for a in attempts)
    tries = f"{len(attempts)} attempt{'s' * (len(attempts) > 1)}"
    print(f"load: {run.state(count)} after {tries} ({outcomes})")
    if run.state(count) == "success":
        print(f"rows loaded: {run[count]}")
    print(f"alert: {run.state(handler)}")
    return run


if __name__ == "__main__":
    main(broken="--break-load" in sys.argv[1:])
