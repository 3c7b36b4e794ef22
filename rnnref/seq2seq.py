"""Sequence to sequence (ch07): an LSTM encoder whose last hidden state starts an
LSTM decoder, trained with teacher forcing; the peeky decoder also reads that state
at every step."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .models import _LanguageModel, _lstm_weights
from .time_layers import TimeAffine, TimeEmbedding, TimeLSTM, TimeSoftmaxWithLoss

__all__ = ["Decoder", "Encoder", "PeekyDecoder", "PeekySeq2seq", "Seq2seq"]


class _Sized:
    """The constructor ch07's classes share: (vocab_size V, wordvec_size D,
    hidden_size H), keyword-only `dtype` (default float32), `seed` or `rng` as in
    SimpleRnnlm; validated, then `_build(V, D, H, dtype, rng)`."""

    def __init__(
        self,
        vocab_size: int,
        wordvec_size: int,
        hidden_size: int,
        *,
        dtype: DTypeLike = np.float32,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        sizes = {"vocab_size": vocab_size, "wordvec_size": wordvec_size, "hidden_size": hidden_size}
        (V, D, H), dtype, rng = _LanguageModel._setup(sizes, dtype, seed, rng)
        self._build(V, D, H, np.dtype(dtype), rng)

    def _build(self, V: int, D: int, H: int, dtype: np.dtype, rng: np.random.Generator) -> None:
        raise NotImplementedError


class Encoder(_Sized):
    """TimeEmbedding -> TimeLSTM(stateful=False); the last step's hidden state.

    Encoder(vocab_size V, wordvec_size D, hidden_size H), the book's initialisation
    (keyword-only `dtype`, `seed` or `rng` as in SimpleRnnlm). params/grads:
    [embed_W (V, D), Wx (D, 4H), Wh (H, 4H), b (4H,)]. forward(xs: (N, T) int) ->
    h (N, H); backward(dh) -> None (token ids have no gradient).
    """

    def _build(self, V: int, D: int, H: int, dtype: np.dtype, rng: np.random.Generator) -> None:
        self.embed = TimeEmbedding((rng.standard_normal((V, D)) / 100).astype(dtype))
        self.lstm = TimeLSTM(*_lstm_weights(rng, dtype, D, H), stateful=False)
        self.params: list[np.ndarray] = self.embed.params + self.lstm.params
        self.grads: list[np.ndarray] = self.embed.grads + self.lstm.grads
        self.hs: np.ndarray | None = None

    def forward(self, xs: np.ndarray) -> np.ndarray:
        hs = self.lstm.forward(self.embed.forward(xs))
        self.hs = hs
        return hs[:, -1, :]

    def backward(self, dh: np.ndarray) -> None:
        if self.hs is None:
            raise RuntimeError("backward called before forward")
        dhs = np.zeros_like(self.hs)
        dhs[:, -1, :] = dh  # only the last step reaches the decoder
        self.embed.backward(self.lstm.backward(dhs))


class Decoder(_Sized):
    """TimeEmbedding -> TimeLSTM started from the encoder's h -> TimeAffine.

    Decoder(vocab_size V, wordvec_size D, hidden_size H), initialised as Encoder.
    params/grads: [embed_W (V, D), Wx (D, 4H), Wh (H, 4H), b (4H,), affine_W (H, V),
    affine_b (V,)]. forward(xs: (N, T) int, h: (N, H)) -> score (N, T, V) (teacher
    forcing: xs are the true previous tokens); backward(dscore) -> dh (N, H), the
    gradient of the initial state. generate(h, start_id, sample_size) -> the greedy
    (argmax) ids, one batch row, leaving params and grads unchanged.
    """

    def _build(self, V: int, D: int, H: int, dtype: np.dtype, rng: np.random.Generator) -> None:
        rn = rng.standard_normal
        lstm_in, affine_in = self._widths(D, H)
        self.embed = TimeEmbedding((rn((V, D)) / 100).astype(dtype))
        self.lstm = TimeLSTM(*_lstm_weights(rng, dtype, lstm_in, H), stateful=True)
        self.affine = TimeAffine((rn((affine_in, V)) / np.sqrt(affine_in)).astype(dtype), np.zeros(V, dtype=dtype))
        self.params: list[np.ndarray] = []
        self.grads: list[np.ndarray] = []
        for layer in (self.embed, self.lstm, self.affine):
            self.params += layer.params
            self.grads += layer.grads

    @staticmethod
    def _widths(D: int, H: int) -> tuple[int, int]:
        """The widths of the LSTM's input and of the affine's: the word, the LSTM's h."""
        return D, H

    def _scores(self, xs: np.ndarray, encoded: np.ndarray) -> np.ndarray:
        """The scores of xs from the LSTM's current state; `encoded` is what the
        encoder gave (unused here; AttentionDecoder attends over it)."""
        return self.affine.forward(self.lstm.forward(self.embed.forward(xs)))

    def forward(self, xs: np.ndarray, h: np.ndarray) -> np.ndarray:
        self.lstm.set_state(h)
        return self._scores(xs, h)

    def backward(self, dscore: np.ndarray) -> np.ndarray:
        dout = self.lstm.backward(self.affine.backward(dscore))
        self.embed.backward(dout)
        dh = self.lstm.dh  # the gradient of h, which set_state started the LSTM from
        assert dh is not None  # set by the LSTM's backward
        return dh

    def generate(self, h: np.ndarray, start_id: int, sample_size: int) -> list[int]:
        return self._greedy(h, h, start_id, sample_size)

    def _greedy(self, h: np.ndarray, encoded: np.ndarray, start_id: int, sample_size: int) -> list[int]:
        """Greedy decoding from state h, each step's argmax fed to the next."""
        sampled: list[int] = []
        sample_id = start_id
        self.lstm.set_state(h)
        for _ in range(sample_size):
            score = self._scores(np.array(sample_id).reshape((1, 1)), encoded)
            sample_id = int(np.argmax(score.flatten()))
            sampled.append(sample_id)
        return sampled


class Seq2seq(_Sized):
    """Encoder -> Decoder -> TimeSoftmaxWithLoss (ch07).

    Seq2seq(vocab_size V, wordvec_size D, hidden_size H). params/grads: the
    encoder's then the decoder's (10 arrays). forward(xs: (N, T) int, ts: (N, T')
    int, T' >= 2) -> loss: the decoder is fed ts[:, :-1] and scored on ts[:, 1:];
    backward(dout=1) -> None. generate(xs, start_id, sample_size) -> ids.
    """

    def _build(self, V: int, D: int, H: int, dtype: np.dtype, rng: np.random.Generator) -> None:
        self.encoder: Any = self._encoder(V, D, H, dtype=dtype, rng=rng)
        self.decoder: Any = self._decoder(V, D, H, dtype=dtype, rng=rng)
        self.softmax = TimeSoftmaxWithLoss()
        self.params: list[np.ndarray] = self.encoder.params + self.decoder.params
        self.grads: list[np.ndarray] = self.encoder.grads + self.decoder.grads

    _encoder: type[Encoder] = Encoder
    _decoder: type[Decoder] = Decoder

    def forward(self, xs: np.ndarray, ts: np.ndarray) -> np.ndarray:
        ts = np.asarray(ts)
        if ts.ndim != 2 or ts.shape[1] < 2:
            raise ValueError(f"ts must be (N, T') with T' >= 2 (the decoder reads ts[:, :-1]); got shape {ts.shape}")
        decoder_xs, decoder_ts = ts[:, :-1], ts[:, 1:]
        h = self.encoder.forward(xs)
        return self.softmax.forward(self.decoder.forward(decoder_xs, h), decoder_ts)

    def backward(self, dout: float = 1) -> None:
        dh = self.decoder.backward(self.softmax.backward(dout))
        self.encoder.backward(dh)

    def generate(self, xs: np.ndarray, start_id: int, sample_size: int) -> list[int]:
        return self.decoder.generate(self.encoder.forward(xs), start_id, sample_size)


class PeekyDecoder(Decoder):
    """Decoder whose LSTM and affine also read the encoder's h at every step (ch07).

    PeekyDecoder(vocab_size V, wordvec_size D, hidden_size H), initialised as the
    book's. params/grads: [embed_W (V, D), Wx (H + D, 4H), Wh (H, 4H), b (4H,),
    affine_W (H + H, V), affine_b (V,)]: the LSTM reads [h, word] at each step, the
    affine [h, the LSTM's h]. forward(xs: (N, T) int, h: (N, H)) -> score (N, T, V);
    backward(dscore) -> dh (N, H): the gradient through the LSTM's initial state
    plus, summed over the steps, the h parts of both concatenations' gradients.
    generate(h, start_id, sample_size) feeds h to every step.
    """

    @staticmethod
    def _widths(D: int, H: int) -> tuple[int, int]:
        return H + D, H + H

    def _scores(self, xs: np.ndarray, h: np.ndarray) -> np.ndarray:
        N, T = np.shape(xs)
        self.H = H = h.shape[1]
        hs = np.broadcast_to(h[:, None, :], (N, T, H))  # h peeked at every step
        out = self.lstm.forward(np.concatenate((hs, self.embed.forward(xs)), axis=2))
        return self.affine.forward(np.concatenate((hs, out), axis=2))

    def backward(self, dscore: np.ndarray) -> np.ndarray:
        dout = self.affine.backward(dscore)  # raises first if forward has not run
        H = self.H
        dhs_affine, dout = dout[:, :, :H], dout[:, :, H:]
        dx = self.lstm.backward(dout)
        dhs_lstm, dembed = dx[:, :, :H], dx[:, :, H:]
        self.embed.backward(dembed)
        dhs = dhs_affine + dhs_lstm
        assert self.lstm.dh is not None  # set by the LSTM's backward
        return self.lstm.dh + dhs.sum(axis=1)  # h fed every step: its gradients add up


class PeekySeq2seq(Seq2seq):
    """Seq2seq with a PeekyDecoder (ch07): PeekySeq2seq(vocab_size V, wordvec_size D,
    hidden_size H); params/grads, forward, backward and generate as Seq2seq's, the
    decoder's Wx being (H + D, 4H) and affine_W (H + H, V)."""

    _decoder = PeekyDecoder
