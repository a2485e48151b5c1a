"""Draw the README's and the docs' figures with webber itself, from examples/.

Run it: ``python3 dev.py figures`` (or ``python docs/make_figures.py [OUT_DIR]``).
Writes, into OUT_DIR (default ``docs/img``):

- ``quickstart.svg``: the quickstart flow, as ``flow.visualize()`` draws it;
- ``quickstart-run.svg``: a run of it, coloured by state;
- ``timeline.svg``: ``run.timeline()`` of examples/cpu_parallel.py on 2 workers.

Needs Graphviz's ``dot`` for the two diagrams (the timeline is plain SVG).
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def example(name: str) -> dict[str, Any]:
    """The namespace of examples/NAME.py, run as a module (its main() does not run)."""
    return runpy.run_path(str(ROOT / "examples" / f"{name}.py"), run_name=f"example_{name}")


def main(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    quickstart = example("quickstart")["build"]()
    quickstart.visualize(str(out / "quickstart.svg"))
    written.append(out / "quickstart.svg")
    run = quickstart.run(executor="processes", max_workers=2)
    run.visualize(str(out / "quickstart-run.svg"))
    written.append(out / "quickstart-run.svg")
    primes = example("cpu_parallel")["build"]()
    primes.run(executor="processes", max_workers=2)  # warm: the pool is up
    run = primes.run(executor="processes", max_workers=2)
    run.timeline(str(out / "timeline.svg"))
    written.append(out / "timeline.svg")
    return written


if __name__ == "__main__":
    for path in main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "img"):
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
