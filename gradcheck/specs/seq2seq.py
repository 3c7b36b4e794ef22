"""The seq2seq family (the book's chapter 7): an LSTM encoder whose last hidden
state starts an LSTM decoder fed the true previous tokens (teacher forcing); the
peeky decoder also reads that state next to every word and every LSTM output."""

from __future__ import annotations

import jax.numpy as jnp

from .base import PAD_LABEL, Arg, Spec
from .basic import affine, embedding
from .losses import softmax_cross_entropy
from .recurrent import gates, time_lstm

_EMBED = Arg("embed_W", ("V", "D"), "table")
_AFFINE = (Arg("affine_W", ("H", "V"), "weight"), Arg("affine_b", ("V",), "bias", pad=-jnp.inf))
ENCODER_PARAMS = (_EMBED, *gates(4))
DECODER_PARAMS = (Arg("dec_embed_W", ("V", "D"), "table"), *gates(4, "_dec"), *_AFFINE)
# The peeky LSTM reads [h, word] ("H+D": the parts padded apart), the affine [h, LSTM h].
PEEKY_PARAMS = (
    Arg("dec_embed_W", ("V", "D"), "table"),
    *gates(4, "_dec", fan_in="H+D"),
    Arg("affine_W", ("H+H", "V"), "weight"),
    _AFFINE[1],
)


def encoder(embed_W, Wx, Wh, b, xs):
    """The last step's h of an LSTM from zeros over the embedded xs: (N, T) -> (N, H)."""
    zeros = jnp.zeros((xs.shape[0], Wh.shape[0]), dtype=Wh.dtype)
    return time_lstm(Wx, Wh, b, embedding(embed_W, xs), zeros, zeros)[:, -1, :]


def decoder(embed_W, Wx, Wh, b, affine_W, affine_b, xs, h):
    """Scores (N, T, V) of an LSTM started from (h, c = 0) over the embedded xs."""
    return affine(affine_W, affine_b, time_lstm(Wx, Wh, b, embedding(embed_W, xs), h, jnp.zeros_like(h)))


def peeky_decoder(embed_W, Wx, Wh, b, affine_W, affine_b, xs, h):
    """decoder's scores where h is also read at every step: the LSTM's input at step
    t is [h, embed(xs[:, t])], the affine's [h, the LSTM's h at t]."""
    hs = jnp.broadcast_to(h[:, None, :], (*xs.shape, h.shape[1]))
    words = jnp.concatenate([hs, embedding(embed_W, xs)], axis=-1)
    out = time_lstm(Wx, Wh, b, words, h, jnp.zeros_like(h))
    return affine(affine_W, affine_b, jnp.concatenate([hs, out], axis=-1))


def _seq2seq(decode):
    """The model on `decode` (decoder or peeky_decoder): its loss, and the scores
    its generate decodes from (`Spec.decode`)."""

    def scores(*args):
        """The decoder's scores of the words fed, started from the encoder's h of xs."""
        enc, dec, (xs, fed) = args[:4], args[4:10], args[10:]
        return decode(*dec, fed, encoder(*enc, xs))

    def loss(*args):
        """Encode xs; decode ts[:, :-1] from its h; mean softmax cross-entropy of the
        scores against ts[:, 1:]. A padded row of ts (PAD_LABEL) is fed as word 0 and
        not counted."""
        *params, xs, ts = args
        fed = jnp.where(ts[:, :-1] < 0, 0, ts[:, :-1])
        return softmax_cross_entropy(scores(*params, xs, fed), ts[:, 1:])

    return loss, scores


(seq2seq, seq2seq_scores), (peeky_seq2seq, peeky_seq2seq_scores) = _seq2seq(decoder), _seq2seq(peeky_decoder)


_XS = Arg("xs", ("N", "T"), "tokens")


def _decoder(name: str, params: tuple[Arg, ...], fn) -> Spec:
    def decode(*args):
        """generate(h, ...) decodes from h (its source) the words fed."""
        *params, h, fed = args
        return fn(*params, fed, h)

    return Spec(
        name,
        params=params,
        inputs=(_XS, Arg("h", ("N", "H"), "float")),
        output_axes=("N", "T", "V"),
        fn=fn,
        from_sizes=True,  # Decoder(vocab_size, wordvec_size, hidden_size)
        returns=("h",),  # backward(dscore) -> dh
        generates=True,  # generate(h, start_id, sample_size)
        decode=decode,
    )


def _model(name: str, decoder_params: tuple[Arg, ...], fn, scores) -> Spec:
    return Spec(
        name,
        params=(*ENCODER_PARAMS, *decoder_params),
        # xs, the encoder's words, have their own length S (the book's addition data:
        # 7 and 5), drawn apart from ts'. ts are word ids the decoder reads
        # (ts[:, :-1]) and is scored on (ts[:, 1:]): tokens, padded with PAD_LABEL so
        # that a padded step or row is not counted.
        inputs=(Arg("xs", ("N", "S"), "tokens"), Arg("ts", ("N", "T"), "tokens", pad=PAD_LABEL)),
        output_axes=(),
        fn=fn,
        kind="model",
        unpadded=("S",),  # the encoder's h is its last step's; the decoder's T pads
        min_dims=(("T", 2),),  # ts[:, 1:] must hold a word to score
        generates=True,  # generate(xs, start_id, sample_size)
        decode=scores,
    )


SPECS = (
    Spec(
        "Encoder",
        params=ENCODER_PARAMS,
        inputs=(_XS,),
        output_axes=("N", "H"),
        fn=encoder,
        from_sizes=True,  # Encoder(vocab_size, wordvec_size, hidden_size)
        pads_time=False,  # h is the last step's: padded steps would come after it
    ),
    _decoder("Decoder", DECODER_PARAMS, decoder),
    _model("Seq2seq", DECODER_PARAMS, seq2seq, seq2seq_scores),
    _decoder("PeekyDecoder", PEEKY_PARAMS, peeky_decoder),
    _model("PeekySeq2seq", PEEKY_PARAMS, peeky_seq2seq, peeky_seq2seq_scores),
)
