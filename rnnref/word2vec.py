"""The word2vec layers of the book's chapter 4 (`ch04/negative_sampling_layer.py`).

Same protocol as `layers.py`: `params` and `grads` lists, gradients written into
the arrays of `grads`, each backward replacing the previous one.
"""

from __future__ import annotations

import numpy as np

from ._validate import float_array, int_array
from .layers import _before_forward, check_token_range

__all__ = ["EmbeddingDot"]


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
