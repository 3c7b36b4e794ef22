"""TimeRNN state handling: truncated BPTT over chunks, reset_state / set_state,
stateful=False, and `.dh` as the gradient w.r.t. the chunk's initial state."""

from __future__ import annotations

import numpy as np
import pytest

from rnnref import RNN, TimeRNN

# float64, same operations on the same values in another grouping (chunks vs one pass).
RTOL64 = 1e-12
# central differences in float64 with step 1e-5 on O(1) values: truncation eps^2/6 * |f'''| ~ 1e-11,
# cancellation u * |f| / eps ~ 1e-11 (observed ~2e-11); 1e-9 leaves a 50x margin.
FD_EPS, FD_ATOL = 1e-5, 1e-9

N, D, H = 2, 3, 4


def weights(seed: int = 0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    Wx = rng.standard_normal((D, H)) / np.sqrt(D)
    Wh = rng.standard_normal((H, H)) / np.sqrt(H)
    b = rng.standard_normal(H) / 2
    return Wx.astype(dtype), Wh.astype(dtype), b.astype(dtype)


def sequence(T: int, seed: int = 1, dtype=np.float64) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((N, T, D)).astype(dtype)


def by_steps(xs: np.ndarray, h0: np.ndarray, Wx, Wh, b) -> np.ndarray:
    """The recurrence written out: h_t = tanh(h_{t-1} Wh + x_t Wx + b)."""
    h, hs = h0, []
    for t in range(xs.shape[1]):
        h = np.tanh(h @ Wh + xs[:, t] @ Wx + b)
        hs.append(h)
    return np.stack(hs, axis=1)


def close(actual, expected, what: str = "") -> None:
    np.testing.assert_allclose(actual, expected, rtol=RTOL64, atol=1e-15, err_msg=what)


def test_stateful_chunked_forward_equals_one_long_forward():
    xs = sequence(7)
    whole = TimeRNN(*weights()).forward(xs)
    close(whole, by_steps(xs, np.zeros((N, H)), *weights()), "one pass vs the recurrence")
    layer = TimeRNN(*weights(), stateful=True)
    first, second = layer.forward(xs[:, :3]), layer.forward(xs[:, 3:])
    close(np.concatenate([first, second], axis=1), whole, "two chunks vs one pass")
    close(layer.h, whole[:, -1], "carried h")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stateful_chunks_of_one_step_equal_the_rnn_cell_applied_in_turn(dtype):
    xs = sequence(4, dtype=dtype)
    layer, cell = TimeRNN(*weights(dtype=dtype), stateful=True), RNN(*weights(dtype=dtype))
    h = np.zeros((N, H), dtype=dtype)
    for t in range(4):
        hs = layer.forward(xs[:, t:t + 1])
        h = cell.forward(xs[:, t], h)
        np.testing.assert_array_equal(hs[:, 0], h)


def test_stateful_backward_stops_at_the_chunk_boundary():
    """Truncated BPTT: the second chunk's gradients are those of a fresh layer started
    with set_state(h at the boundary), as if the first chunk did not exist."""
    xs = sequence(6)
    dhs = np.random.default_rng(5).standard_normal((N, 3, H))
    layer = TimeRNN(*weights(), stateful=True)
    layer.forward(xs[:, :3])
    boundary = layer.h.copy()
    layer.forward(xs[:, 3:])
    dxs = layer.backward(dhs)

    fresh = TimeRNN(*weights(), stateful=True)
    fresh.set_state(boundary)
    fresh.forward(xs[:, 3:])
    np.testing.assert_array_equal(dxs, fresh.backward(dhs))
    for g, g_fresh in zip(layer.grads, fresh.grads, strict=True):
        np.testing.assert_array_equal(g, g_fresh)
    np.testing.assert_array_equal(layer.dh, fresh.dh)
    assert dxs.shape == (N, 3, D)


def test_reset_state_starts_the_next_forward_from_zeros():
    xs = sequence(3)
    layer = TimeRNN(*weights(), stateful=True)
    layer.forward(sequence(3, seed=9))
    assert np.any(layer.h != 0)
    layer.reset_state()
    close(layer.forward(xs), by_steps(xs, np.zeros((N, H)), *weights()))


def test_set_state_starts_the_next_forward_from_h():
    xs = sequence(3)
    h0 = np.random.default_rng(2).standard_normal((N, H))
    h0_before = h0.copy()
    layer = TimeRNN(*weights(), stateful=True)
    layer.forward(sequence(3, seed=9))
    layer.set_state(h0)
    hs = layer.forward(xs)
    Wx, Wh, b = weights()
    close(hs[:, 0], np.tanh(h0 @ Wh + xs[:, 0] @ Wx + b), "first step from h0")
    close(hs, by_steps(xs, h0, Wx, Wh, b))
    np.testing.assert_array_equal(h0, h0_before)  # the caller's array is not modified


def test_non_stateful_forward_ignores_the_previous_state_and_set_state():
    xs = sequence(3)
    zeros_start = by_steps(xs, np.zeros((N, H)), *weights())
    layer = TimeRNN(*weights(), stateful=False)
    layer.forward(sequence(3, seed=9))
    close(layer.forward(xs), zeros_start, "after a previous forward")
    layer.set_state(np.ones((N, H)))
    close(layer.forward(xs), zeros_start, "after set_state")


def test_carried_state_is_the_last_hidden_state_and_has_the_params_dtype():
    layer = TimeRNN(*weights(dtype=np.float32), stateful=True)
    hs = layer.forward(sequence(3, dtype=np.float32))
    assert layer.h.dtype == np.float32 and layer.h.shape == (N, H)
    np.testing.assert_array_equal(layer.h, hs[:, -1])


def loss_of_initial_state(h0, xs, dhs, params) -> float:
    """L(h0) = sum(dhs * hs): its gradient w.r.t. hs is dhs, so dL/dh0 is what .dh must hold."""
    layer = TimeRNN(*params, stateful=True)
    layer.set_state(h0)
    return float(np.sum(layer.forward(xs) * dhs))


@pytest.mark.parametrize("stateful", [True, False])
def test_dh_is_the_gradient_wrt_the_initial_state_by_finite_differences(stateful):
    rng = np.random.default_rng(3)
    params = weights(4)
    xs, dhs = sequence(3, seed=6), rng.standard_normal((N, 3, H))
    h0 = rng.standard_normal((N, H)) / 2 if stateful else np.zeros((N, H))
    layer = TimeRNN(*params, stateful=stateful)
    layer.set_state(h0)
    layer.forward(xs)
    layer.backward(dhs)
    assert layer.dh.shape == (N, H) and layer.dh.dtype == np.float64

    fd = np.zeros((N, H))
    for i in np.ndindex(fd.shape):
        step = np.zeros((N, H))
        step[i] = FD_EPS
        fd[i] = (loss_of_initial_state(h0 + step, xs, dhs, params)
                 - loss_of_initial_state(h0 - step, xs, dhs, params)) / (2 * FD_EPS)
    assert np.max(np.abs(fd)) > 0.1  # a real gradient, not a vanishing one
    np.testing.assert_allclose(layer.dh, fd, rtol=0, atol=FD_ATOL)
