"""The attention family (the book's chapter 8): a decoder reads, at each step, the
encoder's hidden states weighted by a softmax over the encoder steps of their dot
products with the decoder's state.

The weights are a probability distribution over the encoder axis for every batch
row and decoder step (non-negative, summing to 1): `AttentionWeight` says so with
`distribution_over="T"`, and property_tests/test_attention_weights.py asserts it of
these functions and of rnnref.

Where a layer reads both sequences, the encoder's length is the letter S and the
decoder's T, so that the examples draw them apart: a loop over the wrong one, or
a result shaped by the wrong one, is a bug that equal lengths would hide. A layer
of one sequence (WeightSum, AttentionWeight, Attention, AttentionEncoder) calls
it T.

A softmax over the encoder steps is changed by steps appended as padding (a zero
state scores 0 and takes a share), and the decoder starts from the encoder's last
state: the encoder's steps are not padded where they are read through a softmax
or from their end (S in `unpadded`; `pads_time=False` for the one-sequence
layers). The decoder's steps are padded: each reads the encoder's states and the
steps before it, never a later one, and a padded step's scores are discarded
(dout 0, or a label that is not counted). WeightSum (linear in a, which pads with
0) and AttentionEncoder (an LSTM: later steps never change earlier ones) pad T.
"""

from __future__ import annotations

import jax.numpy as jnp

from .base import PAD_LABEL, Arg, Spec
from .basic import affine, embedding, softmax
from .losses import softmax_cross_entropy
from .recurrent import gates, time_lstm
from .seq2seq import ENCODER_PARAMS

_DEC_EMBED = Arg("dec_embed_W", ("V", "D"), "table")
DECODER_PARAMS = (
    _DEC_EMBED,
    *gates(4, "_dec"),
    Arg("affine_W", ("2H", "V"), "weight"),  # reads [context | decoder state]
    Arg("affine_b", ("V",), "bias", pad=-jnp.inf),
)


def weight_sum(hs, a):
    """c[n] = sum_t a[n, t] hs[n, t]: (N, T, H), (N, T) -> (N, H)."""
    return jnp.einsum("nth,nt->nh", hs, a)


def attention_weight(hs, h):
    """softmax over t of hs[n, t] . h[n]: (N, T, H), (N, H) -> (N, T), each row a
    probability distribution over the encoder steps."""
    return softmax(jnp.einsum("nth,nh->nt", hs, h))


def attention(hs, h):
    """The context vector of one decoder state: weight_sum(hs, attention_weight(hs, h))."""
    return weight_sum(hs, attention_weight(hs, h))


def attention_weights(hs_enc, hs_dec):
    """Every decoder step's weights at once: (N, S, H), (N, T, H) -> (N, T, S),
    [n, t] a softmax over the encoder steps s of hs_enc[n, s] . hs_dec[n, t]."""
    return softmax(jnp.einsum("nsh,nth->nts", hs_enc, hs_dec))


def time_attention(hs_enc, hs_dec):
    """Context vectors (N, T, H) of hs_enc (N, S, H) for hs_dec (N, T, H):
    out[n, t] = sum_s w[n, t, s] hs_enc[n, s]."""
    return jnp.einsum("nts,nsh->nth", attention_weights(hs_enc, hs_dec), hs_enc)


def attention_encoder(embed_W, Wx, Wh, b, xs):
    """Every step's h of an LSTM from zeros over the embedded xs: (N, T) -> (N, T, H)."""
    zeros = jnp.zeros((xs.shape[0], Wh.shape[0]), dtype=Wh.dtype)
    return time_lstm(Wx, Wh, b, embedding(embed_W, xs), zeros, zeros)


def attention_decoder(embed_W, Wx, Wh, b, affine_W, affine_b, xs, enc_hs):
    """Scores (N, T, V) of xs (N, T) given enc_hs (N, S, H): an LSTM started from
    (enc_hs[:, -1], c = 0) over the embedded xs; at each step its state and the
    context vector over enc_hs, concatenated [context | state], through the affine
    map."""
    h0 = enc_hs[:, -1]
    dec_hs = time_lstm(Wx, Wh, b, embedding(embed_W, xs), h0, jnp.zeros_like(h0))
    return affine(affine_W, affine_b, jnp.concatenate([time_attention(enc_hs, dec_hs), dec_hs], axis=-1))


def attention_decoder_decode(*args):
    """generate(enc_hs, ...) decodes from enc_hs (its source) the words fed."""
    *params, enc_hs, fed = args
    return attention_decoder(*params, fed, enc_hs)


def attention_seq2seq_scores(*args):
    """The decoder's scores of the words fed, attending over the encoder's states of xs."""
    enc, dec, (xs, fed) = args[:4], args[4:10], args[10:]
    return attention_decoder(*dec, fed, attention_encoder(*enc, xs))


def attention_seq2seq(*args):
    """Encode xs (N, S) to all its states; decode ts[:, :-1] (ts: (N, T)) attending
    over them; mean
    softmax cross-entropy against ts[:, 1:] (a padded row of ts, PAD_LABEL, is fed
    as word 0 and not counted), as seq2seq."""
    *params, xs, ts = args
    fed = jnp.where(ts[:, :-1] < 0, 0, ts[:, :-1])
    return softmax_cross_entropy(attention_seq2seq_scores(*params, xs, fed), ts[:, 1:])


_HS = Arg("hs", ("N", "T", "H"), "float")
_H = Arg("h", ("N", "H"), "float")
_XS = Arg("xs", ("N", "T"), "tokens")

SPECS = (
    Spec(
        "WeightSum",
        params=(),
        inputs=(_HS, Arg("a", ("N", "T"), "float")),
        output_axes=("N", "H"),
        fn=weight_sum,
        returns=("hs", "a"),  # backward(dc) -> (dhs, da)
    ),
    Spec(
        "AttentionWeight",
        params=(),
        inputs=(_HS, _H),
        output_axes=("N", "T"),
        fn=attention_weight,
        returns=("hs", "h"),
        pads_time=False,  # a softmax over T: a padded step would take a share
        distribution_over="T",
    ),
    Spec(
        "Attention",
        params=(),
        inputs=(_HS, _H),
        output_axes=("N", "H"),
        fn=attention,
        returns=("hs", "h"),
        pads_time=False,
    ),
    Spec(
        "TimeAttention",
        params=(),
        inputs=(Arg("hs_enc", ("N", "S", "H"), "float"), Arg("hs_dec", ("N", "T", "H"), "float")),
        output_axes=("N", "T", "H"),
        fn=time_attention,
        returns=("hs_enc", "hs_dec"),
        unpadded=("S",),  # a softmax over the encoder's steps
    ),
    Spec(
        "AttentionEncoder",
        params=ENCODER_PARAMS,
        inputs=(_XS,),
        output_axes=("N", "T", "H"),
        fn=attention_encoder,
        from_sizes=True,  # AttentionEncoder(vocab_size, wordvec_size, hidden_size)
    ),
    Spec(
        "AttentionDecoder",
        params=DECODER_PARAMS,
        inputs=(_XS, Arg("enc_hs", ("N", "S", "H"), "float")),
        output_axes=("N", "T", "V"),
        fn=attention_decoder,
        from_sizes=True,
        returns=("enc_hs",),  # backward(dscore) -> denc_hs, the whole sequence
        unpadded=("S",),  # starts from enc_hs[:, -1]; a softmax over its steps
        generates=True,  # generate(enc_hs, start_id, sample_size)
        decode=attention_decoder_decode,
    ),
    Spec(
        "AttentionSeq2seq",
        params=(*ENCODER_PARAMS, *DECODER_PARAMS),
        inputs=(Arg("xs", ("N", "S"), "tokens"), Arg("ts", ("N", "T"), "tokens", pad=PAD_LABEL)),
        output_axes=(),
        fn=attention_seq2seq,
        kind="model",
        unpadded=("S",),  # the decoder starts from the encoder's last state
        min_dims=(("T", 2),),  # ts[:, 1:] must hold a word to score
        generates=True,  # generate(xs, start_id, sample_size)
        decode=attention_seq2seq_scores,
    ),
)
