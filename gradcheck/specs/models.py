"""Language models built from the layers: embedding -> recurrent -> affine -> loss."""

from __future__ import annotations

import jax.numpy as jnp

from .base import IGNORE_LABEL, Arg, Spec
from .basic import affine, embedding
from .losses import softmax_cross_entropy
from .recurrent import RNN_PARAMS, time_rnn


def simple_rnnlm(embed_W, Wx, Wh, b, affine_W, affine_b, xs, ts, h0):
    """Embedding -> tanh RNN from h0 -> affine -> mean softmax cross-entropy."""
    hs = time_rnn(Wx, Wh, b, embedding(embed_W, xs), h0)
    return softmax_cross_entropy(affine(affine_W, affine_b, hs), ts)


SPECS = (
    Spec(
        "SimpleRnnlm",
        params=(
            Arg("embed_W", ("V", "D"), "table"),
            *RNN_PARAMS,
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
