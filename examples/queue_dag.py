"""Streaming: readings flow through a 3-stage pipeline, every stage busy at once.

Run it: ``python examples/queue_dag.py``.

A ``QueueDAG`` is a chain of stages. Its root -- here ``read_sensor``, which
pops readings off a queue held by this process -- runs again and again until
its output meets ``halt_condition``; each output flows through ``calibrate``
and ``classify`` while the root reads the next. On processes each stage has
its own worker process, and at most ``maxsize`` readings wait between two
stages. The same pipeline written with ``@task`` functions and
``webber.stream()`` streams a list through the stages.
"""

from __future__ import annotations

import queue

import webber
from webber import Promise, QueueDAG, task

READINGS = [12.0, 15.5, 31.2, 18.9, 40.1, 22.4, 9.8]


def make_sensor() -> queue.Queue[float | None]:
    sensor: queue.Queue[float | None] = queue.Queue()
    for value in READINGS:
        sensor.put(value)
    sensor.put(None)  # the sensor is done
    return sensor


@task
def calibrate(celsius: float) -> float:
    return round(celsius * 1.02 - 0.5, 2)


@task(retries=2)
def classify(celsius: float) -> str:
    return f"{celsius:5.2f} C {'HOT' if celsius > 30 else 'ok'}"


def build() -> webber.Flow:
    """The Flow form, for ``python -m webber run examples/queue_dag.py``: the
    readings streamed through the two stages, as one node of a flow."""
    with webber.Flow("sensor-stream") as flow:
        webber.stream(READINGS, calibrate, classify)
    return flow


def main() -> None:
    sensor = make_sensor()
    qdag = QueueDAG("sensor")
    # The root runs here, in this process: it can read this process's queue.
    reading = qdag.add_node(
        sensor.get, halt_condition=lambda value: value is None, max_iter=1000
    )
    calibrated = qdag.add_node(lambda v: None if v is None else calibrate(v), Promise(reading))
    labelled = qdag.add_node(
        lambda v: "end of readings" if v is None else classify(v), Promise(calibrated)
    )
    qdag.retry_node(labelled, 2)
    for line in qdag.execute(executor="processes", maxsize=4):
        print(line)

    # The Flow DSL's form: stream a list through @task stages.
    hot = [line for line in webber.stream(READINGS, calibrate, classify) if "HOT" in line]
    print(f"hot readings: {len(hot)} of {len(READINGS)}")


if __name__ == "__main__":
    main()
