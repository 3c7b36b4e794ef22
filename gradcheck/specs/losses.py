"""Losses: softmax cross-entropy over time with ignore_label."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .base import IGNORE_LABEL, Arg, Spec


def log_softmax(x):
    """x - log(sum(exp(x))) over the last axis; the max is held constant for the
    derivative (it cancels exactly) and only shifts exp() away from overflow."""
    m = jax.lax.stop_gradient(jnp.max(x, axis=-1, keepdims=True))
    return x - (m + jnp.log(jnp.sum(jnp.exp(x - m), axis=-1, keepdims=True)))


def softmax_cross_entropy(xs, ts):
    """Mean over counted positions of -log softmax(xs)[t]; a position counts unless
    its label is IGNORE_LABEL; no counted position gives 0.
    xs: (N, T, V), ts: (N, T) int -> scalar."""
    counted = ts != IGNORE_LABEL
    safe = jnp.where(counted, ts, 0)
    picked = jnp.take_along_axis(log_softmax(xs), safe[..., None], axis=-1)[..., 0]
    total = -jnp.sum(jnp.where(counted, picked, 0.0))
    return total / jnp.maximum(jnp.sum(counted), 1)


SPECS = (
    Spec(
        "TimeSoftmaxWithLoss",
        params=(),
        inputs=(Arg("xs", ("N", "T", "V"), "float", pad=-jnp.inf), Arg("ts", ("N", "T"), "labels", IGNORE_LABEL)),
        output_axes=(),
        fn=softmax_cross_entropy,
        kind="loss",
        returns=("xs",),
    ),
)
