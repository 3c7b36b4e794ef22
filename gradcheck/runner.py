"""Drive layers through Hypothesis and the engine's checks, one LayerReport each.

For each layer: Hypothesis draws examples (strategies.examples), every check runs
on each, and the first failure is shrunk to the smallest example that still
fails; the report keeps that example, readable, and the line that replays it.
"""

from __future__ import annotations

import gc
import random
import shlex
import signal
import threading
import time
import traceback
import zlib
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from hypothesis import Phase, given
from hypothesis import seed as hypothesis_seed
from hypothesis import settings as Settings
from hypothesis.errors import HypothesisException

from . import profiles, strategies
from .calling import Factory
from .engine import check_example
from .examples import Example
from .findings import Finding
from .frames import check_of, user_frame_of
from .oracle import Oracle
from .report import LayerReport, Report
from .specs import SPECS
from .userspecs import spec_named


class _Failed(Exception):
    """Raised inside the Hypothesis test so that it shrinks; carries the findings."""

    def __init__(self, findings: list[Finding], example: Example) -> None:
        super().__init__("; ".join(f.message for f in findings if f.status in ("fail", "warn"))[:500])
        self.findings, self.example = findings, example


class ExampleTimeout(BaseException):
    """A single example took longer than the time limit (a layer that hangs).

    A BaseException, so that neither the layer's code nor our guards (which
    catch Exception) can swallow it and report the hang as an ordinary crash."""


class _Hung(BaseException):
    """Ends the Hypothesis run at once: Hypothesis shrinks Exceptions, which would
    mean waiting out the time limit again for every shrink attempt; it lets a
    BaseException through untouched."""

    def __init__(self, findings: list[Finding], example: Example) -> None:
        super().__init__(findings[0].message)
        self.findings, self.example = findings, example


class _OutOfBudget(BaseException):
    """The layer's time budget (generation and shrinking together) is spent."""


class _Least(BaseException):
    """Shrinking has nothing left to find: the layer crashed (and nothing else failed)
    on an example of the least dims. What Hypothesis would go on shrinking there (the
    seed of the values, the dtype, a 1x1 label) leaves the report as it is: the
    crash's stage and line. The seed notebook's SimpleRnnlm took 106 examples and
    1.6 s for the report the first example at the least dims already gives."""


@dataclass
class Target:
    """A layer to check: its spec name, how to build it, its single-step cell, and
    the class's own name when it differs from the spec's (`--layers MINE=KNOWN`)."""

    name: str
    factory: Factory
    cell: Factory | None = None
    cls_name: str | None = None

    @property
    def label(self) -> str:
        """How reports name the layer: `MINE` or, checked as another spec, `MINE as KNOWN`."""
        return self.name if self.cls_name in (None, self.name) else f"{self.cls_name} as {self.name}"

    @property
    def layers_arg(self) -> str:
        """The --layers item that selects this target again."""
        return self.name if self.cls_name in (None, self.name) else f"{self.cls_name}={self.name}"


@dataclass
class RunOptions:
    profile: str | None = None
    max_examples: int | None = None
    seed: int | None = None
    strict: bool = False
    timeout: float | None = 20.0  # seconds per example
    bounds: Mapping[str, int] = field(default_factory=dict)  # min_X / max_X overrides
    dtypes: tuple = (np.float64, np.float32)
    replay_command: str | None = None  # how to replay, e.g. "gradcheck check my.py"
    shrink: bool = True  # selftest only needs to know that a bug is caught
    progress: Callable[[str], None] | None = None
    budget: float | None = None  # seconds per layer, shrinking included
    # In the worker: SystemExit / KeyboardInterrupt from the layer's code are findings
    # (in-process they must propagate: a real Ctrl-C stops the run).
    contain_exits: bool = False
    # Called before each example: (example number, examples planned, failing examples so far, example)
    on_example: Callable[[int, int, int, Example], None] | None = None
    on_start: Callable[[int], None] | None = None  # called with the layer's Hypothesis seed


def run(targets: Iterable[Target], options: RunOptions | None = None, oracle: Oracle | None = None) -> Report:
    options = options or RunOptions()
    oracle = oracle or Oracle()
    started = time.perf_counter()
    layers = []
    for t in targets:
        if options.progress:
            options.progress(f"checking {t.name} ...")
        t0 = time.perf_counter()
        r = run_layer(t, options, oracle)
        layers.append(r)
        if options.progress:
            options.progress(f"{t.name}: {r.status} ({r.examples} examples, {time.perf_counter() - t0:.1f} s)")
    meta = {
        "profile": options.profile or profiles.DEFAULT,
        "seconds": round(time.perf_counter() - started, 3),
        "examples": sum(r.examples for r in layers),
        "jax_compiles": oracle.compiles,
    }
    return Report(layers, strict=options.strict, meta=meta)


def run_layer(target: Target, options: RunOptions, oracle: Oracle) -> LayerReport:
    spec = spec_named(target.name)
    report = LayerReport(target.name, cls=target.cls_name if target.cls_name != target.name else None)
    limits = {**profiles.dims(options.profile), **dict(options.bounds)}  # --max-dims over the profile's
    limits.update(getattr(spec, "limits", {}))  # a declared layer's least sizes (userspecs.LayerSpec)
    bounds = strategies.bounds_for(**limits)
    bucket = {k: hi for k, (lo, hi) in bounds.items()}
    base = profiles.get(options.profile)
    kw: dict[str, Any] = {"max_examples": options.max_examples} if options.max_examples else {}
    if not options.shrink:
        kw["phases"] = [Phase.explicit, Phase.reuse, Phase.generate]
    settings = Settings(base, **kw)
    # min_X / max_X ints only (bounds_for rejects anything else)
    strategy = strategies.examples(spec, dtypes=tuple(options.dtypes), **cast(dict[str, Any], limits))

    planned = settings.max_examples
    least = {k: lo for k, (lo, _) in bounds.items() if k in spec.letters}  # the smallest dims drawn
    deadline = time.monotonic() + options.budget if options.budget else None
    last: _Failed | _Hung | None = None  # the latest failing example: the smallest so far while shrinking
    failing = 0

    def one(ex: Example) -> None:
        nonlocal last, failing
        if options.on_example:
            options.on_example(report.examples + 1, planned, failing, ex)
        limit, which = options.timeout, "timeout"
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _OutOfBudget()
            if not limit or left < limit:
                limit, which = left, "budget"
        try:
            with _time_limit(limit):  # left (the alarm off) before an except below runs
                findings = check_example(
                    spec,
                    target.factory,
                    ex,
                    oracle=oracle,
                    cell_factory=target.cell,
                    bucket=bucket,
                    use_spec=spec.fn is not None,  # a layer declared with shapes only: no JAX comparison
                )
        except ExampleTimeout:
            if which == "budget":
                raise _OutOfBudget() from None
            hung = [
                Finding(
                    "crash",
                    "fail",
                    f"one example took longer than {options.timeout:g} s (does the layer hang?); "
                    f"limit hit: --timeout {options.timeout:g}",
                )
            ]
            report.add(hung, ex)
            last = _Hung(hung, ex)
            raise last from None
        except (SystemExit, KeyboardInterrupt) as exc:
            if not options.contain_exits:
                raise
            findings = [exit_finding(exc)]
        report.add(findings, None)
        bad = {"fail", "warn"} if options.strict else {"fail"}
        if any(f.status in bad for f in findings):
            failing += 1
            last = _Failed(findings, ex)
            if options.shrink and _crash_only(findings) and all(ex.dims[k] == least[k] for k in least):
                raise _Least()
            raise last

    # Always run under an explicit seed. A derandomized profile gets one fixed per
    # layer, so the report stays the same when this module's code changes (Hypothesis
    # would otherwise derive it from the source of `one`); other profiles get a fresh
    # one, printed in the replay line.
    if options.seed is not None:
        run_seed = options.seed
    elif settings.derandomize:
        run_seed = zlib.crc32(target.name.encode())
    else:
        run_seed = random.SystemRandom().getrandbits(32)
    test = hypothesis_seed(run_seed)(settings(given(ex=strategy)(one)))
    replay_seed = None if options.seed is None and settings.derandomize else run_seed
    report.seed = run_seed
    if options.on_start:
        options.on_start(run_seed)
    try:
        test()
    except _Hung as hung:  # not shrunk: every attempt would cost the whole time limit
        report.failures, report.shrunk = hung.findings, False
        report.example = hung.example.describe()
        report.replay = _replay(target, options, replay_seed, None)
    except _Failed as failure:
        _keep_failure(report, failure, options)
        blob = next((n.strip() for n in getattr(failure, "__notes__", []) if "reproduce_failure" in n), None)
        report.replay = _replay(target, options, replay_seed, blob)
    except _Least:
        assert isinstance(last, _Failed)
        _keep_failure(report, last, options)
        report.replay = _replay(target, options, replay_seed, None)
    except _OutOfBudget:
        if isinstance(last, _Failed):
            _keep_failure(report, last, options)
            report.shrunk = False
            report.stopped = f"shrinking stopped at the budget of {options.budget:g} s (--budget)"
            report.replay = _replay(target, options, replay_seed, None)
        elif isinstance(last, _Hung):
            report.failures, report.shrunk = last.findings, False
            report.example = last.example.describe()
        else:
            report.add(
                [
                    Finding(
                        "budget",
                        "warn",
                        f"stopped at the per-layer budget of {options.budget:g} s after {report.examples} of "
                        f"{planned} examples (limit hit: --budget); raise it to check them all",
                    )
                ],
                None,
            )
            report.examples -= 1
    except HypothesisException as exc:  # e.g. unsatisfiable strategies: our error, said plainly
        report.add([Finding("crash", "fail", f"Hypothesis could not run: {exc}")], None)
    return report


def _crash_only(findings: list[Finding]) -> bool:
    """The example failed only because the layer crashed (raised, exited, lacks a method)."""
    failed = [f for f in findings if f.status == "fail"]
    return bool(failed) and all(f.check == "crash" for f in failed)


def _keep_failure(report: LayerReport, failure: _Failed, options: RunOptions) -> None:
    report.failures = [f for f in failure.findings if f.status == "fail" or (options.strict and f.status == "warn")]
    report.set_example(report.failures, failure.example)


def exit_finding(exc: BaseException) -> Finding:
    """A crash finding for SystemExit / KeyboardInterrupt raised by the layer's code."""
    what = f"called sys.exit({exc.code!r})" if isinstance(exc, SystemExit) else "raised KeyboardInterrupt"
    where = user_frame_of(exc)
    check = check_of(traceback.extract_tb(exc.__traceback__))
    return Finding(
        "crash",
        "fail",
        f"the layer {what}" + (f" at {where}" if where else "") + (f" (in check {check})" if check else ""),
    )


def _replay(target: Target, options: RunOptions, seed: int | None, blob: str | None) -> str:
    parts = [
        options.replay_command or "gradcheck run",
        f"--layers {shlex.quote(target.layers_arg)}",
        f"--profile {options.profile or profiles.DEFAULT}",
    ]
    if seed is not None:
        parts.append(f"--seed {seed}")
    if options.max_examples:
        parts.append(f"--max-examples {options.max_examples}")
    if options.bounds:
        parts.append("--max-dims " + ",".join(f"{k.removeprefix('max_')}={v}" for k, v in options.bounds.items()))
    line = " ".join(parts)
    return line + (
        f"\n  or, in a Hypothesis test: {blob.split('adding ')[-1].split(' as a decorator')[0]}" if blob else ""
    )


# Seconds until the alarm fires again when it struck where an exception cannot
# propagate: in the garbage collector (its callbacks, Hypothesis has one; the
# weakref callbacks and __del__ it runs), where it would be printed as
# "Exception ignored" and the example would run on.
GC_RETRY = 0.01
_GC_RUNNING = False


def _gc_phase(phase: str, info: dict) -> None:
    """Registered first in gc.callbacks: whether a collection is under way."""
    global _GC_RUNNING
    _GC_RUNNING = phase == "start"


gc.callbacks.insert(0, _gc_phase)


def _in_gc_callback(frame) -> bool:
    """Whether `frame` runs inside one of `gc.callbacks` (or something it called)."""
    codes = {getattr(getattr(cb, "__func__", cb), "__code__", None) for cb in gc.callbacks}
    while frame is not None:
        if frame.f_code in codes:
            return True
        frame = frame.f_back
    return False


@contextmanager
def _time_limit(seconds: float | None):
    """Raise ExampleTimeout after `seconds` (main thread only; elsewhere no limit)."""
    if not seconds or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(signum, frame):
        # Armed again first: if this raise is lost (an exception cannot leave a
        # weakref callback or __del__ either), the next one comes GC_RETRY s later.
        # Raised, it leaves the `with` (whose exit turns the alarm off) at once.
        signal.setitimer(signal.ITIMER_REAL, GC_RETRY)
        if _GC_RUNNING or _in_gc_callback(frame):  # within the garbage collector: the retry raises it
            return
        raise ExampleTimeout()

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def targets_in(namespace: Mapping[str, Factory], names: Iterable[str]) -> list[Target]:
    """Targets for `names` from a {book name: class} namespace; a Time layer gets
    the namespace's single-step cell for the T=1 check, if it has one."""
    out = []
    for n in names:
        cell = SPECS[n].cell
        out.append(Target(n, namespace[n], namespace.get(cell) if cell else None))
    return out


def reference_targets(names: Iterable[str] | None = None) -> list[Target]:
    """rnnref's layers, as the selftest's mutants patch them (the model at float64,
    so it is checked at float64 tolerances)."""
    from .mutants import reference

    return targets_in(reference(), names or SPECS)
