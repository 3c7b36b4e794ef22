"""Deliberately wrong layers for the gradcheck engine tests (not a test module).

Each class is an rnnref layer with exactly one bug, named after it. The correct
code it deviates from is in rnnref; the comment on each override says what is wrong.
"""

from __future__ import annotations

import numpy as np

import rnnref
from gradcheck.engine import check_layer
from gradcheck.examples import Example, make_example
from gradcheck.findings import Finding
from gradcheck.report import LayerReport
from gradcheck.specs import SPECS
from rnnref.functions import log_softmax

# --- helpers ----------------------------------------------------------------------------

DIMS = {"N": 2, "T": 3, "D": 4, "H": 5, "V": 6}
# Labels with ignored positions (-1) at (0, 1) and (1, 0); the default seed-0 example has none.
IGNORED_LABELS = np.array([[1, -1, 3], [-1, 0, 5]])
# Token ids with repeats: 0 three times, 4 twice.
REPEATED_TOKENS = np.array([[0, 4, 0], [2, 4, 0]])


def run(factory, spec: str, **kw) -> LayerReport:
    """check_layer on one layer; its LayerReport."""
    return check_layer(factory, spec, **kw).layers[0]


def findings(lr: LayerReport, check: str) -> list[Finding]:
    """The fail and warn findings of one check."""
    return [f for f in lr.failures + lr.warnings if f.check == check]


def bad_tensors(lr: LayerReport, check: str) -> set[str]:
    return {f.tensor for f in findings(lr, check) if f.tensor is not None}


def labels_example(seed: int = 0, dtype=np.float64, labels=IGNORED_LABELS) -> Example:
    return make_example(SPECS["TimeSoftmaxWithLoss"], DIMS, seed, dtype, labels=labels)


def tokens_example(seed: int = 0, dtype=np.float64, tokens=REPEATED_TOKENS) -> Example:
    return make_example(SPECS["TimeEmbedding"], DIMS, seed, dtype, tokens=tokens)


# --- RNN (single step) ------------------------------------------------------------------


class RNNNoBias(rnnref.RNN):
    """forward forgets b (the seed notebook's bug); backward is the book's."""

    def forward(self, x, h_prev):
        Wx, Wh, _ = self.params
        h_next = np.tanh(h_prev @ Wh + x @ Wx)  # BUG: + b missing
        self.cache = (x, h_prev, h_next)
        return h_next


class RNNWrongTanhGrad(rnnref.RNN):
    """tanh'(a) written as (1 - h) instead of (1 - h**2)."""

    def backward(self, dh_next):
        Wx, Wh, _ = self.params
        x, h_prev, h_next = self.cache
        dt = dh_next * (1 - h_next)  # BUG
        self.grads[0][...] = x.T @ dt
        self.grads[1][...] = h_prev.T @ dt
        self.grads[2][...] = dt.sum(axis=0)
        return dt @ Wx.T, dt @ Wh.T


class RNNMissingTranspose(rnnref.RNN):
    """dh_prev = dt @ Wh instead of dt @ Wh.T (H x H, so no shape error)."""

    def backward(self, dh_next):
        Wx, Wh, _ = self.params
        x, h_prev, h_next = self.cache
        dt = dh_next * (1 - h_next**2)
        self.grads[0][...] = x.T @ dt
        self.grads[1][...] = h_prev.T @ dt
        self.grads[2][...] = dt.sum(axis=0)
        return dt @ Wx.T, dt @ Wh  # BUG: Wh.T


class RNNMissingTransposeRaises(rnnref.RNN):
    """dx = dt @ Wx instead of dt @ Wx.T: with D != H the matmul raises in backward."""

    def backward(self, dh_next):
        Wx, Wh, _ = self.params
        x, h_prev, h_next = self.cache
        dt = dh_next * (1 - h_next**2)
        self.grads[0][...] = x.T @ dt
        self.grads[1][...] = h_prev.T @ dt
        self.grads[2][...] = dt.sum(axis=0)
        return dt @ Wx, dt @ Wh.T  # BUG: Wx.T


class RNNForwardRaises(rnnref.RNN):
    """forward raises (a typo, like the notebook's `dype=`)."""

    def forward(self, x, h_prev):
        return np.zeros(h_prev.shape, dype="f")  # BUG: dype


# --- Affine -----------------------------------------------------------------------------


class AffineDoubleBias(rnnref.Affine):
    """forward computes x W + 2 b, and backward is the exact derivative of that
    (db = 2 sum(dout)): the forward is wrong, the backward consistent with it."""

    def forward(self, x):
        W, b = self.params
        self.x = x
        return x @ W + 2 * b  # BUG: 2 * b

    def backward(self, dout):
        W, _ = self.params
        self.grads[0][...] = self.x.T @ dout
        self.grads[1][...] = 2 * dout.sum(axis=0)  # consistent with the wrong forward
        return dout @ W.T


class AffineGradsRebound(rnnref.Affine):
    """backward rebinds grads entries instead of writing into them."""

    def backward(self, dout):
        W, _ = self.params
        self.grads[0] = self.x.T @ dout  # BUG: self.grads[0][...] = ...
        self.grads[1] = dout.sum(axis=0)  # BUG
        return dout @ W.T


class AffineAccumulates(rnnref.Affine):
    """backward adds to the grads (+=) instead of replacing them."""

    def backward(self, dout):
        W, _ = self.params
        self.grads[0][...] += self.x.T @ dout  # BUG: stale gradient carried over
        self.grads[1][...] += dout.sum(axis=0)  # BUG
        return dout @ W.T


class AffineMutatesInput(rnnref.Affine):
    """backward scribbles on the cached input, which is the caller's array."""

    def backward(self, dx_out):
        dx = super().backward(dx_out)
        self.x[...] = 0.0  # BUG: self.x is the caller's x (astype(copy=False))
        return dx


class AffineMutatesDout(rnnref.Affine):
    """backward scales dout in place."""

    def backward(self, dout):
        dx = super().backward(dout)
        dout *= 0.5  # BUG: the caller's dout is changed
        return dx


class AffineIgnoresDout(rnnref.Affine):
    """backward uses ones instead of dout (the classic `dout=1` slip)."""

    def backward(self, dout):
        return super().backward(np.ones_like(dout))  # BUG


class AffineNaN(rnnref.Affine):
    """forward returns NaN in one entry."""

    def forward(self, x):
        out = super().forward(x).copy()
        out[0, 0] = np.nan  # BUG
        return out


class AffineFloat32(rnnref.Affine):
    """Computes in float32 whatever the parameters' dtype (the book's habit); its
    arithmetic is otherwise right, so only the dtype warning may show."""

    def forward(self, x):
        W, b = self.params
        self.x = x.astype(np.float32)
        return self.x @ W.astype(np.float32) + b.astype(np.float32)  # BUG: downcast

    def backward(self, dout):
        W, _ = self.params
        dout = dout.astype(np.float32)
        self.grads[0][...] = self.x.T @ dout
        self.grads[1][...] = dout.sum(axis=0)
        return dout @ W.astype(np.float32).T


# --- Time layers ------------------------------------------------------------------------


class TimeRNNGradsOverwritten(rnnref.TimeRNN):
    """backward keeps only the last-visited step's weight gradients (t=0) instead of
    summing them over time (the seed notebook's bug)."""

    def backward(self, dhs):
        Wx = self.params[0]
        N, T, _ = dhs.shape
        dxs = np.empty((N, T, Wx.shape[0]), dtype=Wx.dtype)
        dh = np.zeros((N, Wx.shape[1]), dtype=Wx.dtype)
        for t in reversed(range(T)):
            layer = self.layers[t]
            dx, dh = layer.backward(dhs[:, t, :] + dh)
            dxs[:, t, :] = dx
            for g, lg in zip(self.grads, layer.grads, strict=True):
                g[...] = lg  # BUG: g[...] += lg (after zeroing)
        self.dh = dh
        return dxs


class TimeRNNDropsCarriedGrad(rnnref.TimeRNN):
    """backward forgets the gradient carried from step t+1: dxs is wrong at t < T-1."""

    def backward(self, dhs):
        Wx = self.params[0]
        N, T, _ = dhs.shape
        dxs = np.empty((N, T, Wx.shape[0]), dtype=Wx.dtype)
        sums = [np.zeros_like(g) for g in self.grads]
        dh = None
        for t in reversed(range(T)):
            layer = self.layers[t]
            dx, dh = layer.backward(dhs[:, t, :])  # BUG: + dh from step t+1
            dxs[:, t, :] = dx
            for s, g in zip(sums, layer.grads, strict=True):
                s += g
        for g, s in zip(self.grads, sums, strict=True):
            g[...] = s
        self.dh = dh
        return dxs


class TimeRNNNoDh(rnnref.TimeRNN):
    """backward leaves .dh at zeros (the gradient w.r.t. the initial state is lost)."""

    def backward(self, dhs):
        dxs = super().backward(dhs)
        self.dh = np.zeros_like(self.dh)  # BUG
        return dxs


class TimeRNNNoCarry(rnnref.TimeRNN):
    """stateful=True does not carry the last hidden state to the next forward
    (forward never stores it), though set_state still works."""

    def forward(self, xs):
        h_in = self.h
        hs = super().forward(xs)
        self.h = h_in  # BUG: the state after this chunk is dropped
        return hs


class TimeRNNResetBroken(rnnref.TimeRNN):
    """reset_state does nothing."""

    def reset_state(self):
        pass  # BUG: self.h = None


class TimeRNNAlwaysStateful(rnnref.TimeRNN):
    """The stateful flag is ignored: stateful=False still carries the state."""

    def forward(self, xs):
        stateful = self.stateful
        self.stateful = True  # BUG: behaves as stateful whatever the flag
        try:
            return super().forward(xs)
        finally:
            self.stateful = stateful


class TimeRNNNeverStateful(rnnref.TimeRNN):
    """The stateful flag is ignored the other way: every forward starts from zeros,
    also after set_state."""

    def forward(self, xs):
        self.h = None  # BUG
        return super().forward(xs)


class TimeRNNNoBias(rnnref.TimeRNN):
    """forward forgets b at every step (the backward is rnnref's)."""

    def forward(self, xs):
        Wx, Wh, b = self.params
        saved = b.copy()
        b[...] = 0  # BUG: computes as if b were zero
        try:
            return super().forward(xs)
        finally:
            b[...] = saved


class TimeEmbeddingFancyIndex(rnnref.TimeEmbedding):
    """dW[idx] += dout: a token repeated in the batch keeps only one row of dout."""

    def backward(self, dout):
        (dW,) = self.grads
        dW[...] = 0
        dW[self.idx] += dout  # BUG: np.add.at(dW, self.idx, dout)
        return None


class TimeAffineNoBias(rnnref.TimeAffine):
    """forward forgets b; backward is rnnref's."""

    def forward(self, xs):
        W, _ = self.params
        N, T, D = xs.shape
        self.x = xs
        return (xs.reshape(N * T, D) @ W).reshape(N, T, -1)  # BUG: + b


class TimeAffineNoBiasAtT1(rnnref.TimeAffine):
    """Right for T > 1; a special path for one time step forgets b."""

    def forward(self, xs):
        W, _ = self.params
        N, T, D = xs.shape
        if T > 1:
            return super().forward(xs)
        self.x = xs
        return (xs[:, 0] @ W)[:, None]  # BUG: + b


class TimeRNNZeroStateAtT1(rnnref.TimeRNN):
    """Right for T > 1; with one time step, .dh is left at zeros."""

    def backward(self, dhs):
        dxs = super().backward(dhs)
        if dhs.shape[1] == 1:
            self.dh = np.zeros_like(self.dh)  # BUG
        return dxs


class TimeEmbeddingBuiltOnce(rnnref.TimeEmbedding):
    """Builds its per-step Embedding layers on the first forward only, for that
    call's T: a longer sequence through the same instance raises IndexError."""

    def forward(self, xs):
        N, T = xs.shape
        W = self.params[0]
        if getattr(self, "steps", None) is None:
            self.steps = [rnnref.Embedding(W) for _ in range(T)]  # BUG: built once
        out = np.empty((N, T, W.shape[1]), dtype=W.dtype)
        for t in range(T):
            out[:, t] = self.steps[t].forward(xs[:, t])
        self.idx = xs
        return out


class TimeRNNBuiltOnce(rnnref.TimeRNN):
    """Keeps the per-step RNN layers of its first forward and reuses them when
    there are enough (a shorter sequence silently runs the first T's cells,
    whose caches it refreshes only up to the new T; a longer one grows them)."""

    def forward(self, xs):
        Wx, Wh, b = self.params
        N, T, _ = xs.shape
        H = Wh.shape[0]
        if getattr(self, "kept", None) is None or len(self.kept) < T:
            self.kept = [rnnref.RNN(Wx, Wh, b) for _ in range(T)]
        self.layers = self.kept  # BUG: a shorter T backpropagates through stale steps too
        h = np.zeros((N, H), dtype=Wx.dtype) if not self.stateful or self.h is None else self.h
        hs = np.empty((N, T, H), dtype=Wx.dtype)
        for t in range(T):
            h = self.layers[t].forward(xs[:, t], h)
            hs[:, t] = h
        self.h, self._batch = h, N
        return hs


class TimeSoftmaxWithLossNoMask(rnnref.TimeSoftmaxWithLoss):
    """ignore_label is not masked: ignored positions count as class 0."""

    def forward(self, xs, ts):
        N, T, V = xs.shape
        ts = np.asarray(ts)
        if ts.ndim == 3:
            ts = ts.argmax(axis=2)
        safe = np.where(ts == self.ignore_label, 0, ts)
        logp = log_softmax(xs)
        picked = np.take_along_axis(logp, safe[..., None], axis=2)[..., 0]
        mask = np.ones((N, T), dtype=bool)  # BUG: ts != ignore_label
        self.cache = (safe, logp, mask, N * T)
        return np.asarray(-picked.sum() / (N * T), dtype=xs.dtype)


class TimeSoftmaxWithLossDividesByNT(rnnref.TimeSoftmaxWithLoss):
    """Masks ignored positions but divides by N*T instead of the counted positions."""

    def forward(self, xs, ts):
        loss = super().forward(xs, ts)
        ts_, logp, mask, count = self.cache
        N, T, _ = xs.shape
        self.cache = (ts_, logp, mask, N * T)  # BUG: count
        return np.asarray(loss * count / (N * T), dtype=xs.dtype)


class TimeSoftmaxWithLossIgnoresDout(rnnref.TimeSoftmaxWithLoss):
    """backward ignores dout (as if it were always 1)."""

    def backward(self, dout=1):
        return super().backward(1)  # BUG


class TimeSoftmaxWithLossEditsCache(rnnref.TimeSoftmaxWithLoss):
    """backward turns its cached log-probabilities into the gradient in place, so a
    second backward is wrong (the seed notebook's `dx = ys; dx[...] -= 1`)."""

    def backward(self, dout=1):
        ts, logp, mask, count = self.cache
        dxs = np.exp(logp, out=logp)  # BUG: writes into the cache
        np.put_along_axis(dxs, ts[..., None], np.take_along_axis(dxs, ts[..., None], axis=2) - 1, axis=2)
        dxs *= np.asarray(dout, dtype=dxs.dtype) / max(count, 1)
        dxs *= mask[..., None]
        return dxs


class TimeSoftmaxWithLossNaive(rnnref.TimeSoftmaxWithLoss):
    """softmax as exp(x) / sum(exp(x)) without subtracting the row max: right on
    ordinary logits, inf/inf = NaN on logits of +-1e4."""

    def forward(self, xs, ts):
        N, T, V = xs.shape
        ts = np.asarray(ts)
        if ts.ndim == 3:
            ts = ts.argmax(axis=2)
        mask = ts != self.ignore_label
        e = np.exp(xs)  # BUG: no max shift
        logp = np.log(e / e.sum(axis=-1, keepdims=True))
        safe = np.where(mask, ts, 0)
        picked = np.take_along_axis(logp, safe[..., None], axis=2)[..., 0]
        count = int(mask.sum())
        loss = -np.sum(picked, where=mask) / count if count else 0.0
        self.cache = (safe, logp, mask, count)
        return np.asarray(loss, dtype=xs.dtype)


class TimeSoftmaxWithLossNaNWhenAllIgnored(rnnref.TimeSoftmaxWithLoss):
    """Divides by the count even when it is 0: all positions ignored gives NaN."""

    def forward(self, xs, ts):
        loss = super().forward(xs, ts)
        ts_, logp, mask, count = self.cache
        if count == 0:
            return np.asarray(np.float64(0.0) / np.float64(count), dtype=xs.dtype)  # BUG: 0/0
        return loss


class TimeSoftmaxWithLossHalfWhenAllIgnored(rnnref.TimeSoftmaxWithLoss):
    """With every position ignored the loss is a finite non-zero number."""

    def forward(self, xs, ts):
        loss = super().forward(xs, ts)
        if self.cache[3] == 0:
            return np.asarray(0.5, dtype=xs.dtype)  # BUG: should be 0
        return loss


# --- more layers, one bug each ----------------------------------------------------------


class AffineSGDInBackward(rnnref.Affine):
    """backward also takes an SGD step on W: the params change under the caller."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.params[0] -= 0.1 * self.grads[0]  # BUG: params mutated
        return dx


class AffineUpcasts(rnnref.Affine):
    """Returns float64 whatever the parameters' dtype (dtype does not follow params)."""

    def forward(self, x):
        return super().forward(x).astype(np.float64)  # BUG


class AffineNaNGrad(rnnref.Affine):
    """backward leaves a NaN in db."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads[1][0] = np.nan  # BUG
        return dx


class TimeSoftmaxWithLossShiftsInPlace(rnnref.TimeSoftmaxWithLoss):
    """'Stable softmax' done in place: the caller's logits are changed."""

    def forward(self, xs, ts):
        xs -= xs.max(axis=-1, keepdims=True)  # BUG: xs = xs - ...
        return super().forward(xs, ts)


class SimpleRnnlmGradsCopied(rnnref.SimpleRnnlm):
    """model.grads are copies, not the layers' arrays: backward never reaches them."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.grads = [g.copy() for g in self.grads]  # BUG: must alias the layers' grads


class TimeRNNResetRaises(rnnref.TimeRNN):
    """reset_state raises."""

    def reset_state(self):
        raise RuntimeError("reset_state is not implemented")  # BUG


class AffineWrongShape(rnnref.Affine):
    """forward drops the last output column."""

    def forward(self, x):
        return super().forward(x)[:, :-1]  # BUG


class TimeRNNWrongShape(rnnref.TimeRNN):
    """forward drops the last time step."""

    def forward(self, xs):
        return super().forward(xs)[:, :-1]  # BUG


class TimeRNNWritesCallersState(rnnref.TimeRNN):
    """Keeps the array given to set_state and writes the carried state back into it:
    the caller's h changes under them (gradients and outputs stay right)."""

    def set_state(self, h):
        self._caller_h = h
        super().set_state(h)

    def forward(self, xs):
        hs = super().forward(xs)
        caller = getattr(self, "_caller_h", None)
        if caller is not None and caller.shape == self.h.shape:
            caller[...] = self.h  # BUG: the caller's array is overwritten
        return hs


# --- models (float64, so that every bug is far above rounding) ---------------------------


class _Rnnlm64(rnnref.SimpleRnnlm):
    def __init__(self, vocab_size, wordvec_size, hidden_size, **kw):
        super().__init__(vocab_size, wordvec_size, hidden_size, **{"dtype": np.float64, **kw})


class SimpleRnnlmNotStateful(_Rnnlm64):
    """The model's TimeRNN is not stateful: each forward forgets the carried state."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.rnn_layer.stateful = False  # BUG: the book's model is stateful


class SimpleRnnlmResetBroken(_Rnnlm64):
    """reset_state does nothing: the next sequence starts from the old state."""

    def reset_state(self):
        pass  # BUG: self.rnn_layer.reset_state()


class SimpleRnnlmIgnoresDout(_Rnnlm64):
    """backward ignores dout."""

    def backward(self, dout=1):
        return super().backward(1)  # BUG


class SimpleRnnlmSkipsEmbedding(_Rnnlm64):
    """backward stops before the embedding: dembed_W stays zero."""

    def backward(self, dout=1):
        dout = self.loss_layer.backward(dout)
        for layer in reversed(self.layers[1:]):  # BUG: self.layers
            dout = layer.backward(dout)
        return dout


# --- dropout and weight tying ------------------------------------------------------------


class TimeDropoutEvalMasks(rnnref.TimeDropout):
    """Evaluation mode still drops entries (train_flg ignored)."""

    def forward(self, xs):
        self.train_flg = True  # BUG: evaluation must be the identity
        return super().forward(xs)


class TimeDropoutKeepsTooMuch(rnnref.TimeDropout):
    """dropout_ratio says 0.5, but only a fifth is dropped (same expectation)."""

    def forward(self, xs):
        if not self.train_flg:
            return super().forward(xs)
        self.mask = (np.random.rand(*xs.shape) > 0.2) / 0.8  # noqa: NPY002  # BUG: > self.dropout_ratio
        return xs * self.mask


class _UnigramPowerIgnored(rnnref.UnigramSampler):
    def __init__(self, corpus, power, sample_size):
        super().__init__(corpus, 1.0, sample_size)  # BUG: counts, not counts ** power


class NegativeSamplingPowerIgnored(rnnref.NegativeSamplingLoss):
    """Its sampler draws from the counts themselves, the power ignored."""

    def __init__(self, W, corpus, power=0.75, sample_size=5):
        super().__init__(W, corpus, power, sample_size)
        self.sampler = _UnigramPowerIgnored(corpus, power, sample_size)


class BetterRnnlmNotTied(rnnref.BetterRnnlm):
    """The affine layer holds a copy of embed_W.T: the weights train apart."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        affine = self.layers[-1]
        affine.params[0] = affine.params[0].copy()  # BUG: a copy, not the tied view
        self.params[7] = affine.params[0]


class Seq2seqGenerateTrains(rnnref.Seq2seq):
    """generate takes a training step on what it decodes: params change."""

    def generate(self, xs, start_id, sample_size):
        sampled = super().generate(xs, start_id, sample_size)
        for p in self.params:
            p -= 0.01  # BUG: generating must not train
        return sampled


class Seq2seqGenerateFromZeros(rnnref.Seq2seq):
    """generate decodes from a zero state, not the encoder's h: word ids,
    deterministic, params untouched, but not the argmax of what forward scores."""

    def generate(self, xs, start_id, sample_size):
        h = self.encoder.forward(xs)
        return self.decoder.generate(np.zeros_like(h), start_id, sample_size)  # BUG: xs ignored


class Seq2seqGenerateSamples(rnnref.Seq2seq):
    """generate draws each word at random (a fresh generator each call) instead
    of the argmax: two calls from one start id differ."""

    def generate(self, xs, start_id, sample_size):
        rng = np.random.default_rng()  # BUG: unseeded sampling, not greedy decoding
        V = self.params[-1].shape[0]
        return [int(rng.integers(V)) for _ in range(sample_size)]
