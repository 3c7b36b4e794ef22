"""The bug catalogue for `gradcheck selftest`: rnnref with one small bug in.

Each mutant is a subclass of one rnnref class that overrides one method with a
copy of rnnref's code carrying ONE small edit, marked `# BUG:` on the edited line.
`Mutant.apply()` gives rnnref's namespace (`reference()`) with that class swapped
in; `Mutant.layers` names the layers (keys of `gradcheck.specs.SPECS`) a checker
must flag, and `Mutant.expect` says how: "fail", or "warn" where the design
makes the finding a warning (downcast dtype, non-repeatable backward, non-finite
loss on extreme logits).

A cell mutant (RNN, Affine, Embedding) replaces only the cell: rnnref's TimeRNN
keeps using the correct cell, so only the cell is listed as having to fail.

Edits left out because they are mathematically equivalent (no check could catch
them, so they are not bugs):
  * RNN: `1 - h_next**2` written `(1 - h_next) * (1 + h_next)`.
  * TimeAffine: `x2.T @ dout` written `(dout.T @ x2).T`: the same matrix.
  * TimeSoftmaxWithLoss.backward: `max(count, 1)` written `count`: with no counted
    position every entry is masked to 0 by the final `np.where` either way.

(`ts != self.ignore_label` written `ts != -1` is NOT equivalent: it ignores a
caller's `layer.ignore_label = ...`; it is in the catalogue as
loss-ignore-label-hardcoded.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import numpy as np

import rnnref
from rnnref._validate import float_array, int_array
from rnnref.functions import log_softmax
from rnnref.layers import RNN, check_token_range

__all__ = ["CATALOGUE", "Mutant", "SimpleRnnlm64", "reference"]


class SimpleRnnlm64(rnnref.SimpleRnnlm):
    """rnnref.SimpleRnnlm built in float64 by default, so the model is checked at
    float64 tolerances (the checker builds models as `cls(V, D, H)`)."""

    def __init__(self, vocab_size: int, wordvec_size: int, hidden_size: int, **kw) -> None:
        kw.setdefault("dtype", np.float64)
        super().__init__(vocab_size, wordvec_size, hidden_size, **kw)


def reference() -> dict[str, type]:
    """rnnref's classes under their book names (the model in float64)."""
    return {
        "RNN": rnnref.RNN,
        "Affine": rnnref.Affine,
        "Embedding": rnnref.Embedding,
        "TimeRNN": rnnref.TimeRNN,
        "TimeEmbedding": rnnref.TimeEmbedding,
        "TimeAffine": rnnref.TimeAffine,
        "TimeSoftmaxWithLoss": rnnref.TimeSoftmaxWithLoss,
        "MatMul": rnnref.MatMul,
        "Softmax": rnnref.Softmax,
        "Sigmoid": rnnref.Sigmoid,
        "Simple_TimeAffine": rnnref.Simple_TimeAffine,
        "SoftmaxWithLoss": rnnref.SoftmaxWithLoss,
        "Simple_TimeSoftmaxWithLoss": rnnref.Simple_TimeSoftmaxWithLoss,
        "SigmoidWithLoss": rnnref.SigmoidWithLoss,
        "TimeSigmoidWithLoss": rnnref.TimeSigmoidWithLoss,
        "SimpleRnnlm": SimpleRnnlm64,
    }


@dataclass(frozen=True)
class Mutant:
    """One bug: `cls` (a subclass of an rnnref class) replaces its base in the namespace."""

    name: str
    family: str
    layers: tuple[str, ...]
    description: str
    expect: str = "fail"
    cls: type | None = field(default=None, repr=False, compare=False)
    replaces: str | None = None  # the book name it takes, for a class that derives from none

    def apply(self) -> dict[str, type]:
        """reference() with this mutant's class in place of the one it derives from."""
        ns = reference()
        cls = cast(type, self.cls)  # set by @mutant, which builds every Mutant of the catalogue
        key = self.replaces or next(k for k, c in ns.items() if issubclass(cls, c))
        ns[key] = cls
        return ns


_CATALOGUE: list[Mutant] = []


def mutant(
    name: str, family: str, layers: tuple[str, ...], description: str, expect: str = "fail", replaces: str | None = None
):
    """Register the decorated class as a mutant."""

    def register(cls: type) -> type:
        _CATALOGUE.append(Mutant(name, family, tuple(layers), description, expect, cls=cls, replaces=replaces))
        return cls

    return register


# --- RNN (one step) ------------------------------------------------------------------


@mutant("rnn-tanh-derivative-1-h", "wrong derivative", ("RNN",), "tanh'(a) taken as 1 - h instead of 1 - h^2")
class RNNTanhDerivative(rnnref.RNN):
    def backward(self, dh_next):
        if self.cache is None:
            raise RuntimeError("RNN.backward called before forward")
        Wx, Wh, _ = self.params
        x, h_prev, h_next = self.cache
        dh_next = float_array("dh_next", dh_next, h_next.shape).astype(Wx.dtype, copy=False)
        dt = dh_next * (1 - h_next)  # BUG: tanh' is 1 - h**2
        self.grads[0][...] = x.T @ dt
        self.grads[1][...] = h_prev.T @ dt
        self.grads[2][...] = dt.sum(axis=0)
        return dt @ Wx.T, dt @ Wh.T


@mutant("rnn-sigmoid-derivative", "wrong derivative", ("RNN",), "tanh' taken as the sigmoid's h * (1 - h)")
class RNNSigmoidDerivative(rnnref.RNN):
    def backward(self, dh_next):
        if self.cache is None:
            raise RuntimeError("RNN.backward called before forward")
        Wx, Wh, _ = self.params
        x, h_prev, h_next = self.cache
        dh_next = float_array("dh_next", dh_next, h_next.shape).astype(Wx.dtype, copy=False)
        dt = dh_next * h_next * (1 - h_next)  # BUG: the sigmoid's derivative, not tanh's
        self.grads[0][...] = x.T @ dt
        self.grads[1][...] = h_prev.T @ dt
        self.grads[2][...] = dt.sum(axis=0)
        return dt @ Wx.T, dt @ Wh.T


@mutant("rnn-forward-no-bias", "forgotten bias", ("RNN",), "forward computes tanh(h_prev Wh + x Wx), no b")
class RNNNoBias(rnnref.RNN):
    def forward(self, x, h_prev):
        Wx, Wh, b = self.params
        (D, H), dtype = Wx.shape, Wx.dtype
        x = float_array("x", x, ("N", D))
        h_prev = float_array("h_prev", h_prev, (x.shape[0], H))
        x, h_prev = x.astype(dtype, copy=False), h_prev.astype(dtype, copy=False)
        h_next = np.tanh(h_prev @ Wh + x @ Wx)  # BUG: + b forgotten (the seed notebook's bug)
        self.cache = (x, h_prev, h_next)
        return h_next


@mutant("rnn-dx-no-transpose", "missing transpose", ("RNN",), "dx = dt @ Wx instead of dt @ Wx.T")
class RNNDxNoTranspose(rnnref.RNN):
    def backward(self, dh_next):
        if self.cache is None:
            raise RuntimeError("RNN.backward called before forward")
        Wx, Wh, _ = self.params
        x, h_prev, h_next = self.cache
        dh_next = float_array("dh_next", dh_next, h_next.shape).astype(Wx.dtype, copy=False)
        dt = dh_next * (1 - h_next**2)
        self.grads[0][...] = x.T @ dt
        self.grads[1][...] = h_prev.T @ dt
        self.grads[2][...] = dt.sum(axis=0)
        return dt @ Wx, dt @ Wh.T  # BUG: Wx not transposed (a shape error unless D == H)


@mutant("rnn-dh-prev-no-transpose", "missing transpose", ("RNN",), "dh_prev = dt @ Wh instead of dt @ Wh.T")
class RNNDhPrevNoTranspose(rnnref.RNN):
    def backward(self, dh_next):
        if self.cache is None:
            raise RuntimeError("RNN.backward called before forward")
        Wx, Wh, _ = self.params
        x, h_prev, h_next = self.cache
        dh_next = float_array("dh_next", dh_next, h_next.shape).astype(Wx.dtype, copy=False)
        dt = dh_next * (1 - h_next**2)
        self.grads[0][...] = x.T @ dt
        self.grads[1][...] = h_prev.T @ dt
        self.grads[2][...] = dt.sum(axis=0)
        return dt @ Wx.T, dt @ Wh  # BUG: Wh is square, so the missing .T gives no shape error


@mutant("rnn-dWh-transposed", "wrong transpose", ("RNN",), "dWh = dt.T @ h_prev (the transpose of h_prev.T @ dt)")
class RNNDWhTransposed(rnnref.RNN):
    def backward(self, dh_next):
        if self.cache is None:
            raise RuntimeError("RNN.backward called before forward")
        Wx, Wh, _ = self.params
        x, h_prev, h_next = self.cache
        dh_next = float_array("dh_next", dh_next, h_next.shape).astype(Wx.dtype, copy=False)
        dt = dh_next * (1 - h_next**2)
        self.grads[0][...] = x.T @ dt
        self.grads[1][...] = dt.T @ h_prev  # BUG: operands swapped; (H, H) either way
        self.grads[2][...] = dt.sum(axis=0)
        return dt @ Wx.T, dt @ Wh.T


@mutant("rnn-db-mean", "mean instead of sum", ("RNN",), "db = dt.mean(axis=0) instead of the sum over the batch")
class RNNDbMean(rnnref.RNN):
    def backward(self, dh_next):
        if self.cache is None:
            raise RuntimeError("RNN.backward called before forward")
        Wx, Wh, _ = self.params
        x, h_prev, h_next = self.cache
        dh_next = float_array("dh_next", dh_next, h_next.shape).astype(Wx.dtype, copy=False)
        dt = dh_next * (1 - h_next**2)
        self.grads[0][...] = x.T @ dt
        self.grads[1][...] = h_prev.T @ dt
        self.grads[2][...] = dt.mean(axis=0)  # BUG: the bias is added to every row: sum, not mean
        return dt @ Wx.T, dt @ Wh.T


@mutant("rnn-dout-mutated", "input mutated in backward", ("RNN",), "backward scales dh_next in place (dh_next *= ...)")
class RNNDoutMutated(rnnref.RNN):
    def backward(self, dh_next):
        if self.cache is None:
            raise RuntimeError("RNN.backward called before forward")
        Wx, Wh, _ = self.params
        x, h_prev, h_next = self.cache
        dh_next = float_array("dh_next", dh_next, h_next.shape).astype(Wx.dtype, copy=False)
        dh_next *= 1 - h_next**2  # BUG: writes into the caller's dh_next
        dt = dh_next
        self.grads[0][...] = x.T @ dt
        self.grads[1][...] = h_prev.T @ dt
        self.grads[2][...] = dt.sum(axis=0)
        return dt @ Wx.T, dt @ Wh.T


# --- Affine ------------------------------------------------------------------------


@mutant("affine-forward-no-bias", "forgotten bias", ("Affine",), "forward returns x @ W, no b")
class AffineNoBias(rnnref.Affine):
    def forward(self, x):
        W, b = self.params
        x = float_array("x", x, ("N", W.shape[0])).astype(W.dtype, copy=False)
        self.x = x
        return x @ W  # BUG: + b forgotten


@mutant("affine-dW-wrong-order", "wrong transpose", ("Affine",), "dW = dout.T @ x: the transposed (M, D) shape")
class AffineDWWrongOrder(rnnref.Affine):
    def backward(self, dout):
        if self.x is None:
            raise RuntimeError("Affine.backward called before forward")
        W, _ = self.params
        dout = float_array("dout", dout, (self.x.shape[0], W.shape[1])).astype(W.dtype, copy=False)
        self.grads[0][...] = dout.T @ self.x  # BUG: (M, D), not x.T @ dout (D, M)
        self.grads[1][...] = dout.sum(axis=0)
        return dout @ W.T


@mutant("affine-db-mean", "mean instead of sum", ("Affine",), "db = dout.mean(axis=0)")
class AffineDbMean(rnnref.Affine):
    def backward(self, dout):
        if self.x is None:
            raise RuntimeError("Affine.backward called before forward")
        W, _ = self.params
        dout = float_array("dout", dout, (self.x.shape[0], W.shape[1])).astype(W.dtype, copy=False)
        self.grads[0][...] = self.x.T @ dout
        self.grads[1][...] = dout.mean(axis=0)  # BUG: sum over the batch, not mean
        return dout @ W.T


@mutant(
    "affine-grads-accumulate", "grads not zeroed between calls", ("Affine",), "dW += ... accumulates across backwards"
)
class AffineGradsAccumulate(rnnref.Affine):
    def backward(self, dout):
        if self.x is None:
            raise RuntimeError("Affine.backward called before forward")
        W, _ = self.params
        dout = float_array("dout", dout, (self.x.shape[0], W.shape[1])).astype(W.dtype, copy=False)
        self.grads[0][...] += self.x.T @ dout  # BUG: += keeps the previous backward's dW
        self.grads[1][...] = dout.sum(axis=0)
        return dout @ W.T


@mutant("affine-grads-rebound", "grads rebound, not written in place", ("Affine",), "self.grads[0] = dW (a new array)")
class AffineGradsRebound(rnnref.Affine):
    def backward(self, dout):
        if self.x is None:
            raise RuntimeError("Affine.backward called before forward")
        W, _ = self.params
        dout = float_array("dout", dout, (self.x.shape[0], W.shape[1])).astype(W.dtype, copy=False)
        self.grads[0] = self.x.T @ dout  # BUG: rebinds the list entry; a model's alias goes stale
        self.grads[1][...] = dout.sum(axis=0)
        return dout @ W.T


# --- Embedding ---------------------------------------------------------------------


@mutant(
    "embedding-assign-not-add-at",
    "assignment instead of np.add.at",
    ("Embedding",),
    "dW[idx] += dout: a repeated token keeps one row only",
)
class EmbeddingAssign(rnnref.Embedding):
    def backward(self, dout):
        if self.idx is None:
            raise RuntimeError("Embedding.backward called before forward")
        (dW,) = self.grads
        dout = float_array("dout", dout, (self.idx.shape[0], dW.shape[1]))
        dW[...] = 0
        dW[self.idx] += dout  # BUG: buffered fancy-index add: repeated ids are added once
        return None


@mutant(
    "embedding-grads-not-zeroed", "grads not zeroed between calls", ("Embedding",), "no dW[...] = 0 before np.add.at"
)
class EmbeddingNotZeroed(rnnref.Embedding):
    def backward(self, dout):
        if self.idx is None:
            raise RuntimeError("Embedding.backward called before forward")
        (dW,) = self.grads
        dout = float_array("dout", dout, (self.idx.shape[0], dW.shape[1]))
        # BUG: dW[...] = 0 is missing, so rows of the previous backward stay
        np.add.at(dW, self.idx, dout)
        return None


# --- TimeRNN -----------------------------------------------------------------------
# Overrides of TimeRNN.forward build the correct rnnref cell, `RNN(Wx, Wh, b)`.


@mutant(
    "time-rnn-grads-overwritten",
    "not summed over time",
    ("TimeRNN",),
    "each step's dWx, dWh, db overwrite the total instead of adding to it",
)
class TimeRNNOverwritten(rnnref.TimeRNN):
    def backward(self, dhs):
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
            dx, dh = layer.backward(dhs[:, t, :] + dh)
            dxs[:, t, :] = dx
            for total, g in zip(sums, layer.grads, strict=True):
                total[...] = g  # BUG: overwritten (the seed notebook's bug); keeps step 0's only
        for g, total in zip(self.grads, sums, strict=True):
            g[...] = total
        self.dh = dh
        return dxs


@mutant(
    "time-rnn-dh-not-carried",
    "hidden-state gradient not carried back",
    ("TimeRNN",),
    "each step gets dhs[:, t] only, not dhs[:, t] + dh from step t+1",
)
class TimeRNNDhNotCarried(rnnref.TimeRNN):
    def backward(self, dhs):
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
            dx, dh = layer.backward(dhs[:, t, :])  # BUG: + dh from step t+1 forgotten
            dxs[:, t, :] = dx
            for total, g in zip(sums, layer.grads, strict=True):
                total += g
        for g, total in zip(self.grads, sums, strict=True):
            g[...] = total
        self.dh = dh
        return dxs


@mutant(
    "time-rnn-backward-off-by-one",
    "off-by-one time step",
    ("TimeRNN",),
    "step t is fed dhs[:, t - 1] (step 0 gets the last step's dhs)",
)
class TimeRNNBackwardOffByOne(rnnref.TimeRNN):
    def backward(self, dhs):
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
            dx, dh = layer.backward(dhs[:, t - 1, :] + dh)  # BUG: t - 1, not t
            dxs[:, t, :] = dx
            for total, g in zip(sums, layer.grads, strict=True):
                total += g
        for g, total in zip(self.grads, sums, strict=True):
            g[...] = total
        self.dh = dh
        return dxs


@mutant(
    "time-rnn-dh-not-set",
    ".dh wrong",
    ("TimeRNN",),
    "backward never sets .dh (the gradient w.r.t. the initial state)",
)
class TimeRNNDhNotSet(rnnref.TimeRNN):
    def backward(self, dhs):
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
            dx, dh = layer.backward(dhs[:, t, :] + dh)
            dxs[:, t, :] = dx
            for total, g in zip(sums, layer.grads, strict=True):
                total += g
        for g, total in zip(self.grads, sums, strict=True):
            g[...] = total
        # BUG: `self.dh = dh` is missing
        return dxs


@mutant(
    "time-rnn-dh-last-step",
    ".dh wrong",
    ("TimeRNN",),
    ".dh is the dh_prev of the last step (t = T-1), not of the first",
)
class TimeRNNDhLastStep(rnnref.TimeRNN):
    def backward(self, dhs):
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
            dx, dh = layer.backward(dhs[:, t, :] + dh)
            dxs[:, t, :] = dx
            for total, g in zip(sums, layer.grads, strict=True):
                total += g
            if t == T - 1:
                self.dh = dh  # BUG: set at the first iteration (step T-1), not after the loop
        for g, total in zip(self.grads, sums, strict=True):
            g[...] = total
        return dxs


@mutant(
    "time-rnn-dhs-mutated",
    "input mutated in backward",
    ("TimeRNN",),
    "backward adds the carried dh into the caller's dhs in place",
)
class TimeRNNDhsMutated(rnnref.TimeRNN):
    def backward(self, dhs):
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
            dhs[:, t, :] += dh  # BUG: writes into the caller's dhs
            dx, dh = layer.backward(dhs[:, t, :])
            dxs[:, t, :] = dx
            for total, g in zip(sums, layer.grads, strict=True):
                total += g
        for g, total in zip(self.grads, sums, strict=True):
            g[...] = total
        self.dh = dh
        return dxs


@mutant(
    "time-rnn-layers-popped",
    "cache mutated in backward",
    ("TimeRNN",),
    "backward pops the cached step layers, so a second backward has none",
)
class TimeRNNLayersPopped(rnnref.TimeRNN):
    def backward(self, dhs):
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
            layer = self.layers.pop()  # BUG: empties the forward's cache
            dx, dh = layer.backward(dhs[:, t, :] + dh)
            dxs[:, t, :] = dx
            for total, g in zip(sums, layer.grads, strict=True):
                total += g
        for g, total in zip(self.grads, sums, strict=True):
            g[...] = total
        self.dh = dh
        return dxs


@mutant(
    "time-rnn-grads-rebound",
    "grads rebound, not written in place",
    ("TimeRNN",),
    "self.grads[i] = total instead of self.grads[i][...] = total",
)
class TimeRNNGradsRebound(rnnref.TimeRNN):
    def backward(self, dhs):
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
            dx, dh = layer.backward(dhs[:, t, :] + dh)
            dxs[:, t, :] = dx
            for total, g in zip(sums, layer.grads, strict=True):
                total += g
        self.grads[:] = sums  # BUG: new arrays in the list; the old grads arrays are never written
        self.dh = dh
        return dxs


@mutant(
    "time-rnn-dxs-float32",
    "dtype hard-coded",
    ("TimeRNN",),
    "dxs = np.empty(..., dtype='f'): float32 whatever the params",
    expect="warn",
)
class TimeRNNDxsFloat32(rnnref.TimeRNN):
    def backward(self, dhs):
        if self.layers is None:
            raise RuntimeError("TimeRNN.backward called before forward")
        Wx = self.params[0]
        (D, H), T = Wx.shape, len(self.layers)
        N = self._batch
        dhs = float_array("dhs", dhs, (N, T, H)).astype(Wx.dtype, copy=False)
        dxs = np.empty((N, T, D), dtype="f")  # BUG: the book's hard-coded float32
        dh = np.zeros((N, H), dtype=Wx.dtype)
        sums = [np.zeros_like(g) for g in self.grads]
        for t in reversed(range(T)):
            layer = self.layers[t]
            dx, dh = layer.backward(dhs[:, t, :] + dh)
            dxs[:, t, :] = dx
            for total, g in zip(sums, layer.grads, strict=True):
                total += g
        for g, total in zip(self.grads, sums, strict=True):
            g[...] = total
        self.dh = dh
        return dxs


@mutant(
    "time-rnn-hs-float32",
    "dtype hard-coded",
    ("TimeRNN",),
    "hs = np.empty(..., dtype='f'): float32 whatever the params",
    expect="warn",
)
class TimeRNNHsFloat32(rnnref.TimeRNN):
    def forward(self, xs):
        Wx, Wh, b = self.params
        (D, H), dtype = Wx.shape, Wx.dtype
        xs = float_array("xs", xs, ("N", "T", D))
        N, T, _ = xs.shape
        if not self.stateful or self.h is None:
            h = np.zeros((N, H), dtype=dtype)
        elif self.h.shape != (N, H):
            raise ValueError(
                f"the carried state h has shape {self.h.shape} but xs has batch size N={N}; "
                "call reset_state() or set_state(h) with h of shape (N, H)"
            )
        else:
            h = self.h
        layers, hs = [], np.empty((N, T, H), dtype="f")  # BUG: the book's hard-coded float32
        for t in range(T):
            layer = RNN(Wx, Wh, b)
            h = layer.forward(xs[:, t, :], h)
            hs[:, t, :] = h
            layers.append(layer)
        self.layers, self.h, self._batch = layers, h, N
        return hs


@mutant(
    "time-rnn-forward-reversed",
    "reversed time loop in forward",
    ("TimeRNN",),
    "forward runs t = T-1 .. 0, so the state flows backwards in time",
)
class TimeRNNForwardReversed(rnnref.TimeRNN):
    def forward(self, xs):
        Wx, Wh, b = self.params
        (D, H), dtype = Wx.shape, Wx.dtype
        xs = float_array("xs", xs, ("N", "T", D))
        N, T, _ = xs.shape
        if not self.stateful or self.h is None:
            h = np.zeros((N, H), dtype=dtype)
        elif self.h.shape != (N, H):
            raise ValueError(
                f"the carried state h has shape {self.h.shape} but xs has batch size N={N}; "
                "call reset_state() or set_state(h) with h of shape (N, H)"
            )
        else:
            h = self.h
        layers, hs = [], np.empty((N, T, H), dtype=dtype)
        for t in reversed(range(T)):  # BUG: time runs forwards
            layer = RNN(Wx, Wh, b)
            h = layer.forward(xs[:, t, :], h)
            hs[:, t, :] = h
            layers.append(layer)
        self.layers, self.h, self._batch = layers, h, N
        return hs


@mutant(
    "time-rnn-forward-off-by-one",
    "off-by-one time step",
    ("TimeRNN",),
    "forward stores step t's state in hs[:, t - 1]",
)
class TimeRNNForwardOffByOne(rnnref.TimeRNN):
    def forward(self, xs):
        Wx, Wh, b = self.params
        (D, H), dtype = Wx.shape, Wx.dtype
        xs = float_array("xs", xs, ("N", "T", D))
        N, T, _ = xs.shape
        if not self.stateful or self.h is None:
            h = np.zeros((N, H), dtype=dtype)
        elif self.h.shape != (N, H):
            raise ValueError(
                f"the carried state h has shape {self.h.shape} but xs has batch size N={N}; "
                "call reset_state() or set_state(h) with h of shape (N, H)"
            )
        else:
            h = self.h
        layers, hs = [], np.empty((N, T, H), dtype=dtype)
        for t in range(T):
            layer = RNN(Wx, Wh, b)
            h = layer.forward(xs[:, t, :], h)
            hs[:, t - 1, :] = h  # BUG: t - 1, not t
            layers.append(layer)
        self.layers, self.h, self._batch = layers, h, N
        return hs


@mutant(
    "time-rnn-always-stateful",
    "stateful flag ignored",
    ("TimeRNN",),
    "forward carries the state even with stateful=False",
)
class TimeRNNAlwaysStateful(rnnref.TimeRNN):
    def forward(self, xs):
        Wx, Wh, b = self.params
        (D, H), dtype = Wx.shape, Wx.dtype
        xs = float_array("xs", xs, ("N", "T", D))
        N, T, _ = xs.shape
        if self.h is None:  # BUG: `not self.stateful or` dropped
            h = np.zeros((N, H), dtype=dtype)
        elif self.h.shape != (N, H):
            raise ValueError(
                f"the carried state h has shape {self.h.shape} but xs has batch size N={N}; "
                "call reset_state() or set_state(h) with h of shape (N, H)"
            )
        else:
            h = self.h
        layers, hs = [], np.empty((N, T, H), dtype=dtype)
        for t in range(T):
            layer = RNN(Wx, Wh, b)
            h = layer.forward(xs[:, t, :], h)
            hs[:, t, :] = h
            layers.append(layer)
        self.layers, self.h, self._batch = layers, h, N
        return hs


@mutant(
    "time-rnn-state-not-kept",
    "stateful flag ignored",
    ("TimeRNN",),
    "forward never stores its last state, so stateful=True carries nothing",
)
class TimeRNNStateNotKept(rnnref.TimeRNN):
    def forward(self, xs):
        Wx, Wh, b = self.params
        (D, H), dtype = Wx.shape, Wx.dtype
        xs = float_array("xs", xs, ("N", "T", D))
        N, T, _ = xs.shape
        if not self.stateful or self.h is None:
            h = np.zeros((N, H), dtype=dtype)
        elif self.h.shape != (N, H):
            raise ValueError(
                f"the carried state h has shape {self.h.shape} but xs has batch size N={N}; "
                "call reset_state() or set_state(h) with h of shape (N, H)"
            )
        else:
            h = self.h
        layers, hs = [], np.empty((N, T, H), dtype=dtype)
        for t in range(T):
            layer = RNN(Wx, Wh, b)
            h = layer.forward(xs[:, t, :], h)
            hs[:, t, :] = h
            layers.append(layer)
        self.layers, self.h, self._batch = layers, None, N  # BUG: self.h = h, not None
        return hs


@mutant("time-rnn-reset-broken", "reset_state broken", ("TimeRNN",), "reset_state clears .dh, not the state .h")
class TimeRNNResetBroken(rnnref.TimeRNN):
    def reset_state(self):
        self.dh = None  # BUG: self.h = None


@mutant("time-rnn-set-state-ignored", "set_state ignored", ("TimeRNN",), "set_state stores h where forward never looks")
class TimeRNNSetStateIgnored(rnnref.TimeRNN):
    def set_state(self, h):
        Wx = self.params[0]
        self.h0 = float_array("h", h, ("N", Wx.shape[1])).astype(Wx.dtype, copy=True)  # BUG: self.h0, not self.h


# --- TimeEmbedding -----------------------------------------------------------------


@mutant(
    "time-embedding-assign-not-add-at",
    "assignment instead of np.add.at",
    ("TimeEmbedding",),
    "dW[idx] += dout: a repeated token keeps one row only",
)
class TimeEmbeddingAssign(rnnref.TimeEmbedding):
    def backward(self, dout):
        if self.idx is None:
            raise RuntimeError("TimeEmbedding.backward called before forward")
        (dW,) = self.grads
        dout = float_array("dout", dout, (*self.idx.shape, dW.shape[1]))
        dW[...] = 0
        dW[self.idx] += dout  # BUG: buffered fancy-index add: repeated ids are added once
        return None


@mutant(
    "time-embedding-grads-not-zeroed",
    "grads not zeroed between calls",
    ("TimeEmbedding",),
    "no dW[...] = 0 before np.add.at",
)
class TimeEmbeddingNotZeroed(rnnref.TimeEmbedding):
    def backward(self, dout):
        if self.idx is None:
            raise RuntimeError("TimeEmbedding.backward called before forward")
        (dW,) = self.grads
        dout = float_array("dout", dout, (*self.idx.shape, dW.shape[1]))
        # BUG: dW[...] = 0 is missing, so rows of the previous backward stay
        np.add.at(dW, self.idx, dout)
        return None


@mutant(
    "time-embedding-zeros-rebound",
    "grads rebound, not written in place",
    ("TimeEmbedding",),
    "dW = np.zeros_like(dW): the local name is rebound, self.grads[0] never written",
)
class TimeEmbeddingZerosRebound(rnnref.TimeEmbedding):
    def backward(self, dout):
        if self.idx is None:
            raise RuntimeError("TimeEmbedding.backward called before forward")
        (dW,) = self.grads
        dout = float_array("dout", dout, (*self.idx.shape, dW.shape[1]))
        dW = np.zeros_like(dW)  # BUG: a new array; np.add.at below fills it, not self.grads[0]
        np.add.at(dW, self.idx, dout)
        return None


@mutant(
    "time-embedding-forward-transposed",
    "wrong transpose",
    ("TimeEmbedding",),
    "forward returns W[xs.T]: (T, N, D) instead of (N, T, D)",
)
class TimeEmbeddingForwardTransposed(rnnref.TimeEmbedding):
    def forward(self, xs):
        (W,) = self.params
        xs = int_array("xs", xs, ("N", "T"))
        check_token_range("xs", xs, W.shape[0])
        self.idx = xs.copy()
        return W[xs.T]  # BUG: time-major output


# --- TimeAffine --------------------------------------------------------------------


@mutant("time-affine-forward-no-bias", "forgotten bias", ("TimeAffine",), "forward returns xs W, no b")
class TimeAffineNoBias(rnnref.TimeAffine):
    def forward(self, xs):
        W, b = self.params
        xs = float_array("xs", xs, ("N", "T", W.shape[0])).astype(W.dtype, copy=False)
        N, T, D = xs.shape
        self.x = xs
        return (xs.reshape(N * T, D) @ W).reshape(N, T, -1)  # BUG: + b forgotten


@mutant("time-affine-db-mean", "mean instead of sum", ("TimeAffine",), "db = dout.mean(axis=0) over the N*T rows")
class TimeAffineDbMean(rnnref.TimeAffine):
    def backward(self, dout):
        if self.x is None:
            raise RuntimeError("TimeAffine.backward called before forward")
        W, _ = self.params
        N, T, D = self.x.shape
        dout = float_array("dout", dout, (N, T, W.shape[1])).astype(W.dtype, copy=False).reshape(N * T, -1)
        self.grads[0][...] = self.x.reshape(N * T, D).T @ dout
        self.grads[1][...] = dout.mean(axis=0)  # BUG: sum over batch and time, not mean
        return (dout @ W.T).reshape(N, T, D)


@mutant(
    "time-affine-dW-last-step",
    "not summed over time",
    ("TimeAffine",),
    "dW from the last time step only: x[:, -1].T @ dout[:, -1]",
)
class TimeAffineDWLastStep(rnnref.TimeAffine):
    def backward(self, dout):
        if self.x is None:
            raise RuntimeError("TimeAffine.backward called before forward")
        W, _ = self.params
        N, T, D = self.x.shape
        dout = float_array("dout", dout, (N, T, W.shape[1])).astype(W.dtype, copy=False).reshape(N * T, -1)
        self.grads[0][...] = self.x[:, -1].T @ dout.reshape(N, T, -1)[:, -1]  # BUG: one step, not the sum over T
        self.grads[1][...] = dout.sum(axis=0)
        return (dout @ W.T).reshape(N, T, D)


# --- TimeSoftmaxWithLoss -----------------------------------------------------------
# The cache is (labels with ignored positions read as 0, logp, mask, count).


@mutant(
    "loss-dout-ignored",
    "dout ignored",
    ("TimeSoftmaxWithLoss",),
    "backward scales by 1 / count, dropping the upstream dout",
)
class LossDoutIgnored(rnnref.TimeSoftmaxWithLoss):
    def backward(self, dout=1):
        if self.cache is None:
            raise RuntimeError("TimeSoftmaxWithLoss.backward called before forward")
        ts, logp, mask, count = self.cache
        dxs = np.exp(logp)
        np.put_along_axis(dxs, ts[..., None], np.take_along_axis(dxs, ts[..., None], axis=2) - 1, axis=2)
        scale = np.asarray(1, dtype=dxs.dtype) / max(count, 1)  # BUG: dout, not 1
        return np.where(mask[..., None], dxs * scale, 0).astype(dxs.dtype, copy=False)


@mutant(
    "loss-gradient-not-masked",
    "not masked in the gradient",
    ("TimeSoftmaxWithLoss",),
    "backward gives ignored positions a gradient (no np.where(mask, ...))",
)
class LossGradientNotMasked(rnnref.TimeSoftmaxWithLoss):
    def backward(self, dout=1):
        if self.cache is None:
            raise RuntimeError("TimeSoftmaxWithLoss.backward called before forward")
        ts, logp, mask, count = self.cache
        dxs = np.exp(logp)
        np.put_along_axis(dxs, ts[..., None], np.take_along_axis(dxs, ts[..., None], axis=2) - 1, axis=2)
        scale = np.asarray(dout, dtype=dxs.dtype) / max(count, 1)
        return (dxs * scale).astype(dxs.dtype, copy=False)  # BUG: ignored positions not zeroed


@mutant(
    "loss-backward-normaliser-NT",
    "wrong normaliser",
    ("TimeSoftmaxWithLoss",),
    "backward divides by N*T instead of the number of counted positions",
)
class LossBackwardNormaliserNT(rnnref.TimeSoftmaxWithLoss):
    def backward(self, dout=1):
        if self.cache is None:
            raise RuntimeError("TimeSoftmaxWithLoss.backward called before forward")
        ts, logp, mask, count = self.cache
        dxs = np.exp(logp)
        np.put_along_axis(dxs, ts[..., None], np.take_along_axis(dxs, ts[..., None], axis=2) - 1, axis=2)
        scale = np.asarray(dout, dtype=dxs.dtype) / mask.size  # BUG: every position, not count
        return np.where(mask[..., None], dxs * scale, 0).astype(dxs.dtype, copy=False)


@mutant(
    "loss-cache-mutated",
    "cache mutated in backward",
    ("TimeSoftmaxWithLoss",),
    "backward exponentiates the cached log-probabilities in place (np.exp(logp, out=logp))",
    expect="warn",
)
class LossCacheMutated(rnnref.TimeSoftmaxWithLoss):
    def backward(self, dout=1):
        if self.cache is None:
            raise RuntimeError("TimeSoftmaxWithLoss.backward called before forward")
        ts, logp, mask, count = self.cache
        dxs = np.exp(logp, out=logp)  # BUG: overwrites the cache; a second backward is wrong
        np.put_along_axis(dxs, ts[..., None], np.take_along_axis(dxs, ts[..., None], axis=2) - 1, axis=2)
        scale = np.asarray(dout, dtype=dxs.dtype) / max(count, 1)
        return np.where(mask[..., None], dxs * scale, 0).astype(dxs.dtype, copy=False)


@mutant(
    "loss-forward-not-masked",
    "ignored positions not masked in the loss",
    ("TimeSoftmaxWithLoss",),
    "forward sums -log p over every position, ignored ones (read as class 0) included",
)
class LossForwardNotMasked(rnnref.TimeSoftmaxWithLoss):
    def forward(self, xs, ts):
        xs = float_array("xs", xs, ("N", "T", "V"))
        N, T, V = xs.shape
        ts = np.asarray(ts)
        if ts.ndim == 3:
            if ts.shape != (N, T, V):
                raise ValueError(f"one-hot ts must have shape ({N}, {T}, {V}) like xs; got {ts.shape}")
            ts = ts.argmax(axis=2)
        ts = int_array("ts", ts, (N, T))
        mask = ts != self.ignore_label
        _check_labels(ts, mask, V, self.ignore_label)
        logp = log_softmax(xs)
        picked = np.take_along_axis(logp, np.where(mask, ts, 0)[..., None], axis=2)[..., 0]
        count = int(mask.sum())
        loss = -np.sum(picked) / count if count else 0.0  # BUG: where=mask dropped
        self.cache = (np.where(mask, ts, 0), logp, mask, count)
        return np.asarray(loss, dtype=xs.dtype)


@mutant(
    "loss-forward-sum-not-mean",
    "sum instead of mean",
    ("TimeSoftmaxWithLoss",),
    "forward returns the sum over counted positions, not the mean",
)
class LossForwardSum(rnnref.TimeSoftmaxWithLoss):
    def forward(self, xs, ts):
        xs = float_array("xs", xs, ("N", "T", "V"))
        N, T, V = xs.shape
        ts = np.asarray(ts)
        if ts.ndim == 3:
            if ts.shape != (N, T, V):
                raise ValueError(f"one-hot ts must have shape ({N}, {T}, {V}) like xs; got {ts.shape}")
            ts = ts.argmax(axis=2)
        ts = int_array("ts", ts, (N, T))
        mask = ts != self.ignore_label
        _check_labels(ts, mask, V, self.ignore_label)
        logp = log_softmax(xs)
        picked = np.take_along_axis(logp, np.where(mask, ts, 0)[..., None], axis=2)[..., 0]
        count = int(mask.sum())
        loss = -np.sum(picked, where=mask) if count else 0.0  # BUG: / count forgotten
        self.cache = (np.where(mask, ts, 0), logp, mask, count)
        return np.asarray(loss, dtype=xs.dtype)


@mutant(
    "loss-forward-normaliser-NT",
    "wrong normaliser",
    ("TimeSoftmaxWithLoss",),
    "forward divides by N*T instead of the number of counted positions",
)
class LossForwardNormaliserNT(rnnref.TimeSoftmaxWithLoss):
    def forward(self, xs, ts):
        xs = float_array("xs", xs, ("N", "T", "V"))
        N, T, V = xs.shape
        ts = np.asarray(ts)
        if ts.ndim == 3:
            if ts.shape != (N, T, V):
                raise ValueError(f"one-hot ts must have shape ({N}, {T}, {V}) like xs; got {ts.shape}")
            ts = ts.argmax(axis=2)
        ts = int_array("ts", ts, (N, T))
        mask = ts != self.ignore_label
        _check_labels(ts, mask, V, self.ignore_label)
        logp = log_softmax(xs)
        picked = np.take_along_axis(logp, np.where(mask, ts, 0)[..., None], axis=2)[..., 0]
        count = int(mask.sum())
        loss = -np.sum(picked, where=mask) / (N * T) if count else 0.0  # BUG: N * T, not count
        self.cache = (np.where(mask, ts, 0), logp, mask, count)
        return np.asarray(loss, dtype=xs.dtype)


@mutant(
    "loss-all-ignored-nan",
    "all ignored gives NaN",
    ("TimeSoftmaxWithLoss",),
    "forward divides by count without the `if count` guard: 0 / 0 when every position is ignored "
    "(the book's and PyTorch's convention: a warning, see docs/design-notes.md)",
    expect="warn",
)
class LossAllIgnoredNan(rnnref.TimeSoftmaxWithLoss):
    def forward(self, xs, ts):
        xs = float_array("xs", xs, ("N", "T", "V"))
        N, T, V = xs.shape
        ts = np.asarray(ts)
        if ts.ndim == 3:
            if ts.shape != (N, T, V):
                raise ValueError(f"one-hot ts must have shape ({N}, {T}, {V}) like xs; got {ts.shape}")
            ts = ts.argmax(axis=2)
        ts = int_array("ts", ts, (N, T))
        mask = ts != self.ignore_label
        _check_labels(ts, mask, V, self.ignore_label)
        logp = log_softmax(xs)
        picked = np.take_along_axis(logp, np.where(mask, ts, 0)[..., None], axis=2)[..., 0]
        count = int(mask.sum())
        loss = -np.sum(picked, where=mask) / count  # BUG: `if count else 0.0` dropped
        self.cache = (np.where(mask, ts, 0), logp, mask, count)
        return np.asarray(loss, dtype=xs.dtype)


@mutant(
    "loss-no-max-shift",
    "non-finite on extreme logits",
    ("TimeSoftmaxWithLoss",),
    "log-softmax as xs - log(sum(exp(xs))), without subtracting the row max",
    expect="warn",
)
class LossNoMaxShift(rnnref.TimeSoftmaxWithLoss):
    def forward(self, xs, ts):
        xs = float_array("xs", xs, ("N", "T", "V"))
        N, T, V = xs.shape
        ts = np.asarray(ts)
        if ts.ndim == 3:
            if ts.shape != (N, T, V):
                raise ValueError(f"one-hot ts must have shape ({N}, {T}, {V}) like xs; got {ts.shape}")
            ts = ts.argmax(axis=2)
        ts = int_array("ts", ts, (N, T))
        mask = ts != self.ignore_label
        _check_labels(ts, mask, V, self.ignore_label)
        logp = xs - np.log(np.sum(np.exp(xs), axis=2, keepdims=True))  # BUG: exp overflows for large logits
        picked = np.take_along_axis(logp, np.where(mask, ts, 0)[..., None], axis=2)[..., 0]
        count = int(mask.sum())
        loss = -np.sum(picked, where=mask) / count if count else 0.0
        self.cache = (np.where(mask, ts, 0), logp, mask, count)
        return np.asarray(loss, dtype=xs.dtype)


@mutant(
    "loss-xs-shifted-in-place",
    "input mutated in forward",
    ("TimeSoftmaxWithLoss",),
    "forward subtracts the row max from the caller's xs in place",
)
class LossXsShiftedInPlace(rnnref.TimeSoftmaxWithLoss):
    def forward(self, xs, ts):
        xs = float_array("xs", xs, ("N", "T", "V"))
        N, T, V = xs.shape
        ts = np.asarray(ts)
        if ts.ndim == 3:
            if ts.shape != (N, T, V):
                raise ValueError(f"one-hot ts must have shape ({N}, {T}, {V}) like xs; got {ts.shape}")
            ts = ts.argmax(axis=2)
        ts = int_array("ts", ts, (N, T))
        mask = ts != self.ignore_label
        _check_labels(ts, mask, V, self.ignore_label)
        xs -= xs.max(axis=2, keepdims=True)  # BUG: shifts the caller's logits (the values stay right)
        logp = log_softmax(xs)
        picked = np.take_along_axis(logp, np.where(mask, ts, 0)[..., None], axis=2)[..., 0]
        count = int(mask.sum())
        loss = -np.sum(picked, where=mask) / count if count else 0.0
        self.cache = (np.where(mask, ts, 0), logp, mask, count)
        return np.asarray(loss, dtype=xs.dtype)


@mutant(
    "loss-ts-mutated",
    "input mutated in forward",
    ("TimeSoftmaxWithLoss",),
    "forward overwrites the caller's ignored labels with 0",
)
class LossTsMutated(rnnref.TimeSoftmaxWithLoss):
    def forward(self, xs, ts):
        xs = float_array("xs", xs, ("N", "T", "V"))
        N, T, V = xs.shape
        ts = np.asarray(ts)
        if ts.ndim == 3:
            if ts.shape != (N, T, V):
                raise ValueError(f"one-hot ts must have shape ({N}, {T}, {V}) like xs; got {ts.shape}")
            ts = ts.argmax(axis=2)
        ts = int_array("ts", ts, (N, T))
        mask = ts != self.ignore_label
        _check_labels(ts, mask, V, self.ignore_label)
        ts[~mask] = 0  # BUG: writes into the caller's labels (the values stay right)
        logp = log_softmax(xs)
        picked = np.take_along_axis(logp, np.where(mask, ts, 0)[..., None], axis=2)[..., 0]
        count = int(mask.sum())
        loss = -np.sum(picked, where=mask) / count if count else 0.0
        self.cache = (np.where(mask, ts, 0), logp, mask, count)
        return np.asarray(loss, dtype=xs.dtype)


@mutant(
    "loss-onehot-wrong-axis",
    "one-hot labels mishandled",
    ("TimeSoftmaxWithLoss",),
    "one-hot labels decoded with argmax(axis=1) (over time) instead of axis=2",
)
class LossOnehotWrongAxis(rnnref.TimeSoftmaxWithLoss):
    def forward(self, xs, ts):
        xs = float_array("xs", xs, ("N", "T", "V"))
        N, T, V = xs.shape
        ts = np.asarray(ts)
        if ts.ndim == 3:
            if ts.shape != (N, T, V):
                raise ValueError(f"one-hot ts must have shape ({N}, {T}, {V}) like xs; got {ts.shape}")
            ts = ts.argmax(axis=1)  # BUG: the class axis is 2
        ts = int_array("ts", ts, (N, T))
        mask = ts != self.ignore_label
        _check_labels(ts, mask, V, self.ignore_label)
        logp = log_softmax(xs)
        picked = np.take_along_axis(logp, np.where(mask, ts, 0)[..., None], axis=2)[..., 0]
        count = int(mask.sum())
        loss = -np.sum(picked, where=mask) / count if count else 0.0
        self.cache = (np.where(mask, ts, 0), logp, mask, count)
        return np.asarray(loss, dtype=xs.dtype)


@mutant(
    "loss-onehot-max-not-argmax",
    "one-hot labels mishandled",
    ("TimeSoftmaxWithLoss",),
    "one-hot labels decoded with max (always 1) instead of argmax",
)
class LossOnehotMax(rnnref.TimeSoftmaxWithLoss):
    def forward(self, xs, ts):
        xs = float_array("xs", xs, ("N", "T", "V"))
        N, T, V = xs.shape
        ts = np.asarray(ts)
        if ts.ndim == 3:
            if ts.shape != (N, T, V):
                raise ValueError(f"one-hot ts must have shape ({N}, {T}, {V}) like xs; got {ts.shape}")
            ts = ts.max(axis=2)  # BUG: the value of the 1, not where it is
        ts = int_array("ts", ts, (N, T))
        mask = ts != self.ignore_label
        _check_labels(ts, mask, V, self.ignore_label)
        logp = log_softmax(xs)
        picked = np.take_along_axis(logp, np.where(mask, ts, 0)[..., None], axis=2)[..., 0]
        count = int(mask.sum())
        loss = -np.sum(picked, where=mask) / count if count else 0.0
        self.cache = (np.where(mask, ts, 0), logp, mask, count)
        return np.asarray(loss, dtype=xs.dtype)


@mutant(
    "loss-ignore-label-hardcoded",
    "ignored positions not masked in the loss",
    ("TimeSoftmaxWithLoss",),
    "forward masks labels equal to -1, not to self.ignore_label",
)
class LossIgnoreLabelHardcoded(rnnref.TimeSoftmaxWithLoss):
    def forward(self, xs, ts):
        xs = float_array("xs", xs, ("N", "T", "V"))
        N, T, V = xs.shape
        ts = np.asarray(ts)
        if ts.ndim == 3:
            if ts.shape != (N, T, V):
                raise ValueError(f"one-hot ts must have shape ({N}, {T}, {V}) like xs; got {ts.shape}")
            ts = ts.argmax(axis=2)
        ts = int_array("ts", ts, (N, T))
        mask = ts != -1  # BUG: a caller's layer.ignore_label = ... has no effect
        _check_labels(ts, mask, V, self.ignore_label)
        logp = log_softmax(xs)
        picked = np.take_along_axis(logp, np.where(mask, ts, 0)[..., None], axis=2)[..., 0]
        count = int(mask.sum())
        loss = -np.sum(picked, where=mask) / count if count else 0.0
        self.cache = (np.where(mask, ts, 0), logp, mask, count)
        return np.asarray(loss, dtype=xs.dtype)


def _check_labels(ts: np.ndarray, mask: np.ndarray, V: int, ignore_label: int) -> None:
    """rnnref's label-range check, verbatim (kept out of the copies for readability)."""
    bad = mask & ((ts < 0) | (ts >= V))
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"ts holds label {int(ts[where])} at index {where}; labels must lie in [0, {V}) "
            f"or equal ignore_label={ignore_label}"
        )


# --- SimpleRnnlm -------------------------------------------------------------------
# SimpleRnnlm.__init__ is long; the __init__ mutants run it and then redo, with the
# bug, the one statement they change (the building of params/grads, or the flag).


@mutant(
    "model-params-left-out",
    "model leaves a layer's params out",
    ("SimpleRnnlm",),
    "params/grads collect the embedding and the RNN but not the affine layer",
)
class ModelParamsLeftOut(SimpleRnnlm64):
    def __init__(self, vocab_size, wordvec_size, hidden_size, **kw):
        super().__init__(vocab_size, wordvec_size, hidden_size, **kw)
        self.params, self.grads = [], []
        for layer in self.layers[:2]:  # BUG: self.layers, all three
            self.params += layer.params
            self.grads += layer.grads


@mutant(
    "model-params-copies",
    "model params are copies, not aliases",
    ("SimpleRnnlm",),
    "params holds copies of the layers' arrays, so writing into them changes nothing",
)
class ModelParamsCopies(SimpleRnnlm64):
    def __init__(self, vocab_size, wordvec_size, hidden_size, **kw):
        super().__init__(vocab_size, wordvec_size, hidden_size, **kw)
        self.params, self.grads = [], []
        for layer in self.layers:
            self.params += [p.copy() for p in layer.params]  # BUG: copies, not the layers' arrays
            self.grads += layer.grads


@mutant(
    "model-grads-copies",
    "model params are copies, not aliases",
    ("SimpleRnnlm",),
    "grads holds copies of the layers' arrays, so it never sees a backward",
)
class ModelGradsCopies(SimpleRnnlm64):
    def __init__(self, vocab_size, wordvec_size, hidden_size, **kw):
        super().__init__(vocab_size, wordvec_size, hidden_size, **kw)
        self.params, self.grads = [], []
        for layer in self.layers:
            self.params += layer.params
            self.grads += [g.copy() for g in layer.grads]  # BUG: copies, not the layers' arrays


@mutant(
    "model-not-stateful",
    "model's TimeRNN not stateful",
    ("SimpleRnnlm",),
    "the model's TimeRNN is built with stateful=False",
)
class ModelNotStateful(SimpleRnnlm64):
    def __init__(self, vocab_size, wordvec_size, hidden_size, **kw):
        super().__init__(vocab_size, wordvec_size, hidden_size, **kw)
        self.rnn_layer.stateful = False  # BUG: the model carries the state between chunks


@mutant("model-dout-ignored", "dout ignored", ("SimpleRnnlm",), "backward calls loss_layer.backward() without dout")
class ModelDoutIgnored(SimpleRnnlm64):
    def backward(self, dout=1):
        dout = self.loss_layer.backward()  # BUG: dout not passed on
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout


@mutant("model-reset-broken", "reset_state broken", ("SimpleRnnlm",), "reset_state clears the RNN's .dh, not its state")
class ModelResetBroken(SimpleRnnlm64):
    def reset_state(self):
        self.rnn_layer.dh = None  # BUG: self.rnn_layer.reset_state()


# --- families seen in real re-implementations (issue 9) -------------------------------------
# ("+ b missing in forward only", also seen there, is rnn-/affine-/time-affine-forward-no-bias above.)


@mutant(
    "time-embedding-built-once",
    "per-step layers built once",
    ("TimeEmbedding",),
    "the per-step Embedding layers are built on the first forward, for that call's T",
)
class TimeEmbeddingBuiltOnce(rnnref.TimeEmbedding):
    def forward(self, xs):
        (W,) = self.params
        xs = int_array("xs", xs, ("N", "T"))
        check_token_range("xs", xs, W.shape[0])
        self.idx = xs.copy()
        if getattr(self, "_steps", None) is None:  # BUG: built once, for the first T
            self._steps = [rnnref.Embedding(W) for _ in range(xs.shape[1])]
        return np.stack([self._steps[t].forward(xs[:, t]) for t in range(xs.shape[1])], axis=1)


@mutant(
    "time-rnn-layers-built-once",
    "per-step layers built once",
    ("TimeRNN",),
    "the per-step RNN layers of the first forward are kept and reused by later calls",
)
class TimeRNNLayersBuiltOnce(rnnref.TimeRNN):
    def forward(self, xs):
        Wx, Wh, b = self.params
        (D, H), dtype = Wx.shape, Wx.dtype
        xs = float_array("xs", xs, ("N", "T", D))
        N, T, _ = xs.shape
        if not self.stateful or self.h is None:
            h = np.zeros((N, H), dtype=dtype)
        else:
            h = self.h
        if self.layers is None or len(self.layers) < T:  # BUG: a shorter T keeps the old, longer list
            self.layers = [RNN(Wx, Wh, b) for _ in range(T)]
        hs = np.empty((N, T, H), dtype=dtype)
        for t in range(T):
            h = self.layers[t].forward(xs[:, t, :], h)
            hs[:, t, :] = h
        self.h, self._batch = h, N
        return hs


@mutant(
    "loss-softmax-exp-in-place",
    "logits mutated by softmax",
    ("TimeSoftmaxWithLoss",),
    "softmax computed into the caller's xs (exp(x, out=x)); the loss itself is right",
)
class LossSoftmaxExpInPlace(rnnref.TimeSoftmaxWithLoss):
    def forward(self, xs, ts):
        xs = float_array("xs", xs, ("N", "T", "V"))
        N, T, V = xs.shape
        ts = np.asarray(ts)
        if ts.ndim == 3:
            ts = ts.argmax(axis=2)
        ts = int_array("ts", ts, (N, T))
        mask = ts != self.ignore_label
        _check_labels(ts, mask, V, self.ignore_label)
        logp = log_softmax(xs)
        np.exp(xs - xs.max(axis=2, keepdims=True), out=xs)  # BUG: the probabilities overwrite the logits
        picked = np.take_along_axis(logp, np.where(mask, ts, 0)[..., None], axis=2)[..., 0]
        count = int(mask.sum())
        loss = -np.sum(picked, where=mask) / count if count else 0.0
        self.cache = (np.where(mask, ts, 0), logp, mask, count)
        return np.asarray(loss, dtype=xs.dtype)


@mutant(
    "time-rnn-weight-grads-never-written",
    "weight gradients never accumulated",
    ("TimeRNN",),
    "the per-step weight gradients are summed into a local list that never reaches self.grads",
)
class TimeRNNWeightGradsNeverWritten(rnnref.TimeRNN):
    def backward(self, dhs):
        Wx = self.params[0]
        (D, H), T = Wx.shape, len(self.layers)
        N = self._batch
        dhs = float_array("dhs", dhs, (N, T, H)).astype(Wx.dtype, copy=False)
        dxs = np.empty((N, T, D), dtype=Wx.dtype)
        dh = np.zeros((N, H), dtype=Wx.dtype)
        grads = [np.zeros_like(g) for g in self.grads]  # BUG: a local list; self.grads stay zero
        for t in reversed(range(T)):
            dx, dh = self.layers[t].backward(dhs[:, t, :] + dh)
            dxs[:, t, :] = dx
            for i, g in enumerate(self.layers[t].grads):
                grads[i] += g
        self.dh = dh
        return dxs


@mutant(
    "time-rnn-dh-other-name",
    "state gradient under another name",
    ("TimeRNN",),
    "the gradient w.r.t. the initial state is stored as .dhidden, so .dh stays None "
    "(right values under another name: a warning; absent, time-rnn-dh-not-set fails)",
    expect="warn",
)
class TimeRNNDhOtherName(rnnref.TimeRNN):
    def backward(self, dhs):
        dxs = super().backward(dhs)
        self.dhidden, self.dh = self.dh, None  # BUG: the book (and the trainer's stateful use) read .dh
        return dxs


@mutant(
    "rnn-redefined-without-backward",
    "a second class definition shadowing the first",
    ("RNN",),
    "a later cell redefines RNN to try a new forward and never defines backward",
    replaces="RNN",
)
class RNNRedefinedWithoutBackward:
    def __init__(self, Wx, Wh, b):
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]

    def forward(self, x, h_prev):  # BUG: the class that wins has no backward
        Wx, Wh, b = self.params
        return np.tanh(h_prev @ Wh + x @ Wx + b)


@mutant(
    "time-affine-init-misspelled",
    "a second class definition shadowing the first",
    ("TimeAffine",),
    "the redefinition misspells __init__ as __init, so the constructor takes no arrays",
    replaces="TimeAffine",
)
class TimeAffineInitMisspelled:
    def __init(self, W, b):  # BUG: __init, not __init__ (never called)
        self.params = [W, b]
        self.grads = [np.zeros_like(W), np.zeros_like(b)]


CATALOGUE: tuple[Mutant, ...] = tuple(_CATALOGUE)
