"""The `gradcheck` command: run | check | selftest.

`run` and `check` validate every option and output path here, then run the
layers in a worker process (gradcheck/supervisor.py): this process never imports
the code under check. Reports are written atomically, at the start (so no stale
report survives), after every layer and at the end.

Exit codes: 0 every layer passed (warnings allowed unless --strict), 1 a check
failed, 2 usage or input error (no such file, import error, no known class),
130 interrupted (Ctrl-C; 143 for SIGTERM, 129 for SIGHUP), with the partial report written.
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import signal
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from . import profiles
from .jaxcache import OFF_ENV
from .report import LayerReport, Report, write_atomic

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_HANGUP = 0, 1, 2, 130, 143, 129

DESCRIPTION = """Check hand-written layers of "Deep Learning from Scratch 2" (RNN, TimeRNN,
TimeEmbedding, TimeAffine, TimeSoftmaxWithLoss, SimpleRnnlm, ...) against JAX specs
and finite differences, on examples drawn by Hypothesis."""

EPILOG = """exit codes: 0 all passed (warnings allowed unless --strict), 1 a check failed
(a crash or a limit hit included), 2 usage or input error, 130 interrupted (Ctrl-C;
143 SIGTERM, 129 SIGHUP) with the partial report written"""


def _seconds(text: str) -> float:
    """A limit in seconds: a finite number > 0, or 0 for none."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds >= 0 (0: no limit), not {text!r}")
    return value


def _megabytes(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of MB: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 (0: no cap), not {text!r}")
    return value


class _LayerNames:
    """The specs' names, for --help only: importing the specs imports JAX, which the
    supervisor (this process) otherwise never needs."""

    def __str__(self) -> str:
        from .specs import SPECS

        return ", ".join(SPECS)


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
        action = p.add_argument(
            "--layers",
            default=None,
            metavar="A,B",
            help="check only these layers (of: %(layer_names)s); MINE=KNOWN checks class MINE under "
            "the spec of KNOWN (e.g. SimpleRNNLM=SimpleRnnlm); a class the target imports is checked only when named",
        )
        action.layer_names = _LayerNames()  # type: ignore[attr-defined]  # argparse expands %(...)s from the action
    p.add_argument(
        "--strict",
        action="store_true",
        help="warnings (downcast, non-repeatable backward, non-finite on extreme inputs, a loss of log(y + 1e-7)) fail",
    )
    p.add_argument("--json", metavar="PATH", default=None, help="write the report as JSON")
    if layers:
        p.add_argument(
            "--save-repro",
            metavar="DIR",
            default=None,
            help="for each layer whose output or gradients differ from the spec, write DIR/test_<layer>_repro.py "
            "and DIR/<layer>_repro.npz: a test that needs only NumPy, pytest and your module, fails on the same "
            "tensor and entries, and passes once the bug is fixed",
        )
    p.add_argument("--junit", metavar="PATH", default=None, help="write JUnit XML: one test case per layer and check")
    p.add_argument(
        "--timeout",
        type=_seconds,
        default=20.0,
        metavar="S",
        help="time limit per example, seconds (default 20; 0: none); a layer that does not stop is killed",
    )
    p.add_argument(
        "--max-dims",
        type=_dims,
        default={},
        metavar="T=12,H=8",
        help="upper bounds of the drawn example sizes, by letter N T S D H V (default N=3 T=5 S=5 D=4 H=4 "
        "V=6; the thorough profile: N=4 T=12 S=12 D=6 H=8 V=10; S is an encoder's length in attention and "
        "seq2seq): "
        "a bug that shows only on longer or wider examples needs them",
    )
    p.add_argument(
        "--no-compile-cache",
        action="store_true",
        help="do not keep JAX's compiled programs in ~/.cache/gradcheck/jax (same as GRADCHECK_NO_COMPILE_CACHE=1)",
    )


def _limits(p: argparse.ArgumentParser, jobs: int = 1) -> None:
    from .supervisor import Limits

    p.add_argument(
        "--budget",
        type=_seconds,
        default=Limits.budget,
        metavar="S",
        help=f"time limit per layer, shrinking included, seconds (default {Limits.budget:g}; 0: none); "
        "past it the report shows the smallest failing example found so far",
    )
    p.add_argument(
        "--memory-limit",
        type=_megabytes,
        default=None,
        metavar="MB",
        help="address-space cap of the worker process, MB (Linux; default half the machine's memory, "
        "at least 4096; 0: none)",
    )
    p.add_argument(
        "--jobs",
        type=_jobs,
        default=jobs,
        metavar="N",
        help=f"check N layers at a time, each in a worker process of its own (default {jobs or 'one per CPU'}; "
        "0: one per CPU); the report is the same, in the same order",
    )
    p.add_argument(
        "--show-output",
        action="store_true",
        help="stream the layers' own stdout/stderr to stderr (default: captured, the last 50 lines shown "
        "for a failing layer)",
    )


def _book_names() -> str:
    """The book's layer names gradcheck knows, written out: importing the specs would
    import JAX into this process just for --help (tests/test_cli.py holds the list
    to gradcheck.specs.SPECS)."""
    return (
        "RNN, LSTM, GRU, Affine, Embedding, MatMul, Softmax, Sigmoid, Dropout, EmbeddingDot, TimeRNN, TimeLSTM, "
        "TimeGRU, TimeBiLSTM, TimeEmbedding, TimeAffine, Simple_TimeAffine, TimeDropout, Encoder, Decoder, "
        "PeekyDecoder, WeightSum, AttentionWeight, Attention, TimeAttention, AttentionEncoder, AttentionDecoder, "
        "TimeSoftmaxWithLoss, "
        "SoftmaxWithLoss, Simple_TimeSoftmaxWithLoss, SigmoidWithLoss, TimeSigmoidWithLoss, NegativeSamplingLoss, "
        "SimpleRnnlm, Rnnlm, BetterRnnlm, TwoLayerNet, SimpleSkipGram, SimpleCBOW, CBOW, SkipGram, Seq2seq, "
        "PeekySeq2seq, AttentionSeq2seq"
    )


def _jobs(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of worker processes, got {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"expected 0 (one per CPU) or more, got {n}")
    return n or (os.cpu_count() or 1)


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
    _limits(run, jobs=0)  # rnnref's 25 layers: one worker per CPU halves the run on 2 cores
    check = sub.add_parser(
        "check",
        help="check your own layers (a .py file, a notebook or a module)",
        epilog=EPILOG,
        description="Check the classes named like the book's layers ("
        + _book_names()
        + ") found in TARGET. Layers are "
        "built the way the book's constructors take their arguments: TimeRNN(Wx, Wh, b, stateful=...), "
        "SimpleRnnlm(vocab_size, wordvec_size, hidden_size), TwoLayerNet(input_size, hidden_size, output_size), ...; and the layers of your own that TARGET "
        "or --spec FILE declares with gradcheck.declare(...), built as Cls(*params).",
    )
    check.add_argument(
        "target",
        metavar="TARGET",
        help="path to a .py file (one inside a package is imported as part of it), a Jupyter notebook "
        "(.ipynb: its code cells run in order, magics and shell lines skipped), or a module name "
        "(found from the current directory, as `python -m` would)",
    )
    check.add_argument(
        "--path",
        action="append",
        default=[],
        metavar="DIR",
        help="prepend DIR to sys.path (repeatable); e.g. the book's repository root for `common`",
    )
    check.add_argument(
        "--spec",
        metavar="FILE",
        default=None,
        help="a Python file of layer declarations (gradcheck.declare(...)) for layers of your own; "
        "declarations in TARGET itself are found without it",
    )
    _common(check)
    _limits(check)
    st = sub.add_parser(
        "selftest",
        help="show that every bug of the catalogue is caught",
        epilog=EPILOG,
        description="Apply every mutant of the bug catalogue (gradcheck/mutants/) to rnnref, run the "
        "same checks as `gradcheck check`, and show which check caught each one. Also runs the "
        "unmodified reference: any alarm there is a false alarm. Exit 1 on any miss or false alarm.",
    )
    _common(st, layers=False)
    st.add_argument(
        "--mutants",
        default=None,
        metavar="A,B",
        help="only these mutants (by name); the unmodified reference is then checked on their layers only",
    )
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.verb is None:
        parser().print_help()
        return EXIT_USAGE
    if args.no_compile_cache:  # read by enable_compile_cache() where JAX runs: the worker, selftest
        os.environ[OFF_ENV] = "1"
    # From here on a signal ends the command with its code and one line, also while
    # it imports (JAX takes a second or more under load); run and check also catch it
    # themselves, to write their partial report.
    return _interruptible(lambda: _command(args), args.verb)


def _command(args) -> int:
    from .targets import TargetError

    try:
        _validate(args)
        if args.verb == "selftest":  # our own code only: in this process
            from hypothesis import configuration

            from .jaxcache import cache_home
            from .selftest import selftest

            configuration.set_hypothesis_home_dir(cache_home() / "hypothesis")  # not the working directory
            return selftest(args, _options(args, "gradcheck selftest"), _say)
        return _supervised(args)
    except TargetError as exc:
        print(f"gradcheck: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # a bug of gradcheck's own: never a pass, and said in one line
        import traceback

        with tempfile.NamedTemporaryFile("w", prefix="gradcheck-internal-", suffix=".txt", delete=False) as f:
            traceback.print_exc(file=f)
        print(
            f"gradcheck: internal error (a bug in gradcheck, not in the checked code): {type(exc).__name__}: {exc}; "
            f"traceback in {f.name}",
            file=sys.stderr,
        )
        return EXIT_FAIL


def _dims(text: str) -> dict[str, int]:
    """`T=12,H=8` -> {"max_T": 12, "max_H": 8}; argparse turns a ValueError into exit 2."""
    out = {}
    for item in filter(None, (x.strip() for x in text.split(","))):
        letter, _, value = item.partition("=")
        low = 2 if letter == "V" else 1  # a vocabulary of one class has nothing to predict
        if letter not in tuple(profiles.LETTERS) or not value.isdigit() or not low <= int(value) <= 64:
            raise argparse.ArgumentTypeError(
                f"{item!r}: give LETTER=N with a letter of {' '.join(profiles.LETTERS)} and 1 <= N <= 64 (V >= 2)"
            )
        out[f"max_{letter}"] = int(value)
    return out


def _validate(args) -> None:
    """Every option and output path, before anything runs (TargetError: exit 2)."""
    from .targets import TargetError

    if args.max_examples is not None and args.max_examples < 1:
        raise TargetError("--max-examples must be at least 1")
    env = os.environ.get("HYPOTHESIS_PROFILE")
    if args.profile is None and env and env not in profiles.PROFILES:
        raise TargetError(f"HYPOTHESIS_PROFILE={env}: unknown profile; choose from {', '.join(profiles.PROFILES)}")
    # --layers names are checked by the worker, against the specs, before any layer runs
    for p in getattr(args, "path", []):
        if not Path(p).is_dir():
            raise TargetError(f"--path {p}: no such directory")
    if getattr(args, "spec", None) and not Path(args.spec).is_file():
        raise TargetError(f"--spec {args.spec}: no such file")
    for opt, path in (("--json", args.json), ("--junit", args.junit)):
        if path:
            _check_writable(opt, Path(path))
    repro = getattr(args, "save_repro", None)
    if repro:
        if Path(repro).exists() and not Path(repro).is_dir():
            raise TargetError(f"--save-repro {repro}: not a directory")
        _check_writable("--save-repro", Path(repro) / "test_repro.py")


def _check_writable(opt: str, path: Path) -> None:
    from .targets import TargetError

    if path.is_dir():
        raise TargetError(f"{opt} {path}: is a directory; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"):
            pass
    except OSError as exc:
        raise TargetError(f"{opt} {path}: cannot write there ({exc.strerror or exc})") from None


def _meta(args) -> dict:
    from importlib import metadata
    from platform import python_version

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {
        "target": getattr(args, "target", None) or "rnnref",
        "command": shlex.join(["gradcheck", *sys.argv[1:]]),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": {
            "gradcheck": version("rnnref-gradcheck"),
            "numpy": version("numpy"),
            "jax": version("jax"),
            "jaxlib": version("jaxlib"),
            "hypothesis": version("hypothesis"),
            "python": python_version(),
        },
        "profile": args.profile or os.environ.get("HYPOTHESIS_PROFILE") or profiles.DEFAULT,
        "seed": args.seed,
        "limits": {"timeout": args.timeout, "budget": args.budget, "memory_mb": args.memory_limit},
    }


class _Terminated(KeyboardInterrupt):
    """SIGTERM (a CI job cancelled): handled like Ctrl-C, exit 143."""


class _HungUp(_Terminated):
    """SIGHUP (the terminal or session went away): handled like SIGTERM, exit 129."""


def _on_sigterm(signum, frame):
    raise _HungUp() if signum == signal.SIGHUP else _Terminated()


# Signals nothing legitimate sends a gradcheck run, whose default action would end
# it with no report and an exit code outside the contract (a layer's
# os.kill(os.getppid(), SIGUSR1) did): ignored while the layers run.
_IGNORED = ("SIGUSR1", "SIGUSR2")


def _interruptible(work, what: str) -> int:
    """Run `work` in this process with Ctrl-C, SIGTERM and SIGHUP ending it as they end
    `run` and `check`: a one-line message and exit 130, 143 or 129, never a traceback.
    No report is written: the selftest writes its own at the end, and run and check,
    once their session runs, catch the signal themselves to write a partial one."""
    old = {sig: signal.signal(sig, _on_sigterm) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return work()
    except KeyboardInterrupt as exc:
        how = "terminated" if isinstance(exc, _Terminated) else "interrupted"
        print(f"gradcheck: {what} {how}; no report written", file=sys.stderr)
        if isinstance(exc, _HungUp):
            return EXIT_HANGUP
        return EXIT_TERMINATED if isinstance(exc, _Terminated) else EXIT_INTERRUPTED
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _supervised(args) -> int:
    from .supervisor import Limits, Session, WorkerError, default_memory_mb
    from .targets import parse_layers

    if args.verb == "run":
        replay, load = "gradcheck run", {"target": None, "paths": [], "layers": parse_layers(args.layers)}
    else:
        spec = ["--spec", args.spec] if args.spec else []
        replay = shlex.join(["gradcheck", "check", args.target, *(x for p in args.path for x in ("--path", p)), *spec])
        load = {"target": args.target, "paths": args.path, "layers": parse_layers(args.layers), "spec": args.spec}
    if args.memory_limit is None:
        args.memory_limit = default_memory_mb()
    meta = _meta(args)
    t0 = time.perf_counter()
    report = Report([], strict=args.strict, meta=meta, complete=False)
    session_options = dict(
        load=load,
        options={
            "profile": args.profile,
            "max_examples": args.max_examples,
            "seed": args.seed,
            "strict": args.strict,
            "timeout": args.timeout or None,
            "budget": args.budget or None,
            "replay_command": replay,
            "bounds": args.max_dims,
            "save_repro": str(Path(args.save_repro).resolve()) if args.save_repro else None,
        },
        limits=Limits(timeout=args.timeout or None, budget=args.budget or None, memory_mb=args.memory_limit or None),
        show_output=args.show_output,
        progress=_live_progress(),
    )
    session = Session(**session_options)  # type: ignore[arg-type]
    sessions = [session]

    def save() -> None:
        report.meta.update(
            seconds=round(time.perf_counter() - t0, 3),
            examples=sum(r.examples for r in report.layers),
            jax_compiles=session.compiles,
        )
        _write_reports(report, args)

    old = {sig: signal.signal(sig, _on_sigterm) for sig in (signal.SIGTERM, signal.SIGHUP)}
    old.update({getattr(signal, n): signal.signal(getattr(signal, n), signal.SIG_IGN) for n in _IGNORED})
    try:
        save()  # a stale report from an earlier run never survives this one
        try:
            infos = session.open()
        except WorkerError as exc:
            report.meta["error"] = str(exc)
            save()
            print(f"gradcheck: {exc}", file=sys.stderr)
            return EXIT_USAGE
        report.not_checked = session.not_checked
        report.missing = [i.label for i in infos]
        save()
        finished: dict[int, LayerReport] = {}
        lock = threading.Lock()
        pending = iter(range(len(infos)))

        def work(sess: Session) -> None:
            """Take the next layer until none is left; the report keeps the layers' order."""
            while True:
                with lock:
                    i = next(pending, None)
                if i is None:
                    return
                _note(f"checking {infos[i].label} ...")
                t1 = time.perf_counter()
                r = sess.run_layer(i)
                with lock:
                    finished[i] = r
                    report.layers = [finished[k] for k in sorted(finished)]
                    report.missing = [info.label for k, info in enumerate(infos) if k not in finished]
                    _note(
                        f"{infos[i].label}: {r.status} ({r.examples} examples, {time.perf_counter() - t1:.1f} s)",
                        done=True,
                    )
                    save()

        for _ in range(min(args.jobs or (os.cpu_count() or 1), len(infos)) - 1):
            extra = Session(**session_options)  # type: ignore[arg-type]
            try:
                extra.open()  # the same target, loaded again in a worker of its own
            except WorkerError:
                extra.close()
                break
            sessions.append(extra)
        if len(sessions) == 1:
            work(session)
        else:
            threads = [threading.Thread(target=work, args=(s,), daemon=True) for s in sessions]
            for t in threads:
                t.start()
            for t in threads:
                while t.is_alive():
                    t.join(0.2)  # short waits: Ctrl-C and SIGTERM reach this thread
        report.complete = not report.missing
        if report.missing:  # a worker thread failed in gradcheck's own code: never a silent pass
            raise RuntimeError(f"layers left unchecked: {', '.join(report.missing)}")
        save()
        print(report.render())
    except KeyboardInterrupt as exc:
        for sess in sessions:
            sess.close()
        save()
        print(report.render())
        done = len(report.layers)
        where = ", ".join(str(p) for p in (args.json, args.junit) if p)
        print(
            f"gradcheck: {'terminated' if isinstance(exc, _Terminated) else 'interrupted'} after "
            f"{done} of {done + len(report.missing)} layers" + (f"; partial report in {where}" if where else ""),
            file=sys.stderr,
        )
        if isinstance(exc, _HungUp):
            return EXIT_HANGUP
        return EXIT_TERMINATED if isinstance(exc, _Terminated) else EXIT_INTERRUPTED
    finally:
        for sess in sessions:
            sess.close()
        for sig, handler in old.items():
            signal.signal(sig, handler)
    return EXIT_OK if report.passed else EXIT_FAIL


def _write_reports(report: Report, args) -> None:
    for path, text in ((args.json, report.to_json), (args.junit, report.to_junit)):
        if path:
            write_atomic(Path(path), text() + "\n")


def _options(args, replay: str):
    from .runner import RunOptions

    return RunOptions(
        profile=args.profile,
        max_examples=args.max_examples,
        seed=args.seed,
        strict=args.strict,
        timeout=args.timeout,
        bounds=args.max_dims,
        replay_command=replay,
        progress=_progress(),
    )


def _say(line: str) -> None:
    print(line, flush=True)


def _note(msg: str, done: bool = False) -> None:
    """A layer's start and end on stderr: on a terminal the live line is replaced."""
    if sys.stderr.isatty():
        if done:
            sys.stderr.write("\r\033[K" + msg + "\n")
    else:
        sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def _live_progress():
    """Examples done / planned, failing so far and time spent: one line updated in
    place on a terminal (at most 10 times a second); a plain line every 10 s otherwise."""
    tty = sys.stderr.isatty()
    last = [0.0]

    def show(label: str, done: int, planned: int, failing: int, seconds: float, final: bool) -> None:
        now = time.monotonic()
        if final or now - last[0] < (0.1 if tty else 10.0) or (not tty and seconds < 10.0):
            return
        last[0] = now
        msg = f"{label}: {done}/{planned or '?'} examples, {failing} failing, {seconds:.0f} s"
        sys.stderr.write(("\r\033[K" + msg) if tty else msg + "\n")
        sys.stderr.flush()

    return show


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
