"""Methods as tasks, on every executor: a bound method, a classmethod and a
staticmethod passed to task() or add_node(), and ``@task`` on a method in a
class body; a script's class (``__main__``) travels to workers by value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import webber
from webber import DAG, Flow, task


class Acc:
    def __init__(self, k: int) -> None:
        self.k = k

    def mul(self, x: int) -> int:
        return self.k * x

    @classmethod
    def make(cls, x: int) -> str:
        return f"{cls.__name__}:{x + 1}"

    @staticmethod
    def halve(x: int) -> int:
        return x // 2

    @task(name="predict", retries=1)
    def predict(self, x: int) -> int:
        return self.k * x + 1


def test_methods_are_tasks(executor: str) -> None:
    acc = Acc(3)
    with Flow() as flow:
        mul, make, halve = task(acc.mul)(5), task(Acc.make)(1), task(Acc.halve)(9)
        predicted = acc.predict(2)
        mapped = acc.predict.map([1, 2, 3])
        through_class = Acc.predict(Acc(10), predicted)
    run = flow.run(executor=executor)
    assert run.ok, run
    assert (run[mul], run[make], run[halve]) == (15, "Acc:2", 4)
    assert (run[predicted], run[mapped], run[through_class]) == (7, [4, 7, 10], 71)
    assert [flow.get_node(p).name for p in (predicted, mapped, through_class)] == ["predict"] * 3
    assert flow.get_node(predicted).retries == 1  # the options of the task in the class


def test_methods_are_nodes_and_stream_stages(executor: str) -> None:
    acc = Acc(3)
    dag = DAG()
    mul, make = dag.add_node(acc.mul, 5), dag.add_node(Acc.make, 1)
    run = dag.run(executor=executor)
    assert (run[mul], run[make]) == (15, "Acc:2")
    assert list(webber.stream(range(4), acc.mul, executor=executor)) == [0, 3, 6, 9]


SCRIPT = """\
import sys, traceback
import webber
from webber import Flow, task

class Acc:
    def __init__(self):
        self.k = 3

    def mul(self, x):
        return self.k * x

    @classmethod
    def make(cls, x):
        return x + 1

    @task
    def predict(self, x):
        return self.k * int(x)  # the method's failing line

def main(executor):
    acc = Acc()
    with Flow() as flow:
        p, q = task(acc.mul)(5), task(Acc.make)(1)
        r, bad = acc.predict(2), acc.predict("x")
    run = flow.run(executor=executor)
    print("results", run[p], run[q], run[r], run.state(bad))
    dag = webber.DAG()
    n = dag.add_node(acc.mul, 7)
    print("dag", dag.run(executor=executor)[n])
    print("stream", list(webber.stream(range(4), acc.mul, executor=executor)))
    print("".join(traceback.format_exception(run.error(bad))))

if __name__ == "__main__":
    main(sys.argv[1])
"""


@pytest.mark.timeout(240)
def test_methods_of_a_script_class_run_with_their_lines(executor: str, tmp_path: Path) -> None:
    # A class of a script's __main__ travels by value; a method's code is its
    # function's (the source lines sent along used to fail its unpickling).
    script = tmp_path / "my_script.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("WEBBER_EXECUTOR", None)
    result = subprocess.run(
        [sys.executable, str(script), executor], capture_output=True, text=True, env=env,
        timeout=200, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # (the run's log of the failure goes to stdout too, before and between)
    out = [line for line in result.stdout.splitlines()
           if line.startswith(("results ", "dag ", "stream "))]
    assert out == ["results 15 2 6 failed", "dag 21", "stream [0, 3, 6, 9]"], result.stdout
    assert f'File "{script}", line 18, in predict' in result.stdout, result.stdout
    assert "return self.k * int(x)  # the method's failing line" in result.stdout
    assert "<dynamic-code>" not in result.stdout
