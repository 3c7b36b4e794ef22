"""MatMul, Softmax, Sigmoid, the book's plain losses and Simple_TimeAffine: hand-computed
values, stability at extreme inputs, labels as ints and one-hot, bad input named, and
the protocol (grads in place, nothing mutated, backward repeatable, dtype kept)."""

from __future__ import annotations

import numpy as np
import pytest

import rnnref
from rnnref import (
    MatMul,
    Sigmoid,
    SigmoidWithLoss,
    Simple_TimeAffine,
    Simple_TimeSoftmaxWithLoss,
    Softmax,
    SoftmaxWithLoss,
    TimeAffine,
    TimeSigmoidWithLoss,
)

RTOL64 = 1e-12  # a few roundings of O(1) values
RTOL32 = 1e-6


# --- hand-computed values ------------------------------------------------------------


def test_matmul_forward_and_backward_by_hand():
    W = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])  # (D=3, H=2)
    x = np.array([[1.0, 0.0, -1.0]])
    layer = MatMul(W)
    np.testing.assert_array_equal(layer.forward(x), [[1 - 5, 2 - 6]])
    dx = layer.backward(np.array([[1.0, -1.0]]))
    np.testing.assert_array_equal(dx, [[1 - 2, 3 - 4, 5 - 6]])  # dout @ W.T
    np.testing.assert_array_equal(layer.grads[0], [[1, -1], [0, 0], [-1, 1]])  # x.T @ dout


def test_softmax_of_equal_logits_is_uniform_and_its_gradient_sums_to_zero():
    layer = Softmax()
    y = layer.forward(np.array([[0.0, 0.0, 0.0, 0.0], [np.log(3.0), 0.0, 0.0, 0.0]]))
    np.testing.assert_allclose(y, [[0.25] * 4, [0.5, 1 / 6, 1 / 6, 1 / 6]], rtol=RTOL64)
    dout = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    dx = layer.backward(dout)
    # row 0: y * (dout - <dout, y>) = 0.25 * ([1,0,0,0] - 0.25)
    np.testing.assert_allclose(dx[0], [0.1875, -0.0625, -0.0625, -0.0625], rtol=RTOL64)
    # row 1: y * (e_1 - 1/6)
    np.testing.assert_allclose(dx[1], [0.5 * -1 / 6, 1 / 6 * 5 / 6, -1 / 36, -1 / 36], rtol=RTOL64)
    np.testing.assert_allclose(dx.sum(axis=1), 0, atol=1e-16)


def test_softmax_is_finite_on_huge_logits():
    y = Softmax().forward(np.array([[1e4, -1e4, 1e4]], dtype=np.float32))
    np.testing.assert_array_equal(y, [[0.5, 0.0, 0.5]])
    assert y.dtype == np.float32


def test_sigmoid_values_and_gradient_by_hand():
    layer = Sigmoid()
    y = layer.forward(np.array([0.0, np.log(3.0), -40.0]))
    np.testing.assert_allclose(y, [0.5, 0.75, np.exp(-40.0) / (1 + np.exp(-40.0))], rtol=RTOL64)
    dx = layer.backward(np.array([2.0, 1.0, 1.0]))
    np.testing.assert_allclose(dx[:2], [2 * 0.25, 0.75 * 0.25], rtol=RTOL64)
    assert np.isfinite(Sigmoid().forward(np.array([-1e4, 1e4]))).all()


def test_softmax_with_loss_by_hand_int_and_onehot_labels():
    x = np.array([[0.0, 0.0], [np.log(3.0), 0.0]])  # softmax rows [1/2, 1/2], [3/4, 1/4]
    t = np.array([0, 1])
    layer = SoftmaxWithLoss()
    loss = layer.forward(x, t)
    np.testing.assert_allclose(loss, (np.log(2.0) + np.log(4.0)) / 2, rtol=RTOL64)
    dx = layer.backward(3.0)
    np.testing.assert_allclose(dx, np.array([[-0.5, 0.5], [0.75, -0.75]]) * 3.0 / 2, rtol=RTOL64)
    onehot = np.array([[1, 0], [0, 1]])
    layer2 = SoftmaxWithLoss()
    np.testing.assert_allclose(layer2.forward(x, onehot), loss, rtol=RTOL64)
    np.testing.assert_allclose(layer2.backward(3.0), dx, rtol=RTOL64)


def test_softmax_with_loss_is_exact_not_log_y_plus_eps():
    # -log(softmax) for a true class of probability 1e-10: log(y + 1e-7) would give 16.1
    x = np.array([[0.0, np.log(1e10)]])
    loss = SoftmaxWithLoss().forward(x, np.array([0]))
    np.testing.assert_allclose(loss, np.log1p(1e10), rtol=RTOL64)


def test_sigmoid_with_loss_by_hand():
    x = np.array([np.log(3.0), 0.0, np.log(3.0)])  # sigmoid: 3/4, 1/2, 3/4
    t = np.array([1, 0, 0])
    layer = SigmoidWithLoss()
    loss = layer.forward(x, t)
    np.testing.assert_allclose(loss, (-np.log(0.75) - np.log(0.5) - np.log(0.25)) / 3, rtol=RTOL64)
    np.testing.assert_allclose(layer.backward(2.0), np.array([0.75 - 1, 0.5, 0.75]) * 2.0 / 3, rtol=RTOL64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_with_loss_is_exact_and_finite_on_huge_logits(dtype):
    layer = SigmoidWithLoss()
    # a wrong label at +-1e4 costs 1e4; a right one costs log(1 + exp(-1e4)) = 0
    loss = layer.forward(np.array([1e4, -1e4, 1e4, -1e4], dtype=dtype), np.array([0, 1, 1, 0]))
    assert loss.dtype == dtype
    np.testing.assert_allclose(loss, (1e4 + 1e4) / 4, rtol=RTOL64 if dtype == np.float64 else RTOL32)
    np.testing.assert_allclose(layer.backward(1.0), np.array([1, -1, 0, 0]) / 4, atol=0)


def test_time_losses_are_the_mean_over_n_and_t():
    rng = np.random.default_rng(0)
    xs, ts = rng.standard_normal((2, 3, 4)), rng.integers(0, 4, (2, 3))
    flat = SoftmaxWithLoss()
    time = Simple_TimeSoftmaxWithLoss()
    np.testing.assert_allclose(time.forward(xs, ts), flat.forward(xs.reshape(6, 4), ts.reshape(6)), rtol=RTOL64)
    np.testing.assert_allclose(time.backward(0.5), flat.backward(0.5).reshape(2, 3, 4), rtol=RTOL64)
    xb, tb = rng.standard_normal((2, 3)), rng.integers(0, 2, (2, 3))
    flat_b, time_b = SigmoidWithLoss(), TimeSigmoidWithLoss()
    np.testing.assert_allclose(time_b.forward(xb, tb), flat_b.forward(xb.ravel(), tb.ravel()), rtol=RTOL64)
    np.testing.assert_allclose(time_b.backward(0.5), flat_b.backward(0.5).reshape(2, 3), rtol=RTOL64)


def test_simple_time_affine_equals_time_affine():
    rng = np.random.default_rng(1)
    W, b, xs = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal((2, 5, 3))
    dout = rng.standard_normal((2, 5, 4))
    a, s = TimeAffine(W.copy(), b.copy()), Simple_TimeAffine(W.copy(), b.copy())
    np.testing.assert_array_equal(s.forward(xs), a.forward(xs))
    np.testing.assert_array_equal(s.backward(dout), a.backward(dout))
    for ga, gs in zip(a.grads, s.grads, strict=True):
        np.testing.assert_array_equal(gs, ga)


def test_log_sigmoid_keeps_precision_at_both_ends():
    np.testing.assert_allclose(rnnref.log_sigmoid(np.array([40.0, -1e4, 0.0])), [-np.exp(-40.0), -1e4, -np.log(2)])


# --- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layer", "args", "exc", "fragment"),
    [
        (SoftmaxWithLoss(), (np.zeros((2, 3)), np.array([0, 3])), ValueError, "t holds label 3 at index (1,)"),
        (SoftmaxWithLoss(), (np.zeros((2, 3)), np.array([0.0, 1.0])), TypeError, "t must be an integer array"),
        (SoftmaxWithLoss(), (np.zeros((2, 3)), np.zeros((2, 4))), ValueError, "one-hot t must have shape (2, 3)"),
        (SoftmaxWithLoss(), (np.zeros((2, 3, 1)), np.array([0, 1])), ValueError, "x must have shape (N, V)"),
        (SigmoidWithLoss(), (np.zeros(3), np.array([0, 2, 1])), ValueError, "t holds 2 at index (1,)"),
        (SigmoidWithLoss(), (np.zeros(3), np.array([0, 1])), ValueError, "t must have shape (3,)"),
        (TimeSigmoidWithLoss(), (np.zeros((2, 3)), np.zeros((2, 3))), TypeError, "ts must be an integer array"),
        (Simple_TimeSoftmaxWithLoss(), (np.zeros((2, 3)), np.zeros((2, 3), int)), ValueError, "xs must have shape"),
        (MatMul(np.zeros((3, 2))), (np.zeros((2, 4)),), ValueError, "x must have shape (N, 3)"),
        (Softmax(), (np.array([[1, 2]]),), TypeError, "x must be a float array"),
        (Sigmoid(), (np.array([1, 2]),), TypeError, "x must be a float array"),
    ],
)
def test_bad_input_is_named(layer, args, exc, fragment):
    with pytest.raises(exc) as info:
        layer.forward(*args)
    assert fragment in str(info.value)


@pytest.mark.parametrize("cls", [Softmax, Sigmoid, SoftmaxWithLoss, SigmoidWithLoss, TimeSigmoidWithLoss])
def test_backward_before_forward_names_the_layer(cls):
    with pytest.raises(RuntimeError, match=f"{cls.__name__}.backward called before forward"):
        cls().backward(np.zeros(2))


# --- protocol ---------------------------------------------------------------------------


def _cases(dtype):
    rng = np.random.default_rng(2)
    x2 = rng.standard_normal((3, 4)).astype(dtype)
    return [
        (lambda: MatMul(rng.standard_normal((4, 5)).astype(dtype)), (x2,), rng.standard_normal((3, 5)).astype(dtype)),
        (Softmax, (x2,), rng.standard_normal((3, 4)).astype(dtype)),
        (Sigmoid, (x2,), rng.standard_normal((3, 4)).astype(dtype)),
        (SoftmaxWithLoss, (x2, np.array([0, 3, 1])), 1.7),
        (SigmoidWithLoss, (x2[:, 0].copy(), np.array([0, 1, 1])), 1.7),
        (TimeSigmoidWithLoss, (x2, rng.integers(0, 2, (3, 4))), 1.7),
        (Simple_TimeSoftmaxWithLoss, (x2.reshape(1, 3, 4), np.array([[0, 3, 1]])), 1.7),
    ]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("i", range(7))
def test_protocol_nothing_mutated_backward_repeatable_dtype_kept(dtype, i):
    make, inputs, dout = _cases(dtype)[i]
    layer = make()
    saved = [a.copy() for a in inputs]
    grads = list(layer.grads)
    out = layer.forward(*inputs)
    assert np.asarray(out).dtype == dtype
    first = layer.backward(dout)
    first_grads = [g.copy() for g in layer.grads]
    second = layer.backward(dout)
    np.testing.assert_array_equal(second, first)
    assert first.dtype == dtype
    for a, b in zip(inputs, saved, strict=True):
        np.testing.assert_array_equal(a, b)
    for g, g0, g1 in zip(layer.grads, grads, first_grads, strict=True):
        assert g is g0  # written in place
        np.testing.assert_array_equal(g, g1)
