"""Losses: softmax cross-entropy (over time with ignore_label, and the book's
plain forms), and binary cross-entropy of a sigmoid.

Every loss is a mean over the positions it counts. Labels below 0 are never
counted: IGNORE_LABEL for TimeSoftmaxWithLoss, and PAD_LABEL, the value the oracle
pads every label kind with (examples of the other kinds never hold it).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .base import IGNORE_LABEL, PAD_LABEL, Arg, ArgKind, Convention, Spec

# The book's cross_entropy_error takes log(y + 1e-7), not log(y).
BOOK_LOG_EPS = 1e-7

assert IGNORE_LABEL == PAD_LABEL  # one mask serves both: a position counts when its label is >= 0


def log_softmax(x):
    """x - log(sum(exp(x))) over the last axis; the max is held constant for the
    derivative (it cancels exactly) and only shifts exp() away from overflow."""
    m = jax.lax.stop_gradient(jnp.max(x, axis=-1, keepdims=True))
    return x - (m + jnp.log(jnp.sum(jnp.exp(x - m), axis=-1, keepdims=True)))


def _mean_over_counted(per_position, ts):
    """Mean of per_position over the positions whose label is >= 0; 0 if none."""
    counted = ts >= 0
    total = jnp.sum(jnp.where(counted, per_position, 0.0))
    return total / jnp.maximum(jnp.sum(counted), 1)


def _picked(logp, ts):
    """logp[..., t] at each position (class 0 where the label is not counted)."""
    return jnp.take_along_axis(logp, jnp.where(ts >= 0, ts, 0)[..., None], axis=-1)[..., 0]


def softmax_cross_entropy(xs, ts):
    """Mean over counted positions of -log softmax(xs)[t]; a position counts unless
    its label is IGNORE_LABEL; no counted position gives 0.
    xs: (..., V), ts: (...) int -> scalar."""
    return _mean_over_counted(-_picked(log_softmax(xs), ts), ts)


def softmax_cross_entropy_book_eps(xs, ts):
    """The book's cross_entropy_error: -log(softmax(xs)[t] + 1e-7), same mean."""
    return _mean_over_counted(-jnp.log(jnp.exp(_picked(log_softmax(xs), ts)) + BOOK_LOG_EPS), ts)


def _log_sigmoid(x):
    """log(1 / (1 + exp(-x))) = -log(1 + exp(-x)), finite for any finite x."""
    return -jnp.logaddexp(0.0, -x)


def sigmoid_cross_entropy(xs, ts):
    """Mean over positions of -log sigmoid(x) where t = 1, -log(1 - sigmoid(x)) =
    -log sigmoid(-x) where t = 0. xs: (...), ts: (...) in {0, 1} -> scalar."""
    return _mean_over_counted(-_log_sigmoid(jnp.where(ts == 1, xs, -xs)), ts)


def sigmoid_cross_entropy_book_eps(xs, ts):
    """The book's: y = sigmoid(x); -log(y + 1e-7) where t = 1, -log(1 - y + 1e-7) where t = 0."""
    y = 1 / (1 + jnp.exp(-xs))
    return _mean_over_counted(-jnp.log(jnp.where(ts == 1, y, 1 - y) + BOOK_LOG_EPS), ts)


_EPS_MESSAGE = (
    "the loss is -log(p + 1e-7) (the book's cross_entropy_error), not -log(p): it differs from the exact "
    "loss by about 1e-7/p per position and stops at -log(1e-7) = 16.1 "
    "where p underflows; forward and differences were compared with that convention, the gradient with "
    "the exact loss's"
)
SOFTMAX_EPS = Convention("log(y+1e-7)", softmax_cross_entropy_book_eps, _EPS_MESSAGE)
SIGMOID_EPS = Convention("log(y+1e-7)", sigmoid_cross_entropy_book_eps, _EPS_MESSAGE)


def mean_loss(name: str, logits: Arg, labels: Arg, fn, conventions=()) -> Spec:
    """A loss that averages over its positions: forward(logits, labels) -> a scalar,
    backward(dout) -> dlogits; no params."""
    return Spec(
        name,
        params=(),
        inputs=(logits, labels),
        output_axes=(),
        fn=fn,
        kind="loss",
        returns=(logits.name,),
        conventions=tuple(conventions),
    )


def _softmax_loss(name: str, x: str, t: str, axes: tuple[str, ...], kind: ArgKind, conventions=()) -> Spec:
    """Softmax cross-entropy over class ids of `axes` (logits `axes` + V; padded classes -inf)."""
    pad = IGNORE_LABEL if kind == "labels" else PAD_LABEL
    logits = Arg(x, (*axes, "V"), "float", pad=-jnp.inf)
    return mean_loss(name, logits, Arg(t, axes, kind, pad), softmax_cross_entropy, conventions)


def _sigmoid_loss(name: str, x: str, t: str, axes: tuple[str, ...]) -> Spec:
    """Binary cross-entropy of sigmoid(logits) over 0/1 labels of `axes`."""
    logits = Arg(x, axes, "float")
    return mean_loss(name, logits, Arg(t, axes, "binary", PAD_LABEL), sigmoid_cross_entropy, (SIGMOID_EPS,))


SPECS = (
    _softmax_loss("TimeSoftmaxWithLoss", "xs", "ts", ("N", "T"), "labels"),
    _softmax_loss("SoftmaxWithLoss", "x", "t", ("N",), "classes", (SOFTMAX_EPS,)),
    _softmax_loss("Simple_TimeSoftmaxWithLoss", "xs", "ts", ("N", "T"), "classes", (SOFTMAX_EPS,)),
    _sigmoid_loss("SigmoidWithLoss", "x", "t", ("N",)),
    _sigmoid_loss("TimeSigmoidWithLoss", "xs", "ts", ("N", "T")),
)
