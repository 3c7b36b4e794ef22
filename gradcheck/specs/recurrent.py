"""Recurrent cells and their Time forms: the tanh RNN, the LSTM, the GRU, the
bidirectional LSTM."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .base import Arg, Spec


def rnn_step(Wx, Wh, b, x, h_prev):
    """h_next = tanh(h_prev Wh + x Wx + b). x: (N, D), h_prev: (N, H) -> (N, H)."""
    return jnp.tanh(h_prev @ Wh + x @ Wx + b)


def scan_steps(step, carry, xs):
    """Run `step(carry, x_t) -> (carry, h_t)` over the T axis of xs (N, T, ...);
    returns the hs stacked as (N, T, ...)."""
    _, hs = jax.lax.scan(step, carry, jnp.swapaxes(xs, 0, 1))
    return jnp.swapaxes(hs, 0, 1)


def time_rnn(Wx, Wh, b, xs, h0):
    """hs[:, t] = tanh(hs[:, t-1] Wh + xs[:, t] Wx + b), hs[:, -1] = h0.
    xs: (N, T, D), h0: (N, H) -> hs: (N, T, H)."""

    def step(h, x):
        h = rnn_step(Wx, Wh, b, x, h)
        return h, h

    return scan_steps(step, h0, xs)


def time_rnn_final(Wx, Wh, b, xs, h0):
    """The state TimeRNN carries on: its last hidden state."""
    return (time_rnn(Wx, Wh, b, xs, h0)[:, -1],)


def sigmoid(x):
    """1 / (1 + exp(-x)), computed without overflow for large |x|."""
    return jax.nn.sigmoid(x)


def lstm_step(Wx, Wh, b, x, h_prev, c_prev):
    """One LSTM step, gates side by side in the book's order f, g, i, o:
    A = x Wx + h_prev Wh + b (N, 4H); f, i, o = sigmoid, g = tanh of their blocks;
    c_next = f * c_prev + g * i; h_next = o * tanh(c_next). Returns (h_next, c_next)."""
    H = h_prev.shape[-1]
    A = x @ Wx + h_prev @ Wh + b
    f, g, i, o = (A[:, k * H : (k + 1) * H] for k in range(4))
    c_next = sigmoid(f) * c_prev + jnp.tanh(g) * sigmoid(i)
    return sigmoid(o) * jnp.tanh(c_next), c_next


def lstm_cell(Wx, Wh, b, x, h_prev, c_prev):
    """The LSTM layer's two results as blocks of one array: [h_next | c_next] (N, 2H)."""
    return jnp.concatenate(lstm_step(Wx, Wh, b, x, h_prev, c_prev), axis=-1)


def _lstm_scan(Wx, Wh, b, xs, h0, c0):
    def step(hc, x):
        h, c = lstm_step(Wx, Wh, b, x, *hc)
        return (h, c), h

    (h, c), hs = jax.lax.scan(step, (h0, c0), jnp.swapaxes(xs, 0, 1))
    return jnp.swapaxes(hs, 0, 1), (h, c)


def time_lstm(Wx, Wh, b, xs, h0, c0):
    """hs[:, t] = the LSTM's h after step t from (h0, c0). xs: (N, T, D) -> (N, T, H)."""
    return _lstm_scan(Wx, Wh, b, xs, h0, c0)[0]


def time_lstm_final(Wx, Wh, b, xs, h0, c0):
    """The state TimeLSTM carries on: its last h and c."""
    return _lstm_scan(Wx, Wh, b, xs, h0, c0)[1]


def gru_step(Wx, Wh, b, x, h_prev):
    """One GRU step, blocks in the book's order z, r, h~:
    z = sigmoid(x Wxz + h Whz + bz), r = sigmoid(x Wxr + h Whr + br),
    h~ = tanh(x Wxh + (r * h) Whh + bh), h_next = (1 - z) * h + z * h~."""
    H = h_prev.shape[-1]

    def block(W, k):
        return W[..., k * H : (k + 1) * H]

    z = sigmoid(x @ block(Wx, 0) + h_prev @ block(Wh, 0) + block(b, 0))
    r = sigmoid(x @ block(Wx, 1) + h_prev @ block(Wh, 1) + block(b, 1))
    h_hat = jnp.tanh(x @ block(Wx, 2) + (r * h_prev) @ block(Wh, 2) + block(b, 2))
    return (1 - z) * h_prev + z * h_hat


def time_gru(Wx, Wh, b, xs, h0):
    """hs[:, t] = the GRU's h after step t from h0. xs: (N, T, D) -> (N, T, H)."""

    def step(h, x):
        h = gru_step(Wx, Wh, b, x, h)
        return h, h

    return scan_steps(step, h0, xs)


def time_gru_final(Wx, Wh, b, xs, h0):
    return (time_gru(Wx, Wh, b, xs, h0)[:, -1],)


def time_bilstm(Wx1, Wh1, b1, Wx2, Wh2, b2, xs):
    """[forward LSTM over xs | backward LSTM over reversed xs, reversed back] (N, T, 2H),
    both from zeros."""
    N, H = xs.shape[0], Wh1.shape[0]
    zeros = jnp.zeros((N, H), dtype=xs.dtype)
    forward = time_lstm(Wx1, Wh1, b1, xs, zeros, zeros)
    backward = time_lstm(Wx2, Wh2, b2, xs[:, ::-1], zeros, zeros)[:, ::-1]
    return jnp.concatenate([forward, backward], axis=-1)


def _gates(count: int, suffix: str = "") -> tuple[Arg, Arg, Arg]:
    """Wx (D, kH), Wh (H, kH), b (kH,): the weights of k blocks side by side."""
    k = f"{count}H" if count > 1 else "H"
    return (
        Arg(f"Wx{suffix}", ("D", k), "weight"),
        Arg(f"Wh{suffix}", ("H", k), "weight"),
        Arg(f"b{suffix}", (k,), "bias"),
    )


RNN_PARAMS = _gates(1)
LSTM_PARAMS = _gates(4)
GRU_PARAMS = _gates(3)

SPECS = (
    Spec(
        "RNN",
        params=RNN_PARAMS,
        inputs=(Arg("x", ("N", "D"), "float"), Arg("h_prev", ("N", "H"), "state")),
        output_axes=("N", "H"),
        fn=rnn_step,
        returns=("x", "h_prev"),
    ),
    Spec(
        "TimeRNN",
        params=RNN_PARAMS,
        inputs=(Arg("xs", ("N", "T", "D"), "float"),),
        output_axes=("N", "T", "H"),
        fn=time_rnn,
        returns=("xs",),
        state=Arg("h0", ("N", "H"), "state"),
        final=time_rnn_final,
        cell="RNN",
    ),
    Spec(
        "LSTM",
        params=LSTM_PARAMS,
        inputs=(Arg("x", ("N", "D"), "float"), Arg("h_prev", ("N", "H"), "state"), Arg("c_prev", ("N", "H"), "state")),
        output_axes=("N", "2H"),
        outputs=("h_next", "c_next"),
        fn=lstm_cell,
        returns=("x", "h_prev", "c_prev"),
    ),
    Spec(
        "TimeLSTM",
        params=LSTM_PARAMS,
        inputs=(Arg("xs", ("N", "T", "D"), "float"),),
        output_axes=("N", "T", "H"),
        fn=time_lstm,
        returns=("xs",),
        state=Arg("h0", ("N", "H"), "state"),
        carry=(Arg("c0", ("N", "H"), "state"),),
        final=time_lstm_final,
        cell="LSTM",
    ),
    Spec(
        "GRU",
        params=GRU_PARAMS,
        inputs=(Arg("x", ("N", "D"), "float"), Arg("h_prev", ("N", "H"), "state")),
        output_axes=("N", "H"),
        fn=gru_step,
        returns=("x", "h_prev"),
    ),
    Spec(
        "TimeGRU",
        params=GRU_PARAMS,
        inputs=(Arg("xs", ("N", "T", "D"), "float"),),
        output_axes=("N", "T", "H"),
        fn=time_gru,
        returns=("xs",),
        state=Arg("h0", ("N", "H"), "state"),
        final=time_gru_final,
        cell="GRU",
    ),
    Spec(
        "TimeBiLSTM",
        params=(*_gates(4, "1"), *_gates(4, "2")),
        inputs=(Arg("xs", ("N", "T", "D"), "float"),),
        output_axes=("N", "T", "2H"),
        fn=time_bilstm,
        returns=("xs",),
        pads_time=False,
    ),
)
