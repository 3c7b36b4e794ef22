"""A layer of your own, checked by gradcheck: layer normalization over the last axis.

    gradcheck check examples/layernorm.py

The class is plain NumPy, in the book's protocol (params, grads written in place,
forward, backward). The declaration at the end tells gradcheck its arrays' axes
and its meaning as a JAX function; `examples/layernorm_buggy.py` is the same layer
with one planted bug, which gradcheck catches.
"""

import numpy as np

EPS = 1e-5


class LayerNorm:
    """y = g * (x - mean) / sqrt(var + eps) + b over the last axis. g, b: (D,); x: (N, D)."""

    def __init__(self, g, b):
        self.params = [g, b]
        self.grads = [np.zeros_like(g), np.zeros_like(b)]
        self.cache = None

    def forward(self, x):
        mu = x.mean(axis=-1, keepdims=True)
        xc = x - mu
        inv = 1.0 / np.sqrt((xc**2).mean(axis=-1, keepdims=True) + EPS)
        xhat = xc * inv
        self.cache = (xhat, inv)
        return self.params[0] * xhat + self.params[1]

    def backward(self, dout):
        xhat, inv = self.cache
        self.grads[0][...] = (dout * xhat).sum(axis=0)
        self.grads[1][...] = dout.sum(axis=0)
        return self.normalization_backward(dout * self.params[0], xhat, inv)

    @staticmethod
    def normalization_backward(dxhat, xhat, inv):
        """dx from dxhat: remove the mean of dxhat and its projection on xhat."""
        return inv * (dxhat - dxhat.mean(axis=-1, keepdims=True) - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True))


# --- for gradcheck (this block is all it needs; NumPy users can ignore it) ---
try:
    import jax.numpy as jnp

    import gradcheck
except ImportError:  # run without gradcheck installed: the layer still works
    gradcheck = None

if gradcheck is not None:

    def layer_norm(g, b, x):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return g * (x - mu) / jnp.sqrt(var + EPS) + b

    # min_dims: at D <= 2 the normalized x is 0 or +-1 whatever x is (see gradcheck.declare)
    gradcheck.declare(
        "LayerNorm",
        params={"g": "D", "b": "D:bias"},
        inputs={"x": "N,D"},
        output="N,D",
        fn=layer_norm,
        min_dims={"D": 3},
    )
