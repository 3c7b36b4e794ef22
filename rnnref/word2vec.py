"""The word2vec layers of the book's chapter 4 (`ch04/negative_sampling_layer.py`).

Same protocol as `layers.py`: `params` and `grads` lists, gradients written into
the arrays of `grads`, each backward replacing the previous one.
"""

from __future__ import annotations

import numpy as np

from ._validate import float_array, int_array
from .functions import log_sigmoid, sigmoid
from .layers import _before_forward, check_token_range

__all__ = ["EmbeddingDot", "NegativeSamplingLoss", "UnigramSampler"]


class EmbeddingDot:
    """The score of each row of h against the embedding of its target word:
    out[n] = h[n] . W[idx[n]].

    W: (V, D) float, the dtype the layer computes in. forward(h: (N, D), idx: (N,)
    int) -> (N,); backward(dout: (N,)) -> dh: (N, D), and dW written into grads[0].
    """

    def __init__(self, W: np.ndarray) -> None:
        W = float_array("W", W, ("V", "D"))
        self.params = [W]
        self.grads = [np.zeros_like(W)]
        self.cache: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def forward(self, h: np.ndarray, idx: np.ndarray) -> np.ndarray:
        (W,) = self.params
        idx = int_array("idx", idx, ("N",))
        check_token_range("idx", idx, W.shape[0])
        h = float_array("h", h, (idx.shape[0], W.shape[1])).astype(W.dtype)  # a copy: the caller may edit h
        target_W = W[idx]
        self.cache = (h, idx.copy(), target_W)
        return np.sum(target_W * h, axis=1)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self.cache is None:
            raise _before_forward(self)
        h, idx, target_W = self.cache
        (dW,) = self.grads
        dout = float_array("dout", dout, (idx.shape[0],)).astype(dW.dtype, copy=False)[:, None]
        dW[...] = 0
        # A target that appears in two rows gets both contributions (fancy-index
        # assignment dW[idx] += ... would keep only one of them).
        np.add.at(dW, idx, dout * h)
        return dout * target_W


class UnigramSampler:
    """Negative words drawn from the corpus's unigram distribution raised to `power`.

    corpus: 1-d int word ids >= 0; the vocabulary is [0, max id], a word absent
    from the corpus has probability 0. get_negative_sample(target: (N,) int) ->
    (N, sample_size) int: row n holds sample_size distinct words, none of them
    target[n], drawn with np.random.choice (NumPy's global generator, as the book
    does) from p(w) proportional to count(w) ** power with target[n]'s p set to 0.
    """

    def __init__(self, corpus: np.ndarray, power: float, sample_size: int) -> None:
        corpus = int_array("corpus", corpus, (None,))
        if corpus.size == 0 or corpus.min() < 0:
            raise ValueError("corpus must hold at least one word id, all >= 0")
        if not isinstance(sample_size, (int, np.integer)) or sample_size < 1:
            raise ValueError(f"sample_size must be a positive int; got {sample_size!r}")
        counts = np.bincount(corpus)
        if np.count_nonzero(counts) < sample_size + 1:
            raise ValueError(
                f"the corpus has {np.count_nonzero(counts)} distinct words: sample_size={sample_size} distinct "
                "negatives besides the target need at least sample_size + 1"
            )
        self.sample_size = int(sample_size)
        self.vocab_size = counts.size
        word_p = np.power(counts.astype(np.float64), power)
        self.word_p = word_p / word_p.sum()

    def get_negative_sample(self, target: np.ndarray) -> np.ndarray:
        target = int_array("target", target, ("N",))
        check_token_range("target", target, self.vocab_size)
        negative = np.zeros((target.shape[0], self.sample_size), dtype=np.int64)
        for n, t in enumerate(target):
            # The legacy global generator on purpose: the book's draw, which a caller seeds.
            negative[n] = np.random.choice(self.vocab_size, size=self.sample_size, replace=False, p=self.row_p(t))  # noqa: NPY002
        return negative

    def row_p(self, target_word: int) -> np.ndarray:
        """The distribution a row draws its negatives from: word_p with its target's share removed."""
        p = self.word_p.copy()
        p[target_word] = 0  # a word is never its own negative
        return p / p.sum()


class NegativeSamplingLoss:
    """Binary cross-entropy of the target word against sample_size negatives.

    W: (V, D) float, the output embeddings (listed once in `params`; the book lists
    it sample_size + 1 times, once per EmbeddingDot, and its optimizer sums the
    duplicates). forward(h: (N, D), target: (N,) int) -> loss (0-d): with negatives
    drawn by `sampler` (N, S),

        loss = mean_n [ -log sigmoid(h[n] . W[target[n]])
                        - sum_s log sigmoid(-h[n] . W[neg[n, s]]) ],

    the book's sum of sample_size + 1 SigmoidWithLoss means over the batch.
    backward(dout=1) -> dh: (N, D), dW written into grads[0].
    """

    def __init__(self, W: np.ndarray, corpus: np.ndarray, power: float = 0.75, sample_size: int = 5) -> None:
        W = float_array("W", W, ("V", "D"))
        self.sampler = UnigramSampler(corpus, power, sample_size)
        if self.sampler.vocab_size > W.shape[0]:
            raise ValueError(f"the corpus holds word id {self.sampler.vocab_size - 1}; W has {W.shape[0]} rows")
        self.sample_size = self.sampler.sample_size
        self.params = [W]
        self.grads = [np.zeros_like(W)]
        self.cache: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    def forward(self, h: np.ndarray, target: np.ndarray) -> np.ndarray:
        (W,) = self.params
        target = int_array("target", target, ("N",))
        check_token_range("target", target, W.shape[0])
        h = float_array("h", h, (target.shape[0], W.shape[1])).astype(W.dtype)  # a copy: the caller may edit h
        negative = self.sampler.get_negative_sample(target)
        words = np.concatenate([target[:, None], negative], axis=1)  # (N, 1 + S): the target first
        label = np.zeros(words.shape, dtype=W.dtype)
        label[:, 0] = 1
        score = np.einsum("nsd,nd->ns", W[words], h)
        self.cache = (h, words, score, label)
        # -log sigmoid(x) for the target, -log sigmoid(-x) for a negative
        signed = np.where(label == 1, score, -score)
        return np.asarray(-log_sigmoid(signed).sum() / target.shape[0], dtype=W.dtype)

    def backward(self, dout: float = 1) -> np.ndarray:
        if self.cache is None:
            raise _before_forward(self)
        h, words, score, label = self.cache
        (W,) = self.params
        (dW,) = self.grads
        dscore = (sigmoid(score) - label) * (np.asarray(dout, dtype=W.dtype) / words.shape[0])  # (N, 1 + S)
        dW[...] = 0
        # A word drawn twice (in two rows, or as one row's target and another's
        # negative) gets every contribution.
        np.add.at(dW, words, dscore[:, :, None] * h[:, None, :])
        return np.einsum("ns,nsd->nd", dscore, W[words])
