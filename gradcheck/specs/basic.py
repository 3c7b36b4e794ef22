"""Layers without state: affine maps and embeddings, one step and over time."""

from __future__ import annotations

from .base import Arg, Spec


def affine(W, b, x):
    """x W + b over the last axis of x."""
    return x @ W + b


def embedding(W, idx):
    """Rows of W picked by token ids: W[idx]."""
    return W[idx]


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
    Spec(
        "TimeAffine",
        params=(Arg("W", ("H", "V"), "weight"), Arg("b", ("V",), "bias")),
        inputs=(Arg("xs", ("N", "T", "H"), "float"),),
        output_axes=("N", "T", "V"),
        fn=affine,
        returns=("xs",),
        cell="Affine",
    ),
)
