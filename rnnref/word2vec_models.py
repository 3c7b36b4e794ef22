"""The small networks of the book's chapters 1, 3 and 4, built from the plain layers:
TwoLayerNet (ch01/two_layer_net.py), SimpleCBOW and SimpleSkipGram (ch03), CBOW and
SkipGram over negative sampling (ch04/cbow.py, ch04/skip_gram.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from ._validate import int_array, onehot_rows
from .layers import Affine, Embedding, MatMul, Sigmoid, SoftmaxWithLoss
from .models import _LanguageModel
from .time_layers import TimeEmbedding
from .word2vec import NegativeSamplingLoss

__all__ = ["CBOW", "SimpleCBOW", "SimpleSkipGram", "SkipGram", "TwoLayerNet"]


class TwoLayerNet(_LanguageModel):
    """Affine -> Sigmoid -> Affine -> SoftmaxWithLoss (ch01).

    TwoLayerNet(input_size D, hidden_size H, output_size V): weights N(0, 0.01^2),
    zero biases, float64 like the book's (keyword-only `dtype`, `seed` or `rng` as in
    SimpleRnnlm). params/grads: [W1 (D, H), b1 (H,), W2 (H, V), b2 (V,)], the
    layers' own arrays. forward(x: (N, D) float, t: (N,) class ids or (N, V) one-hot)
    -> loss; backward(dout=1) -> dx: (N, D); predict(x) -> scores (N, V).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        *,
        dtype: DTypeLike = np.float64,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        sizes = {"input_size": input_size, "hidden_size": hidden_size, "output_size": output_size}
        (D, H, V), dtype, rng = _LanguageModel._setup(sizes, dtype, seed, rng)
        rn = rng.standard_normal
        self.layers: list[Any] = [
            Affine((0.01 * rn((D, H))).astype(dtype), np.zeros(H, dtype=dtype)),
            Sigmoid(),
            Affine((0.01 * rn((H, V))).astype(dtype), np.zeros(V, dtype=dtype)),
        ]
        self.loss_layer = SoftmaxWithLoss()
        self.stateful_layers = []
        self._collect()


def _word_vectors(
    vocab_size: int, hidden_size: int, dtype: DTypeLike, seed: int | None, rng: np.random.Generator | None
) -> tuple[np.ndarray, np.ndarray]:
    """ch03's W_in (V, H) and W_out (H, V), drawn N(0, 0.01^2) as the book draws them."""
    sizes = {"vocab_size": vocab_size, "hidden_size": hidden_size}
    (V, H), dtype, rng = _LanguageModel._setup(sizes, dtype, seed, rng)
    rn = rng.standard_normal
    return (0.01 * rn((V, H))).astype(dtype), (0.01 * rn((H, V))).astype(dtype)


class SimpleSkipGram(_LanguageModel):
    """Skip-gram on one-hot words (ch03): the target's vector h = target @ W_in, the
    scores s = h @ W_out, and one SoftmaxWithLoss per context word, summed.

    SimpleSkipGram(vocab_size V, hidden_size H): W_in (V, H) and W_out (H, V) drawn
    N(0, 0.01^2) in float32 like the book's (keyword-only `dtype`, `seed` or `rng`).
    params/grads: [W_in, W_out]; word_vecs is W_in. forward(contexts: (N, 2, V)
    one-hot, target: (N, V) one-hot) -> loss (the sum of the two context words'
    mean losses); backward(dout=1) -> None.
    """

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        *,
        dtype: DTypeLike = np.float32,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        W_in, W_out = _word_vectors(vocab_size, hidden_size, dtype, seed, rng)
        self.in_layer = MatMul(W_in)
        self.out_layer = MatMul(W_out)
        self.layers = [self.in_layer, self.out_layer]
        self.loss_layers = [SoftmaxWithLoss(), SoftmaxWithLoss()]
        self.stateful_layers = []
        self._collect()
        self.word_vecs = self.params[0]

    def forward(self, contexts: np.ndarray, target: np.ndarray) -> np.ndarray:
        V = self.params[0].shape[0]
        target = onehot_rows("target", target, ("N", V))
        contexts = onehot_rows("contexts", contexts, (target.shape[0], 2, V))
        s = self.predict(target.astype(self.params[0].dtype))
        l0, l1 = (loss.forward(s, contexts[:, k]) for k, loss in enumerate(self.loss_layers))
        return l0 + l1

    def backward(self, dout: float = 1) -> None:
        # The scores feed both losses: their gradients add.
        ds = self.loss_layers[0].backward(dout) + self.loss_layers[1].backward(dout)
        self.in_layer.backward(self.out_layer.backward(ds))
        return None


class SimpleCBOW(_LanguageModel):
    """CBOW on one-hot words (ch03): h = the mean of the two context words' vectors
    (each context @ W_in), scores h @ W_out, SoftmaxWithLoss against the target.

    SimpleCBOW(vocab_size V, hidden_size H): W_in (V, H) and W_out (H, V) drawn
    N(0, 0.01^2) in float32 like the book's (keyword-only `dtype`, `seed` or `rng`).
    params/grads: [W_in, W_in, W_out]: one MatMul(W_in) per context word, the same
    array listed twice as the book's, so the gradient of W_in is grads[0] +
    grads[1] (the book's optimizer sums duplicates); word_vecs is W_in.
    forward(contexts: (N, 2, V) one-hot, target: (N, V) one-hot) -> loss;
    backward(dout=1) -> None.
    """

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        *,
        dtype: DTypeLike = np.float32,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        W_in, W_out = _word_vectors(vocab_size, hidden_size, dtype, seed, rng)
        self.in_layers = [MatMul(W_in), MatMul(W_in)]
        self.out_layer = MatMul(W_out)
        self.layers = [*self.in_layers, self.out_layer]
        self.loss_layer = SoftmaxWithLoss()
        self.stateful_layers = []
        self._collect()
        self.word_vecs = W_in

    def predict(self, contexts: np.ndarray) -> np.ndarray:
        """contexts: (N, 2, V) one-hot -> scores (N, V)."""
        W_in = self.params[0]
        contexts = onehot_rows("contexts", contexts, ("N", 2, W_in.shape[0])).astype(W_in.dtype)
        h0, h1 = (layer.forward(contexts[:, k]) for k, layer in enumerate(self.in_layers))
        return self.out_layer.forward((h0 + h1) * 0.5)

    def forward(self, contexts: np.ndarray, target: np.ndarray) -> np.ndarray:
        target = onehot_rows("target", target, (np.shape(contexts)[0], self.params[0].shape[0]))
        return self.loss_layer.forward(self.predict(contexts), target)

    def backward(self, dout: float = 1) -> None:
        # h is the mean of the two context vectors: each gets half of dh.
        dh = self.out_layer.backward(self.loss_layer.backward(dout)) * 0.5
        for layer in self.in_layers:
            layer.backward(dh)
        return None


class _NegativeSamplingModel:
    """What CBOW and SkipGram share: the constructor (vocab_size, hidden_size,
    window_size, corpus), W_in and W_out (V, H) drawn N(0, 0.01^2) as the book draws
    them, in float32 like the book's unless `dtype` says (keyword-only, with `seed`
    or `rng`); word_vecs is W_in. A subclass builds its layers in `_build`."""

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        window_size: int,
        corpus: np.ndarray,
        *,
        dtype: DTypeLike = np.float32,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        sizes = {"vocab_size": vocab_size, "hidden_size": hidden_size, "window_size": window_size}
        (V, H, window), dtype, rng = _LanguageModel._setup(sizes, dtype, seed, rng)
        rn = rng.standard_normal
        W_in, W_out = (0.01 * rn((V, H))).astype(dtype), (0.01 * rn((V, H))).astype(dtype)
        self.n_contexts = 2 * window
        self._build(W_in, W_out, corpus)
        self.word_vecs = W_in

    def _build(self, W_in: np.ndarray, W_out: np.ndarray, corpus: np.ndarray) -> None:
        raise NotImplementedError


class CBOW(_NegativeSamplingModel):
    """CBOW over negative sampling (ch04/cbow.py): h = the mean of the context words'
    rows of W_in, and NegativeSamplingLoss(W_out, corpus) of h against the target.

    CBOW(vocab_size V, hidden_size H, window_size, corpus): W_in and W_out (V, H)
    drawn N(0, 0.01^2) in float32 like the book's (keyword-only `dtype`, `seed` or
    `rng`); the loss draws 5 negatives a row from count ** 0.75 (np.random, as the
    book's). params/grads: [W_in, W_out], each listed once (the book lists W_in once
    per context word and W_out once per EmbeddingDot: 2 * window_size + 6 entries);
    word_vecs is W_in. forward(contexts: (N, 2 * window_size) ids, target: (N,) ids)
    -> loss; backward(dout=1) -> None.
    """

    def _build(self, W_in: np.ndarray, W_out: np.ndarray, corpus: np.ndarray) -> None:
        self.in_layer = TimeEmbedding(W_in)  # every context word's row at once: (N, 2 * window_size, H)
        self.ns_loss = NegativeSamplingLoss(W_out, corpus, power=0.75, sample_size=5)
        self.params = [*self.in_layer.params, *self.ns_loss.params]
        self.grads = [*self.in_layer.grads, *self.ns_loss.grads]

    def forward(self, contexts: np.ndarray, target: np.ndarray) -> np.ndarray:
        contexts = int_array("contexts", contexts, ("N", self.n_contexts))
        h = self.in_layer.forward(contexts).sum(axis=1) * (1 / self.n_contexts)
        return self.ns_loss.forward(h, target)

    def backward(self, dout: float = 1) -> None:
        # h is the mean of the context rows: each gets dh / (2 * window_size).
        dh = self.ns_loss.backward(dout) * (1 / self.n_contexts)
        self.in_layer.backward(np.repeat(dh[:, None, :], self.n_contexts, axis=1))
        return None


class SkipGram(_NegativeSamplingModel):
    """Skip-gram over negative sampling (ch04/skip_gram.py): h = the target's row of
    W_in, and one NegativeSamplingLoss(W_out, corpus) of h per context word, summed.

    SkipGram(vocab_size V, hidden_size H, window_size, corpus): as CBOW (float32,
    keyword-only `dtype`, `seed` or `rng`). Each context word's loss draws its own
    negatives, the first context's rows first. params/grads: [W_in, W_out], each
    listed once, grads[1] the sum over the context words' losses (the book lists
    W_out 6 times per context word). forward(contexts: (N, 2 * window_size) ids,
    target: (N,) ids) -> loss; backward(dout=1) -> None.
    """

    def _build(self, W_in: np.ndarray, W_out: np.ndarray, corpus: np.ndarray) -> None:
        self.in_layer = Embedding(W_in)
        self.loss_layers = [
            NegativeSamplingLoss(W_out, corpus, power=0.75, sample_size=5) for _ in range(self.n_contexts)
        ]
        self.params = [W_in, W_out]
        self.grads = [self.in_layer.grads[0], np.zeros_like(W_out)]

    def forward(self, contexts: np.ndarray, target: np.ndarray) -> np.ndarray:
        contexts = int_array("contexts", contexts, ("N", len(self.loss_layers)))
        h = self.in_layer.forward(target)
        return sum((layer.forward(h, contexts[:, k]) for k, layer in enumerate(self.loss_layers)), np.zeros((), h.dtype))

    def backward(self, dout: float = 1) -> None:
        # h feeds every context word's loss: its gradients add, and so do W_out's.
        dh = np.sum([layer.backward(dout) for layer in self.loss_layers], axis=0)
        self.in_layer.backward(dh)
        dW_out = self.grads[1]
        dW_out[...] = np.sum([layer.grads[0] for layer in self.loss_layers], axis=0)
        return None
