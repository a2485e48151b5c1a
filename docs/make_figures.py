"""Draw the README's and the docs' figures with webber itself, from examples/.

Run it: ``python3 dev.py figures`` (or ``python docs/make_figures.py [OUT_DIR]``).
Writes, into OUT_DIR (default ``docs/img``):

- ``quickstart.svg``: the quickstart flow, as ``flow.visualize()`` draws it;
- ``quickstart-run.svg``: a run of it, coloured by state;
- ``timeline.svg``: ``run.timeline()`` of examples/cpu_parallel.py on 2 workers;
- ``dashboard.png``: the live page of ``run(dashboard=...)`` during a run of
  the quickstart, photographed by headless chromium (skipped, with a note,
  when chromium, chromedriver or selenium is missing).

Needs Graphviz's ``dot`` for the two diagrams (the timeline is plain SVG).
"""

from __future__ import annotations

import runpy
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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
    if chromium() is None:
        print("dashboard.png not drawn: needs chromium and chromedriver (apt-get install "
              "chromium chromium-driver) and selenium", file=sys.stderr)
    else:
        written.append(screenshot(out / "dashboard.png"))
    return written


def chromium() -> tuple[str, str] | None:
    """(browser, driver) paths of Debian's chromium and chromium-driver, with
    selenium importable; else None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return None
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@contextmanager
def headless_chromium(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A selenium driver of headless chromium with a fresh profile that fetches
    nothing on its own (also what tests/test_dashboard.py drives)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    found = chromium()
    assert found is not None, "chromium, chromedriver and selenium are needed"
    profile = tempfile.mkdtemp(prefix="webber-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--hide-scrollbars", f"--user-data-dir={profile}",
                 f"--window-size={width},{height}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=found[1]), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(path: Path) -> Path:
    """The quickstart's live page, caught while ``total`` runs: on threads, its
    task waits (in the caller's process) until the picture is taken."""
    from selenium.webdriver.support.ui import WebDriverWait

    from webber import Dashboard

    flow = example("quickstart")["build"]()
    board = Dashboard()
    reached, release = threading.Event(), threading.Event()
    (total,) = (n for n in flow.nodes if n.startswith("total"))
    add_up = flow.get_node(total)["callable"]

    def held(values: list[int]) -> int:
        reached.set()
        release.wait(60)
        return int(add_up(values))

    flow.update_nodes(total, callable=held, name="total")
    runner = threading.Thread(
        target=flow.run, kwargs={"executor": "threads", "max_workers": 2, "dashboard": board})
    with headless_chromium(1200, 860) as browser:  # started first: the bar of total stays short
        runner.start()
        try:
            assert reached.wait(60), "the run never reached total"
            browser.get(board.url)
            WebDriverWait(browser, 30).until(lambda b: b.execute_script(
                "var g = document.querySelector('g.node[data-state=\"running\"]');"
                "return g !== null && document.getElementById('output').textContent"
                ".indexOf('loading') >= 0;"))
            browser.save_screenshot(str(path))
        finally:
            release.set()
            runner.join(60)
            board.stop()
    return path


if __name__ == "__main__":
    for path in main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "img"):
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
