"""The `gradcheck` command: run | check | selftest.

Exit codes: 0 every layer passed (warnings allowed unless --strict), 1 a check
failed, 2 usage or input error (no such file, import error, no known class).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import profiles
from .jaxcache import enable_compile_cache
from .report import Report
from .specs import SPECS

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2

DESCRIPTION = """Check hand-written layers of "Deep Learning from Scratch 2" (RNN, TimeRNN,
TimeEmbedding, TimeAffine, TimeSoftmaxWithLoss, SimpleRnnlm, ...) against JAX specs
and finite differences, on examples drawn by Hypothesis."""

EPILOG = """exit codes: 0 all passed (warnings allowed unless --strict), 1 a check failed,
2 usage or input error"""


def _common(p: argparse.ArgumentParser, *, layers: bool = True) -> None:
    p.add_argument(
        "--profile",
        choices=sorted(profiles.PROFILES),
        default=None,
        help=f"Hypothesis profile: quick, ci (derandomized: same report every run), thorough "
        f"(default: $HYPOTHESIS_PROFILE or {profiles.DEFAULT})",
    )
    p.add_argument("--seed", type=int, default=None, help="Hypothesis seed, to replay a run")
    p.add_argument(
        "--max-examples", type=int, default=None, metavar="N", help="examples per layer (overrides the profile)"
    )
    if layers:
        p.add_argument(
            "--layers", default=None, metavar="A,B", help=f"check only these layers (of: {', '.join(SPECS)})"
        )
    p.add_argument(
        "--strict",
        action="store_true",
        help="warnings (downcast, non-repeatable backward, non-finite on extreme inputs) fail",
    )
    p.add_argument("--json", metavar="PATH", default=None, help="write the report as JSON")
    p.add_argument("--junit", metavar="PATH", default=None, help="write JUnit XML: one test case per layer and check")
    p.add_argument(
        "--timeout", type=float, default=20.0, metavar="S", help="time limit per example, seconds (default 20)"
    )
    p.add_argument(
        "--no-compile-cache",
        action="store_true",
        help="do not keep JAX's compiled programs in ~/.cache/gradcheck/jax (same as GRADCHECK_NO_COMPILE_CACHE=1)",
    )


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="gradcheck", description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = top.add_subparsers(dest="verb", metavar="{run,check,selftest}")
    run = sub.add_parser(
        "run",
        help="check rnnref, the reference implementation",
        description="Check rnnref's own layers against the JAX specs and finite differences: the project's main job.",
        epilog=EPILOG,
    )
    _common(run)
    check = sub.add_parser(
        "check",
        help="check your own layers (a .py file or module)",
        epilog=EPILOG,
        description="Check the classes named like the book's layers (RNN, TimeRNN, TimeEmbedding, "
        "TimeAffine, TimeSoftmaxWithLoss, SimpleRnnlm, Affine, Embedding) found in TARGET. Layers are "
        "built the way the book's constructors take their arguments: TimeRNN(Wx, Wh, b, stateful=...), "
        "SimpleRnnlm(vocab_size, wordvec_size, hidden_size), ...",
    )
    check.add_argument("target", metavar="TARGET", help="path to a .py file, or an importable module name")
    check.add_argument(
        "--path",
        action="append",
        default=[],
        metavar="DIR",
        help="prepend DIR to sys.path (repeatable); e.g. the book's repository root for `common`",
    )
    _common(check)
    st = sub.add_parser(
        "selftest",
        help="show that every bug of the catalogue is caught",
        epilog=EPILOG,
        description="Apply every mutant of the bug catalogue (gradcheck/mutants.py) to rnnref, run the "
        "same checks as `gradcheck check`, and show which check caught each one. Also runs the "
        "unmodified reference: any alarm there is a false alarm. Exit 1 on any miss or false alarm.",
    )
    _common(st, layers=False)
    st.add_argument("--mutants", default=None, metavar="A,B", help="only these mutants (by name)")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.verb is None:
        parser().print_help()
        return EXIT_USAGE
    if not args.no_compile_cache:
        enable_compile_cache()
    from .targets import TargetError

    try:
        if args.max_examples is not None and args.max_examples < 1:
            raise TargetError("--max-examples must be at least 1")
        if args.verb == "selftest":
            from .selftest import selftest

            return selftest(args, _options(args, "gradcheck selftest"), _say)
        report = _run(args)
    except TargetError as exc:
        print(f"gradcheck: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return _finish(report, args)


def _options(args, replay: str):
    from .runner import RunOptions

    return RunOptions(
        profile=args.profile,
        max_examples=args.max_examples,
        seed=args.seed,
        strict=args.strict,
        timeout=args.timeout,
        replay_command=replay,
        progress=_progress(),
    )


def _run(args) -> Report:
    from .runner import reference_targets, run
    from .targets import TargetError, find_targets, load_module

    layers = [n.strip() for n in args.layers.split(",") if n.strip()] if args.layers else None
    if args.verb == "run":
        unknown = [n for n in layers or [] if n not in SPECS]
        if unknown:
            raise TargetError(f"--layers: unknown layer {', '.join(unknown)}; known: {', '.join(SPECS)}")
        targets, replay = reference_targets(layers), "gradcheck run"
    else:
        module = load_module(args.target, args.path)
        targets = find_targets(module, layers)
        replay = "gradcheck check " + " ".join([args.target, *(f"--path {p}" for p in args.path)])
    return run(targets, _options(args, replay))


def _finish(report: Report, args) -> int:
    print(report.render())
    write_reports(report, args)
    return EXIT_OK if report.passed else EXIT_FAIL


def write_reports(report: Report, args) -> None:
    for path, text in ((args.json, report.to_json), (args.junit, report.to_junit)):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text() + "\n", encoding="utf-8")


def _say(line: str) -> None:
    print(line, flush=True)


def _progress():
    """A progress line per layer: rewritten in place on a terminal, plain lines otherwise."""
    tty = sys.stderr.isatty()

    def show(msg: str) -> None:
        if tty:
            end = "\n" if not msg.endswith("...") else ""
            sys.stderr.write("\r\033[K" + msg + end)
        else:
            sys.stderr.write(msg + "\n")
        sys.stderr.flush()

    return show
