"""What each layer means: one JAX function per layer, written from the mathematics.

Nothing here imports `rnnref`: the oracle must not share code with what it checks.
A `Spec` also says how the layer is called (the book's protocol), which arrays its
constructor takes (in `params` order), and the axes of every array, as letters
N (batch), T (time), D (input width), H (hidden width), V (vocabulary).

The JAX functions are evaluated in float64 (see `oracle.py`, which enables x64).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import jax
import jax.numpy as jnp

IGNORE_LABEL = -1  # the book's TimeSoftmaxWithLoss.ignore_label

ArgKind = Literal["weight", "table", "bias", "float", "state", "tokens", "labels"]


@dataclass(frozen=True)
class Arg:
    """One array a layer takes: a parameter, a forward input, or the initial state.

    axes: dim letters of its shape, e.g. ("N", "T", "D").
    kind: how examples are drawn (weights scaled by 1/sqrt(fan-in), activations in
      (-1, 1), embedding tables in (-1, 1), token ids, labels with ignore_label),
      and whether it has a gradient
      (every float kind does; tokens and labels do not).
    pad: the value that leaves the result unchanged when the oracle pads this array
      to a larger shape (see `oracle.py`): 0 nearly everywhere, -inf for a bias
      over vocabulary classes that do not exist, ignore_label for labels.
    """

    name: str
    axes: tuple[str, ...]
    kind: ArgKind
    pad: float = 0.0

    @property
    def differentiable(self) -> bool:
        return self.kind not in ("tokens", "labels")


@dataclass(frozen=True)
class Spec:
    """A layer's meaning and calling convention.

    params: the constructor's arrays, in the order of the layer's `params`/`grads`.
    inputs: forward's positional arguments.
    returns: names of the inputs whose gradients backward returns, in its order
      (RNN.backward returns (dx, dh_prev); TimeEmbedding.backward returns None).
    state: the initial hidden state, set with `set_state` and read back as `.dh`.
    fn(*params, *inputs[, state]) -> output, in JAX.
    kind: "layer" (backward takes an array), "loss" (forward returns a scalar,
      backward takes dout, a number), "model" (built from dims, params written in).
    cell: the single-step layer a Time layer must equal at T=1.
    """

    name: str
    params: tuple[Arg, ...]
    inputs: tuple[Arg, ...]
    output_axes: tuple[str, ...]
    fn: Callable[..., jax.Array]
    kind: Literal["layer", "loss", "model"] = "layer"
    returns: tuple[str, ...] = ()
    state: Arg | None = None
    cell: str | None = None
    letters: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.letters:
            used = {a for arg in (*self.params, *self.inputs) for a in arg.axes}
            object.__setattr__(self, "letters", tuple(x for x in "NTDHV" if x in used))

    @property
    def args(self) -> tuple[Arg, ...]:
        """Every array the spec function takes, in its order."""
        return (*self.params, *self.inputs, *((self.state,) if self.state else ()))

    @property
    def grad_args(self) -> tuple[Arg, ...]:
        """The arrays whose gradients the layer must produce. A model has no `.dh`:
        its state starts at zeros after reset_state() and gets no gradient."""
        return tuple(a for a in self.args if a.differentiable and not (a is self.state and self.kind == "model"))


# --- the mathematics -------------------------------------------------------------


def rnn_step(Wx, Wh, b, x, h_prev):
    """h_next = tanh(h_prev Wh + x Wx + b). x: (N, D), h_prev: (N, H) -> (N, H)."""
    return jnp.tanh(h_prev @ Wh + x @ Wx + b)


def time_rnn(Wx, Wh, b, xs, h0):
    """hs[:, t] = tanh(hs[:, t-1] Wh + xs[:, t] Wx + b), hs[:, -1] = h0.
    xs: (N, T, D), h0: (N, H) -> hs: (N, T, H)."""

    def step(h, x):
        h = rnn_step(Wx, Wh, b, x, h)
        return h, h

    _, hs = jax.lax.scan(step, h0, jnp.swapaxes(xs, 0, 1))
    return jnp.swapaxes(hs, 0, 1)


def affine(W, b, x):
    """x W + b over the last axis of x."""
    return x @ W + b


def embedding(W, idx):
    """Rows of W picked by token ids: W[idx]."""
    return W[idx]


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


def simple_rnnlm(embed_W, Wx, Wh, b, affine_W, affine_b, xs, ts, h0):
    """Embedding -> tanh RNN from h0 -> affine -> mean softmax cross-entropy."""
    hs = time_rnn(Wx, Wh, b, embedding(embed_W, xs), h0)
    return softmax_cross_entropy(affine(affine_W, affine_b, hs), ts)


# --- the specs -------------------------------------------------------------------

_RNN_PARAMS = (Arg("Wx", ("D", "H"), "weight"), Arg("Wh", ("H", "H"), "weight"), Arg("b", ("H",), "bias"))

SPECS: dict[str, Spec] = {
    s.name: s
    for s in (
        Spec(
            "RNN",
            params=_RNN_PARAMS,
            inputs=(Arg("x", ("N", "D"), "float"), Arg("h_prev", ("N", "H"), "state")),
            output_axes=("N", "H"),
            fn=rnn_step,
            returns=("x", "h_prev"),
        ),
        Spec(
            "Affine",
            params=(Arg("W", ("D", "H"), "weight"), Arg("b", ("H",), "bias")),
            inputs=(Arg("x", ("N", "D"), "float"),),
            output_axes=("N", "H"),
            fn=affine,
            returns=("x",),
        ),
        Spec(
            "Embedding",
            params=(Arg("W", ("V", "D"), "table"),),
            inputs=(Arg("idx", ("N",), "tokens"),),
            output_axes=("N", "D"),
            fn=embedding,
        ),
        Spec(
            "TimeRNN",
            params=_RNN_PARAMS,
            inputs=(Arg("xs", ("N", "T", "D"), "float"),),
            output_axes=("N", "T", "H"),
            fn=time_rnn,
            returns=("xs",),
            state=Arg("h0", ("N", "H"), "state"),
            cell="RNN",
        ),
        Spec(
            "TimeEmbedding",
            params=(Arg("W", ("V", "D"), "table"),),
            inputs=(Arg("xs", ("N", "T"), "tokens"),),
            output_axes=("N", "T", "D"),
            fn=embedding,
            cell="Embedding",
        ),
        Spec(
            "TimeAffine",
            params=(Arg("W", ("H", "V"), "weight"), Arg("b", ("V",), "bias")),
            inputs=(Arg("xs", ("N", "T", "H"), "float"),),
            output_axes=("N", "T", "V"),
            fn=affine,
            returns=("xs",),
            cell="Affine",
        ),
        Spec(
            "TimeSoftmaxWithLoss",
            params=(),
            inputs=(Arg("xs", ("N", "T", "V"), "float", pad=-jnp.inf), Arg("ts", ("N", "T"), "labels", IGNORE_LABEL)),
            output_axes=(),
            fn=softmax_cross_entropy,
            kind="loss",
            returns=("xs",),
        ),
        Spec(
            "SimpleRnnlm",
            params=(
                Arg("embed_W", ("V", "D"), "table"),
                *_RNN_PARAMS,
                Arg("affine_W", ("H", "V"), "weight"),
                Arg("affine_b", ("V",), "bias", pad=-jnp.inf),
            ),
            inputs=(Arg("xs", ("N", "T"), "tokens"), Arg("ts", ("N", "T"), "labels", IGNORE_LABEL)),
            output_axes=(),
            fn=simple_rnnlm,
            kind="model",
            # The model starts each sequence from zeros after reset_state(); the spec
            # takes h0 so that stateful chunks can be checked with the carried state.
            state=Arg("h0", ("N", "H"), "state"),
        ),
    )
}
