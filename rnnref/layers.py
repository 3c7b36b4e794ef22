"""Single-step layers with the book's protocol.

Each layer holds `params` and `grads` (lists of arrays, same order, same shapes);
`backward` writes the gradients *into* the arrays of `grads` (`g[...] = ...`), so the
array objects stay the same for the layer's life and a model can alias them. Each
backward replaces the previous gradients; nothing accumulates across calls.
"""

from __future__ import annotations

from typing import cast

import numpy as np

from ._validate import any_float_array, binary_labels, class_labels, float_array, int_array, same_dtype
from .functions import log_sigmoid, log_softmax, sigmoid, softmax

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "Affine",
    "Dropout",
    "Embedding",
    "MatMul",
    "Sigmoid",
    "SigmoidWithLoss",
    "Softmax",
    "SoftmaxWithLoss",
]


class RNN:
    """One step of a tanh RNN: h_next = tanh(h_prev @ Wh + x @ Wx + b).

    Wx: (D, H), Wh: (H, H), b: (H,), all of one float dtype, which the layer
    computes in. forward(x: (N, D), h_prev: (N, H)) -> h_next: (N, H);
    backward(dh_next: (N, H)) -> (dx: (N, D), dh_prev: (N, H)).
    """

    def __init__(self, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray) -> None:
        Wx = float_array("Wx", Wx, ("D", "H"))
        H = Wx.shape[1]
        Wh = float_array("Wh", Wh, (H, H))
        b = float_array("b", b, (H,))
        same_dtype("Wh", Wh, Wx.dtype)
        same_dtype("b", b, Wx.dtype)
        self._init_checked(Wx, Wh, b)

    @classmethod
    def _step_of(cls, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray) -> RNN:
        """A cell on parameters a TimeRNN has already validated: building one per time
        step must not re-check the same three arrays T times."""
        cell = cls.__new__(cls)
        # Its grads are read only after its own backward has written them: no need
        # to zero T copies of Wh (at H=256, a fifth of a TimeRNN's forward).
        cell._init_checked(Wx, Wh, b, alloc=np.empty_like)
        return cell

    def _init_checked(self, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray, alloc=np.zeros_like) -> None:
        self.params = [Wx, Wh, b]
        self.grads = [alloc(Wx), alloc(Wh), alloc(b)]
        self.cache: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def forward(self, x: np.ndarray, h_prev: np.ndarray) -> np.ndarray:
        Wx = self.params[0]
        (D, H), dtype = Wx.shape, Wx.dtype
        x = float_array("x", x, ("N", D))
        h_prev = float_array("h_prev", h_prev, (x.shape[0], H))
        # Compute in the parameters' dtype so float32 weights give float32 work.
        return self._forward(x.astype(dtype, copy=False), h_prev.astype(dtype, copy=False))

    def _forward(self, x: np.ndarray, h_prev: np.ndarray) -> np.ndarray:
        """forward on arguments already checked and cast to the parameters' dtype
        (TimeRNN checks xs once per call, not once per step)."""
        Wx, Wh, b = self.params
        h_next = np.tanh(h_prev @ Wh + x @ Wx + b)
        self.cache = (x, h_prev, h_next)
        return h_next

    def backward(self, dh_next: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.cache is None:
            raise RuntimeError("RNN.backward called before forward")
        # Compute in the parameters' dtype: a float64 dout must not upcast a float32 layer.
        dh_next = float_array("dh_next", dh_next, self.cache[2].shape).astype(self.params[0].dtype, copy=False)
        return self._backward(dh_next)

    def _backward(self, dh_next: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """backward on a dh_next already checked and cast (see `_forward`)."""
        Wx, Wh, _ = self.params
        x, h_prev, h_next = cast(tuple[np.ndarray, np.ndarray, np.ndarray], self.cache)
        dt = dh_next * (1 - h_next**2)  # tanh'(a) = 1 - tanh(a)^2
        self.grads[0][...] = x.T @ dt
        self.grads[1][...] = h_prev.T @ dt
        self.grads[2][...] = dt.sum(axis=0)
        return dt @ Wx.T, dt @ Wh.T


def _check_gates(Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray, blocks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wx: (D, kH), Wh: (H, kH), b: (kH,) for k = `blocks` gates side by side, one dtype."""
    Wh = float_array("Wh", Wh, ("H", f"{blocks}H"))
    H = Wh.shape[0]
    Wh = float_array("Wh", Wh, (H, blocks * H))
    Wx = float_array("Wx", Wx, ("D", blocks * H))
    b = float_array("b", b, (blocks * H,))
    same_dtype("Wh", Wh, Wx.dtype)
    same_dtype("b", b, Wx.dtype)
    return Wx, Wh, b


class _Gated:
    """What LSTM and GRU share: params Wx (D, kH), Wh (H, kH), b (kH,) for k gates,
    validated once; per-step cells built on already-checked params (`_step_of`)."""

    blocks = 1

    def __init__(self, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray) -> None:
        self._init_checked(*_check_gates(Wx, Wh, b, self.blocks))

    @classmethod
    def _step_of(cls, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray):
        cell = cls.__new__(cls)
        cell._init_checked(Wx, Wh, b, alloc=np.empty_like)  # written by its own backward before read
        return cell

    def _init_checked(self, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray, alloc=np.zeros_like) -> None:
        self.params = [Wx, Wh, b]
        self.grads = [alloc(Wx), alloc(Wh), alloc(b)]
        self.cache: tuple | None = None

    def _checked(self, name: str, value: np.ndarray, N: int | str) -> np.ndarray:
        """An (N, H) argument, cast to the parameters' dtype."""
        Wh = self.params[1]
        return float_array(name, value, (N, Wh.shape[0])).astype(Wh.dtype, copy=False)

    def _input(self, x: np.ndarray) -> np.ndarray:
        Wx = self.params[0]
        return float_array("x", x, ("N", Wx.shape[0])).astype(Wx.dtype, copy=False)

    def _set_grads(self, x: np.ndarray, h_prev: np.ndarray, dA: np.ndarray) -> None:
        """The weight gradients of A = x Wx + h_prev Wh + b from dA (N, kH)."""
        self.grads[0][...] = x.T @ dA
        self.grads[1][...] = h_prev.T @ dA
        self.grads[2][...] = dA.sum(axis=0)


class LSTM(_Gated):
    """One LSTM step, the book's gate order f, g, i, o side by side.

    Wx: (D, 4H), Wh: (H, 4H), b: (4H,). A = x Wx + h_prev Wh + b;
    f, i, o = sigmoid, g = tanh of A's four H-wide blocks;
    c_next = f * c_prev + g * i, h_next = o * tanh(c_next).
    forward(x: (N, D), h_prev: (N, H), c_prev: (N, H)) -> (h_next, c_next);
    backward(dh_next, dc_next) -> (dx, dh_prev, dc_prev).
    """

    blocks = 4

    def forward(self, x: np.ndarray, h_prev: np.ndarray, c_prev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = self._input(x)
        N = x.shape[0]
        return self._forward(x, self._checked("h_prev", h_prev, N), self._checked("c_prev", c_prev, N))

    def _forward(self, x: np.ndarray, h_prev: np.ndarray, c_prev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Wx, Wh, b = self.params
        H = Wh.shape[0]
        A = x @ Wx + h_prev @ Wh + b
        f, i, o = sigmoid(A[:, :H]), sigmoid(A[:, 2 * H : 3 * H]), sigmoid(A[:, 3 * H :])
        g = np.tanh(A[:, H : 2 * H])
        c_next = f * c_prev + g * i
        tanh_c = np.tanh(c_next)
        h_next = o * tanh_c
        self.cache = (x, h_prev, c_prev, f, g, i, o, tanh_c)
        return h_next, c_next

    def backward(self, dh_next: np.ndarray, dc_next: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.cache is None:
            raise RuntimeError("LSTM.backward called before forward")
        N = self.cache[0].shape[0]
        return self._backward(self._checked("dh_next", dh_next, N), self._checked("dc_next", dc_next, N))

    def _backward(self, dh_next: np.ndarray, dc_next: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        Wx, Wh, _ = self.params
        x, h_prev, c_prev, f, g, i, o, tanh_c = cast(tuple[np.ndarray, ...], self.cache)
        # c_next reaches the loss directly (dc_next) and through h_next = o * tanh(c_next).
        ds = dc_next + dh_next * o * (1 - tanh_c**2)
        dA = np.hstack(
            (
                ds * c_prev * f * (1 - f),  # f: sigmoid' = f (1 - f)
                ds * i * (1 - g**2),  # g: tanh' = 1 - g^2
                ds * g * i * (1 - i),
                dh_next * tanh_c * o * (1 - o),
            )
        )
        self._set_grads(x, h_prev, dA)
        return dA @ Wx.T, dA @ Wh.T, ds * f


class GRU(_Gated):
    """One GRU step, the book's block order z, r, h~ side by side.

    Wx: (D, 3H), Wh: (H, 3H), b: (3H,). z = sigmoid(x Wxz + h Whz + bz),
    r = sigmoid(x Wxr + h Whr + br), h~ = tanh(x Wxh + (r * h) Whh + bh),
    h_next = (1 - z) * h + z * h~.
    forward(x: (N, D), h_prev: (N, H)) -> h_next; backward(dh_next) -> (dx, dh_prev).
    """

    blocks = 3

    def forward(self, x: np.ndarray, h_prev: np.ndarray) -> np.ndarray:
        x = self._input(x)
        return self._forward(x, self._checked("h_prev", h_prev, x.shape[0]))

    def _forward(self, x: np.ndarray, h_prev: np.ndarray) -> np.ndarray:
        Wx, Wh, b = self.params
        H = Wh.shape[0]
        xW = x @ Wx + b  # the three blocks' input terms at once
        zr = sigmoid(xW[:, : 2 * H] + h_prev @ Wh[:, : 2 * H])
        z, r = zr[:, :H], zr[:, H:]
        h_hat = np.tanh(xW[:, 2 * H :] + (r * h_prev) @ Wh[:, 2 * H :])
        self.cache = (x, h_prev, z, r, h_hat)
        return (1 - z) * h_prev + z * h_hat

    def backward(self, dh_next: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.cache is None:
            raise RuntimeError("GRU.backward called before forward")
        return self._backward(self._checked("dh_next", dh_next, self.cache[0].shape[0]))

    def _backward(self, dh_next: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Wx, Wh, _ = self.params
        H = Wh.shape[0]
        x, h_prev, z, r, h_hat = cast(tuple[np.ndarray, ...], self.cache)
        dh_hat_pre = dh_next * z * (1 - h_hat**2)  # through h~ = tanh(.)
        d_rh = dh_hat_pre @ Wh[:, 2 * H :].T  # gradient of r * h_prev
        dz_pre = dh_next * (h_hat - h_prev) * z * (1 - z)
        dr_pre = d_rh * h_prev * r * (1 - r)
        dA = np.hstack((dz_pre, dr_pre, dh_hat_pre))
        self.grads[0][...] = x.T @ dA
        # Whh multiplies r * h_prev, the other two blocks h_prev itself.
        self.grads[1][...] = np.hstack((h_prev.T @ dA[:, : 2 * H], (r * h_prev).T @ dh_hat_pre))
        self.grads[2][...] = dA.sum(axis=0)
        dh_prev = dh_next * (1 - z) + d_rh * r + dA[:, : 2 * H] @ Wh[:, : 2 * H].T
        return dA @ Wx.T, dh_prev


def _dropout_ratio(dropout_ratio: float) -> float:
    if isinstance(dropout_ratio, bool) or not isinstance(dropout_ratio, (int, float)) or not 0 <= dropout_ratio < 1:
        raise ValueError(f"dropout_ratio must be a number in [0, 1); got {dropout_ratio!r}")
    return float(dropout_ratio)


class Dropout:
    """Dropout as the book's `common/layers.py` has it (not inverted).

    forward(x, train_flg=True): in training, x * mask with mask[i] = 1 with
    probability 1 - dropout_ratio, else 0, drawn from NumPy's global generator
    (np.random.rand, as the book does, so that seeding it fixes the mask); in
    evaluation, x * (1 - dropout_ratio), the training output's expectation.
    backward(dout) -> dout times the derivative of the last forward: the mask, or
    1 - dropout_ratio after an evaluation forward. No params.
    """

    def __init__(self, dropout_ratio: float = 0.5) -> None:
        self.dropout_ratio = _dropout_ratio(dropout_ratio)
        self.params: list[np.ndarray] = []
        self.grads: list[np.ndarray] = []
        self.mask: np.ndarray | None = None

    def forward(self, x: np.ndarray, train_flg: bool = True) -> np.ndarray:
        x = float_array("x", x, [None] * np.ndim(x))
        if train_flg:
            # The global generator on purpose: the book's protocol, so np.random.seed fixes the mask.
            self.mask = (np.random.rand(*x.shape) > self.dropout_ratio).astype(x.dtype)  # noqa: NPY002
        else:
            self.mask = np.full(x.shape, 1 - self.dropout_ratio, dtype=x.dtype)
        return x * self.mask

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self.mask is None:
            raise RuntimeError("Dropout.backward called before forward")
        return float_array("dout", dout, self.mask.shape) * self.mask


class Affine:
    """out = x @ W + b. W: (D, M), b: (M,). forward(x: (N, D)) -> (N, M);
    backward(dout: (N, M)) -> dx: (N, D)."""

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        W = float_array("W", W, ("D", "M"))
        b = float_array("b", b, (W.shape[1],))
        same_dtype("b", b, W.dtype)
        self.params = [W, b]
        self.grads = [np.zeros_like(W), np.zeros_like(b)]
        self.x: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        W, b = self.params
        x = float_array("x", x, ("N", W.shape[0])).astype(W.dtype, copy=False)
        self.x = x
        return x @ W + b

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self.x is None:
            raise RuntimeError("Affine.backward called before forward")
        W, _ = self.params
        dout = float_array("dout", dout, (self.x.shape[0], W.shape[1])).astype(W.dtype, copy=False)
        self.grads[0][...] = self.x.T @ dout
        self.grads[1][...] = dout.sum(axis=0)
        return dout @ W.T


class Embedding:
    """Row lookup: out = W[idx]. W: (V, D); forward(idx: (N,) int) -> (N, D);
    backward(dout: (N, D)) -> None (token ids have no gradient)."""

    def __init__(self, W: np.ndarray) -> None:
        W = float_array("W", W, ("V", "D"))
        self.params = [W]
        self.grads = [np.zeros_like(W)]
        self.idx: np.ndarray | None = None

    def forward(self, idx: np.ndarray) -> np.ndarray:
        (W,) = self.params
        idx = int_array("idx", idx, ("N",))
        check_token_range("idx", idx, W.shape[0])
        self.idx = idx.copy()
        return W[idx]

    def backward(self, dout: np.ndarray) -> None:
        if self.idx is None:
            raise RuntimeError("Embedding.backward called before forward")
        (dW,) = self.grads
        dout = float_array("dout", dout, (self.idx.shape[0], dW.shape[1]))
        dW[...] = 0
        # A token that appears twice must receive both rows of dout: fancy-index
        # assignment (dW[idx] += dout) would keep only one of them.
        np.add.at(dW, self.idx, dout)
        return None


def check_token_range(name: str, idx: np.ndarray, V: int) -> None:
    """Raise ValueError naming the first token id outside [0, V)."""
    bad = (idx < 0) | (idx >= V)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} holds token id {int(idx[where])} at index {where}; ids must lie in [0, {V})")


def _before_forward(layer: object) -> RuntimeError:
    return RuntimeError(f"{type(layer).__name__}.backward called before forward")


class MatMul:
    """out = x @ W. W: (D, H). forward(x: (N, D)) -> (N, H); backward(dout: (N, H)) -> dx: (N, D)."""

    def __init__(self, W: np.ndarray) -> None:
        W = float_array("W", W, ("D", "H"))
        self.params = [W]
        self.grads = [np.zeros_like(W)]
        self.x: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        (W,) = self.params
        x = float_array("x", x, ("N", W.shape[0])).astype(W.dtype, copy=False)
        self.x = x
        return x @ W

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self.x is None:
            raise _before_forward(self)
        (W,) = self.params
        dout = float_array("dout", dout, (self.x.shape[0], W.shape[1])).astype(W.dtype, copy=False)
        self.grads[0][...] = self.x.T @ dout
        return dout @ W.T


class Softmax:
    """Softmax over the last axis. forward(x: (N, V)) -> y: (N, V), x's dtype;
    backward(dout: (N, V)) -> dx = y * (dout - sum(dout * y, axis=-1))."""

    def __init__(self) -> None:
        self.params: list[np.ndarray] = []
        self.grads: list[np.ndarray] = []
        self.out: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = float_array("x", x, ("N", "V"))
        self.out = softmax(x)
        return self.out.copy()  # the caller may edit what we return; our cache stays

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self.out is None:
            raise _before_forward(self)
        y = self.out
        dout = float_array("dout", dout, y.shape).astype(y.dtype, copy=False)
        # The Jacobian of softmax is diag(y) - y y^T; applied to dout without building it.
        return y * (dout - np.sum(dout * y, axis=-1, keepdims=True))


class Sigmoid:
    """Elementwise logistic function. forward(x: any shape float) -> y, same shape
    and dtype; backward(dout) -> dx = dout * y * (1 - y)."""

    def __init__(self) -> None:
        self.params: list[np.ndarray] = []
        self.grads: list[np.ndarray] = []
        self.out: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = any_float_array("x", x)
        self.out = sigmoid(x)
        return self.out.copy()

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self.out is None:
            raise _before_forward(self)
        y = self.out
        dout = float_array("dout", dout, y.shape).astype(y.dtype, copy=False)
        return dout * y * (1 - y)


class _MeanLoss:
    """What the mean losses share: no params, a cache of (labels, what backward
    needs), and the names and label axes their messages use (a Time form is the
    same loss over ("N", "T"))."""

    _label_axes: tuple[str, ...] = ("N",)
    _x_name, _t_name = "x", "t"

    def __init__(self) -> None:
        self.params: list[np.ndarray] = []
        self.grads: list[np.ndarray] = []
        self.cache: tuple[np.ndarray, np.ndarray] | None = None

    def _cached(self) -> tuple[np.ndarray, np.ndarray]:
        if self.cache is None:
            raise _before_forward(self)
        return self.cache


class SoftmaxWithLoss(_MeanLoss):
    """Mean cross-entropy of softmax(x) against class labels (no ignore_label).

    forward(x: (N, V) float, t: (N,) int or (N, V) one-hot) -> loss (0-d, x's dtype),
    the mean over N of -log softmax(x)[t], computed through log-softmax (exact, not
    the book's log(y + 1e-7)); backward(dout=1) -> dx = (softmax(x) - onehot(t)) * dout / N.
    """

    def forward(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        x = float_array(self._x_name, x, (*self._label_axes, "V"))
        t = class_labels(self._t_name, t, x.shape[:-1], x.shape[-1])
        logp = log_softmax(x)
        picked = np.take_along_axis(logp, t[..., None], axis=-1)
        self.cache = (t, logp)
        return np.asarray(-np.mean(picked), dtype=x.dtype)

    def backward(self, dout: float = 1) -> np.ndarray:
        t, logp = self._cached()
        dx = np.exp(logp)  # a new array: the cache stays untouched, backward is repeatable
        idx = t[..., None]
        np.put_along_axis(dx, idx, np.take_along_axis(dx, idx, axis=-1) - 1, axis=-1)
        return dx * (np.asarray(dout, dtype=dx.dtype) / t.size)


class SigmoidWithLoss(_MeanLoss):
    """Mean binary cross-entropy of sigmoid(x) against labels in {0, 1}.

    forward(x: (N,) float, t: (N,) int in {0, 1}) -> loss (0-d, x's dtype), the mean
    of -log sigmoid(x) where t = 1 and -log sigmoid(-x) where t = 0, through
    log_sigmoid (finite and exact for any finite x); backward(dout=1) ->
    dx = (sigmoid(x) - t) * dout / N.
    """

    def forward(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        x = float_array(self._x_name, x, self._label_axes)
        t = binary_labels(self._t_name, t, x.shape)
        # sigmoid(-x) = 1 - sigmoid(x): the probability of the label is sigmoid(+-x).
        signed = np.where(t == 1, x, -x)
        self.cache = (x.copy(), t)
        return np.asarray(-np.mean(log_sigmoid(signed)), dtype=x.dtype)

    def backward(self, dout: float = 1) -> np.ndarray:
        x, t = self._cached()
        dx = sigmoid(x) - t.astype(x.dtype)
        return dx * (np.asarray(dout, dtype=x.dtype) / t.size)
