"""Layers without state: affine maps, embeddings, softmax and sigmoid, one step and over time."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .base import Arg, Spec


def affine(W, b, x):
    """x W + b over the last axis of x."""
    return x @ W + b


def embedding(W, idx):
    """Rows of W picked by token ids: W[idx]."""
    return W[idx]


def matmul(W, x):
    """x W, no bias."""
    return x @ W


def softmax(x):
    """exp(x) / sum(exp(x)) over the last axis; the max is held constant for the
    derivative (it cancels exactly) and only keeps exp() from overflowing."""
    e = jnp.exp(x - jax.lax.stop_gradient(jnp.max(x, axis=-1, keepdims=True)))
    return e / jnp.sum(e, axis=-1, keepdims=True)


def sigmoid(x):
    """1 / (1 + exp(-x)), elementwise, as (1 + tanh(x / 2)) / 2: no exp to overflow."""
    return (1 + jnp.tanh(x / 2)) / 2


AFFINE_TIME = dict(
    params=(Arg("W", ("H", "V"), "weight"), Arg("b", ("V",), "bias")),
    inputs=(Arg("xs", ("N", "T", "H"), "float"),),
    output_axes=("N", "T", "V"),
    fn=affine,
    returns=("xs",),
    cell="Affine",
)

SPECS = (
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
        "TimeEmbedding",
        params=(Arg("W", ("V", "D"), "table"),),
        inputs=(Arg("xs", ("N", "T"), "tokens"),),
        output_axes=("N", "T", "D"),
        fn=embedding,
        cell="Embedding",
    ),
    Spec("TimeAffine", **AFFINE_TIME),  # type: ignore[arg-type]
    Spec(
        "MatMul",
        params=(Arg("W", ("D", "H"), "weight"),),
        inputs=(Arg("x", ("N", "D"), "float"),),
        output_axes=("N", "H"),
        fn=matmul,
        returns=("x",),
    ),
    Spec(
        "Softmax",
        params=(),
        # padded classes get logit -inf: probability 0, the real ones unchanged
        inputs=(Arg("x", ("N", "V"), "float", pad=-jnp.inf),),
        output_axes=("N", "V"),
        fn=softmax,
        returns=("x",),
    ),
    Spec(
        "Sigmoid",
        params=(),
        inputs=(Arg("x", ("N", "D"), "float"),),
        output_axes=("N", "D"),
        fn=sigmoid,
        returns=("x",),
    ),
    # The book's per-step TimeAffine: the same map and protocol.
    Spec("Simple_TimeAffine", **AFFINE_TIME),  # type: ignore[arg-type]
)
