"""The seed notebook's bugs, each pinned by a check that rnnref passes and the notebook fails.

Every bug has three tests built on one assertion helper `check_*(cls)`:
  * test_<property>:               the helper passes on rnnref;
  * test_seed_<bug>_is_caught:     the same helper, run on the notebook's class
                                   (tests/seed_notebook.py, verbatim), detects the bug;
  * test_seed_<bug>_fixed_passes:  the helper passes on the notebook's class with only
                                   that bug fixed, so it is this bug that is detected.

Silent bugs: RNN.forward forgets b; TimeRNN.backward overwrites the per-step grads
instead of summing them; TimeSoftmaxWithLoss.backward edits its cached softmax.
Crashes: `dype=` (TypeError), `self.layer` (AttributeError), `layer.parmas` (AttributeError).

The RNN N=D=H=1 and TimeRNN T=2 hand computations live here (rather than in
test_rnnref_hand_values.py) because they are the checks that catch the first two bugs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import seed_notebook as notebook

import rnnref

# float64 hand arithmetic vs NumPy on O(1) values: a handful of roundings of ~1e-16 each.
RTOL64 = 1e-12


def assert_close64(actual, expected, name: str) -> None:
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), expected, rtol=RTOL64, atol=0, err_msg=name)


@pytest.fixture
def restore_global_rng():
    """The notebook's SimpleRnnlm draws from np.random's global state; put it back afterwards."""
    state = np.random.get_state()  # noqa: NPY002
    yield
    np.random.set_state(state)  # noqa: NPY002


# ---------------------------------------------------------------------------
# Bug 1: RNN.forward forgets the bias. Hand computation with N = D = H = 1.

X, H_PREV, WX, WH, B = 0.5, -0.3, 0.8, 0.4, 0.1
DH_NEXT = 1.5


def rnn_1x1(RNN):
    return RNN(np.array([[WX]]), np.array([[WH]]), np.array([B]))


def check_rnn_1x1_forward(RNN) -> None:
    layer = rnn_1x1(RNN)
    h_next = layer.forward(np.array([[X]]), np.array([[H_PREV]]))
    a = H_PREV * WH + X * WX + B  # -0.12 + 0.4 + 0.1 = 0.38
    assert a == pytest.approx(0.38, rel=1e-15)
    assert h_next.shape == (1, 1)
    assert_close64(h_next, [[math.tanh(a)]], "h_next")


def check_rnn_1x1_backward(RNN) -> None:
    layer = rnn_1x1(RNN)
    layer.forward(np.array([[X]]), np.array([[H_PREV]]))
    dx, dh_prev = layer.backward(np.array([[DH_NEXT]]))
    h = math.tanh(H_PREV * WH + X * WX + B)
    dt = DH_NEXT * (1.0 - h * h)  # d tanh(a)/da = 1 - tanh(a)^2
    assert_close64(dx, [[dt * WX]], "dx")
    assert_close64(dh_prev, [[dt * WH]], "dh_prev")
    dWx, dWh, db = layer.grads
    assert_close64(dWx, [[X * dt]], "dWx")
    assert_close64(dWh, [[H_PREV * dt]], "dWh")
    assert_close64(db, [dt], "db")


def test_rnn_forward_adds_bias_1x1_by_hand():
    check_rnn_1x1_forward(rnnref.RNN)


def test_rnn_backward_1x1_by_hand():
    check_rnn_1x1_backward(rnnref.RNN)


def test_seed_rnn_forward_without_bias_is_caught():
    with pytest.raises(AssertionError, match="h_next"):
        check_rnn_1x1_forward(notebook.RNN)
    # the backward is right given its (wrong) forward, but the hand values use the bias
    with pytest.raises(AssertionError):
        check_rnn_1x1_backward(notebook.RNN)


def test_seed_rnn_with_bias_fixed_passes():
    check_rnn_1x1_forward(notebook.RNN_bias_fixed)
    check_rnn_1x1_backward(notebook.RNN_bias_fixed)


# ---------------------------------------------------------------------------
# Bug 2: TimeRNN.backward overwrites the per-step grads. Hand computation with
# T = 2, N = D = H = 1, starting from a non-zero state h0 (so dWh has two terms).

XS_T2 = (0.5, -1.0)
H0_T2 = -0.3
DHS_T2 = (0.7, 1.5)


def time_rnn_t2_by_hand() -> dict[str, float]:
    x1, x2 = XS_T2
    g1, g2 = DHS_T2
    h0 = H0_T2
    h1 = math.tanh(h0 * WH + x1 * WX + B)
    h2 = math.tanh(h1 * WH + x2 * WX + B)
    dt2 = g2 * (1.0 - h2 * h2)
    dh1 = g1 + dt2 * WH  # h1 feeds both the output hs[0] and step 2
    dt1 = dh1 * (1.0 - h1 * h1)
    return {
        "h1": h1, "h2": h2, "dt1": dt1, "dt2": dt2,
        # the weights are shared by both steps: their gradient is the sum over steps
        "dWx": x1 * dt1 + x2 * dt2,
        "dWh": h0 * dt1 + h1 * dt2,
        "db": dt1 + dt2,
        "dx1": dt1 * WX, "dx2": dt2 * WX,
        "dh0": dt1 * WH,
    }


def run_time_rnn_t2(TimeRNN):
    layer = TimeRNN(np.array([[WX]]), np.array([[WH]]), np.array([B]), stateful=True)
    layer.set_state(np.array([[H0_T2]]))
    hs = layer.forward(np.array([[[XS_T2[0]], [XS_T2[1]]]]))
    dxs = layer.backward(np.array([[[DHS_T2[0]], [DHS_T2[1]]]]))
    return layer, hs, dxs


def check_time_rnn_t2_grads_sum_over_steps(TimeRNN) -> None:
    layer, _, _ = run_time_rnn_t2(TimeRNN)
    want = time_rnn_t2_by_hand()
    dWx, dWh, db = layer.grads
    assert_close64(dWx, [[want["dWx"]]], "dWx")
    assert_close64(dWh, [[want["dWh"]]], "dWh")
    assert_close64(db, [want["db"]], "db")


def test_time_rnn_grads_sum_over_time_steps_t2_by_hand():
    check_time_rnn_t2_grads_sum_over_steps(rnnref.TimeRNN)


def test_time_rnn_t2_outputs_dxs_and_dh_by_hand():
    layer, hs, dxs = run_time_rnn_t2(rnnref.TimeRNN)
    want = time_rnn_t2_by_hand()
    assert_close64(hs, [[[want["h1"]], [want["h2"]]]], "hs")
    assert_close64(dxs, [[[want["dx1"]], [want["dx2"]]]], "dxs")
    assert_close64(layer.dh, [[want["dh0"]]], "dh")
    assert_close64(layer.h, [[want["h2"]]], "h")


def test_seed_time_rnn_overwritten_grads_are_caught():
    with pytest.raises(AssertionError, match="dWx"):
        check_time_rnn_t2_grads_sum_over_steps(notebook.TimeRNN_crashes_fixed)
    # ... and what the notebook keeps is exactly the first step's share (the last one
    # visited by the reversed loop), which shows that the overwrite is what was caught.
    layer, _, _ = run_time_rnn_t2(notebook.TimeRNN_crashes_fixed)
    want = time_rnn_t2_by_hand()
    assert_close64(layer.grads[0], [[XS_T2[0] * want["dt1"]]], "dWx of step 1 only")
    assert_close64(layer.grads[1], [[H0_T2 * want["dt1"]]], "dWh of step 1 only")
    assert_close64(layer.grads[2], [want["dt1"]], "db of step 1 only")


def test_seed_time_rnn_with_sum_fixed_passes():
    check_time_rnn_t2_grads_sum_over_steps(notebook.TimeRNN_all_fixed)


# ---------------------------------------------------------------------------
# Bug 3: TimeSoftmaxWithLoss.backward edits its cached softmax (`dx = ys; dx[...] -= 1`),
# so a second backward differs from the first.


def check_loss_backward_repeatable(TimeSoftmaxWithLoss) -> None:
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((2, 3, 4))
    ts = np.array([[0, 3, 1], [2, -1, 3]])
    layer = TimeSoftmaxWithLoss()
    layer.forward(xs, ts)
    first = np.array(layer.backward(0.75), copy=True)  # copy: a buggy layer may return its cache
    second = layer.backward(0.75)
    np.testing.assert_array_equal(second, first, err_msg="second backward differs from the first")
    # and the first one was right: (softmax - onehot) / count * dout, zero where ignored
    p = np.exp(xs) / np.exp(xs).sum(axis=2, keepdims=True)
    onehot = np.zeros_like(p)
    for n, t in np.ndindex(ts.shape):
        if ts[n, t] != -1:
            onehot[n, t, ts[n, t]] = 1.0
    mask = (ts != -1)[..., None]
    np.testing.assert_allclose(first, (p - onehot) / 5 * 0.75 * mask, rtol=RTOL64, atol=1e-15)


def test_time_softmax_with_loss_backward_is_repeatable():
    check_loss_backward_repeatable(rnnref.TimeSoftmaxWithLoss)


def test_seed_loss_backward_editing_its_cache_is_caught():
    with pytest.raises(AssertionError, match="second backward differs"):
        check_loss_backward_repeatable(notebook.TimeSoftmaxWithLoss)


def test_seed_loss_with_cache_copy_fixed_passes():
    check_loss_backward_repeatable(notebook.TimeSoftmaxWithLoss_cache_fixed)


# ---------------------------------------------------------------------------
# Crashes 1 and 2: TimeRNN.forward's `np.zeros(..., dype='f')` and `self.layer.append`.


def check_time_rnn_runs_forward_and_backward(TimeRNN) -> None:
    rng = np.random.default_rng(1)
    N, T, D, H = 2, 3, 2, 3
    Wx, Wh, b = (rng.standard_normal(s).astype(np.float32) for s in ((D, H), (H, H), (H,)))
    layer = TimeRNN(Wx, Wh, b)
    hs = layer.forward(rng.standard_normal((N, T, D)).astype(np.float32))
    assert hs.shape == (N, T, H)
    assert np.all(np.abs(hs) < 1)  # tanh outputs
    dxs = layer.backward(rng.standard_normal((N, T, H)).astype(np.float32))
    assert dxs.shape == (N, T, D)


def test_time_rnn_forward_and_backward_run():
    check_time_rnn_runs_forward_and_backward(rnnref.TimeRNN)


def test_seed_time_rnn_dype_crash_is_caught():
    with pytest.raises(TypeError, match="dype"):
        check_time_rnn_runs_forward_and_backward(notebook.TimeRNN)


def test_seed_time_rnn_self_layer_crash_is_caught():
    with pytest.raises(AttributeError, match="has no attribute 'layer'"):
        check_time_rnn_runs_forward_and_backward(notebook.TimeRNN_dype_fixed)


def test_seed_time_rnn_with_both_crashes_fixed_runs():
    check_time_rnn_runs_forward_and_backward(notebook.TimeRNN_crashes_fixed)


# ---------------------------------------------------------------------------
# Crash 3: SimpleRnnlm.__init__'s `layer.parmas`.


def check_simple_rnnlm_collects_layer_arrays(SimpleRnnlm) -> None:
    model = SimpleRnnlm(5, 3, 4)
    layer_params = [p for layer in model.layers for p in layer.params]
    layer_grads = [g for layer in model.layers for g in layer.grads]
    assert len(model.params) == len(model.grads) == 6
    assert all(p is q for p, q in zip(model.params, layer_params, strict=True))
    assert all(g is q for g, q in zip(model.grads, layer_grads, strict=True))
    assert [p.shape for p in model.params] == [(5, 3), (3, 4), (4, 4), (4,), (4, 5), (5,)]


def test_simple_rnnlm_collects_its_layers_arrays():
    check_simple_rnnlm_collects_layer_arrays(rnnref.SimpleRnnlm)


@pytest.mark.usefixtures("restore_global_rng")
def test_seed_simple_rnnlm_parmas_crash_is_caught():
    with pytest.raises(AttributeError, match="parmas"):
        check_simple_rnnlm_collects_layer_arrays(notebook.SimpleRnnlm)


@pytest.mark.usefixtures("restore_global_rng")
def test_seed_simple_rnnlm_with_parmas_fixed_passes():
    check_simple_rnnlm_collects_layer_arrays(notebook.SimpleRnnlm_parmas_fixed)
