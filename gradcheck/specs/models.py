"""Language models built from the layers: embedding -> recurrent -> affine -> loss."""

from __future__ import annotations

import jax.numpy as jnp

from .base import IGNORE_LABEL, Arg, Spec
from .basic import affine, embedding
from .losses import softmax_cross_entropy
from .recurrent import LSTM_PARAMS, RNN_PARAMS, gates, time_lstm, time_lstm_final, time_rnn, time_rnn_final


def simple_rnnlm(embed_W, Wx, Wh, b, affine_W, affine_b, xs, ts, h0):
    """Embedding -> tanh RNN from h0 -> affine -> mean softmax cross-entropy."""
    hs = time_rnn(Wx, Wh, b, embedding(embed_W, xs), h0)
    return softmax_cross_entropy(affine(affine_W, affine_b, hs), ts)


def simple_rnnlm_final(embed_W, Wx, Wh, b, affine_W, affine_b, xs, ts, h0):
    return time_rnn_final(Wx, Wh, b, embedding(embed_W, xs), h0)


def rnnlm(embed_W, Wx, Wh, b, affine_W, affine_b, xs, ts, h0, c0):
    """Embedding -> LSTM from (h0, c0) -> affine -> mean softmax cross-entropy."""
    hs = time_lstm(Wx, Wh, b, embedding(embed_W, xs), h0, c0)
    return softmax_cross_entropy(affine(affine_W, affine_b, hs), ts)


def rnnlm_final(embed_W, Wx, Wh, b, affine_W, affine_b, xs, ts, h0, c0):
    return time_lstm_final(Wx, Wh, b, embedding(embed_W, xs), h0, c0)


def better_rnnlm(embed_W, Wx1, Wh1, b1, Wx2, Wh2, b2, affine_b, xs, ts, h0, c0, h1, c1):
    """In evaluation (dropout off): embedding -> LSTM from (h0, c0) -> LSTM from
    (h1, c1) -> affine with the embedding's transpose (weight tying) -> loss."""
    hs = time_lstm(Wx1, Wh1, b1, embedding(embed_W, xs), h0, c0)
    hs = time_lstm(Wx2, Wh2, b2, hs, h1, c1)
    return softmax_cross_entropy(affine(embed_W.T, affine_b, hs), ts)


def better_rnnlm_final(embed_W, Wx1, Wh1, b1, Wx2, Wh2, b2, affine_b, xs, ts, h0, c0, h1, c1):
    hs = time_lstm(Wx1, Wh1, b1, embedding(embed_W, xs), h0, c0)
    first = time_lstm_final(Wx1, Wh1, b1, embedding(embed_W, xs), h0, c0)
    return (*first, *time_lstm_final(Wx2, Wh2, b2, hs, h1, c1))


def _lm_params(recurrent):
    return (
        Arg("embed_W", ("V", "D"), "table"),
        *recurrent,
        Arg("affine_W", ("H", "V"), "weight"),
        Arg("affine_b", ("V",), "bias", pad=-jnp.inf),
    )


_TOKENS_LABELS = (Arg("xs", ("N", "T"), "tokens"), Arg("ts", ("N", "T"), "labels", IGNORE_LABEL))


SPECS = (
    Spec(
        "SimpleRnnlm",
        params=_lm_params(RNN_PARAMS),
        inputs=_TOKENS_LABELS,
        output_axes=(),
        fn=simple_rnnlm,
        kind="model",
        # The model starts each sequence from zeros after reset_state(); the spec
        # takes h0 so that stateful chunks can be checked with the carried state.
        state=Arg("h0", ("N", "H"), "state"),
        final=simple_rnnlm_final,
    ),
    Spec(
        "Rnnlm",
        params=_lm_params(LSTM_PARAMS),
        inputs=_TOKENS_LABELS,
        output_axes=(),
        fn=rnnlm,
        kind="model",
        state=Arg("h0", ("N", "H"), "state"),
        carry=(Arg("c0", ("N", "H"), "state"),),
        final=rnnlm_final,
    ),
    Spec(
        "BetterRnnlm",
        # Tying needs wordvec_size == hidden_size: the embedding is (V, H).
        params=(
            Arg("embed_W", ("V", "H"), "table"),
            *gates(4, "1", fan_in="H"),
            *gates(4, "2", fan_in="H"),
            Arg("affine_b", ("V",), "bias", pad=-jnp.inf),
        ),
        inputs=_TOKENS_LABELS,
        output_axes=(),
        fn=better_rnnlm,
        kind="model",
        sizes=("V", "H", "H"),  # BetterRnnlm(vocab_size, wordvec_size, hidden_size), tied: wordvec_size is H
        state=Arg("h0", ("N", "H"), "state"),
        carry=(Arg("c0", ("N", "H"), "state"), Arg("h1", ("N", "H"), "state"), Arg("c1", ("N", "H"), "state")),
        final=better_rnnlm_final,
        train_flag="argument",
        tied=((7, "embed_W.T"),),  # params[7] is the affine layer's W
    ),
)
