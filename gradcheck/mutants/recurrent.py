"""Mutants of the recurrent layers: RNN (one step) and TimeRNN, LSTM, GRU, their
Time forms and TimeBiLSTM.

RNN's arithmetic lives in `_forward` / `_backward` (its public forward and backward
check the arguments and call them), so the cell's bugs edit those. TimeRNN builds
rnnref's correct cell, so a TimeRNN mutant is a bug of TimeRNN alone.
"""

from __future__ import annotations

import numpy as np

from . import Mutant, edit

_RNN = ("RNN",)
_TIME = ("TimeRNN",)


class RNNRedefinedWithoutBackward:
    """Hand-written: not an edit of rnnref but a second, unrelated class that takes
    the book name (a notebook cell redefining RNN), so it derives from nothing."""

    def __init__(self, Wx, Wh, b):
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]

    def forward(self, x, h_prev):  # BUG: the class that wins has no backward
        Wx, Wh, b = self.params
        return np.tanh(h_prev @ Wh + x @ Wx + b)


MUTANTS: list[Mutant] = [
    # --- RNN (one step) ---
    edit(
        "RNN", "_backward",
        old="dh_next * (1 - h_next**2)",
        new="dh_next * (1 - h_next)  # BUG: tanh' is 1 - h**2",
        name="rnn-tanh-derivative-1-h", family="wrong derivative", layers=_RNN,
        description="tanh'(a) taken as 1 - h instead of 1 - h^2",
    ),
    edit(
        "RNN", "_backward",
        old="dh_next * (1 - h_next**2)",
        new="dh_next * h_next * (1 - h_next)  # BUG: the sigmoid's derivative, not tanh's",
        name="rnn-sigmoid-derivative", family="wrong derivative", layers=_RNN,
        description="tanh' taken as the sigmoid's h * (1 - h)",
    ),
    edit(
        "RNN", "_forward",
        old="np.tanh(h_prev @ Wh + x @ Wx + b)",
        new="np.tanh(h_prev @ Wh + x @ Wx)  # BUG: + b forgotten (the seed notebook's bug)",
        name="rnn-forward-no-bias", family="forgotten bias", layers=_RNN,
        description="forward computes tanh(h_prev Wh + x Wx), no b",
    ),
    edit(
        "RNN", "_backward",
        old="return dt @ Wx.T, dt @ Wh.T",
        new="return dt @ Wx, dt @ Wh.T  # BUG: Wx not transposed (a shape error unless D == H)",
        name="rnn-dx-no-transpose", family="missing transpose", layers=_RNN,
        description="dx = dt @ Wx instead of dt @ Wx.T",
    ),
    edit(
        "RNN", "_backward",
        old="return dt @ Wx.T, dt @ Wh.T",
        new="return dt @ Wx.T, dt @ Wh  # BUG: Wh is square, so the missing .T gives no shape error",
        name="rnn-dh-prev-no-transpose", family="missing transpose", layers=_RNN,
        description="dh_prev = dt @ Wh instead of dt @ Wh.T",
    ),
    edit(
        "RNN", "_backward",
        old="self.grads[1][...] = h_prev.T @ dt",
        new="self.grads[1][...] = dt.T @ h_prev  # BUG: operands swapped; (H, H) either way",
        name="rnn-dWh-transposed", family="wrong transpose", layers=_RNN,
        description="dWh = dt.T @ h_prev (the transpose of h_prev.T @ dt)",
    ),
    edit(
        "RNN", "_backward",
        old="dt.sum(axis=0)",
        new="dt.mean(axis=0)  # BUG: the bias is added to every row: sum, not mean",
        name="rnn-db-mean", family="mean instead of sum", layers=_RNN,
        description="db = dt.mean(axis=0) instead of the sum over the batch",
    ),
    edit(
        "RNN", "_backward",
        old="dt = dh_next * (1 - h_next**2)",
        new="dt = np.multiply(dh_next, 1 - h_next**2, out=dh_next)  # BUG: writes into the caller's dh_next",
        name="rnn-dout-mutated", family="input mutated in backward", layers=_RNN,
        description="backward scales dh_next in place (dh_next *= ...)",
    ),
    Mutant(
        "rnn-redefined-without-backward", "a second class definition shadowing the first", _RNN,
        "a later cell redefines RNN to try a new forward and never defines backward",
        replaces="RNN", written=RNNRedefinedWithoutBackward,
    ),
    # --- TimeRNN.backward ---
    edit(
        "TimeRNN", "backward",
        old="total += g",
        new="total[...] = g  # BUG: overwritten (the seed notebook's bug); keeps step 0's only",
        name="time-rnn-grads-overwritten", family="not summed over time", layers=_TIME,
        description="each step's dWx, dWh, db overwrite the total instead of adding to it",
    ),
    edit(
        "TimeRNN", "backward",
        old="layer._backward(dhs[:, t, :] + dh)",
        new="layer._backward(dhs[:, t, :])  # BUG: + dh from step t+1 forgotten",
        name="time-rnn-dh-not-carried", family="hidden-state gradient not carried back", layers=_TIME,
        description="each step gets dhs[:, t] only, not dhs[:, t] + dh from step t+1",
    ),
    edit(
        "TimeRNN", "backward",
        old="layer._backward(dhs[:, t, :] + dh)",
        new="layer._backward(dhs[:, t - 1, :] + dh)  # BUG: t - 1, not t",
        name="time-rnn-backward-off-by-one", family="off-by-one time step", layers=_TIME,
        description="step t is fed dhs[:, t - 1] (step 0 gets the last step's dhs)",
    ),
    edit(
        "TimeRNN", "backward",
        old="self.dh = dh",
        new="# BUG: `self.dh = dh` is missing",
        name="time-rnn-dh-not-set", family=".dh wrong", layers=_TIME,
        description="backward never sets .dh (the gradient w.r.t. the initial state)",
    ),
    edit(
        "TimeRNN", "backward",
        changes=(
            ("self.dh = dh", ""),
            ("dxs[:, t, :] = dx", "dxs[:, t, :] = dx\nif t == T - 1:\n    self.dh = dh  # BUG: set at the first iteration (step T-1), not after the loop"),
        ),
        name="time-rnn-dh-last-step", family=".dh wrong", layers=_TIME,
        description=".dh is the dh_prev of the last step (t = T-1), not of the first",
    ),
    edit(
        "TimeRNN", "backward",
        old="dx, dh = layer._backward(dhs[:, t, :] + dh)",
        new="dhs[:, t, :] += dh  # BUG: writes into the caller's dhs\ndx, dh = layer._backward(dhs[:, t, :])",
        name="time-rnn-dhs-mutated", family="input mutated in backward", layers=_TIME,
        description="backward adds the carried dh into the caller's dhs in place",
    ),
    edit(
        "TimeRNN", "backward",
        old="layer = self.layers[t]",
        new="layer = self.layers.pop()  # BUG: empties the forward's cache",
        name="time-rnn-layers-popped", family="cache mutated in backward", layers=_TIME,
        description="backward pops the cached step layers, so a second backward has none",
    ),
    edit(
        "TimeRNN", "backward",
        old="for g, total in zip(self.grads, sums, strict=True):\n    g[...] = total",
        new="self.grads[:] = sums  # BUG: new arrays in the list; the old grads arrays are never written",
        name="time-rnn-grads-rebound", family="grads rebound, not written in place", layers=_TIME,
        description="self.grads[i] = total instead of self.grads[i][...] = total",
    ),
    edit(
        "TimeRNN", "backward",
        old="dxs = np.empty((N, T, D), dtype=Wx.dtype)",
        new='dxs = np.empty((N, T, D), dtype="f")  # BUG: the book\'s hard-coded float32',
        name="time-rnn-dxs-float32", family="dtype hard-coded", layers=_TIME,
        description="dxs = np.empty(..., dtype='f'): float32 whatever the params", expect="warn",
    ),
    edit(
        "TimeRNN", "backward",
        old="for g, total in zip(self.grads, sums, strict=True):\n    g[...] = total",
        new="# BUG: the per-step sums stay in the local list, self.grads is never written",
        name="time-rnn-weight-grads-never-written", family="weight gradients never accumulated", layers=_TIME,
        description="the per-step weight gradients are summed into a local list that never reaches self.grads",
    ),
    edit(
        "TimeRNN", "backward",
        old="self.dh = dh",
        new="self.dhidden, self.dh = dh, None  # BUG: the book (and the trainer's stateful use) read .dh",
        name="time-rnn-dh-other-name", family="state gradient under another name", layers=_TIME,
        description="the gradient w.r.t. the initial state is stored as .dhidden, so .dh stays None "
        "(right values under another name: a warning; absent, time-rnn-dh-not-set fails)",
        expect="warn",
    ),
    # --- TimeRNN.forward and the state methods ---
    edit(
        "TimeRNN", "forward",
        old="layers, hs = [], np.empty((N, T, H), dtype=dtype)",
        new='layers, hs = [], np.empty((N, T, H), dtype="f")  # BUG: the book\'s hard-coded float32',
        name="time-rnn-hs-float32", family="dtype hard-coded", layers=_TIME,
        description="hs = np.empty(..., dtype='f'): float32 whatever the params", expect="warn",
    ),
    edit(
        "TimeRNN", "forward",
        old="for t in range(T):",
        new="for t in reversed(range(T)):  # BUG: time runs forwards",
        name="time-rnn-forward-reversed", family="reversed time loop in forward", layers=_TIME,
        description="forward runs t = T-1 .. 0, so the state flows backwards in time",
    ),
    edit(
        "TimeRNN", "forward",
        old="hs[:, t, :] = h",
        new="hs[:, t - 1, :] = h  # BUG: t - 1, not t",
        name="time-rnn-forward-off-by-one", family="off-by-one time step", layers=_TIME,
        description="forward stores step t's state in hs[:, t - 1]",
    ),
    edit(
        "TimeRNN", "forward",
        old="if not self.stateful or self.h is None:",
        new="if self.h is None:  # BUG: `not self.stateful or` dropped",
        name="time-rnn-always-stateful", family="stateful flag ignored", layers=_TIME,
        description="forward carries the state even with stateful=False",
    ),
    edit(
        "TimeRNN", "forward",
        old="self.layers, self.h, self._batch = layers, h, N",
        new="self.layers, self.h, self._batch = layers, None, N  # BUG: self.h = h, not None",
        name="time-rnn-state-not-kept", family="stateful flag ignored", layers=_TIME,
        description="forward never stores its last state, so stateful=True carries nothing",
    ),
    edit(
        "TimeRNN", "forward",
        changes=(
            (
                "layers, hs = [], np.empty((N, T, H), dtype=dtype)",
                "hs = np.empty((N, T, H), dtype=dtype)\n"
                "if self.layers is None or len(self.layers) < T:  # BUG: a shorter T keeps the old, longer list\n"
                "    self.layers = [RNN._step_of(Wx, Wh, b) for _ in range(T)]\n"
                "layers = self.layers",
            ),
            ("layer = RNN._step_of(Wx, Wh, b)", "layer = layers[t]"),
            ("layers.append(layer)", ""),
        ),
        name="time-rnn-layers-built-once", family="per-step layers built once", layers=_TIME,
        description="the per-step RNN layers of the first forward are kept and reused by later calls",
    ),
    edit(
        "TimeRNN", "reset_state",
        old="self.h = None",
        new="self.dh = None  # BUG: self.h = None",
        name="time-rnn-reset-broken", family="reset_state broken", layers=_TIME,
        description="reset_state clears .dh, not the state .h",
    ),
    edit(
        "TimeRNN", "set_state",
        old='self.h = float_array("h", h, ("N", Wx.shape[1])).astype(Wx.dtype, copy=True)',
        new='self.h0 = float_array("h", h, ("N", Wx.shape[1])).astype(Wx.dtype, copy=True)  # BUG: self.h0, not self.h',
        name="time-rnn-set-state-ignored", family="set_state ignored", layers=_TIME,
        description="set_state stores h where forward never looks",
    ),
]

_LSTM, _TIME_LSTM, _GRU, _TIME_GRU, _BI = ("LSTM",), ("TimeLSTM",), ("GRU",), ("TimeGRU",), ("TimeBiLSTM",)

# --- the gated family: LSTM, GRU, their Time forms, TimeBiLSTM ---
# A Time layer's mutants edit the loop TimeLSTM and TimeGRU share (_TimeGated) but
# replace only the layer named, which keeps rnnref's correct cell.
MUTANTS += [
    edit(
        "LSTM", "_forward",
        old="f, i, o = sigmoid(A[:, :H]), sigmoid(A[:, 2 * H : 3 * H]), sigmoid(A[:, 3 * H :])",
        new="f, i, o = sigmoid(A[:, 2 * H : 3 * H]), sigmoid(A[:, :H]), sigmoid(A[:, 3 * H :])  # BUG: f, i swapped",
        name="lstm-gate-order", family="LSTM gate slices in the wrong order", layers=_LSTM,
        description="forward reads f from i's block and i from f's (the book's order is f, g, i, o)",
    ),
    edit(
        "LSTM", "_forward",
        old="c_next = f * c_prev + g * i",
        new="c_next = f * (c_prev + g * i)  # BUG: the forget gate applied to the new c",
        name="lstm-forget-gate-on-new-c", family="LSTM forget gate misplaced", layers=_LSTM,
        description="c_next = f * (c_prev + g * i): the forget gate also scales the new input",
    ),
    edit(
        "LSTM", "_backward",
        old="ds = dc_next + dh_next * o * (1 - tanh_c**2)",
        new="ds = dc_next + dh_next * o * (1 - np.tanh(c_prev) ** 2)  # BUG: tanh' of c_next, not c_prev",
        name="lstm-tanh-derivative-of-c-prev", family="wrong derivative", layers=_LSTM,
        description="the derivative of tanh(c_next) taken at c_prev",
    ),
    edit(
        "LSTM", "_backward",
        old="return dA @ Wx.T, dA @ Wh.T, ds * f",
        new="return dA @ Wx.T, dA @ Wh.T, ds  # BUG: dc_prev = ds * f",
        name="lstm-dc-prev-without-f", family="wrong derivative", layers=_LSTM,
        description="dc_prev returned as ds, without the forget gate",
    ),
    edit(
        "TimeLSTM", "backward",
        old="dx, *dstates = layer._backward(dhs[:, t, :] + dstates[0], *dstates[1:])",
        new="dx, *dstates = layer._backward(dhs[:, t, :] + dstates[0], *(0 * d for d in dstates[1:]))"
        "  # BUG: dc not carried",
        name="time-lstm-dc-not-carried", family="cell-state gradient not carried back", layers=_TIME_LSTM,
        description="each step gets dc = 0 from step t+1: the c path of BPTT is cut",
    ),
    edit(
        "TimeLSTM", "set_state",
        old='self.c = None if c is None else float_array("c", c, self.h.shape).astype(Wh.dtype, copy=True)',
        new="self.c = None  # BUG: the c given is dropped",
        name="time-lstm-set-state-drops-c", family="set_state ignored", layers=_TIME_LSTM,
        description="set_state(h, c) keeps h but starts c from zeros",
    ),
    edit(
        "TimeLSTM", "set_state",
        old='self.c = None if c is None else float_array("c", c, self.h.shape).astype(Wh.dtype, copy=True)',
        new='self.c = self.c if c is None else float_array("c", c, self.h.shape).astype(Wh.dtype, copy=True)'
        "  # BUG: set_state(h) keeps the old c",
        name="time-lstm-set-state-keeps-c", family="set_state ignored", layers=_TIME_LSTM,
        description="set_state(h) without c keeps the c of the last forward instead of starting from zeros",
    ),
    edit(
        "GRU", "_forward",
        old="return (1 - z) * h_prev + z * h_hat",
        new="return z * h_prev + (1 - z) * h_hat  # BUG: (1 - z) on the wrong term",
        name="gru-one-minus-z-swapped", family="GRU update gate on the wrong term", layers=_GRU,
        description="h_next = z * h_prev + (1 - z) * h~ in forward (backward unchanged)",
    ),
    edit(
        "GRU", "_backward",
        old="(r * h_prev).T @ dh_hat_pre))",
        new="h_prev.T @ dh_hat_pre))  # BUG: Whh multiplies r * h_prev",
        name="gru-dwhh-without-r", family="wrong derivative", layers=_GRU,
        description="dWh's h~ block computed from h_prev instead of r * h_prev",
    ),
    edit(
        "TimeGRU", "backward",
        old="dx, *dstates = layer._backward(dhs[:, t, :] + dstates[0], *dstates[1:])",
        new="dx, *dstates = layer._backward(dhs[:, t, :], *dstates[1:])  # BUG: + dh from step t+1 forgotten",
        name="time-gru-dh-not-carried", family="hidden-state gradient not carried back", layers=_TIME_GRU,
        description="each step gets dhs[:, t] only, not the gradient from step t+1",
    ),
    edit(
        "TimeBiLSTM", "backward",
        old="return dxs + self.backward_lstm.backward(dhs[:, ::-1, H:])[:, ::-1]",
        new="return dxs + self.backward_lstm.backward(dhs[:, ::-1, H:])  # BUG: not reversed back",
        name="bilstm-backward-gradient-not-reversed", family="BiLSTM direction not reversed back", layers=_BI,
        description="the backward LSTM's dxs is added in its own, reversed, time order",
    ),
    edit(
        "TimeBiLSTM", "forward",
        old="out_b = self.backward_lstm.forward(np.asarray(xs)[:, ::-1])[:, ::-1]",
        new="out_b = self.backward_lstm.forward(np.asarray(xs)[:, ::-1])  # BUG: not reversed back",
        name="bilstm-output-not-reversed", family="BiLSTM direction not reversed back", layers=_BI,
        description="the backward LSTM's outputs are concatenated in reversed time order",
    ),
]
