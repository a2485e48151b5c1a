"""``python -m webber run|show FILE.py[:flow]``: run or draw a flow defined in a file.

The file is run as a module named ``__webber_cli__`` (so its
``if __name__ == "__main__":`` block does not run, and worker processes get
its functions by value through cloudpickle). ``:flow`` names a DAG/Flow in
it, or a function that returns one; without it the file must hold exactly one.
Exit status: 0 when every task succeeded (or was skipped), 1 when one failed,
2 for a usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import runpy
import sys
from collections.abc import Sequence
from typing import Any

from webber.executors import NAMES

__all__ = ["main"]

EXAMPLES = """\
examples:
  python -m webber run examples/quickstart.py:build --progress
  python -m webber run pipeline.py:flow --executor threads --workers 8
  python -m webber run pipeline.py --timeline run.svg --diagram states.svg
  python -m webber run pipeline.py --dashboard --report run.html
  python -m webber show pipeline.py:flow -o flow.svg
  python -m webber show pipeline.py --json
"""


class UsageError(Exception):
    """A target that cannot be loaded: printed, exit status 2."""


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m webber",
        description="Run or draw a webber flow defined in a Python file.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = top.add_subparsers(dest="verb", required=True, metavar="{run,show}")
    target_help = (
        "FILE.py or FILE.py:NAME, where NAME is a DAG/Flow in the file or a function "
        "returning one (default: the file's only flow)"
    )
    run = verbs.add_parser(
        "run", help="run a flow; exit status 1 if a task failed",
        description="Run a flow and print a summary; exit status 1 if a task failed.",
    )
    run.add_argument("target", help=target_help)
    run.add_argument("--executor", "-e", default=None, choices=NAMES,
                     help=f"where tasks run (default: $WEBBER_EXECUTOR, else {NAMES[0]})")
    run.add_argument("--workers", "-w", type=int, default=None, metavar="N",
                     help="number of workers (default: one per core)")
    run.add_argument("--progress", "-p", action="store_true", help="show a progress bar")
    run.add_argument("--timeline", metavar="PATH.svg", help="write the run's timeline (SVG)")
    run.add_argument("--diagram", metavar="PATH",
                     help="write the graph coloured by state (.svg, .png, .pdf; needs dot)")
    run.add_argument("--dashboard", action="store_true",
                     help="watch the run live in the browser (prints the page's URL; in a "
                          "terminal, keeps serving the report until Enter or Ctrl-C)")
    run.add_argument("--browser", action="store_true",
                     help="like --dashboard, and open the page in the system's browser")
    run.add_argument("--report", metavar="PATH.html",
                     help="write the run's dashboard as one self-contained HTML file")
    show = verbs.add_parser(
        "show", help="draw a flow without running it",
        description="Draw a flow without running it: DOT source on stdout, or a file.",
    )
    show.add_argument("target", help=target_help)
    show.add_argument("-o", "--output", metavar="PATH",
                      help="write the diagram (.svg, .png, .pdf; needs Graphviz's dot)")
    show.add_argument("--json", action="store_true",
                      help="print the flow's structure as JSON instead (flow.to_json())")
    return top


def load(target: str) -> Any:
    """The DAG that ``FILE.py[:NAME]`` names."""
    from webber._flow import DAG

    path, _, name = target.partition(":")
    if not os.path.isfile(path):
        raise UsageError(f"no such file: {path!r} (expected FILE.py or FILE.py:NAME)")
    folder = os.path.dirname(os.path.abspath(path))
    if folder not in sys.path:
        sys.path.insert(0, folder)  # its sibling modules import, as with `python FILE.py`
    namespace = runpy.run_path(path, run_name="__webber_cli__")
    if name:
        if name not in namespace:
            raise UsageError(f"{path} has no name {name!r}")
        found = namespace[name]
        if not isinstance(found, DAG) and callable(found):
            found = found()
        if not isinstance(found, DAG):
            raise UsageError(
                f"{path}:{name} is a {type(found).__name__}, not a DAG or Flow (or a "
                f"function returning one)"
            )
        return found
    flows = {k: v for k, v in namespace.items() if isinstance(v, DAG)}
    if len(flows) == 1:
        return next(iter(flows.values()))
    if not flows:
        raise UsageError(
            f"{path} defines no DAG or Flow at module level; name the one to use, "
            f"e.g. {path}:build for a function that returns it"
        )
    raise UsageError(f"{path} defines several flows ({', '.join(sorted(flows))}); "
                     f"pick one: {path}:{sorted(flows)[0]}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        flow = load(args.target)
    except UsageError as e:
        print(f"webber: {e}", file=sys.stderr)
        return 2
    from webber._errors import WebberError

    try:
        if args.verb == "show":
            return _show(flow, args)
        return _run(flow, args)
    except WebberError as e:  # a graph error, dot missing, a bad setting
        print(f"webber: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `python -m webber show x.py | head`: the reader left; say nothing more
        # (and keep Python from complaining when it flushes stdout at exit).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _show(flow: Any, args: argparse.Namespace) -> int:
    if args.json:
        print(flow.to_json(strict=False))
    elif args.output:
        flow.visualize(args.output)
        print(f"wrote {args.output}")
    else:
        print(flow.visualize().source)
    return 0


def _run(flow: Any, args: argparse.Namespace) -> int:
    dashboard: Any = False
    if args.dashboard or args.browser:
        from webber._dashboard import Dashboard

        dashboard = Dashboard(open_browser=args.browser)
    run = flow.run(args.executor, max_workers=args.workers, progress=args.progress,
                   dashboard=dashboard)
    print(
        f"{run.plan.name}: {len(run.succeeded)} succeeded, {len(run.failed)} failed, "
        f"{len(run.skipped)} skipped in {run.duration:.3f} s"
    )
    for n in run.failed:
        error = run.error(n)
        print(f"  failed: {n}: {type(error).__name__}: {error}")
    if args.timeline:
        run.timeline(args.timeline)
        print(f"wrote {args.timeline}")
    if args.diagram:
        run.visualize(args.diagram)
        print(f"wrote {args.diagram}")
    if args.report:
        run.to_html(args.report)
        print(f"wrote {args.report}")
    if dashboard and sys.stdin is not None and sys.stdin.isatty():
        print(f"serving the report at {dashboard.url} -- press Enter or Ctrl-C to stop")
        with contextlib.suppress(KeyboardInterrupt, EOFError):
            input()
    return 0 if run.ok else 1
