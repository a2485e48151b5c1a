"""How much ``import webber`` adds to interpreter start-up (target: <= 30 ms).

Best of 21 runs of ``python -c "import webber"`` minus best of 21 of
``python -c "pass"``, after compiling webber's bytecode once (as an install
does; this machine sets PYTHONDONTWRITEBYTECODE, which would otherwise make
every run recompile the sources). Run: ``python3 dev.py bench import_time``.
"""

from __future__ import annotations

import compileall
import os
import subprocess
import sys
import time

from _common import ROOT

RUNS = 21


def best(code: str) -> float:
    env = {**os.environ, "PYTHONPATH": ROOT}
    fastest = float("inf")
    for _ in range(RUNS):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
        fastest = min(fastest, time.perf_counter() - t0)
    return fastest


def main() -> None:
    compileall.compile_dir(os.path.join(ROOT, "webber"), quiet=1)
    base, with_webber = best("pass"), best("import webber")
    added = (with_webber - base) * 1e3
    print(f"python -c pass:           {base * 1e3:6.1f} ms")
    print(f"python -c 'import webber': {with_webber * 1e3:6.1f} ms")
    print(f"import webber adds {added:.1f} ms (target <= 30 ms): "
          f"{'PASS' if added <= 30 else 'FAIL'}")


if __name__ == "__main__":
    main()
