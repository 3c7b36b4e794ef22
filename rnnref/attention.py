"""Attention (ch08): a decoder that reads, at every step, a weighted sum of all the
encoder's hidden states, the weights a softmax over the encoder steps of the dot
products between each encoder state and the decoder's state."""

from __future__ import annotations

import numpy as np

from ._validate import float_array
from .seq2seq import Decoder, Encoder, Seq2seq

__all__ = [
    "Attention",
    "AttentionDecoder",
    "AttentionEncoder",
    "AttentionSeq2seq",
    "AttentionWeight",
    "TimeAttention",
    "WeightSum",
]


def _before_forward(layer: object) -> RuntimeError:
    return RuntimeError(f"{type(layer).__name__}.backward called before forward")


def _states_and_vector(hs: object, h: object, h_name: str) -> tuple[np.ndarray, np.ndarray]:
    """hs (N, T, H) and a vector per row, h_name (N, T) or (N, H) given by its last letter."""
    hs = float_array("hs", hs, ("N", "T", "H"))
    N, T, H = hs.shape
    h = float_array(h_name, h, (N, T if h_name == "a" else H))
    return hs, h


class WeightSum:
    """The context vector: the encoder states weighted by the attention weights.

    forward(hs: (N, T, H), a: (N, T)) -> c (N, H), c[n] = sum_t a[n, t] hs[n, t];
    backward(dc: (N, H)) -> (dhs (N, T, H), da (N, T)). No params.
    """

    def __init__(self) -> None:
        self.params: list[np.ndarray] = []
        self.grads: list[np.ndarray] = []
        self.cache: tuple[np.ndarray, np.ndarray] | None = None

    def forward(self, hs: np.ndarray, a: np.ndarray) -> np.ndarray:
        hs, a = _states_and_vector(hs, a, "a")
        self.cache = (hs.copy(), a.copy())  # the caller may edit its arrays after the call
        return np.sum(hs * a[:, :, np.newaxis], axis=1)

    def backward(self, dc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.cache is None:
            raise _before_forward(self)
        hs, a = self.cache
        dc = float_array("dc", dc, (hs.shape[0], hs.shape[2]))
        dhs = dc[:, np.newaxis, :] * a[:, :, np.newaxis]  # every step gets dc, scaled by its weight
        da = np.sum(hs * dc[:, np.newaxis, :], axis=2)  # a[n, t] multiplied all H entries of hs[n, t]
        return dhs, da


class AttentionWeight:
    """The attention weights: a softmax over the encoder steps of hs[n, t] . h[n].

    forward(hs: (N, T, H), h: (N, H)) -> a (N, T), every row a probability
    distribution over T; backward(da: (N, T)) -> (dhs (N, T, H), dh (N, H)). No params.
    """

    def __init__(self) -> None:
        self.params: list[np.ndarray] = []
        self.grads: list[np.ndarray] = []
        self.cache: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def forward(self, hs: np.ndarray, h: np.ndarray) -> np.ndarray:
        hs, h = _states_and_vector(hs, h, "h")
        s = np.sum(hs * h[:, np.newaxis, :], axis=2)  # the score of each encoder step
        e = np.exp(s - np.max(s, axis=1, keepdims=True))  # max shift: exp never overflows
        a = e / np.sum(e, axis=1, keepdims=True)  # normalised over the encoder steps T
        self.cache = (hs.copy(), h.copy(), a)
        return a.copy()  # the caller may edit what we return; our cache stays

    def backward(self, da: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.cache is None:
            raise _before_forward(self)
        hs, h, a = self.cache
        da = float_array("da", da, a.shape)
        # The softmax's Jacobian diag(a) - a a^T applied to da, row by row over T.
        ds = a * (da - np.sum(da * a, axis=1, keepdims=True))
        dhs = ds[:, :, np.newaxis] * h[:, np.newaxis, :]
        dh = np.sum(ds[:, :, np.newaxis] * hs, axis=1)
        return dhs, dh


class Attention:
    """AttentionWeight then WeightSum: the context vector for one decoder state.

    forward(hs: (N, T, H), h: (N, H)) -> c (N, H); backward(dc) -> (dhs, dh), dhs
    the sum of its two paths (through the weights and through the weighted sum).
    `attention_weight` holds the last forward's weights (N, T).
    """

    def __init__(self) -> None:
        self.params: list[np.ndarray] = []
        self.grads: list[np.ndarray] = []
        self.attention_weight_layer = AttentionWeight()
        self.weight_sum_layer = WeightSum()
        self.attention_weight: np.ndarray | None = None

    def forward(self, hs: np.ndarray, h: np.ndarray) -> np.ndarray:
        a = self.attention_weight_layer.forward(hs, h)
        self.attention_weight = a
        return self.weight_sum_layer.forward(hs, a.copy())

    def backward(self, dc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dhs_sum, da = self.weight_sum_layer.backward(dc)
        dhs_weight, dh = self.attention_weight_layer.backward(da)
        dhs = dhs_sum + dhs_weight  # hs is read twice: by the weights and by the sum
        return dhs, dh


class TimeAttention:
    """Attention at every decoder step over the same encoder states.

    forward(hs_enc: (N, T_enc, H), hs_dec: (N, T_dec, H)) -> (N, T_dec, H), step t
    the context vector for hs_dec[:, t]; backward(dout) -> (dhs_enc, dhs_dec),
    dhs_enc summed over the decoder steps. `attention_weights`: one (N, T_enc) per
    decoder step.
    """

    def __init__(self) -> None:
        self.params: list[np.ndarray] = []
        self.grads: list[np.ndarray] = []
        self.layers: list[Attention] | None = None
        self.attention_weights: list[np.ndarray] = []
        self.shapes: tuple[tuple[int, ...], tuple[int, ...]] | None = None

    def forward(self, hs_enc: np.ndarray, hs_dec: np.ndarray) -> np.ndarray:
        hs_enc = float_array("hs_enc", hs_enc, ("N", "T_enc", "H"))
        N, _, H = hs_enc.shape
        hs_dec = float_array("hs_dec", hs_dec, (N, "T_dec", H))
        out = np.empty(hs_dec.shape, dtype=np.result_type(hs_enc, hs_dec))
        self.layers, self.attention_weights = [], []
        for t in range(hs_dec.shape[1]):
            layer = Attention()
            out[:, t, :] = layer.forward(hs_enc, hs_dec[:, t, :])
            self.layers.append(layer)
            assert layer.attention_weight is not None  # set by its forward
            self.attention_weights.append(layer.attention_weight)
        self.shapes = (hs_enc.shape, hs_dec.shape)
        return out

    def backward(self, dout: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.layers is None or self.shapes is None:
            raise _before_forward(self)
        enc_shape, dec_shape = self.shapes
        dout = float_array("dout", dout, dec_shape)
        dhs_enc = np.zeros(enc_shape, dtype=dout.dtype)
        dhs_dec = np.empty(dec_shape, dtype=dout.dtype)
        for t, layer in enumerate(self.layers):
            dhs, dh = layer.backward(dout[:, t, :])
            dhs_enc += dhs  # every decoder step read all of hs_enc
            dhs_dec[:, t, :] = dh
        return dhs_enc, dhs_dec


class AttentionEncoder(Encoder):
    """Encoder returning every step's hidden state, which the attention reads.

    AttentionEncoder(vocab_size V, wordvec_size D, hidden_size H), as Encoder.
    forward(xs: (N, T) int) -> hs (N, T, H); backward(dhs (N, T, H)) -> None.
    """

    def forward(self, xs: np.ndarray) -> np.ndarray:
        hs = self.lstm.forward(self.embed.forward(xs))
        self.hs = hs
        return hs.copy()  # the caller may edit what we return

    def backward(self, dhs: np.ndarray) -> None:
        self.embed.backward(self.lstm.backward(dhs))


class AttentionDecoder(Decoder):
    """TimeEmbedding -> TimeLSTM started from enc_hs[:, -1] -> TimeAttention over
    enc_hs -> TimeAffine of [context, decoder state].

    AttentionDecoder(vocab_size V, wordvec_size D, hidden_size H), initialised as
    Decoder. params/grads: [embed_W (V, D), Wx (D, 4H), Wh (H, 4H), b (4H,),
    affine_W (2H, V), affine_b (V,)]. forward(xs: (N, T) int, enc_hs: (N, T_enc, H))
    -> score (N, T, V); backward(dscore) -> denc_hs (N, T_enc, H): the attention's
    gradient plus, at the last encoder step, the LSTM's dh. generate(enc_hs,
    start_id, sample_size) -> greedy ids.
    """

    @staticmethod
    def _widths(D: int, H: int) -> tuple[int, int]:
        """The LSTM reads the word; the affine [context | state]."""
        return D, 2 * H

    def _build(self, V: int, D: int, H: int, dtype: np.dtype, rng: np.random.Generator) -> None:
        super()._build(V, D, H, dtype, rng)
        self.attention = TimeAttention()

    def _scores(self, xs: np.ndarray, encoded: np.ndarray) -> np.ndarray:
        dec_hs = self.lstm.forward(self.embed.forward(xs))
        c = self.attention.forward(encoded, dec_hs)
        return self.affine.forward(np.concatenate((c, dec_hs), axis=2))

    def forward(self, xs: np.ndarray, enc_hs: np.ndarray) -> np.ndarray:
        enc_hs = float_array("enc_hs", enc_hs, ("N", "T_enc", "H"))
        self.lstm.set_state(enc_hs[:, -1])
        return self._scores(xs, enc_hs)

    def backward(self, dscore: np.ndarray) -> np.ndarray:
        dout = self.affine.backward(dscore)
        H = dout.shape[2] // 2
        dc, ddec_hs = dout[:, :, :H], dout[:, :, H:]  # the forward concatenated (c, dec_hs)
        denc_hs, ddec_hs_attention = self.attention.backward(dc)
        self.embed.backward(self.lstm.backward(ddec_hs + ddec_hs_attention))
        dh = self.lstm.dh  # the gradient of the LSTM's initial state, enc_hs[:, -1]
        assert dh is not None  # set by the LSTM's backward
        denc_hs[:, -1] += dh
        return denc_hs

    def generate(self, enc_hs: np.ndarray, start_id: int, sample_size: int) -> list[int]:
        return self._greedy(enc_hs[:, -1], enc_hs, start_id, sample_size)


class AttentionSeq2seq(Seq2seq):
    """AttentionEncoder -> AttentionDecoder -> TimeSoftmaxWithLoss (ch08).

    AttentionSeq2seq(vocab_size V, wordvec_size D, hidden_size H); forward(xs, ts)
    -> loss (teacher forcing as Seq2seq), backward(dout=1) -> None, generate(xs,
    start_id, sample_size) -> ids. params/grads: the encoder's then the decoder's.
    """

    _encoder = AttentionEncoder
    _decoder = AttentionDecoder
