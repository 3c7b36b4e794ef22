"""Hand-computed values for tiny cases, the arithmetic written out in each test.

(The RNN with N = D = H = 1 and the TimeRNN with T = 2 are in test_rnnref_seed_bugs.py,
where the same hand computations also catch the seed notebook's bugs.)
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnref import (
    RNN,
    Affine,
    Embedding,
    TimeAffine,
    TimeEmbedding,
    TimeSoftmaxWithLoss,
    log_softmax,
    sigmoid,
    softmax,
)

# float64 hand arithmetic vs NumPy on O(1) values: a handful of roundings of ~1e-16 each.
RTOL64 = 1e-12
# float32: unit roundoff 6e-8, times the few operations behind each value.
RTOL32 = 1e-6


def close64(actual, expected, name: str = "") -> None:
    assert np.asarray(actual).dtype == np.float64, name
    np.testing.assert_allclose(actual, expected, rtol=RTOL64, atol=0, err_msg=name)


# ---------------------------------------------------------------------------
# RNN, one step, N = D = H = 2


def test_rnn_2x2_step_forward_and_backward_by_hand():
    x = np.array([[1.0, 0.0], [0.0, 2.0]])
    h = np.array([[0.5, -1.0], [0.0, 0.0]])
    Wx = np.array([[0.1, 0.2], [0.3, 0.4]])
    Wh = np.array([[0.5, -0.5], [0.25, 0.0]])
    b = np.array([0.01, -0.02])
    layer = RNN(Wx, Wh, b)
    h_next = layer.forward(x, h)

    # a[n, j] = sum_i h[n, i] Wh[i, j] + sum_i x[n, i] Wx[i, j] + b[j]
    a00 = 0.5 * 0.5 + (-1.0) * 0.25 + 1.0 * 0.1 + 0.0 * 0.3 + 0.01  # 0.11
    a01 = 0.5 * (-0.5) + (-1.0) * 0.0 + 1.0 * 0.2 + 0.0 * 0.4 - 0.02  # -0.07
    a10 = 0.0 + 0.0 + 0.0 * 0.1 + 2.0 * 0.3 + 0.01  # 0.61
    a11 = 0.0 + 0.0 + 0.0 * 0.2 + 2.0 * 0.4 - 0.02  # 0.78
    assert [a00, a01, a10, a11] == pytest.approx([0.11, -0.07, 0.61, 0.78], rel=1e-14)
    t00, t01, t10, t11 = (math.tanh(a) for a in (a00, a01, a10, a11))
    close64(h_next, [[t00, t01], [t10, t11]], "h_next")

    dh = np.array([[1.0, -2.0], [0.5, 3.0]])
    dx, dh_prev = layer.backward(dh)
    # dt = dh * (1 - tanh^2)
    d00, d01 = 1.0 * (1 - t00**2), -2.0 * (1 - t01**2)
    d10, d11 = 0.5 * (1 - t10**2), 3.0 * (1 - t11**2)
    # dx[n, i] = sum_j dt[n, j] Wx[i, j]
    close64(dx, [[d00 * 0.1 + d01 * 0.2, d00 * 0.3 + d01 * 0.4],
                 [d10 * 0.1 + d11 * 0.2, d10 * 0.3 + d11 * 0.4]], "dx")
    # dh_prev[n, i] = sum_j dt[n, j] Wh[i, j]
    close64(dh_prev, [[d00 * 0.5 + d01 * (-0.5), d00 * 0.25 + d01 * 0.0],
                      [d10 * 0.5 + d11 * (-0.5), d10 * 0.25 + d11 * 0.0]], "dh_prev")
    dWx, dWh, db = layer.grads
    # dWx[i, j] = sum_n x[n, i] dt[n, j]
    close64(dWx, [[1.0 * d00 + 0.0 * d10, 1.0 * d01 + 0.0 * d11],
                  [0.0 * d00 + 2.0 * d10, 0.0 * d01 + 2.0 * d11]], "dWx")
    # dWh[i, j] = sum_n h[n, i] dt[n, j]
    close64(dWh, [[0.5 * d00 + 0.0 * d10, 0.5 * d01 + 0.0 * d11],
                  [-1.0 * d00 + 0.0 * d10, -1.0 * d01 + 0.0 * d11]], "dWh")
    close64(db, [d00 + d10, d01 + d11], "db")


def test_rnn_2x2_step_float32_matches_hand_values():
    layer = RNN(np.array([[0.1, 0.2], [0.3, 0.4]], np.float32), np.array([[0.5, -0.5], [0.25, 0.0]], np.float32),
                np.array([0.01, -0.02], np.float32))
    h_next = layer.forward(np.array([[1.0, 0.0]], np.float32), np.array([[0.5, -1.0]], np.float32))
    assert h_next.dtype == np.float32
    np.testing.assert_allclose(h_next, [[math.tanh(0.11), math.tanh(-0.07)]], rtol=RTOL32)


# ---------------------------------------------------------------------------
# Affine 2x2 and TimeAffine


def test_affine_2x2_forward_and_backward_by_hand():
    layer = Affine(np.array([[0.5, -1.0], [2.0, 0.25]]), np.array([0.1, -0.2]))
    out = layer.forward(np.array([[1.0, 2.0], [3.0, 4.0]]))
    close64(out, [[1 * 0.5 + 2 * 2.0 + 0.1, 1 * -1.0 + 2 * 0.25 - 0.2],     # [4.6, -0.7]
                  [3 * 0.5 + 4 * 2.0 + 0.1, 3 * -1.0 + 4 * 0.25 - 0.2]], "out")  # [9.6, -2.2]
    dx = layer.backward(np.array([[1.0, -1.0], [2.0, 0.5]]))
    # dx = dout @ W.T
    close64(dx, [[1 * 0.5 + -1 * -1.0, 1 * 2.0 + -1 * 0.25],   # [1.5, 1.75]
                 [2 * 0.5 + 0.5 * -1.0, 2 * 2.0 + 0.5 * 0.25]], "dx")  # [0.5, 4.125]
    dW, db = layer.grads
    # dW = x.T @ dout; the last entry is 2 * -1 + 4 * 0.5 = 0 exactly
    close64(dW, [[1 * 1 + 3 * 2, 1 * -1 + 3 * 0.5], [2 * 1 + 4 * 2, 2 * -1 + 4 * 0.5]], "dW")
    close64(db, [1 + 2, -1 + 0.5], "db")


def test_time_affine_applies_the_same_affine_at_every_step_by_hand():
    layer = TimeAffine(np.array([[2.0], [-1.0]]), np.array([0.5]))  # D = 2, M = 1
    xs = np.array([[[1.0, 1.0], [3.0, 0.0]]])  # N = 1, T = 2
    close64(layer.forward(xs), [[[2 * 1 - 1 * 1 + 0.5], [2 * 3 - 0 + 0.5]]], "out")
    dxs = layer.backward(np.array([[[1.0], [-2.0]]]))
    close64(dxs, [[[1 * 2.0, 1 * -1.0], [-2 * 2.0, -2 * -1.0]]], "dxs")
    dW, db = layer.grads
    close64(dW, [[1 * 1.0 + 3 * -2.0], [1 * 1.0 + 0 * -2.0]], "dW")  # summed over time
    close64(db, [1.0 - 2.0], "db")


# ---------------------------------------------------------------------------
# Embedding: a repeated token receives the sum of its rows of dout


def test_embedding_repeated_token_sums_its_gradient_rows():
    W = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 7.0]])
    layer = Embedding(W)
    out = layer.forward(np.array([2, 0, 2]))
    close64(out, [[4.0, 5.0], [0.0, 1.0], [4.0, 5.0]], "out")
    assert layer.backward(np.array([[1.0, 2.0], [10.0, 20.0], [100.0, 200.0]])) is None
    (dW,) = layer.grads
    close64(dW, [[10.0, 20.0], [0.0, 0.0], [1.0 + 100.0, 2.0 + 200.0], [0.0, 0.0]], "dW")


def test_time_embedding_repeated_token_across_batch_and_time_sums_rows():
    W = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    layer = TimeEmbedding(W)
    xs = np.array([[2, 0], [2, 2]])
    close64(layer.forward(xs), [[[4.0, 5.0], [0.0, 1.0]], [[4.0, 5.0], [4.0, 5.0]]], "out")
    dout = np.array([[[1.0, -1.0], [0.5, 0.25]], [[10.0, 0.0], [100.0, 7.0]]])
    assert layer.backward(dout) is None
    (dW,) = layer.grads
    close64(dW, [[0.5, 0.25], [0.0, 0.0], [1.0 + 10.0 + 100.0, -1.0 + 0.0 + 7.0]], "dW")


# ---------------------------------------------------------------------------
# TimeSoftmaxWithLoss, V = 3


def test_time_softmax_with_loss_v3_by_hand():
    xs = np.array([[[1.0, 2.0, 3.0], [0.0, 0.0, math.log(2.0)]]])  # N = 1, T = 2, V = 3
    ts = np.array([[2, 0]])
    layer = TimeSoftmaxWithLoss()
    loss = layer.forward(xs, ts)
    z1 = math.e + math.e**2 + math.e**3
    p1 = [math.e / z1, math.e**2 / z1, math.e**3 / z1]
    p2 = [1 / 4, 1 / 4, 2 / 4]  # exp(0), exp(0), exp(ln 2) over 1 + 1 + 2
    # mean over the two positions of -log softmax(x)[t]
    close64(loss, (-math.log(p1[2]) + math.log(4.0)) / 2, "loss")
    assert loss.shape == ()
    dout = 1.5
    dxs = layer.backward(dout)
    # (p - onehot) / count * dout
    close64(dxs, [[[p1[0] / 2 * dout, p1[1] / 2 * dout, (p1[2] - 1) / 2 * dout],
                   [(p2[0] - 1) / 2 * dout, p2[1] / 2 * dout, p2[2] / 2 * dout]]], "dxs")


def test_time_softmax_with_loss_v2_ignored_position_by_hand():
    xs = np.array([[[0.0, math.log(3.0)], [5.0, -5.0]], [[2.0, 2.0], [7.0, 1.0]]])  # N = 2, T = 2, V = 2
    ts = np.array([[1, -1], [0, -1]])
    layer = TimeSoftmaxWithLoss()
    loss = layer.forward(xs, ts)
    # counted: softmax([0, ln 3]) = [1/4, 3/4], label 1; softmax([2, 2]) = [1/2, 1/2], label 0
    close64(loss, (-math.log(3 / 4) - math.log(1 / 2)) / 2, "loss")
    dxs = layer.backward(1.0)
    close64(dxs, [[[1 / 4 / 2, (3 / 4 - 1) / 2], [0.0, 0.0]], [[(1 / 2 - 1) / 2, 1 / 2 / 2], [0.0, 0.0]]], "dxs")


def test_time_softmax_with_loss_float32_by_hand():
    xs = np.array([[[0.0, 0.0, math.log(2.0)]]], dtype=np.float32)
    layer = TimeSoftmaxWithLoss()
    loss = layer.forward(xs, np.array([[2]]))
    assert loss.dtype == np.float32
    np.testing.assert_allclose(loss, -math.log(2 / 4), rtol=RTOL32)
    dxs = layer.backward(1.0)
    assert dxs.dtype == np.float32
    np.testing.assert_allclose(dxs, [[[1 / 4, 1 / 4, 2 / 4 - 1]]], rtol=RTOL32)


# ---------------------------------------------------------------------------
# softmax, log_softmax, sigmoid


def test_softmax_values_by_hand():
    close64(softmax(np.array([0.0, math.log(3.0)])), [1 / 4, 3 / 4])
    z = math.exp(1) + math.exp(2) + math.exp(3)
    close64(softmax(np.array([1.0, 2.0, 3.0])), [math.exp(1) / z, math.exp(2) / z, math.exp(3) / z])


def test_softmax_is_taken_along_the_last_axis_of_any_rank():
    x = np.array([[[0.0, math.log(3.0)]], [[math.log(4.0), 0.0]]])  # (2, 1, 2)
    close64(softmax(x), [[[1 / 4, 3 / 4]], [[4 / 5, 1 / 5]]])


def test_softmax_of_huge_equal_logits_is_uniform():
    close64(softmax(np.array([1000.0, 1000.0, 1000.0, 1000.0])), [0.25] * 4)


def test_log_softmax_values_by_hand():
    close64(log_softmax(np.array([0.0, 0.0])), [-math.log(2.0), -math.log(2.0)])
    close64(log_softmax(np.array([[0.0, math.log(3.0)]])), [[math.log(1 / 4), math.log(3 / 4)]])
    # huge logits: exp(2e4) overflows, the log-sum-exp does not
    close64(log_softmax(np.array([1e4, -1e4, 0.0])), [0.0, -2e4, -1e4])


def test_sigmoid_values_by_hand():
    close64(sigmoid(np.array([0.0, math.log(3.0), -math.log(3.0)])), [1 / 2, 3 / 4, 1 / 4])
    close64(sigmoid(np.array([[2.0]])), [[1 / (1 + math.exp(-2.0))]])
    close64(sigmoid(np.array([1000.0])), [1.0])
    assert sigmoid(np.array([-1000.0]))[0] == 0.0  # no overflow warning (warnings are errors)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_functions_keep_the_float_dtype(dtype):
    x = np.array([[0.5, -1.0, 2.0]], dtype=dtype)
    for f in (softmax, log_softmax, sigmoid):
        assert f(x).dtype == dtype, f.__name__
    np.testing.assert_allclose(softmax(np.array([0.0, math.log(3.0)], dtype=np.float32)), [1 / 4, 3 / 4],
                               rtol=RTOL32)


def test_sigmoid_keeps_relative_precision_for_very_negative_x():
    # (regression: sigmoid was 0.5 * (1 + tanh(x / 2)), which gave sigmoid(-40) = 0.0)
    # sigmoid(x) = exp(x) / (1 + exp(x)): for x = -15, -20, -40 that is ~3e-7, ~2e-9, ~4e-18
    xs = [-15.0, -20.0, -40.0]
    close64(sigmoid(np.array(xs)), [math.exp(x) / (1 + math.exp(x)) for x in xs], "sigmoid")
    s32 = sigmoid(np.array(xs, dtype=np.float32))
    assert s32.dtype == np.float32
    np.testing.assert_allclose(s32, [math.exp(x) / (1 + math.exp(x)) for x in xs], rtol=RTOL32, atol=0)
