"""The per-layer budget and the worker's containment of exits, in `runner.run_layer`
(in-process: the supervisor's side is in test_cli_gate.py)."""

from __future__ import annotations

import sys
import time

import pytest

import rnnref
from gradcheck.oracle import Oracle
from gradcheck.runner import RunOptions, Target, run_layer

ORACLE = Oracle()


class SlowAffine(rnnref.TimeAffine):
    """Correct, and slow: 0.2 s a forward."""

    def forward(self, xs):
        time.sleep(0.2)
        return super().forward(xs)


class SlowWrongAffine(rnnref.TimeAffine):
    """Wrong on every example, and slow: 10 ms a forward, ~0.2 s an example (about 20
    forwards), so the first example fails well within the budget and shrinking (~110
    examples) would take far longer than it."""

    def forward(self, xs):
        time.sleep(0.01)
        return super().forward(xs) + 1.0


class ExitingAffine(rnnref.TimeAffine):
    def forward(self, xs):
        sys.exit(4)


def test_budget_spent_without_a_failure_is_a_warning_naming_the_option():
    t0 = time.monotonic()
    report = run_layer(Target("TimeAffine", SlowAffine), RunOptions(profile="ci", budget=1.0), ORACLE)
    assert time.monotonic() - t0 < 1.0 + 1.0
    assert report.status == "warn" and not report.failures
    (warning,) = [w for w in report.warnings if w.check == "budget"]
    assert "per-layer budget of 1 s" in warning.message and "--budget" in warning.message
    assert f"after {report.examples} of 30 examples" in warning.message


def test_budget_stops_shrinking_and_keeps_the_latest_failing_example():
    t0 = time.monotonic()
    report = run_layer(Target("TimeAffine", SlowWrongAffine), RunOptions(profile="ci", budget=1.5), ORACLE)
    assert time.monotonic() - t0 < 1.5 + 1.0
    assert report.status == "fail" and report.failures
    assert report.stopped == "shrinking stopped at the budget of 1.5 s (--budget)"
    assert report.example and report.example.startswith("TimeAffine example")
    assert report.replay and "--layers TimeAffine" in report.replay


def test_sys_exit_in_the_layer_is_a_crash_finding_in_the_worker():
    report = run_layer(
        Target("TimeAffine", ExitingAffine), RunOptions(profile="ci", max_examples=2, contain_exits=True), ORACLE
    )
    assert report.status == "fail"
    (crash,) = [f for f in report.failures if f.check == "crash"]
    assert crash.message.startswith("the layer called sys.exit(4) at ")
    assert f"{__file__}:" in crash.message and "in forward: sys.exit(4)" in crash.message


def test_sys_exit_propagates_in_process():
    # gradcheck selftest and library callers run in-process: there, an exit is not ours to swallow
    with pytest.raises(SystemExit):
        run_layer(Target("TimeAffine", ExitingAffine), RunOptions(profile="ci", max_examples=2), ORACLE)


def test_the_time_limit_is_not_lost_in_a_garbage_collector_callback():
    """The per-example alarm can strike while a gc callback runs (Hypothesis has one);
    raised there, ExampleTimeout would be lost ("unraisable") and the example would
    run on. It fires again just after, in the example's own code."""
    import gc

    from gradcheck.runner import ExampleTimeout, _time_limit

    def slow_callback(phase, info):
        end = time.monotonic() + 0.3
        while time.monotonic() < end:  # the alarm (0.05 s) strikes in here
            pass

    unraisable = []
    hook, sys.unraisablehook = sys.unraisablehook, unraisable.append
    gc.callbacks.append(slow_callback)
    started = time.monotonic()
    try:
        with pytest.raises(ExampleTimeout), _time_limit(0.05):
            gc.collect()
            while time.monotonic() < started + 5:
                pass
    finally:
        gc.callbacks.remove(slow_callback)
        sys.unraisablehook = hook
    assert not unraisable, [u.exc_value for u in unraisable]
    assert time.monotonic() - started < 2  # stopped just after the callback, not at the loop's end
