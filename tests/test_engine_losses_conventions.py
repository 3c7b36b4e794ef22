"""The book's plain losses and layers through the checks: the log(y + 1e-7) convention
is one `extreme` warning (forward and differences follow it, the gradient is held to
the exact loss's), a loss with some other offset fails; labels are asked of the spec
(class ids with one-hot, binary without, no ignore label); a layer without a grads
list is a clear failure, not a traceback."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rnnref
from gradcheck import strategies as gs
from gradcheck.engine import check_layer
from gradcheck.examples import make_example
from gradcheck.specs import SPECS


def statuses(report) -> dict[str, str]:
    return {c: s.status for c, s in report.layers[0].checks.items()}


def not_passing(report) -> dict[str, str]:
    return {c: s for c, s in statuses(report).items() if s not in ("pass", "skip")}


def messages(report, check: str) -> list[str]:
    lr = report.layers[0]
    return [f.message for f in lr.failures + lr.warnings if f.check == check] + [lr.checks[check].message]


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class SoftmaxLossEps:
    """The book's SoftmaxWithLoss: -log(y[t] + eps), exact gradient (y - onehot) / N."""

    eps = 1e-7

    def __init__(self):
        self.params, self.grads = [], []

    def forward(self, x, t):
        if t.ndim == x.ndim:
            t = t.argmax(axis=-1)
        self.y, self.t = _softmax(x), t
        return -np.mean(np.log(self.y[np.arange(len(t)), t] + self.eps))

    def backward(self, dout=1):
        dx = self.y.copy()
        dx[np.arange(len(self.t)), self.t] -= 1
        return dx * dout / len(self.t)


class SoftmaxLossOtherEps(SoftmaxLossEps):
    eps = 1e-3  # not the book's convention: a forward that is simply wrong


class SoftmaxLossEpsNoMean(SoftmaxLossEps):
    """The convention in forward, and a backward without the mean."""

    def backward(self, dout=1):
        return super().backward(dout) * len(self.t)


class SigmoidLossEps:
    """The book's SigmoidWithLoss."""

    def __init__(self):
        self.params, self.grads = [], []

    def forward(self, x, t):
        self.y, self.t = 1 / (1 + np.exp(-x)), t
        p = np.where(t == 1, self.y, 1 - self.y)
        return -np.mean(np.log(p + 1e-7))

    def backward(self, dout=1):
        return (self.y - self.t) * dout / len(self.t)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("bug", "spec"), [(SoftmaxLossEps, "SoftmaxWithLoss"), (SigmoidLossEps, "SigmoidWithLoss")])
def test_the_eps_convention_is_one_extreme_warning_and_gradients_are_still_checked(bug, spec, dtype):
    with np.errstate(over="ignore"):
        report = check_layer(bug, spec, dtype=dtype, dims={"N": 4, "V": 5}, seed=3)
    assert not_passing(report) == {"extreme": "warn"}
    assert any("log(y+1e-7)" in m for m in messages(report, "extreme"))
    assert statuses(report)["backward-fd"] == "pass"


def test_the_eps_convention_is_really_there_at_float64():
    """What the convention case above relies on: at float64 the forward differs from
    the exact spec (so the convention, not the tolerance, is what lets it pass)."""
    ex = make_example(SPECS["SoftmaxWithLoss"], {"N": 4, "V": 5}, 3, np.float64)
    exact = rnnref.SoftmaxWithLoss().forward(ex.values["x"], ex.values["t"])
    book = SoftmaxLossEps().forward(ex.values["x"], ex.values["t"])
    assert 1e-8 < abs(book - exact) / exact < 1e-5


def test_another_offset_in_the_log_fails_forward():
    report = check_layer(SoftmaxLossOtherEps, "SoftmaxWithLoss", dims={"N": 4, "V": 5}, seed=3)
    assert not_passing(report)["forward"] == "fail"


def test_the_convention_does_not_hide_a_wrong_backward():
    report = check_layer(SoftmaxLossEpsNoMean, "SoftmaxWithLoss", dims={"N": 4, "V": 5}, seed=3)
    bad = not_passing(report)
    assert bad["backward-jax"] == "fail" and bad["backward-fd"] == "fail"
    assert "forward" not in bad


class OnehotWrongAxis(rnnref.SoftmaxWithLoss):
    def forward(self, x, t):
        t = np.asarray(t)
        return super().forward(x, t.argmax(axis=0) if t.ndim == 2 else t)


def test_one_hot_labels_decoded_on_the_wrong_axis_fail_mask_for_the_books_softmax_loss():
    ex = make_example(SPECS["SoftmaxWithLoss"], {"N": 3, "V": 5}, 1, np.float64, labels=np.array([0, 4, 2]))
    report = check_layer(OnehotWrongAxis, "SoftmaxWithLoss", example=ex)
    assert not_passing(report) == {"mask": "fail"}
    assert not_passing(check_layer(rnnref.SoftmaxWithLoss, "SoftmaxWithLoss", example=ex)) == {}


def test_labels_without_ignore_label_are_never_negative_and_binary_ones_are_zero_or_one():
    for seed in range(20):
        t = make_example(SPECS["SoftmaxWithLoss"], {"N": 6, "V": 3}, seed).values["t"]
        assert ((t >= 0) & (t < 3)).all()
        ts = make_example(SPECS["TimeSigmoidWithLoss"], {"N": 3, "T": 4}, seed).values["ts"]
        assert set(np.unique(ts)) <= {0, 1}


@pytest.mark.parametrize("name", ["SigmoidWithLoss", "TimeSigmoidWithLoss"])
def test_binary_losses_have_no_mask_check(name):
    report = check_layer(getattr(rnnref, name), name, dims={"N": 3, "T": 2})
    assert statuses(report).get("mask", "skip") == "skip"
    assert not_passing(report) == {}


class AffineKeepsDW:
    """Simple_TimeAffine with the book's crash fixed but still keeping self.W / self.dW."""

    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, xs):
        self.xs = xs
        return xs @ self.W + self.b

    def backward(self, dout):
        N, T, D = self.xs.shape
        self.dW = self.xs.reshape(N * T, D).T @ dout.reshape(N * T, -1)
        self.db = dout.sum(axis=(0, 1))
        return dout @ self.W.T


def test_a_layer_without_params_and_grads_lists_is_a_clear_failure():
    report = check_layer(AffineKeepsDW, "Simple_TimeAffine")
    crash = report.layers[0].failures
    assert crash and "no `grads` list" in crash[0].message and "self.dW" in crash[0].message
    assert not_passing(check_layer(rnnref.Simple_TimeAffine, "Simple_TimeAffine")) == {}


@settings(deadline=None, max_examples=25)
@given(data=st.data())
def test_label_strategies_draw_what_their_kind_allows(data):
    shape = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 4)))
    V = data.draw(st.integers(2, 5))
    classes = data.draw(gs.label_arrays("classes", shape, V))
    assert classes.shape == shape and ((classes >= 0) & (classes < V)).all()
    binary = data.draw(gs.label_arrays("binary", shape[:1], V))
    assert binary.shape == shape[:1] and set(np.unique(binary)) <= {0, 1}


def test_label_strategies_reject_what_no_kind_is():
    with pytest.raises(ValueError, match="unknown label kind"):
        gs.label_arrays("ints", (2,), 3)
    with pytest.raises(ValueError, match=r"\(N, T\)"):
        gs.label_arrays("labels", (2,), 3)
