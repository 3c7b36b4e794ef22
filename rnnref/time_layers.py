"""Time-distributed layers (the book's `common/time_layers.py`).

Shapes: N batch, T time steps, D input width, H hidden width, V vocabulary.
All layers follow the protocol of `rnnref.layers`: `params`, `grads` (written in
place, replaced by each backward), `forward`, `backward`.

`from rnnref.time_layers import *` gives the same names the book's scripts use.
"""

from __future__ import annotations

import numpy as np

from ._validate import float_array, int_array
from .functions import log_softmax
from .layers import (
    GRU,
    LSTM,
    RNN,
    Affine,
    Embedding,
    SigmoidWithLoss,
    SoftmaxWithLoss,
    _dropout_ratio,
    _Gated,
    check_token_range,
)

__all__ = [
    "RNN",
    "Affine",
    "Embedding",
    "TimeRNN",
    "LSTM",
    "TimeLSTM",
    "GRU",
    "TimeGRU",
    "TimeBiLSTM",
    "TimeDropout",
    "TimeAffine",
    "TimeEmbedding",
    "TimeSoftmaxWithLoss",
    "TimeSigmoidWithLoss",
    "Simple_TimeSoftmaxWithLoss",
    "Simple_TimeAffine",
]


class TimeRNN:
    """T steps of `RNN` sharing one set of weights, trained by truncated BPTT.

    Wx: (D, H), Wh: (H, H), b: (H,). forward(xs: (N, T, D)) -> hs: (N, T, H);
    backward(dhs: (N, T, H)) -> dxs: (N, T, D).

    stateful=False: every forward starts from h = 0.
    stateful=True: forward starts from the last hidden state of the previous
    forward (or from `set_state(h)`, or zeros after `reset_state()`), but no
    gradient flows into the previous chunk. After backward, `.dh` (N, H) is the
    gradient of the loss w.r.t. the chunk's initial state.
    """

    def __init__(self, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray, stateful: bool = False) -> None:
        cell = RNN(Wx, Wh, b)  # validates the shapes and dtypes once
        self.params = cell.params
        self.grads = cell.grads
        self.layers: list[RNN] | None = None
        self.h: np.ndarray | None = None
        self.dh: np.ndarray | None = None
        self.stateful = stateful

    def set_state(self, h: np.ndarray) -> None:
        """Start the next forward from h: (N, H) (used when stateful=True)."""
        Wx = self.params[0]
        self.h = float_array("h", h, ("N", Wx.shape[1])).astype(Wx.dtype, copy=True)

    def reset_state(self) -> None:
        self.h = None

    def forward(self, xs: np.ndarray) -> np.ndarray:
        Wx, Wh, b = self.params
        (D, H), dtype = Wx.shape, Wx.dtype
        # Checked and cast once here, so the T steps below run unchecked.
        xs = float_array("xs", xs, ("N", "T", D)).astype(dtype, copy=False)
        N, T, _ = xs.shape
        if not self.stateful or self.h is None:
            h = np.zeros((N, H), dtype=dtype)
        elif self.h.shape != (N, H):
            raise ValueError(
                f"the carried state h has shape {self.h.shape} but xs has batch size N={N}; "
                "call reset_state() or set_state(h) with h of shape (N, H)"
            )
        else:  # `.h` may have been assigned directly, as the book's code does
            h = float_array("h_prev", self.h, (N, H)).astype(dtype, copy=False)
        layers, hs = [], np.empty((N, T, H), dtype=dtype)
        for t in range(T):
            layer = RNN._step_of(Wx, Wh, b)
            h = layer._forward(xs[:, t, :], h)
            hs[:, t, :] = h
            layers.append(layer)
        self.layers, self.h, self._batch = layers, h, N
        return hs

    def backward(self, dhs: np.ndarray) -> np.ndarray:
        if self.layers is None:
            raise RuntimeError("TimeRNN.backward called before forward")
        Wx = self.params[0]
        (D, H), T = Wx.shape, len(self.layers)
        N = self._batch
        dhs = float_array("dhs", dhs, (N, T, H)).astype(Wx.dtype, copy=False)
        dxs = np.empty((N, T, D), dtype=Wx.dtype)
        dh = np.zeros((N, H), dtype=Wx.dtype)
        sums = [np.zeros_like(g) for g in self.grads]
        for t in reversed(range(T)):
            layer = self.layers[t]
            # The state at step t feeds both the output hs[t] and step t+1.
            dx, dh = layer._backward(dhs[:, t, :] + dh)  # dhs was checked and cast above
            dxs[:, t, :] = dx
            # The weights are shared by every step, so their gradient is the sum.
            for total, g in zip(sums, layer.grads, strict=True):
                total += g
        for g, total in zip(self.grads, sums, strict=True):
            g[...] = total
        self.dh = dh
        return dxs


class _TimeGated:
    """T steps of a gated cell (LSTM or GRU) sharing one set of weights, trained by
    truncated BPTT: the protocol of TimeRNN, with the cell's state (h, and c for
    the LSTM) carried between calls when stateful=True. After backward, `.dh` is the
    gradient w.r.t. the chunk's initial h (the book keeps no gradient for c)."""

    cell: type[_Gated]
    state_names: tuple[str, ...] = ("h",)

    def __init__(self, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray, stateful: bool = False) -> None:
        cell = self.cell(Wx, Wh, b)  # validates the shapes and dtypes once
        self.params, self.grads = cell.params, cell.grads
        self.layers: list | None = None
        self.dh: np.ndarray | None = None
        self.stateful = stateful
        self.reset_state()

    def reset_state(self) -> None:
        for name in self.state_names:
            setattr(self, name, None)

    def _carried(self, N: int, H: int, dtype: np.dtype) -> list[np.ndarray]:
        """The state the next forward starts from: zeros unless stateful and set."""
        states = []
        for name in self.state_names:
            value = getattr(self, name)
            if not self.stateful or value is None:
                states.append(np.zeros((N, H), dtype=dtype))
            elif np.shape(value) != (N, H):
                raise ValueError(
                    f"the carried state {name} has shape {np.shape(value)} but xs has batch size N={N}; "
                    "call reset_state() or set_state() with arrays of shape (N, H)"
                )
            else:  # the state may have been assigned directly, as the book's code does
                states.append(float_array(name, value, (N, H)).astype(dtype, copy=False))
        return states

    def forward(self, xs: np.ndarray) -> np.ndarray:
        Wx, Wh, b = self.params
        H, dtype = Wh.shape[0], Wx.dtype
        xs = float_array("xs", xs, ("N", "T", Wx.shape[0])).astype(dtype, copy=False)
        N, T, _ = xs.shape
        states = self._carried(N, H, dtype)
        layers, hs = [], np.empty((N, T, H), dtype=dtype)
        for t in range(T):
            layer = self.cell._step_of(Wx, Wh, b)
            out = layer._forward(xs[:, t, :], *states)
            states = list(out) if isinstance(out, tuple) else [out]
            hs[:, t, :] = states[0]
            layers.append(layer)
        for name, value in zip(self.state_names, states, strict=True):
            setattr(self, name, value)
        self.layers, self._batch = layers, N
        return hs

    def backward(self, dhs: np.ndarray) -> np.ndarray:
        if self.layers is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        Wx, Wh, _ = self.params
        D, H, T, N = Wx.shape[0], Wh.shape[0], len(self.layers), self._batch
        dhs = float_array("dhs", dhs, (N, T, H)).astype(Wx.dtype, copy=False)
        dxs = np.empty((N, T, D), dtype=Wx.dtype)
        # The gradient w.r.t. each carried state (h, then c) at the step being undone.
        dstates = [np.zeros((N, H), dtype=Wx.dtype) for _ in self.state_names]
        sums = [np.zeros_like(g) for g in self.grads]
        for t in reversed(range(T)):
            layer = self.layers[t]
            # h at step t feeds both the output hs[t] and step t+1.
            dx, *dstates = layer._backward(dhs[:, t, :] + dstates[0], *dstates[1:])
            dxs[:, t, :] = dx
            for total, g in zip(sums, layer.grads, strict=True):  # shared weights: gradients sum
                total += g
        for g, total in zip(self.grads, sums, strict=True):
            g[...] = total
        self.dh = dstates[0]
        return dxs


class TimeLSTM(_TimeGated):
    """T steps of `LSTM`. Wx: (D, 4H), Wh: (H, 4H), b: (4H,).
    forward(xs: (N, T, D)) -> hs: (N, T, H); backward(dhs) -> dxs.
    Stateful: carries h and c; `set_state(h, c=None)` (c None: zeros)."""

    cell = LSTM
    state_names = ("h", "c")

    def set_state(self, h: np.ndarray, c: np.ndarray | None = None) -> None:
        Wh = self.params[1]
        self.h = float_array("h", h, ("N", Wh.shape[0])).astype(Wh.dtype, copy=True)
        self.c = None if c is None else float_array("c", c, self.h.shape).astype(Wh.dtype, copy=True)
        if self.c is None:
            self.c = np.zeros_like(self.h)


class TimeGRU(_TimeGated):
    """T steps of `GRU`. Wx: (D, 3H), Wh: (H, 3H), b: (3H,).
    forward(xs: (N, T, D)) -> hs: (N, T, H); backward(dhs) -> dxs; `set_state(h)`."""

    cell = GRU

    def set_state(self, h: np.ndarray) -> None:
        Wh = self.params[1]
        self.h = float_array("h", h, ("N", Wh.shape[0])).astype(Wh.dtype, copy=True)


class TimeBiLSTM:
    """Two TimeLSTMs over xs, one forwards and one over the reversed sequence (its
    outputs reversed back), outputs side by side: forward(xs: (N, T, D)) -> (N, T, 2H).
    params/grads: the forward LSTM's three, then the backward LSTM's."""

    def __init__(
        self,
        Wx1: np.ndarray,
        Wh1: np.ndarray,
        b1: np.ndarray,
        Wx2: np.ndarray,
        Wh2: np.ndarray,
        b2: np.ndarray,
        stateful: bool = False,
    ) -> None:
        self.forward_lstm = TimeLSTM(Wx1, Wh1, b1, stateful)
        self.backward_lstm = TimeLSTM(Wx2, Wh2, b2, stateful)
        if self.backward_lstm.params[1].shape != self.forward_lstm.params[1].shape:
            raise ValueError(
                f"Wh2 must have the shape of Wh1 {self.forward_lstm.params[1].shape}; "
                f"got {self.backward_lstm.params[1].shape}"
            )
        self.params = self.forward_lstm.params + self.backward_lstm.params
        self.grads = self.forward_lstm.grads + self.backward_lstm.grads

    def forward(self, xs: np.ndarray) -> np.ndarray:
        out_f = self.forward_lstm.forward(xs)
        out_b = self.backward_lstm.forward(np.asarray(xs)[:, ::-1])[:, ::-1]
        return np.concatenate((out_f, out_b), axis=2)

    def backward(self, dhs: np.ndarray) -> np.ndarray:
        H = self.forward_lstm.params[1].shape[0]
        dhs = float_array("dhs", dhs, ("N", "T", 2 * H))
        dxs = self.forward_lstm.backward(dhs[:, :, :H])
        # The backward LSTM saw time reversed: its gradient is reversed back.
        return dxs + self.backward_lstm.backward(dhs[:, ::-1, H:])[:, ::-1]


class TimeDropout:
    """Inverted dropout over (N, T, D), as the book's `common/time_layers.py`.

    `train_flg` (attribute, default True): in training forward(xs) = xs * mask with
    mask[i] = 1 / (1 - dropout_ratio) with probability 1 - dropout_ratio, else 0,
    drawn from NumPy's global generator (np.random.rand, as the book does); in
    evaluation (train_flg = False) the identity. backward(dout) -> dout * mask (the
    last forward's; 1 after an evaluation forward). No params.
    """

    def __init__(self, dropout_ratio: float = 0.5) -> None:
        self.dropout_ratio = _dropout_ratio(dropout_ratio)
        self.params: list[np.ndarray] = []
        self.grads: list[np.ndarray] = []
        self.mask: np.ndarray | None = None
        self.train_flg = True

    def forward(self, xs: np.ndarray) -> np.ndarray:
        xs = float_array("xs", xs, ("N", "T", "D"))
        if self.train_flg:
            kept = np.random.rand(*xs.shape) > self.dropout_ratio  # noqa: NPY002 (the book's generator: seeding fixes it)
            self.mask = kept.astype(xs.dtype) / xs.dtype.type(1 - self.dropout_ratio)
        else:
            self.mask = np.ones_like(xs)
        return xs * self.mask

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self.mask is None:
            raise RuntimeError("TimeDropout.backward called before forward")
        return float_array("dout", dout, self.mask.shape) * self.mask


class TimeEmbedding:
    """W: (V, D). forward(xs: (N, T) int) -> (N, T, D); backward(dout) -> None."""

    def __init__(self, W: np.ndarray) -> None:
        cell = Embedding(W)
        self.params, self.grads = cell.params, cell.grads
        self.idx: np.ndarray | None = None

    def forward(self, xs: np.ndarray) -> np.ndarray:
        (W,) = self.params
        xs = int_array("xs", xs, ("N", "T"))
        check_token_range("xs", xs, W.shape[0])
        self.idx = xs.copy()
        return W[xs]

    def backward(self, dout: np.ndarray) -> None:
        if self.idx is None:
            raise RuntimeError("TimeEmbedding.backward called before forward")
        (dW,) = self.grads
        dout = float_array("dout", dout, (*self.idx.shape, dW.shape[1]))
        dW[...] = 0
        np.add.at(dW, self.idx, dout)  # repeated tokens sum their rows (see Embedding)
        return None


class TimeAffine:
    """W: (D, M), b: (M,). forward(xs: (N, T, D)) -> (N, T, M); backward -> dxs: (N, T, D)."""

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        cell = Affine(W, b)
        self.params, self.grads = cell.params, cell.grads
        self.x: np.ndarray | None = None

    def forward(self, xs: np.ndarray) -> np.ndarray:
        W, b = self.params
        xs = float_array("xs", xs, ("N", "T", W.shape[0])).astype(W.dtype, copy=False)
        N, T, D = xs.shape
        self.x = xs
        return (xs.reshape(N * T, D) @ W + b).reshape(N, T, -1)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self.x is None:
            raise RuntimeError("TimeAffine.backward called before forward")
        W, _ = self.params
        N, T, D = self.x.shape
        dout = float_array("dout", dout, (N, T, W.shape[1])).astype(W.dtype, copy=False).reshape(N * T, -1)
        self.grads[0][...] = self.x.reshape(N * T, D).T @ dout
        self.grads[1][...] = dout.sum(axis=0)
        return (dout @ W.T).reshape(N, T, D)


class TimeSoftmaxWithLoss:
    """Mean cross-entropy of softmax(xs) against labels, over the counted positions.

    forward(xs: (N, T, V) float, ts: (N, T) int or (N, T, V) one-hot) -> loss (0-d,
    xs's dtype); backward(dout=1) -> dxs: (N, T, V).

    Positions whose label equals `ignore_label` (default -1) count in neither the
    loss nor the gradient; the loss is divided by the number of counted positions.
    With every position ignored the loss is 0 and the gradient is zero.
    """

    def __init__(self) -> None:
        self.params: list[np.ndarray] = []
        self.grads: list[np.ndarray] = []
        self.cache: tuple[np.ndarray, np.ndarray, np.ndarray, int] | None = None
        self.ignore_label = -1

    def forward(self, xs: np.ndarray, ts: np.ndarray) -> np.ndarray:
        xs = float_array("xs", xs, ("N", "T", "V"))
        N, T, V = xs.shape
        ts = np.asarray(ts)
        if ts.ndim == 3:  # one-hot labels: the class is where the row is largest
            if ts.shape != (N, T, V):
                raise ValueError(f"one-hot ts must have shape ({N}, {T}, {V}) like xs; got {ts.shape}")
            ts = ts.argmax(axis=2)
        ts = int_array("ts", ts, (N, T))
        mask = ts != self.ignore_label
        bad = mask & ((ts < 0) | (ts >= V))
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"ts holds label {int(ts[where])} at index {where}; labels must lie in [0, {V}) "
                f"or equal ignore_label={self.ignore_label}"
            )
        logp = log_softmax(xs)
        # Ignored positions may hold any id (e.g. -1); read a valid class there and mask it out.
        picked = np.take_along_axis(logp, np.where(mask, ts, 0)[..., None], axis=2)[..., 0]
        count = int(mask.sum())
        loss = -np.sum(picked, where=mask) / count if count else 0.0
        self.cache = (np.where(mask, ts, 0), logp, mask, count)
        return np.asarray(loss, dtype=xs.dtype)

    def backward(self, dout: float = 1) -> np.ndarray:
        if self.cache is None:
            raise RuntimeError("TimeSoftmaxWithLoss.backward called before forward")
        ts, logp, mask, count = self.cache
        dxs = np.exp(logp)  # a new array: the cached log-probabilities stay untouched
        np.put_along_axis(dxs, ts[..., None], np.take_along_axis(dxs, ts[..., None], axis=2) - 1, axis=2)
        scale = np.asarray(dout, dtype=dxs.dtype) / max(count, 1)
        return np.where(mask[..., None], dxs * scale, 0).astype(dxs.dtype, copy=False)


class TimeSigmoidWithLoss(SigmoidWithLoss):
    """Mean binary cross-entropy over N and T: forward(xs: (N, T) float, ts: (N, T)
    int in {0, 1}) -> loss; backward(dout=1) -> dxs: (N, T). The book averages the
    per-step means over T, which is the mean over all N * T positions."""

    _label_axes = ("N", "T")
    _x_name, _t_name = "xs", "ts"


class Simple_TimeSoftmaxWithLoss(SoftmaxWithLoss):  # noqa: N801 (the book's name)
    """Mean softmax cross-entropy over N and T, no ignore_label: forward(xs: (N, T, V),
    ts: (N, T) int or (N, T, V) one-hot) -> loss; backward(dout=1) -> dxs: (N, T, V).
    The book averages the per-step means over T: the mean over all N * T positions."""

    _label_axes = ("N", "T")
    _x_name, _t_name = "xs", "ts"


class Simple_TimeAffine(TimeAffine):  # noqa: N801 (the book's name)
    """The book's per-step form of TimeAffine (one Affine per time step); the same
    map, params and grads: W: (D, M), b: (M,), forward(xs: (N, T, D)) -> (N, T, M)."""
