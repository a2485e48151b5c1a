"""webber against the engines users pick today, on the same workloads, in one run.

Engines: webber (default executor: worker processes), webber 0.4.0 from PyPI
(threads; in its own venv, ``benchmarks/.venv-040``, made on first use),
``concurrent.futures.ProcessPoolExecutor``, dask's ``processes`` scheduler and
joblib (loky). Pools that persist between calls are warm; every number is the
best of 3 after a warm-up; the serial runs that the CPU and array workloads are
compared with are taken in turn with each engine's (``paired``). Workloads
(``_workloads.py``):

1. 8 CPU-bound pure-Python tasks of ~90 ms: speedup over running them serially.
2. 1,000 independent no-op tasks: milliseconds, re-running a built flow (the
   plan cached) and end to end (build, compile and run a fresh flow, what a
   script pays every time); also 10,000 end to end.
3. a chain of 300 dependent tasks (each adds 1 to its parent's result): ms;
   and a lattice of 20 layers x 100 tasks, each taking 3 of the layer before,
   end to end.
4. a 100 MB numpy array made by one task and summed by two others: time as a
   multiple of doing the same serially in one process.
5. 50 tasks of a function that holds a 100 MB array (a closure's, as a
   notebook function's global), 50 tasks each taking one 100 MB array as an
   argument, the same of an array of a file mapped read-only, and 5,000 tasks
   each taking and returning a record (a dataclass sent by value, as one of
   ``__main__`` or a notebook is): ms, on webber and joblib.
6. the seed's hello example as a whole process (``python examples/hello.py``
   without its last line, ``dag.visualize()``, which in 0.4.0 opens a GUI).

Run: ``python3 dev.py bench peers``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from _common import ROOT, best, import_webber_from_checkout, paired, table
from _workloads import (
    build_chain,
    build_lattice,
    build_noops,
    burn,
    consume,
    held_reader,
    inc,
    join,
    make_array,
    mapped_array,
    next_record,
    noop,
    pick,
    record_class,
)

HERE = Path(__file__).resolve().parent
VENV_040 = HERE / ".venv-040"
WORKERS = os.cpu_count() or 2
#: tasks of the records workload
RECORDS = 5_000
#: the file of the mapped-array workload (100 MB; removed at the end)
MAPPED = Path(tempfile.gettempdir()) / f"webber-peers-{os.getpid()}.npy"


def serial_cpu() -> None:
    """The CPU workload in this process, one task after another."""
    for _ in range(8):
        burn()


def serial_array() -> None:
    """The array workload in this process."""
    a = make_array()
    consume(a)
    consume(a)


def against_serial(key: str, serial: Callable[[], Any], fn: Callable[[], Any]) -> dict[str, float]:
    """``{key: fn's best, key + " serial": serial's}``, measured in turn (see
    ``paired``): the ratio is of one stretch of time."""
    got = paired(serial, fn)
    return {key: got[""], f"{key} serial": got["serial"]}


def python_040() -> Path:
    python = VENV_040 / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV_040)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "webber==0.4.0"], check=True)
    return python


# -- webber -------------------------------------------------------------------------
def webber_workloads() -> dict[str, float]:
    import_webber_from_checkout()
    import webber
    from webber import DAG, Promise

    cpu = DAG()
    for _ in range(8):
        cpu.add_node(burn)
    many = build_noops(DAG())
    chain = build_chain(DAG(), Promise)
    data = DAG()
    array = data.add_node(make_array)
    sums = [data.add_node(consume, Promise(array)) for _ in range(2)]
    read = held_reader()
    big = make_array()
    mapped = mapped_array(str(MAPPED))
    record = record_class()
    held = DAG()
    shared = DAG()
    on_file = DAG()
    for i in range(50):
        held.add_node(read, i)
        shared.add_node(pick, big, i)
        on_file.add_node(pick, mapped, i)

    def records() -> None:
        dag = DAG()
        for i in range(RECORDS):
            dag.add_node(next_record, record("r", i))
        assert dag.run().ok

    def run_data() -> None:
        run = data.run()
        assert [run[s] for s in sums] == [float(2 * 0 + make_array.__defaults__[0])] * 2  # type: ignore[index]

    result = {
        **against_serial("cpu", serial_cpu, lambda: cpu.run()),
        "noop1000": best(lambda: many.run()),
        "chain300": best(lambda: chain.run()),
        **against_serial("array", serial_array, run_data),
        "held": best(lambda: held.run()),
        "shared": best(lambda: shared.run()),
        "mapped": best(lambda: on_file.run()),
        "records": best(records),
        # end to end: a fresh flow each time, as a script builds it
        "noop1000 fresh": best(lambda: build_noops(DAG()).run()),
        "noop10000 fresh": best(lambda: build_noops(DAG(), 10_000).run()),
        "chain300 fresh": best(lambda: build_chain(DAG(), Promise).run()),
        "lattice fresh": best(lambda: build_lattice(DAG(), Promise).run()),
    }
    webber.shutdown()
    return result


# -- concurrent.futures ---------------------------------------------------------------
def ppe_workloads() -> dict[str, float]:
    with ProcessPoolExecutor(WORKERS) as pool:
        def each(func: Callable[[], Any], n: int) -> list[Any]:
            return [f.result() for f in [pool.submit(func) for _ in range(n)]]

        def chain() -> None:
            x = 0
            for _ in range(300):
                x = pool.submit(inc, x).result()

        def array() -> None:
            a = pool.submit(make_array).result()
            [f.result() for f in [pool.submit(consume, a) for _ in range(2)]]

        return {
            **against_serial("cpu", serial_cpu, lambda: each(burn, 8)),
            "noop1000": best(lambda: each(noop, 1000)),
            "chain300": best(chain),
            **against_serial("array", serial_array, array),
            "noop1000 fresh": best(lambda: each(noop, 1000)),
            "noop10000 fresh": best(lambda: each(noop, 10_000)),
            "chain300 fresh": best(chain),
        }


# -- dask -------------------------------------------------------------------------------
def dask_workloads() -> dict[str, float]:
    import dask
    from dask import delayed

    def compute(*values: Any) -> Any:
        return dask.compute(*values, scheduler="processes", num_workers=WORKERS)

    def chain() -> None:
        x = delayed(int)(0)
        for _ in range(299):
            x = delayed(inc)(x)
        compute(x)

    def array() -> None:
        a = delayed(make_array)()
        compute(delayed(consume)(a), delayed(consume)(a))

    def lattice() -> None:
        previous = [delayed(noop, pure=False)() for _ in range(100)]
        for _ in range(19):
            previous = [delayed(join)(*(previous[(i + k) % 100] for k in range(3)))
                        for i in range(100)]
        compute(*previous)

    def noops(n: int) -> Any:
        return compute(*[delayed(noop, pure=False)() for _ in range(n)])

    return {
        **against_serial("cpu", serial_cpu,
                         lambda: compute(*[delayed(burn, pure=False)() for _ in range(8)])),
        "noop1000": best(lambda: noops(1000)),
        "chain300": best(chain),
        **against_serial("array", serial_array, array),
        # dask graphs are built per call: its numbers are end to end already
        "noop1000 fresh": best(lambda: noops(1000)),
        "noop10000 fresh": best(lambda: noops(10_000)),
        "chain300 fresh": best(chain),
        "lattice fresh": best(lattice),
    }


# -- joblib -------------------------------------------------------------------------------
def joblib_workloads() -> dict[str, float]:
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=WORKERS)
    read = held_reader()
    big = make_array()

    def fresh(func: Callable[..., Any], *args: Any) -> float | None:
        # A Parallel per call: one reused with a large array lost its memmap
        # between calls now and then ("FileNotFoundError ...
        # joblib_memmapping_folder", joblib 1.6), in either workload; a run
        # that fails anyway is shown as "-".
        try:
            return best(lambda: Parallel(n_jobs=WORKERS)(
                delayed(func)(*args, i) for i in range(50)))
        except Exception as e:  # (joblib's BrokenProcessPool)
            print(f"joblib failed: {type(e).__name__}: {e}", file=sys.stderr)
            return None

    mapped = mapped_array(str(MAPPED))
    record = record_class()
    result = {
        "held": fresh(read),
        "shared": fresh(pick, big),
        "mapped": fresh(pick, mapped),
        "records": best(lambda: parallel(
            delayed(next_record)(record("r", i)) for i in range(RECORDS))),
        **against_serial("cpu", serial_cpu, lambda: parallel(delayed(burn)() for _ in range(8))),
        "noop1000": best(lambda: parallel(delayed(noop)() for _ in range(1000))),
        "noop1000 fresh": best(lambda: parallel(delayed(noop)() for _ in range(1000))),
        "noop10000 fresh": best(lambda: parallel(delayed(noop)() for _ in range(10_000))),
    }
    return {key: value for key, value in result.items() if value is not None}


def upstream_workloads() -> dict[str, float]:
    out = subprocess.run(
        [str(python_040()), str(HERE / "_upstream040.py")],
        capture_output=True, text=True, check=True, cwd=HERE,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def hello_process(python: Path | str) -> float:
    # Both with their bytecode compiled, as an install leaves them (this machine
    # sets PYTHONDONTWRITEBYTECODE: else every run would compile the sources).
    subprocess.run([str(python), "-m", "compileall", "-q", str(Path(ROOT) / "webber")],
                   capture_output=True, check=False)
    subprocess.run([str(python), "-c", "import compileall, site; "
                    "[compileall.compile_dir(d, quiet=1) for d in site.getsitepackages()]"],
                   capture_output=True, check=False)
    code = (Path(ROOT) / "examples" / "hello.py").read_text().replace("dag.visualize()", "")
    script = HERE / ".hello_no_visualize.py"
    script.write_text(code)
    try:
        return best(lambda: subprocess.run(
            [str(python), str(script)], capture_output=True, check=True, cwd="/"
        ), repeat=7)
    finally:
        script.unlink()


def main() -> None:
    # (each engine's CPU and array ratios are against its own serial runs, taken
    # in turn with it; these, of the start of the run, are shown above the table
    # and stand in for 0.4.0's, which runs in its own venv)
    cpu_serial = best(serial_cpu)
    data_serial = best(serial_array)
    try:
        engines = {
            "webber": webber_workloads(),
            "webber 0.4.0": upstream_workloads(),
            "ProcessPool": ppe_workloads(),
            "dask processes": dask_workloads(),
            "joblib": joblib_workloads(),
        }
    finally:
        MAPPED.unlink(missing_ok=True)
    hello = {"webber": hello_process(sys.executable), "webber 0.4.0": hello_process(python_040())}

    def cell(name: str, key: str) -> str:
        value = engines[name].get(key)
        if value is None:
            return "-"
        if key == "cpu":
            return f"{engines[name].get('cpu serial', cpu_serial) / value:.2f}x faster"
        if key == "array":
            return f"{value / engines[name].get('array serial', data_serial):.2f}x serial"
        return f"{value * 1e3:.0f} ms"

    w, up = engines["webber"], engines["webber 0.4.0"]
    rows = [["workload", *engines]]
    rows.append(["8 CPU-bound tasks (vs serial)", *(cell(e, "cpu") for e in engines)])
    rows.append(["1,000 no-op tasks", *(cell(e, "noop1000") for e in engines)])
    rows.append(["  end to end (fresh flow)", *(cell(e, "noop1000 fresh") for e in engines)])
    rows.append(["10,000 no-ops, end to end", *(cell(e, "noop10000 fresh") for e in engines)])
    rows.append(["chain of 300 tasks", *(cell(e, "chain300") for e in engines)])
    rows.append(["  end to end (fresh flow)", *(cell(e, "chain300 fresh") for e in engines)])
    rows.append(["lattice 20x100, end to end", *(cell(e, "lattice fresh") for e in engines)])
    rows.append(["100 MB array, 2 consumers", *(cell(e, "array") for e in engines)])
    rows.append(["50 tasks of a function holding 100 MB", *(cell(e, "held") for e in engines)])
    rows.append(["50 tasks taking one 100 MB array", *(cell(e, "shared") for e in engines)])
    rows.append(["  of a file mapped read-only", *(cell(e, "mapped") for e in engines)])
    rows.append([f"{RECORDS:,} tasks taking and returning a record",
                 *(cell(e, "records") for e in engines)])
    rows.append(["hello example, whole process",
                 *(f"{hello[e] * 1e3:.0f} ms" if e in hello else "-" for e in engines)])
    print(f"{WORKERS} workers; serial at the start: 8 CPU tasks {cpu_serial:.2f} s, "
          f"array workload {data_serial * 1e3:.0f} ms; webber's own, taken in turn with it: "
          f"{w['cpu serial']:.2f} s, {w['array serial'] * 1e3:.0f} ms\n")
    print(table(rows))

    # (each with its ratio: a check at its bound reads the same to two decimals
    # whether it passed or not)
    joblib = engines["joblib"]["noop10000 fresh"]
    ratios = [
        ("CPU speedup >= 1.8x", w["cpu serial"] / w["cpu"], 1.8, True),
        ("1,000 no-ops <= 0.4.0's time", w["noop1000"] / up["noop1000"], 1.0, False),
        ("chain of 300 <= 0.4.0's time", w["chain300"] / up["chain300"], 1.0, False),
        ("100 MB array <= 2x serial", w["array"] / w["array serial"], 2.0, False),
        ("hello process <= 0.4.0's", hello["webber"] / hello["webber 0.4.0"], 1.0, False),
        ("10,000 no-ops end to end <= joblib's", w["noop10000 fresh"] / joblib, 1.0, False),
        ("1,000 no-ops end to end <= 0.3x 0.4.0's",
         w["noop1000 fresh"] / up["noop1000 fresh"], 0.3, False),
    ]
    print()
    for name, ratio, bound, at_least in ratios:
        ok = ratio >= bound if at_least else ratio <= bound
        print(f"{'PASS' if ok else 'FAIL'}  {name}  ({ratio:.3f}x)")


if __name__ == "__main__":
    main()
