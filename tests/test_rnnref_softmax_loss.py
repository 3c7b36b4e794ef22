"""TimeSoftmaxWithLoss: extreme logits, ignored positions, bad labels, one-hot labels,
linearity in dout. Where the seed notebook's version fails one of these checks, a
meta-test shows it (these are further weaknesses of the notebook, beyond its known bugs)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import seed_notebook as notebook

from rnnref import TimeSoftmaxWithLoss

# float64 results compared with a float64 computation of the same formula: a few roundings.
RTOL64 = 1e-12
# float32: unit roundoff 6e-8 times a few operations.
RTOL32 = 1e-6


def logits(shape, seed: int = 0, dtype=np.float64) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def reference(xs: np.ndarray, ts: np.ndarray, dout: float, ignore: int = -1):
    """Loss and gradient by the textbook formulas, position by position (float64)."""
    xs = xs.astype(np.float64)
    loss, count = 0.0, 0
    grad = np.zeros_like(xs)
    for n, t in np.ndindex(ts.shape):
        if ts[n, t] == ignore:
            continue
        row = xs[n, t]
        m = row.max()
        lse = m + np.log(np.exp(row - m).sum())
        loss += lse - row[ts[n, t]]
        grad[n, t] = np.exp(row - lse)
        grad[n, t, ts[n, t]] -= 1.0
        count += 1
    return loss / count, grad / count * dout


# ---------------------------------------------------------------------------
# huge logits


def check_huge_logits_give_finite_exact_loss(TimeSoftmaxWithLoss, dtype=np.float64) -> None:
    xs = np.array([[[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]]], dtype=dtype)
    ts = np.array([[1, 0]])
    layer = TimeSoftmaxWithLoss()
    loss = layer.forward(xs, ts)
    # position 1: logsumexp = 1e4 (the others add exp(-1e4), exp(-2e4)); loss 1e4 - (-1e4) = 2e4
    # position 2: logsumexp = 1e4 + log 2;                               loss 1e4 + log 2 - (-1e4)
    assert np.isfinite(loss)
    rtol = RTOL64 if dtype == np.float64 else RTOL32
    np.testing.assert_allclose(loss, (2e4 + 2e4 + np.log(2.0)) / 2, rtol=rtol)
    dxs = layer.backward(1.0)
    assert np.all(np.isfinite(dxs))
    # softmax rows: [1, 0, 0] and [0, 1/2, 1/2]; minus one-hot; over count 2
    np.testing.assert_allclose(dxs, [[[1 / 2, -1 / 2, 0.0], [-1 / 2, 1 / 4, 1 / 4]]], rtol=rtol, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logits_of_1e4_give_finite_exact_loss_and_gradient(dtype):
    check_huge_logits_give_finite_exact_loss(TimeSoftmaxWithLoss, dtype)


def test_seed_loss_overflows_to_inf_on_logits_of_1e4():
    # the notebook takes log(softmax): the picked probability underflows to 0, log gives -inf
    with np.errstate(divide="ignore", invalid="ignore"), pytest.raises(AssertionError):
        check_huge_logits_give_finite_exact_loss(notebook.TimeSoftmaxWithLoss)


# ---------------------------------------------------------------------------
# ignored positions


def check_all_ignored_gives_zero_loss_and_gradient(TimeSoftmaxWithLoss) -> None:
    layer = TimeSoftmaxWithLoss()
    loss = layer.forward(logits((2, 3, 4)), np.full((2, 3), -1))
    assert loss == 0.0
    assert not np.isnan(loss)
    dxs = layer.backward(2.0)
    assert dxs.shape == (2, 3, 4)
    np.testing.assert_array_equal(dxs, np.zeros((2, 3, 4)))


def test_all_positions_ignored_gives_loss_exactly_zero_and_zero_gradient():
    check_all_ignored_gives_zero_loss_and_gradient(TimeSoftmaxWithLoss)


def test_seed_loss_with_all_positions_ignored_gives_nan_and_is_caught():
    with np.errstate(divide="ignore", invalid="ignore"), pytest.raises(AssertionError):
        check_all_ignored_gives_zero_loss_and_gradient(notebook.TimeSoftmaxWithLoss)


def test_all_positions_ignored_float32_loss_is_a_float32_zero():
    layer = TimeSoftmaxWithLoss()
    loss = layer.forward(logits((1, 2, 3), dtype=np.float32), np.array([[-1, -1]]))
    assert loss.dtype == np.float32 and loss == 0.0
    assert layer.backward().dtype == np.float32


def test_ignored_positions_get_zero_gradient_and_count_in_neither_loss_nor_mean():
    xs = logits((2, 3, 4), seed=1)
    ts = np.array([[0, -1, 3], [-1, 2, 1]])
    layer = TimeSoftmaxWithLoss()
    loss = layer.forward(xs, ts)
    dxs = layer.backward(1.5)
    want_loss, want_grad = reference(xs, ts, 1.5)
    np.testing.assert_allclose(loss, want_loss, rtol=RTOL64)
    np.testing.assert_allclose(dxs, want_grad, rtol=RTOL64, atol=1e-16)
    assert np.all(dxs[0, 1] == 0) and np.all(dxs[1, 0] == 0)
    # the counted positions: the mean is over 4 of them, not 6
    kept = TimeSoftmaxWithLoss()
    counted = np.stack([xs[0, 0], xs[0, 2], xs[1, 1], xs[1, 2]])[None]  # (1, 4, V)
    kept_loss = kept.forward(counted, np.array([[ts[0, 0], ts[0, 2], ts[1, 1], ts[1, 2]]]))
    np.testing.assert_allclose(loss, kept_loss, rtol=RTOL64)


def test_changing_the_logits_of_ignored_positions_changes_nothing():
    xs = logits((2, 3, 4), seed=2)
    ts = np.array([[0, -1, 3], [-1, 2, 1]])
    layer = TimeSoftmaxWithLoss()
    loss = layer.forward(xs, ts)
    dxs = layer.backward(1.0)
    xs2 = xs.copy()
    xs2[0, 1] = [1e4, -7.0, 3.0, 0.0]
    xs2[1, 0] = 55.0
    loss2 = layer.forward(xs2, ts)
    dxs2 = layer.backward(1.0)
    assert loss2 == loss
    np.testing.assert_array_equal(dxs2, dxs)


def test_custom_ignore_label_is_honoured():
    xs = logits((1, 3, 4), seed=3)
    layer = TimeSoftmaxWithLoss()
    layer.ignore_label = -100
    loss = layer.forward(xs, np.array([[1, -100, 2]]))
    want_loss, want_grad = reference(xs, np.array([[1, -100, 2]]), 1.0, ignore=-100)
    np.testing.assert_allclose(loss, want_loss, rtol=RTOL64)
    np.testing.assert_allclose(layer.backward(1.0), want_grad, rtol=RTOL64, atol=1e-16)
    with pytest.raises(ValueError, match=r"-1\b"):  # -1 is now an ordinary, out-of-range label
        layer.forward(xs, np.array([[1, -1, 2]]))


# ---------------------------------------------------------------------------
# labels outside [0, V)


def mentions_value(message: str, value: int, V: int) -> bool:
    """True when `value` appears in `message` as a number of its own, not just inside
    the allowed range "[0, V)" (for value == V that range alone would match)."""
    message = message.replace(f"[0, {V})", "")
    return re.search(rf"(?<![\d-]){re.escape(str(value))}(?!\d)", message) is not None


def check_bad_label_raises_naming_it(TimeSoftmaxWithLoss, bad: int, V: int = 3) -> None:
    ts = np.array([[0, 1], [bad, 2]])
    with pytest.raises(ValueError) as info:
        TimeSoftmaxWithLoss().forward(logits((2, 2, V)), ts)
    assert mentions_value(str(info.value), bad, V), str(info.value)


@pytest.mark.parametrize("bad", [-2, 3, 4, 1000, -1000])
def test_label_outside_0_to_V_raises_value_error_naming_it(bad):
    check_bad_label_raises_naming_it(TimeSoftmaxWithLoss, bad, V=3)


def test_mentions_value_does_not_count_the_allowed_range():
    assert not mentions_value("labels must lie in [0, 3)", 3, 3)
    assert not mentions_value("label 13 at index (0, 2)", 3, 3)
    assert not mentions_value("label -3", 3, 3)
    assert mentions_value("ts holds label 3 at index (1, 0); labels must lie in [0, 3)", 3, 3)
    assert mentions_value("got -2", -2, 3)


def test_seed_loss_silently_wraps_label_minus_2_and_is_caught():
    # NumPy indexing wraps -2 to class V-2: the notebook computes a loss for a label that does not exist
    with pytest.raises(pytest.fail.Exception, match="DID NOT RAISE"):
        check_bad_label_raises_naming_it(notebook.TimeSoftmaxWithLoss, -2)


def test_label_equal_to_V_raises_even_when_other_positions_are_ignored():
    ts = np.array([[-1, 4]])
    with pytest.raises(ValueError, match=r"label 4\b"):
        TimeSoftmaxWithLoss().forward(logits((1, 2, 4)), ts)


# ---------------------------------------------------------------------------
# one-hot labels, linearity in dout


@pytest.mark.parametrize("onehot_dtype", [np.int64, np.float32])
def test_one_hot_labels_give_the_same_loss_and_gradient_as_ids(onehot_dtype):
    xs = logits((2, 3, 5), seed=4)
    ts = np.array([[0, 4, 2], [3, 3, 1]])
    onehot = np.eye(5, dtype=onehot_dtype)[ts]
    assert onehot.shape == (2, 3, 5)
    by_id, by_onehot = TimeSoftmaxWithLoss(), TimeSoftmaxWithLoss()
    assert by_onehot.forward(xs, onehot) == by_id.forward(xs, ts)
    np.testing.assert_array_equal(by_onehot.backward(0.5), by_id.backward(0.5))
    want_loss, _ = reference(xs, ts, 0.5)
    np.testing.assert_allclose(by_id.forward(xs, ts), want_loss, rtol=RTOL64)


@pytest.mark.parametrize("dout", [2.5, -0.75, 1e-3])
def test_backward_is_linear_in_dout(dout):
    xs = logits((2, 3, 4), seed=5)
    ts = np.array([[0, -1, 3], [2, 2, 1]])
    layer = TimeSoftmaxWithLoss()
    layer.forward(xs, ts)
    unit = layer.backward(1.0)
    np.testing.assert_allclose(layer.backward(dout), dout * unit, rtol=RTOL64, atol=0)
    np.testing.assert_array_equal(layer.backward(0.0), np.zeros_like(unit))
    np.testing.assert_allclose(unit, reference(xs, ts, 1.0)[1], rtol=RTOL64, atol=1e-16)


def test_default_dout_is_one():
    xs = logits((1, 2, 3), seed=6)
    layer = TimeSoftmaxWithLoss()
    layer.forward(xs, np.array([[2, 0]]))
    np.testing.assert_array_equal(layer.backward(), layer.backward(1.0))
    assert layer.ignore_label == -1
