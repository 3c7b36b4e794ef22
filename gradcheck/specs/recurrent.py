"""Recurrent cells and their Time forms: the tanh RNN."""

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


RNN_PARAMS = (Arg("Wx", ("D", "H"), "weight"), Arg("Wh", ("H", "H"), "weight"), Arg("b", ("H",), "bias"))

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
        cell="RNN",
    ),
)
