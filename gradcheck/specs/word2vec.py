"""The word2vec family (the book's chapters 1-4): embedding dot products, and the
small networks trained on one-hot words."""

from __future__ import annotations

import jax.numpy as jnp

from .base import PAD_LABEL, Arg, Convention, Spec
from .basic import affine, embedding, sigmoid
from .losses import SOFTMAX_EPS, softmax_cross_entropy


def embedding_dot(W, h, idx):
    """The score of each row of h against its target's embedding: sum_d W[idx, d] h[:, d]."""
    return jnp.sum(embedding(W, idx) * h, axis=-1)


def two_layer_net(loss):
    """x -> affine -> sigmoid -> affine -> `loss` with class ids t."""

    def fn(W1, b1, W2, b2, x, t):
        return loss(affine(W2, b2, sigmoid(affine(W1, b1, x))), t)

    return fn


SPECS = (
    Spec(
        "EmbeddingDot",
        params=(Arg("W", ("V", "D"), "table"),),
        inputs=(Arg("h", ("N", "D"), "float"), Arg("idx", ("N",), "tokens")),
        output_axes=("N",),
        fn=embedding_dot,
        returns=("h",),
    ),
    Spec(
        "TwoLayerNet",
        params=(
            Arg("W1", ("D", "H"), "weight"),
            Arg("b1", ("H",), "bias"),
            Arg("W2", ("H", "V"), "weight"),
            Arg("b2", ("V",), "bias", pad=-jnp.inf),  # padded classes: probability 0
        ),
        inputs=(Arg("x", ("N", "D"), "float"), Arg("t", ("N",), "classes", PAD_LABEL)),
        output_axes=(),
        fn=two_layer_net(softmax_cross_entropy),
        kind="model",
        sizes=("D", "H", "V"),  # TwoLayerNet(input_size, hidden_size, output_size)
        returns=("x",),
        # its loss layer is the book's SoftmaxWithLoss: log(y + 1e-7)
        conventions=(Convention(SOFTMAX_EPS.name, two_layer_net(SOFTMAX_EPS.fn), SOFTMAX_EPS.message),),
    ),
)
