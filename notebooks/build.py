"""Write (and execute, with fresh outputs) the notebooks from the cells below.

Run it: ``.venv/bin/python notebooks/build.py``. Edit the cells here, not the
.ipynb files: this keeps them reviewable as code. CI executes the notebooks
again (tests/test_notebooks.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent

QUICKSTART = [
    ("md", """# webber quickstart

Tasks are plain functions; a `with Flow():` block records how they connect; `flow.run()`
runs them in parallel on a pool of worker processes. Lambdas and closures defined right
here in the notebook run in those workers too (webber ships them with cloudpickle), and
what they print shows up in the cell."""),
    ("code", """import os

from webber import Flow, task

print("this kernel's pid:", os.getpid())"""),
    ("md", """## Tasks defined in cells: a lambda and a closure"""),
    ("code", """# A lambda: prints from whichever process runs it, returns that process's pid.
greet = task(
    lambda name: print(f"hello {name}, from pid {os.getpid()}") or os.getpid(), name="greet"
)


def scaler(k):
    def scale(x):  # a closure over k
        return k * x
    return scale


scale3 = task(scaler(3), name="scale3")


@task
def load(n):
    print(f"loading {n} rows")
    return list(range(n))"""),
    ("md", """## The flow, drawn before it runs

Inside the `with` block a task call records a node and returns a Promise; passing a
Promise to another task records the edge. `.map` fans out over a list known only at run
time."""),
    ("code", """with Flow("notebook") as flow:
    worker_pid = greet("notebook")
    rows = load(5)
    scaled = scale3.map(rows)
    total = task(sum)(scaled)
    report = task(lambda t: f"total is {t}", name="report")(total)

flow.visualize()"""),
    ("md", """## Run it on worker processes (the default executor)

The lines the tasks print appear below, each attributed to its task."""),
    ("code", """run = flow.run(progress=True)  # tqdm's bar when tqdm is installed
run"""),
    ("code", """print("greet ran in pid", run[worker_pid], "; this kernel is pid", os.getpid())
print("a different process:", run[worker_pid] != os.getpid())"""),
    ("code", """run[total], run[report], run.state(scaled)"""),
    ("md", """## What happened

`run.visualize()` colours each task by its final state, with durations and attempts;
`run.timeline()` shows which worker ran what, and when."""),
    ("code", """run.visualize()"""),
    ("code", """run.timeline()"""),
]

CONTROL = [
    ("md", """# Control flow: conditions, failures, retries, skips, fan-out, resume

The explicit DAG style, as in webber 0.4.0: `add_node` returns an id, `Promise(id)` passes
a node's result, `add_edge` adds a dependency with a condition."""),
    ("code", """import tempfile
from pathlib import Path

from webber import DAG, Condition, Promise

work = Path(tempfile.mkdtemp())


def extract():
    return [4, 2, 0, 1]


def invert(rows):
    return [1 / r for r in rows]


def report(values):
    return f"report: {values}"


def alert(error):
    return f"alert! {type(error).__name__}: {error}"


dag = DAG("control")
e = dag.add_node(extract)
i = dag.add_node(invert, Promise(e))
r = dag.add_node(report, Promise(i))
a = dag.add_node(alert, Promise(i))
dag.update_edges((i, a), continue_on=Condition.Failure)  # runs only if invert fails
dag.visualize()"""),
    ("md", """## A failure, and how to read it

The failing task is logged with its traceback; its children on Success edges are skipped;
the Failure-edge handler runs and receives the exception."""),
    ("code", """run = dag.run()
run.states"""),
    ("code", """print(run[a])
print(repr(run.error(i)))
print(run.attempts[i])
try:
    run[i]  # reading a failed task raises its own exception
except ZeroDivisionError as error:
    print("caught:", error)"""),
    ("md", """## Fix it and resume

`resume=` reuses what succeeded (here `extract`) and runs the rest: the changed task and
everything downstream of it."""),
    ("code", """dag.update_nodes(i, func=lambda rows: [1 / r for r in rows if r])
fixed = dag.run(resume=run)
print("reused:", fixed.reused)
fixed.states, fixed[r]"""),
    ("code", """fixed.visualize()"""),
    ("md", """## Retries

A task that fails on its first attempt (here: a marker file that does not exist yet) and
succeeds on the second. `retry_node(n, 2)` allows two more attempts."""),
    ("code", """def flaky(marker):
    path = Path(marker)
    if not path.exists():
        path.write_text("tried once")
        raise ConnectionError("the service blinked")
    return "connected"


retrying = DAG("retries")
f = retrying.add_node(flaky, str(work / "marker"))
retrying.retry_node(f, 2)
run = retrying.run()
run[f], [(a.number, a.ok, a.error) for a in run.attempts[f]]"""),
    ("md", """## Skips, AnyCase and the critical path

`skip_node` keeps a task from running; its children see a success (or a failure with
`as_failure=True`). An AnyCase edge runs its child whatever happened."""),
    ("code", """def build():
    return "built"


def test():
    return "tested"


def deploy():
    return "deployed"


def notify():
    return "notified"


pipeline = DAG("skips")
build, test, deploy, notify = (pipeline.add_node(f) for f in (build, test, deploy, notify))
pipeline.add_edge(build, test)
pipeline.add_edge(test, deploy)
pipeline.add_edge(deploy, notify, continue_on=Condition.AnyCase)
pipeline.skip_node(test)  # tests are slow today: children still run
run = pipeline.run()
print(run.states)
print("to deploy, these must run:", list(pipeline.critical_path(deploy).nodes))"""),
    ("md", """## Fan-out over a list known only at run time"""),
    ("code", """from webber import Flow, task


@task
def pages():
    return ["a", "bb", "ccc"]


@task
def size(page):
    return len(page)


with Flow("fan-out") as flow:
    sizes = size.map(pages())
    total = task(sum)(sizes)
run = flow.run()
run[sizes], run[total]"""),
]

PERFORMANCE = [
    ("md", """# Performance: processes, threads, and where the time goes

Pure-Python CPU-bound work only speeds up on processes (threads share one GIL); I/O-bound
work (waiting on disks, networks, sleeps) speeds up on threads too, with less cost.
Times below are from the machine that executed this notebook."""),
    ("code", """import os
import time

import webber
from webber import Flow, task

print("cores:", os.cpu_count())


def count_primes(bounds):
    lo, hi = bounds
    found = 0
    for n in range(max(lo, 2), hi):
        if all(n % d for d in range(2, int(n ** 0.5) + 1)):
            found += 1
    return found


chunks = [(k * 40_000, (k + 1) * 40_000) for k in range(8)]

with Flow("primes") as flow:
    counts = task(count_primes).map(chunks)
    total = task(sum)(counts)"""),
    ("code", """start = time.perf_counter()
serial = sum(count_primes(c) for c in chunks)
serial_time = time.perf_counter() - start

flow.run()  # the first run starts the worker pool; later runs reuse it
timings = {}
for executor in ("processes", "threads", "inline"):
    start = time.perf_counter()
    run = flow.run(executor=executor)
    timings[executor] = time.perf_counter() - start
    assert run[total] == serial

print(f"serial          {serial_time:.2f} s")
for executor, seconds in timings.items():
    print(f"{executor:<15} {seconds:.2f} s   speedup {serial_time / seconds:.2f}x")"""),
    ("md", """## The timeline

One lane per worker process, one bar per task; the outlined bars are the critical path.
Gaps in a lane are a worker waiting."""),
    ("code", """run = flow.run(executor="processes")
run.timeline()"""),
    ("md", """## I/O-bound: threads are enough"""),
    ("code", """@task
def fetch(i):
    time.sleep(0.2)  # stands for a network call
    return i


with Flow("io") as io:
    task(sum)(fetch.map(range(8)))

start = time.perf_counter()
io.run(executor="threads", max_workers=8)
print(f"threads, 8 workers:   {time.perf_counter() - start:.2f} s for 8 waits of 0.2 s")
start = time.perf_counter()
io.run(executor="processes")
print(f"processes, {os.cpu_count()} workers: {time.perf_counter() - start:.2f} s (one per core: "
      f"waits queue up)")"""),
    ("md", """## Which executor?

| your tasks | use |
|---|---|
| CPU-bound Python (parsing, simulations, pure-Python loops) | `processes` (the default) |
| waiting on I/O; or objects that cannot be pickled | `threads` |
| debugging (`breakpoint()` works, one task at a time) | `inline` |
| more than one machine, or data bigger than one machine | `webber.DaskExecutor(client)` on a dask.distributed cluster |

Large arrays move between worker processes through shared memory, not pipes; on a cluster,
dask moves data worker to worker."""),
    ("code", """webber.shutdown()  # stop the worker processes now (they also stop when the kernel exits)"""),
]

NOTEBOOKS = {
    "01-quickstart.ipynb": QUICKSTART,
    "02-control-flow.ipynb": CONTROL,
    "03-performance.ipynb": PERFORMANCE,
}


def notebook(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src)
        for kind, src in cells
    ]
    return nb


def main(execute: bool = True) -> None:
    for name, cells in NOTEBOOKS.items():
        nb = notebook(cells)
        if execute:
            NotebookClient(nb, timeout=300, kernel_name="python3",
                           resources={"metadata": {"path": str(HERE)}}).execute()
        nbformat.write(nb, HERE / name)
        print(f"wrote notebooks/{name}")


if __name__ == "__main__":
    main(execute="--no-execute" not in sys.argv)
