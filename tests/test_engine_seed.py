"""The seed notebook's classes (tests/seed_notebook.py, verbatim), run through
check_layer: every bug is reported by the right check, on the right tensor."""

from __future__ import annotations

import buggy_layers as B
import numpy as np
import pytest
import seed_notebook as seed

import rnnref
from gradcheck.checks import BACKWARD_WRONG, FORWARD_WRONG


@pytest.fixture(autouse=True)
def restore_global_rng():
    """The notebook's SimpleRnnlm draws from np.random's global state; put it back."""
    state = np.random.get_state()  # noqa: NPY002
    yield
    np.random.set_state(state)  # noqa: NPY002


def not_passing(lr) -> dict[str, str]:
    return {c.check: c.status for c in lr.checks.values() if c.status != "pass"}


# --- RNN: forward forgets b ------------------------------------------------------------------


def test_seed_rnn_fails_forward_missing_bias():
    lr = B.run(seed.RNN, "RNN")
    assert lr.status == "fail"
    assert lr.checks["forward"].status == "fail"
    assert B.bad_tensors(lr, "forward") == {"out"}
    v = {f.tensor: f.verdict for f in lr.failures if f.check == "verdict"}
    assert v["out"] == FORWARD_WRONG
    assert lr.checks["verdict"].message.endswith("for dWx, dWh, dx, dh_prev)")
    # Its backward's db is the derivative of a forward that has a b: its own forward has
    # none, so finite differences of that forward give db = 0.
    assert v["db"] == BACKWARD_WRONG
    assert "db" in B.bad_tensors(lr, "backward-fd")
    assert "crash" not in lr.checks


def test_seed_rnn_with_bias_fixed_passes():
    lr = B.run(seed.RNN_bias_fixed, "RNN")
    assert lr.status == "pass", not_passing(lr)


# --- TimeRNN: two crashes, then overwritten grads ---------------------------------------------


def test_seed_time_rnn_crashes():
    """The primary run sets h0 with set_state, so `self.h is None` is false and the
    `dype=` line is stepped over: the first crash is `self.layer.append`."""
    lr = B.run(seed.TimeRNN, "TimeRNN", cell=seed.RNN)
    assert lr.status == "fail"
    assert list(lr.checks) == ["crash"]
    msg = lr.checks["crash"].message
    assert msg.startswith("forward raised AttributeError")
    assert "'TimeRNN' object has no attribute 'layer'" in msg
    assert "seed_notebook.py:" in msg and "self.layer.append(layer)" in msg


def test_seed_time_rnn_dype_crash_is_reported():
    """With only `self.layer` fixed, the `dype=` TypeError is hit by every path that
    starts from zeros (reset_state, stateful=False) and reported by those checks."""
    fixed = seed.with_fixes(seed.TimeRNN, *seed.FIX_SELF_LAYER)
    lr = B.run(fixed, "TimeRNN", cell=seed.RNN)
    assert lr.status == "fail"
    dype = [f for f in lr.failures if "dype" in f.message]
    assert dype, [f.message for f in lr.failures]
    assert any(f.check == "stateful" for f in dype)
    for f in dype:
        # (with_fixes compiles the class from a string, so there is no source line to quote)
        assert "raised TypeError: zeros() got an unexpected keyword argument 'dype'" in f.message


def test_seed_time_rnn_dype_fixed_still_crashes_on_self_layer():
    lr = B.run(seed.TimeRNN_dype_fixed, "TimeRNN", cell=seed.RNN)
    assert list(lr.checks) == ["crash"]
    assert "AttributeError" in lr.checks["crash"].message
    assert "no attribute 'layer'" in lr.checks["crash"].message


def test_seed_time_rnn_overwritten_grads_fail_backward():
    """Both crashes fixed (on the bias-fixed cell): the weight gradients keep only the
    first step's term; dxs and dh are right. It also computes hs in float32 ('f')."""
    lr = B.run(seed.TimeRNN_crashes_fixed, "TimeRNN", cell=seed.RNN_bias_fixed)
    assert lr.status == "fail"
    assert lr.checks["forward"].status == "pass"
    assert B.bad_tensors(lr, "backward-jax") == {"dWx", "dWh", "db"}
    assert B.bad_tensors(lr, "backward-fd") == {"dWx", "dWh", "db"}
    v = {f.tensor: f.verdict for f in lr.failures if f.check == "verdict"}
    assert v == dict.fromkeys(("dWx", "dWh", "db"), BACKWARD_WRONG)
    assert lr.checks["dtype"].status == "warn"
    assert lr.checks["stateful"].status == "fail"


def test_seed_time_rnn_all_fixed_only_warns_about_float32():
    lr = B.run(seed.TimeRNN_all_fixed, "TimeRNN", cell=seed.RNN_bias_fixed)
    assert lr.status == "warn"
    assert not_passing(lr) == {"dtype": "warn"}
    assert "float32" in lr.checks["dtype"].message


def test_seed_time_rnn_all_fixed_passes_in_float32():
    lr = B.run(seed.TimeRNN_all_fixed, "TimeRNN", cell=seed.RNN_bias_fixed, dtype=np.float32)
    assert lr.status == "pass", not_passing(lr)


# --- TimeSoftmaxWithLoss: backward edits its cached softmax -----------------------------------


def test_seed_softmax_loss_is_not_repeatable():
    lr = B.run(seed.TimeSoftmaxWithLoss, "TimeSoftmaxWithLoss")
    assert lr.checks["repeatable"].status == "warn"
    assert "dxs" in lr.checks["repeatable"].message
    # The first backward is right.
    for check in ("forward", "backward-jax", "backward-fd", "verdict", "linear-in-dout"):
        assert lr.checks[check].status == "pass", check
    assert lr.status in ("warn", "fail")


def test_seed_softmax_loss_other_findings():
    """Beyond the cache bug, the notebook's loss divides by mask.sum() even when it is 0
    (all ignored: 0/0 = NaN, the book's convention: a warning) and takes log(softmax)
    (logits of +-1e4: log 0, a warning)."""
    lr = B.run(seed.TimeSoftmaxWithLoss, "TimeSoftmaxWithLoss")
    assert lr.status == "warn"
    assert lr.checks["mask"].status == "warn"
    assert "nan" in lr.checks["mask"].message
    assert lr.checks["extreme"].status == "warn"


def test_seed_softmax_loss_cache_fixed_is_repeatable():
    lr = B.run(seed.TimeSoftmaxWithLoss_cache_fixed, "TimeSoftmaxWithLoss")
    assert lr.checks["repeatable"].status == "pass"


def test_seed_softmax_loss_masks_ignored_positions():
    lr = B.run(seed.TimeSoftmaxWithLoss_cache_fixed, "TimeSoftmaxWithLoss", example=B.labels_example())
    for check in ("forward", "backward-jax", "backward-fd", "repeatable"):
        assert lr.checks[check].status == "pass", check


# --- TimeAffine: right ------------------------------------------------------------------------


def test_seed_time_affine_passes():
    lr = B.run(seed.TimeAffine, "TimeAffine", cell=rnnref.Affine)
    assert lr.status == "pass", not_passing(lr)


# --- SimpleRnnlm: `layer.parmas` ----------------------------------------------------------------


def test_seed_simple_rnnlm_crashes_in_constructor():
    lr = B.run(seed.SimpleRnnlm, "SimpleRnnlm")
    assert lr.status == "fail"
    assert list(lr.checks) == ["crash"]
    msg = lr.checks["crash"].message
    assert msg.startswith("constructor raised AttributeError")
    assert "parmas" in msg
    assert "seed_notebook.py:" in msg and "self.params += layer.parmas" in msg


def test_seed_simple_rnnlm_parmas_fixed_crashes_on_dype():
    """A model starts each sequence with reset_state(), so its TimeRNN hits `dype=` first."""
    lr = B.run(seed.SimpleRnnlm_parmas_fixed, "SimpleRnnlm")
    assert list(lr.checks) == ["crash"]
    msg = lr.checks["crash"].message
    assert msg.startswith("forward raised TypeError") and "dype" in msg


# --- the whole notebook, as `gradcheck check` runs it ---------------------------------------


def test_seed_notebook_fails_exactly_rnn_time_rnn_and_the_model():
    """RNN (no bias), TimeRNN (crashes) and SimpleRnnlm (crashes) fail; the loss only
    warns (its backward edits its cache; 0/0 with every label ignored; log(0) on
    logits of 1e4; a float64 loss for float32 logits); the rest pass."""
    from gradcheck.runner import RunOptions, run, targets_in
    from gradcheck.specs import SPECS

    names = [n for n in SPECS if isinstance(getattr(seed, n, None), type)]
    report = run(targets_in(vars(seed), names), RunOptions(profile="ci", max_examples=10))
    assert {r.name: r.status for r in report.layers} == {
        "RNN": "fail",
        "TimeEmbedding": "pass",
        "TimeRNN": "fail",
        "TimeAffine": "pass",
        "TimeSoftmaxWithLoss": "warn",
        "SimpleRnnlm": "fail",
    }
    loss = report.layer("TimeSoftmaxWithLoss")
    assert {c.check for c in loss.checks.values() if c.status != "pass"} == {"repeatable", "mask", "extreme", "dtype"}
    assert [f.check for f in report.layer("TimeRNN").failures] == ["crash"]
    assert [f.check for f in report.layer("SimpleRnnlm").failures] == ["crash"]
