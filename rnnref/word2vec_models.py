"""The small networks of the book's chapters 1 and 3, built from the plain layers:
TwoLayerNet (ch01/two_layer_net.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .layers import Affine, Sigmoid, SoftmaxWithLoss
from .models import _LanguageModel

__all__ = ["TwoLayerNet"]


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
