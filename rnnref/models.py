"""Language models built from the time layers."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
from numpy.typing import DTypeLike

from .time_layers import TimeAffine, TimeDropout, TimeEmbedding, TimeLSTM, TimeRNN, TimeSoftmaxWithLoss

__all__ = ["BetterRnnlm", "Rnnlm", "SimpleRnnlm"]



def _lstm_weights(rng: np.random.Generator, dtype: DTypeLike, D: int, H: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The book's LSTM initialisation: Wx (D, 4H), Wh (H, 4H) N(0, 1/fan_in), zero bias."""
    rn = rng.standard_normal
    return (
        (rn((D, 4 * H)) / np.sqrt(D)).astype(dtype),
        (rn((H, 4 * H)) / np.sqrt(H)).astype(dtype),
        np.zeros(4 * H, dtype=dtype),
    )

class SimpleRnnlm:
    """Embedding -> stateful TimeRNN -> TimeAffine -> TimeSoftmaxWithLoss.

    SimpleRnnlm(vocab_size V, wordvec_size D, hidden_size H) builds float32 weights
    with the book's initialisation (embedding N(0, 0.01^2), Xavier 1/sqrt(fan_in)
    for the RNN and the affine layer, zero biases). Keyword-only `dtype` (default
    float32) and `seed` or `rng` (a numpy Generator) make results reproducible
    without NumPy's global random state.

    params/grads: [embed_W (V, D), Wx (D, H), Wh (H, H), b (H,), affine_W (H, V),
    affine_b (V,)], the very arrays of the layers. forward(xs: (N, T) int, ts: (N, T)
    labels) -> loss; backward(dout=1) -> None.
    """

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
        rn = rng.standard_normal

        embed_W = (rn((V, D)) / 100).astype(dtype)
        rnn_Wx = (rn((D, H)) / np.sqrt(D)).astype(dtype)
        rnn_Wh = (rn((H, H)) / np.sqrt(H)).astype(dtype)
        rnn_b = np.zeros(H, dtype=dtype)
        affine_W = (rn((H, V)) / np.sqrt(H)).astype(dtype)
        affine_b = np.zeros(V, dtype=dtype)

        self.layers: list[TimeEmbedding | TimeRNN | TimeAffine] = [
            TimeEmbedding(embed_W),
            TimeRNN(rnn_Wx, rnn_Wh, rnn_b, stateful=True),
            TimeAffine(affine_W, affine_b),
        ]
        self.loss_layer = TimeSoftmaxWithLoss()
        self.rnn_layer = cast(TimeRNN, self.layers[1])

        self.params: list[np.ndarray] = []
        self.grads: list[np.ndarray] = []
        for layer in self.layers:
            self.params += layer.params
            self.grads += layer.grads

    def forward(self, xs: np.ndarray, ts: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            xs = layer.forward(xs)
        return self.loss_layer.forward(xs, ts)

    def backward(self, dout: float = 1) -> np.ndarray | None:
        # An array between the layers; the first layer's return at the end (None:
        # TimeEmbedding's backward returns nothing).
        grad: Any = self.loss_layer.backward(dout)
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def reset_state(self) -> None:
        self.rnn_layer.reset_state()


class _LanguageModel:
    """Layers in a row, then a loss; stateful layers reset together. Subclasses
    build `self.layers`, `self.loss_layer` and `self.stateful_layers`."""

    layers: list[Any]
    loss_layer: Any  # TimeSoftmaxWithLoss; SoftmaxWithLoss for TwoLayerNet
    stateful_layers: list[Any]

    @staticmethod
    def _setup(sizes: dict[str, int], dtype: DTypeLike, seed: int | None, rng: np.random.Generator | None):
        """Validated (V, D, H), dtype and generator from the constructor's arguments."""
        for name, value in sizes.items():
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int; got {value!r}")
        if seed is not None and rng is not None:
            raise TypeError("pass seed or rng, not both")
        dtype = np.dtype(dtype)
        if not np.issubdtype(dtype, np.floating):
            raise TypeError(f"dtype must be a float dtype; got {dtype}")
        return [int(v) for v in sizes.values()], dtype, (rng if rng is not None else np.random.default_rng(seed))

    def _collect(self) -> None:
        """params/grads: every layer's, in order, the very arrays of the layers."""
        self.params: list[np.ndarray] = []
        self.grads: list[np.ndarray] = []
        for layer in self.layers:
            self.params += layer.params
            self.grads += layer.grads

    def predict(self, xs: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            xs = layer.forward(xs)
        return xs

    def forward(self, xs: np.ndarray, ts: np.ndarray) -> np.ndarray:
        return self.loss_layer.forward(self.predict(xs), ts)

    def backward(self, dout: float = 1) -> np.ndarray | None:
        grad: Any = self.loss_layer.backward(dout)
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def reset_state(self) -> None:
        for layer in self.stateful_layers:
            layer.reset_state()


class Rnnlm(_LanguageModel):
    """Embedding -> stateful TimeLSTM -> TimeAffine -> TimeSoftmaxWithLoss (ch06).

    Rnnlm(vocab_size V=10000, wordvec_size D=100, hidden_size H=100), the book's
    initialisation in float32 (keyword-only `dtype`, `seed` or `rng` as in
    SimpleRnnlm). params/grads: [embed_W (V, D), Wx (D, 4H), Wh (H, 4H), b (4H,),
    affine_W (H, V), affine_b (V,)]. forward(xs, ts) -> loss; backward(dout=1);
    reset_state() clears the LSTM's h and c.
    """

    def __init__(
        self,
        vocab_size: int = 10000,
        wordvec_size: int = 100,
        hidden_size: int = 100,
        *,
        dtype: DTypeLike = np.float32,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        sizes = {"vocab_size": vocab_size, "wordvec_size": wordvec_size, "hidden_size": hidden_size}
        (V, D, H), dtype, rng = self._setup(sizes, dtype, seed, rng)
        rn = rng.standard_normal
        self.lstm_layer = TimeLSTM(*_lstm_weights(rng, dtype, D, H), stateful=True)
        self.layers = [
            TimeEmbedding((rn((V, D)) / 100).astype(dtype)),
            self.lstm_layer,
            TimeAffine((rn((H, V)) / np.sqrt(H)).astype(dtype), np.zeros(V, dtype=dtype)),
        ]
        self.loss_layer = TimeSoftmaxWithLoss()
        self.stateful_layers = [self.lstm_layer]
        self._collect()


class BetterRnnlm(_LanguageModel):
    """Two stateful TimeLSTMs with TimeDropout before, between and after them, and
    weight tying: the affine layer's weight is the embedding's transpose, a view
    of the same array (ch06, after Zaremba et al. and Press & Wolf).

    BetterRnnlm(vocab_size V=10000, wordvec_size D=650, hidden_size H=650,
    dropout_ratio=0.5); tying needs D == H. params/grads: [embed_W (V, H),
    Wx1, Wh1, b1, Wx2, Wh2, b2 (H, 4H), (H, 4H), (4H,), embed_W.T (H, V), affine_b
    (V,)]: the tied weight appears twice in params, as the book's does, and its
    gradient is the sum of grads[0] and grads[7].T (the book's optimizer sums
    duplicates). forward(xs, ts, train_flg=True): dropout only when training (the
    masks come from np.random, as the book's); predict(xs, train_flg=False).
    """

    def __init__(
        self,
        vocab_size: int = 10000,
        wordvec_size: int = 650,
        hidden_size: int = 650,
        dropout_ratio: float = 0.5,
        *,
        dtype: DTypeLike = np.float32,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        sizes = {"vocab_size": vocab_size, "wordvec_size": wordvec_size, "hidden_size": hidden_size}
        (V, D, H), dtype, rng = self._setup(sizes, dtype, seed, rng)
        if D != H:
            raise ValueError(f"weight tying needs wordvec_size == hidden_size; got {D} and {H}")
        rn = rng.standard_normal
        embed_W = (rn((V, D)) / 100).astype(dtype)

        self.drop_layers = [TimeDropout(dropout_ratio) for _ in range(3)]
        self.lstm_layers = [TimeLSTM(*_lstm_weights(rng, dtype, n, H), stateful=True) for n in (D, H)]
        self.layers = [
            TimeEmbedding(embed_W),
            self.drop_layers[0],
            self.lstm_layers[0],
            self.drop_layers[1],
            self.lstm_layers[1],
            self.drop_layers[2],
            TimeAffine(embed_W.T, np.zeros(V, dtype=dtype)),  # weight tying: a view, not a copy
        ]
        self.loss_layer = TimeSoftmaxWithLoss()
        self.stateful_layers = list(self.lstm_layers)
        self._collect()

    def predict(self, xs: np.ndarray, train_flg: bool = False) -> np.ndarray:
        for layer in self.drop_layers:
            layer.train_flg = train_flg
        return super().predict(xs)

    def forward(self, xs: np.ndarray, ts: np.ndarray, train_flg: bool = True) -> np.ndarray:
        return self.loss_layer.forward(self.predict(xs, train_flg), ts)
