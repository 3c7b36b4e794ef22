"""Mutants of the feed-forward layers: Affine, Embedding, MatMul, Softmax, Sigmoid (one
step) and their Time forms (TimeAffine, Simple_TimeAffine, TimeEmbedding)."""

from __future__ import annotations

import numpy as np

from . import Mutant, edit

_AFFINE = ("Affine",)
_EMBED = ("Embedding",)
_TIME_AFFINE = ("TimeAffine",)
_TIME_EMBED = ("TimeEmbedding",)


class TimeAffineInitMisspelled:
    """Hand-written: a redefinition under the book's name (not an edit of rnnref's
    class) whose constructor is never called."""

    def __init(self, W, b):  # BUG: __init, not __init__ (never called)
        self.params = [W, b]
        self.grads = [np.zeros_like(W), np.zeros_like(b)]


MUTANTS: list[Mutant] = [
    # --- Affine ---
    edit(
        "Affine", "forward",
        old="return x @ W + b",
        new="return x @ W  # BUG: + b forgotten",
        name="affine-forward-no-bias", family="forgotten bias", layers=_AFFINE,
        description="forward returns x @ W, no b",
    ),
    edit(
        "Affine", "backward",
        old="self.grads[0][...] = self.x.T @ dout",
        new="self.grads[0][...] = dout.T @ self.x  # BUG: (M, D), not x.T @ dout (D, M)",
        name="affine-dW-wrong-order", family="wrong transpose", layers=_AFFINE,
        description="dW = dout.T @ x: the transposed (M, D) shape",
    ),
    edit(
        "Affine", "backward",
        old="self.grads[1][...] = dout.sum(axis=0)",
        new="self.grads[1][...] = dout.mean(axis=0)  # BUG: sum over the batch, not mean",
        name="affine-db-mean", family="mean instead of sum", layers=_AFFINE,
        description="db = dout.mean(axis=0)",
    ),
    edit(
        "Affine", "backward",
        old="self.grads[0][...] = self.x.T @ dout",
        new="self.grads[0][...] += self.x.T @ dout  # BUG: += keeps the previous backward's dW",
        name="affine-grads-accumulate", family="grads not zeroed between calls", layers=_AFFINE,
        description="dW += ... accumulates across backwards",
    ),
    edit(
        "Affine", "backward",
        old="self.grads[0][...] = self.x.T @ dout",
        new="self.grads[0] = self.x.T @ dout  # BUG: rebinds the list entry; a model's alias goes stale",
        name="affine-grads-rebound", family="grads rebound, not written in place", layers=_AFFINE,
        description="self.grads[0] = dW (a new array)",
    ),
    # --- Embedding ---
    edit(
        "Embedding", "backward",
        old="np.add.at(dW, self.idx, dout)",
        new="dW[self.idx] += dout  # BUG: buffered fancy-index add: repeated ids are added once",
        name="embedding-assign-not-add-at", family="assignment instead of np.add.at", layers=_EMBED,
        description="dW[idx] += dout: a repeated token keeps one row only",
    ),
    edit(
        "Embedding", "backward",
        old="dW[...] = 0",
        new="# BUG: dW[...] = 0 is missing, so rows of the previous backward stay",
        name="embedding-grads-not-zeroed", family="grads not zeroed between calls", layers=_EMBED,
        description="no dW[...] = 0 before np.add.at",
    ),
    # --- TimeEmbedding ---
    edit(
        "TimeEmbedding", "backward",
        old="np.add.at(dW, self.idx, dout)",
        new="dW[self.idx] += dout  # BUG: buffered fancy-index add: repeated ids are added once",
        name="time-embedding-assign-not-add-at", family="assignment instead of np.add.at", layers=_TIME_EMBED,
        description="dW[idx] += dout: a repeated token keeps one row only",
    ),
    edit(
        "TimeEmbedding", "backward",
        old="dW[...] = 0",
        new="# BUG: dW[...] = 0 is missing, so rows of the previous backward stay",
        name="time-embedding-grads-not-zeroed", family="grads not zeroed between calls", layers=_TIME_EMBED,
        description="no dW[...] = 0 before np.add.at",
    ),
    edit(
        "TimeEmbedding", "backward",
        old="dW[...] = 0",
        new="dW = np.zeros_like(dW)  # BUG: a new array; np.add.at below fills it, not self.grads[0]",
        name="time-embedding-zeros-rebound", family="grads rebound, not written in place", layers=_TIME_EMBED,
        description="dW = np.zeros_like(dW): the local name is rebound, self.grads[0] never written",
    ),
    edit(
        "TimeEmbedding", "forward",
        old="return W[xs]",
        new="return W[xs.T]  # BUG: time-major output",
        name="time-embedding-forward-transposed", family="wrong transpose", layers=_TIME_EMBED,
        description="forward returns W[xs.T]: (T, N, D) instead of (N, T, D)",
    ),
    edit(
        "TimeEmbedding", "forward",
        old="return W[xs]",
        new='if getattr(self, "_steps", None) is None:  # BUG: built once, for the first T\n'
        "    self._steps = [Embedding(W) for _ in range(xs.shape[1])]\n"
        "return np.stack([self._steps[t].forward(xs[:, t]) for t in range(xs.shape[1])], axis=1)",
        name="time-embedding-built-once", family="per-step layers built once", layers=_TIME_EMBED,
        description="the per-step Embedding layers are built on the first forward, for that call's T",
    ),
    # --- TimeAffine ---
    edit(
        "TimeAffine", "forward",
        old="return (xs.reshape(N * T, D) @ W + b).reshape(N, T, -1)",
        new="return (xs.reshape(N * T, D) @ W).reshape(N, T, -1)  # BUG: + b forgotten",
        name="time-affine-forward-no-bias", family="forgotten bias", layers=_TIME_AFFINE,
        description="forward returns xs W, no b",
    ),
    edit(
        "TimeAffine", "backward",
        old="self.grads[1][...] = dout.sum(axis=0)",
        new="self.grads[1][...] = dout.mean(axis=0)  # BUG: sum over batch and time, not mean",
        name="time-affine-db-mean", family="mean instead of sum", layers=_TIME_AFFINE,
        description="db = dout.mean(axis=0) over the N*T rows",
    ),
    edit(
        "TimeAffine", "backward",
        old="self.grads[0][...] = self.x.reshape(N * T, D).T @ dout",
        new="self.grads[0][...] = self.x[:, -1].T @ dout.reshape(N, T, -1)[:, -1]  # BUG: one step, not the sum over T",
        name="time-affine-dW-last-step", family="not summed over time", layers=_TIME_AFFINE,
        description="dW from the last time step only: x[:, -1].T @ dout[:, -1]",
    ),
    Mutant(
        "time-affine-init-misspelled", "a second class definition shadowing the first", _TIME_AFFINE,
        "the redefinition misspells __init__ as __init, so the constructor takes no arrays",
        replaces="TimeAffine", written=TimeAffineInitMisspelled,
    ),
    # --- MatMul, Softmax, Sigmoid, Simple_TimeAffine (common/layers.py, time_layers.py) ---
    edit(
        "MatMul", "backward",
        old="self.grads[0][...] = self.x.T @ dout",
        new="self.grads[0][...] = dout.T @ self.x  # BUG: dW transposed, (H, D) not (D, H)",
        name="matmul-dW-transposed", family="wrong transpose", layers=("MatMul",),
        description="dW = dout.T @ x: wrong shape for D != H, the transpose of dW for D == H",
    ),
    edit(
        "MatMul", "backward",
        old="return dout @ W.T",
        new="return dout @ W  # BUG: W, not W.T",
        name="matmul-dx-no-transpose", family="wrong transpose", layers=("MatMul",),
        description="dx = dout @ W instead of dout @ W.T",
    ),
    edit(
        "Softmax", "backward",
        old="return y * (dout - np.sum(dout * y, axis=-1, keepdims=True))",
        new="return y * dout  # BUG: the - y * sum(dout * y) term of the Jacobian forgotten",
        name="softmax-backward-no-sum", family="wrong derivative", layers=("Softmax",),
        description="dx = y * dout: only the diagonal of softmax's Jacobian diag(y) - y y^T",
    ),
    edit(
        "Softmax", "backward",
        old="return y * (dout - np.sum(dout * y, axis=-1, keepdims=True))",
        new="return y * (dout - np.sum(dout * y, axis=0, keepdims=True))  # BUG: summed over the batch, not the classes",
        name="softmax-backward-sum-wrong-axis", family="wrong axis", layers=("Softmax",),
        description="the sum of dout * y taken over axis 0 (the batch) instead of the class axis",
    ),
    edit(
        "Sigmoid", "backward",
        old="return dout * y * (1 - y)",
        new="return dout * (1 - y**2)  # BUG: tanh's derivative, not sigmoid's",
        name="sigmoid-derivative-of-tanh", family="wrong derivative", layers=("Sigmoid",),
        description="dx = dout * (1 - y^2), the derivative of tanh, instead of dout * y * (1 - y)",
    ),
    edit(
        "Simple_TimeAffine", "backward",
        old="self.grads[1][...] = dout.sum(axis=0)",
        new="self.grads[1][...] = dout.reshape(N, T, -1)[:, -1].sum(axis=0)  # BUG: the last step's db only",
        name="simple-time-affine-db-last-step", family="gradient not summed over time",
        layers=("Simple_TimeAffine",),
        description="db of the last time step only (per-step Affine layers whose db is assigned, not summed)",
    ),
]
