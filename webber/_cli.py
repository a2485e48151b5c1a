"""``python -m webber run|show FILE.py[:flow]``: run or draw a flow defined in a file;
``python -m webber cache ls|clear|prune PATH``: look after a result store. The
``webber`` command that installing the package makes is the same (:func:`command`).

The file is run as a module named ``__webber_cli__`` (so its
``if __name__ == "__main__":`` block does not run, and worker processes get
its functions by value through cloudpickle). ``:flow`` names a DAG/Flow in
it, or a function that returns one; without it, the file's only top-level
flow is used, or else its ``build()`` function. Loading never runs a flow.
Exit status: 0 when every task succeeded (or was skipped), 1 when one failed,
2 for a usage error (printed on one line), 130 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from webber._cache_limits import parse_age, parse_size
from webber._cli_load import MODULE, UsageError, check_output, load, split_target
from webber._task_errors import message_of
from webber.executors import NAMES

if TYPE_CHECKING:
    from webber._cache import Cache

__all__ = ["command", "main"]

EXAMPLES = """\
examples:
  python -m webber run examples/quickstart.py --progress
  python -m webber run pipeline.py:flow --executor threads --workers 8
  python -m webber run pipeline.py --timeline run.svg --diagram states.svg
  python -m webber run pipeline.py --dashboard --report run.html
  python -m webber show pipeline.py:flow -o flow.svg
  python -m webber show pipeline.py --json
  python -m webber run pipeline.py --cache .webber-cache
  python -m webber run pipeline.py -- input.csv --fast   (the file's sys.argv[1:])
  python -m webber cache ls .webber-cache
  python -m webber cache prune --max-size 5GB --older-than 7d .webber-cache
"""


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (and the pointer to --help)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"webber: {message} (see: {self.prog} --help)\n")


def parser(prog: str = "python -m webber") -> argparse.ArgumentParser:
    top = _Parser(
        prog=prog,
        description="Run or draw a webber flow defined in a Python file.",
        epilog=EXAMPLES.replace("python -m webber", prog),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from webber import __version__  # (loaded already: this module is the package's)

    top.add_argument("--version", action="version", version=f"webber {__version__}")
    verbs = top.add_subparsers(dest="verb", required=True, metavar="{run,show,cache}",
                               parser_class=_Parser)
    target_help = (
        "FILE.py or FILE.py:NAME, where NAME is a DAG/Flow in the file or a function "
        "returning one (default: the file's only flow, else its build() function)"
    )
    run = verbs.add_parser(
        "run", help="run a flow; exit status 1 if a task failed",
        description="Run a flow and print a summary; exit status 1 if a task failed.",
    )
    run.add_argument("target", help=target_help)
    # default=[]: without a default, argparse counts an nargs="*" positional as
    # required, and `run` alone said "required: target, ARG".
    argv_help = ("arguments for the file, after `--` if one starts with `-`: its sys.argv[1:] "
                 "while it loads and runs, as with `python FILE.py ARG ...`")
    run.add_argument("argv", nargs="*", metavar="ARG", default=[], help=argv_help)
    run.add_argument("--executor", "-e", default=None, choices=NAMES,
                     help=f"where tasks run (default: webber.config.executor if the file "
                          f"sets it, else $WEBBER_EXECUTOR, else {NAMES[0]})")
    run.add_argument("--workers", "-w", type=int, default=None, metavar="N",
                     help="number of workers (default: one per core)")
    run.add_argument("--progress", "-p", action="store_true", help="show a progress bar")
    run.add_argument("--cache", metavar="DIR",
                     help="load unchanged results from this store, and store new ones")
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
    show.add_argument("argv", nargs="*", metavar="ARG", default=[], help=argv_help)
    # one output: a file, or JSON on stdout (given both, one would be dropped unsaid)
    what = show.add_mutually_exclusive_group()
    what.add_argument("-o", "--output", metavar="PATH",
                      help="write the diagram (.svg, .png, .pdf; needs Graphviz's dot)")
    what.add_argument("--json", action="store_true",
                      help="print the flow's structure as JSON instead (flow.to_json())")
    _cache_parser(verbs)
    return top


def _cache_parser(verbs: Any) -> None:
    cache = verbs.add_parser(
        "cache", help="list, clear or prune a result store (run(cache=DIR))",
        description="List, clear or prune a result store made by run(cache=DIR).",
    )
    actions = cache.add_subparsers(dest="action", required=True, metavar="{ls,clear,prune}")
    ls = actions.add_parser("ls", help="list the entries, oldest first, and the total size")
    ls.add_argument("path", metavar="DIR")
    clear = actions.add_parser("clear", help="remove every entry")
    clear.add_argument("path", metavar="DIR")
    prune = actions.add_parser(
        "prune", help="remove entries unused for --older-than, then the least recently "
                      "used until the store fits in --max-size",
    )
    prune.add_argument("--max-size", metavar="SIZE", type=_size,
                       help="e.g. 500MB, 5GB, 1.5GiB")
    prune.add_argument("--older-than", metavar="AGE", type=_age, help="e.g. 12h, 7d, 2w")
    prune.add_argument("path", metavar="DIR")


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _age(text: str) -> float:
    try:
        return parse_age(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def command(argv: Sequence[str] | None = None) -> int:
    """The ``webber`` command (pyproject's [project.scripts]): :func:`main`, named ``webber``."""
    return main(argv, prog="webber")


def main(argv: Sequence[str] | None = None, prog: str = "python -m webber") -> int:
    try:
        with _forgiving_output():
            return _main(argv, prog)
    except KeyboardInterrupt:  # Ctrl-C: the run (and its workers) stopped already
        print("webber: interrupted", file=sys.stderr)
        return 130


@contextlib.contextmanager
def _forgiving_output() -> Iterator[None]:
    """Write what stdout and stderr cannot encode as escapes (a flow named
    "flöw" on an ASCII terminal): the summary and the task lines that the
    default log handler prints there must not end the CLI with a traceback
    and exit status 1, which says that a task failed."""
    changed = []
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
            stream.reconfigure(errors="backslashreplace")
            changed.append(stream)
    try:
        yield
    finally:
        for stream in changed:  # main() may be called in a program: give its streams back
            with contextlib.suppress(ValueError):  # (closed meanwhile)
                stream.reconfigure(errors="strict")


def _main(argv: Sequence[str] | None, prog: str) -> int:
    top = parser(prog)
    args, extra = top.parse_known_args(argv)
    # (the file's arguments may come after webber's options: `run x.py -e threads 7`;
    # an unknown option is not taken for one: it may be a typo of webber's own)
    cut = extra.index("--") if "--" in extra else len(extra)
    if extra and (args.verb == "cache" or any(arg.startswith("-") for arg in extra[:cut])):
        hint = "" if args.verb == "cache" else " (the file's own options go after `--`)"
        # (the verb's help lists the options the typo was meant for, not the top's)
        top.exit(2, f"webber: unrecognized arguments: {' '.join(extra)}{hint} "
                    f"(see: {prog} {args.verb} --help)\n")
    if args.verb == "cache":
        return _cache(args)
    args.argv = [*args.argv, *extra[:cut], *extra[cut + 1:]]
    own, sys.argv = sys.argv, [split_target(args.target)[0], *args.argv]
    try:
        return _load_and_act(args)
    finally:
        sys.argv = own


def _load_and_act(args: argparse.Namespace) -> int:
    from webber.viz import DIAGRAM_SUFFIXES

    try:
        if args.verb == "show" and args.output:
            check_output("-o", args.output, suffixes=DIAGRAM_SUFFIXES, needs_dot=True)
        if args.verb == "run" and args.workers is not None and args.workers < 1:
            # (refused here, not by the executor, whose words are max_workers=)
            raise UsageError(f"--workers {args.workers}: give a number >= 1, or leave "
                             f"--workers out for one per core")
        if args.verb == "run" and args.timeline:
            check_output("--timeline", args.timeline, suffixes=(".svg",))
        if args.verb == "run" and args.diagram:
            check_output("--diagram", args.diagram, suffixes=DIAGRAM_SUFFIXES,
                         needs_dot=True)
        if args.verb == "run" and args.report:
            check_output("--report", args.report, suffixes=(".html",))
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
        import json

        structure = _as_named(flow.to_dict(strict=False), split_target(args.target)[0])
        print(json.dumps(structure, indent=2, allow_nan=False))  # (as flow.to_json() writes)
    elif args.output:
        flow.visualize(args.output)
        print(f"wrote {args.output}")
    else:
        print(flow.visualize().source)
    return 0


def _as_named(structure: dict[str, Any], path: str) -> dict[str, Any]:
    """``structure`` (``flow.to_dict()``) with the functions and classes of
    the file at ``path`` named as the CLI names them, ``FILE.py:NAME``: their
    module, :data:`MODULE`, is nothing a user can import."""

    def named(text: Any) -> Any:
        if isinstance(text, str) and text.startswith(f"{MODULE}."):
            return f"{path}:{text[len(MODULE) + 1:]}"
        return [named(t) for t in text] if isinstance(text, list) else text

    for node in structure["nodes"]:
        for field in ("function", "retry_on", "inputs"):
            node[field] = named(node[field])
    return structure


def _cache(args: argparse.Namespace) -> int:
    from webber._cache import Cache
    from webber._errors import CacheError

    path = os.path.expanduser(args.path)  # as run(cache="~/...") does
    if not os.path.isdir(path):
        print(f"webber: no cache directory at {args.path!r}", file=sys.stderr)
        return 2
    try:
        return _cache_action(Cache(path), args)
    except CacheError as e:  # a store it may not change
        print(f"webber: {e}", file=sys.stderr)
        return 2


def _cache_action(store: Cache, args: argparse.Namespace) -> int:
    if args.action == "ls":
        entries = store.entries()
        for e in entries:
            print(f"{e.key[:12]}  {_bytes(e.size):>9}  {_when(e.modified)}  {e.task} ({e.node})")
        total = sum(e.size for e in entries)
        print(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}, {_bytes(total)}")
        if unfinished := _unfinished(store):
            print(f"and {unfinished}: going on, or left by a process stopped mid-write; "
                  f"cache prune removes them once an hour old, cache clear at once")
    elif args.action == "clear":
        print(f"removed {store.clear()} entries")
    else:
        if args.max_size is None and args.older_than is None:
            print("webber: cache prune needs --max-size and/or --older-than", file=sys.stderr)
            return 2
        removed = store.prune(args.max_size, args.older_than)
        unfinished = _unfinished(store)
        print(f"removed {len(removed)} entries ({_bytes(sum(e.size for e in removed))}); "
              f"{_bytes(store.size())} left" + (f", and {unfinished} (see cache ls)"
                                                 if unfinished else ""))
    return 0


def _unfinished(store: Cache) -> str:
    """The store's files of unfinished writes, in words ("" for none)."""
    count, size = store.unfinished()
    return f"{count} unfinished write{'s' * (count != 1)} ({_bytes(size)})" if count else ""


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    raise AssertionError("unreachable")


def _when(t: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t))


def _run(flow: Any, args: argparse.Namespace) -> int:
    from webber._queue import QueueDAG

    if isinstance(flow, QueueDAG):
        return _run_stream(flow, args)
    dashboard: Any = False
    if args.dashboard or args.browser:
        from webber._dashboard import Dashboard

        dashboard = Dashboard(open_browser=args.browser)
    run = flow.run(args.executor, max_workers=args.workers, progress=args.progress,
                   dashboard=dashboard, cache=args.cache)
    print(
        f"{run.plan.name}: {len(run.succeeded)} succeeded, {len(run.failed)} failed, "
        f"{len(run.skipped)} skipped in {run.duration:.3f} s"
        + (f", {len(run.cached)} loaded from the cache" if run.cache_stats else "")
    )
    for n in run.failed:
        print(f"  failed: {n}: {type(run.error(n)).__name__}: {message_of(run.error(n))}")
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


def _run_stream(qdag: Any, args: argparse.Namespace) -> int:
    """A QueueDAG streams its items through its stages: it has no Run to time,
    draw, cache or watch, and one worker per stage, so those options are refused."""
    import time
    import traceback

    given = [flag for flag, value in (
        ("--workers", args.workers), ("--progress", args.progress), ("--cache", args.cache),
        ("--timeline", args.timeline), ("--diagram", args.diagram),
        ("--dashboard", args.dashboard), ("--browser", args.browser), ("--report", args.report),
    ) if value]
    if given:
        print(f"webber: {qdag.name} is a QueueDAG (a stream: one worker per stage, and no "
              f"Run to draw, store or watch); leave out {', '.join(given)} (of run's options, "
              f"it takes --executor)", file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        outputs = qdag.execute(args.executor)
    except Exception as e:  # the stage's own error, noted with the item and the stage
        traceback.print_exc()
        print(f"{qdag.name}: failed after {time.perf_counter() - start:.3f} s: "
              f"{type(e).__name__}: {message_of(e)}")
        return 1
    print(f"{qdag.name}: {len(outputs)} item{'' if len(outputs) == 1 else 's'} through "
          f"{len(qdag)} stage{'' if len(qdag) == 1 else 's'} in "
          f"{time.perf_counter() - start:.3f} s")
    return 0
