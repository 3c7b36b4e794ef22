"""Stochastic layers (dropout, BetterRnnlm) and weight tying: training mode is
checked with NumPy's global generator held fixed and restored; evaluation mode
against the spec; the mask statistically; a tied weight's gradient as the sum of
its entries. Each check: a correct layer passes, a known-wrong one fails."""

from __future__ import annotations

import numpy as np
import pytest

import rnnref
from gradcheck.engine import check_layer
from gradcheck.mutants import BetterRnnlm64


def statuses(report) -> dict[str, str]:
    (layer,) = report.layers
    return {c.check: c.status for c in layer.checks.values()}


@pytest.mark.parametrize("cls", [rnnref.Dropout, rnnref.TimeDropout])
def test_rnnref_dropout_passes_in_both_modes(cls):
    report = check_layer(cls, cls.__name__, dims={"N": 3, "T": 4, "D": 5})
    got = statuses(report)
    assert report.passed, report.render()
    assert got["eval"] == "pass" and got["dropout"] == "pass" and got["backward-fd"] == "pass"


def test_the_callers_random_stream_is_untouched():
    np.random.seed(1234)
    expected = np.random.rand(3)
    np.random.seed(1234)
    for cls in (rnnref.Dropout, rnnref.TimeDropout):
        check_layer(cls, cls.__name__, dims={"N": 2, "T": 3, "D": 4})
    check_layer(BetterRnnlm64, "BetterRnnlm", dims={"N": 2, "T": 3, "H": 4, "V": 6})
    np.testing.assert_array_equal(np.random.rand(3), expected)


class KeepsTooMuch(rnnref.TimeDropout):
    """Says dropout_ratio=0.5 but drops a fifth, scaled to the same expectation."""

    def forward(self, xs):
        kept = np.random.rand(*xs.shape) > 0.2
        self.mask = kept / 0.8
        return xs * self.mask


class OwnGenerator(rnnref.TimeDropout):
    """Correct inverted dropout, but the mask comes from a generator of its own."""

    rng = np.random.default_rng(0)

    def forward(self, xs):
        if not self.train_flg:
            self.mask = np.ones_like(xs)
        else:
            self.mask = (self.rng.random(xs.shape) > self.dropout_ratio) / (1 - self.dropout_ratio)
        return xs * self.mask


def test_a_kept_fraction_off_the_ratio_fails():
    got = statuses(check_layer(KeepsTooMuch, "TimeDropout", dims={"N": 2, "T": 3, "D": 4}))
    assert got["dropout"] == "fail" and got["backward-fd"] == "pass"


def test_randomness_that_cannot_be_held_fixed_is_a_warning_not_a_false_alarm():
    report = check_layer(OwnGenerator, "TimeDropout", dims={"N": 2, "T": 3, "D": 4})
    got = statuses(report)
    assert got == {"dropout": "warn", "eval": "pass"}, report.render()
    assert report.passed


class TiedOnce(BetterRnnlm64):
    """The tied weight listed once; backward sums its two gradients itself."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self._affine_grad = self.grads[7]
        del self.params[7], self.grads[7]

    def backward(self, dout=1):
        super().backward(dout)
        self.grads[0] += self._affine_grad.T


class TiedOnceNotSummed(TiedOnce):
    def backward(self, dout=1):
        BetterRnnlm64.backward(self, dout)


class NotTied(BetterRnnlm64):
    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        affine = self.layers[-1]
        affine.params[0] = affine.params[0].copy()
        self.params[7] = affine.params[0]


DIMS = {"N": 2, "T": 3, "H": 4, "V": 6}


def test_a_tied_model_passes_listed_twice_or_once_and_the_report_says_so():
    for cls in (BetterRnnlm64, TiedOnce):
        report = check_layer(cls, "BetterRnnlm", dims=DIMS)
        assert report.passed, report.render()
        (layer,) = report.layers
        assert "embed_W is tied" in layer.checks["tied"].message


def test_tied_gradients_not_summed_fail():
    got = statuses(check_layer(TiedOnceNotSummed, "BetterRnnlm", dims=DIMS))
    assert got["backward-fd"] == "fail"


def test_an_untied_copy_fails_naming_the_tying():
    report = check_layer(NotTied, "BetterRnnlm", dims=DIMS)
    assert not report.passed
    assert "ties the weights" in report.render()


def test_in_process_check_leaves_the_callers_stream_even_on_jaxs_first_use():
    """A fresh process: JAX's backend start-up moves np.random; gradcheck.check puts it back."""
    import subprocess
    import sys

    code = (
        "import numpy as np; np.random.seed(1); import gradcheck, rnnref; "
        "s = np.random.get_state()[1].copy(); "
        "r = gradcheck.check(rnnref.TimeDropout, max_examples=2); "
        "assert r.passed, str(r); "
        "assert (np.random.get_state()[1] == s).all(), 'moved'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


class SharedOverTime(rnnref.TimeDropout):
    """Variational dropout: one mask per (n, d), the same at every t. Not the book's
    per-entry mask, but not a wrong gradient either: a named convention."""

    def forward(self, xs):
        if not self.train_flg:
            return super().forward(xs)
        N, T, D = xs.shape
        keep = (np.random.rand(N, 1, D) > self.dropout_ratio) / (1 - self.dropout_ratio)
        self.mask = np.broadcast_to(keep, xs.shape).astype(xs.dtype)
        return xs * self.mask


def test_a_mask_shared_over_time_is_a_named_convention_not_a_failure():
    report = check_layer(SharedOverTime, "TimeDropout", dims={"N": 3, "T": 4, "D": 5})
    (layer,) = report.layers
    assert layer.checks["dropout"].status == "warn", report.render()
    assert "shared along T" in layer.checks["dropout"].message
    assert report.passed
