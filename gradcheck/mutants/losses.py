"""Mutants of the losses: TimeSoftmaxWithLoss, and the book's plain SoftmaxWithLoss,
Simple_TimeSoftmaxWithLoss, SigmoidWithLoss and TimeSigmoidWithLoss (one class
per mutant: the Time forms share their base's methods, so a bug is edited into
one of them at a time).

Its cache is (labels with ignored positions read as 0, logp, mask, count).
"""

from __future__ import annotations

from . import Mutant, edit

_LOSS = ("TimeSoftmaxWithLoss",)
_LOSS_LINE = "loss = -np.sum(picked, where=mask) / count if count else 0.0"
_LOGP_LINE = "logp = log_softmax(xs)"
_SCALE_LINE = "scale = np.asarray(dout, dtype=dxs.dtype) / max(count, 1)"


def _loss(new: str, **fields) -> Mutant:
    """A bug of the line that averages -log p over the counted positions."""
    return edit("TimeSoftmaxWithLoss", "forward", old=_LOSS_LINE, new=new, layers=_LOSS, **fields)


MUTANTS: list[Mutant] = [
    # --- backward ---
    edit(
        "TimeSoftmaxWithLoss", "backward",
        old=_SCALE_LINE,
        new="scale = np.asarray(1, dtype=dxs.dtype) / max(count, 1)  # BUG: dout, not 1",
        name="loss-dout-ignored", family="dout ignored", layers=_LOSS,
        description="backward scales by 1 / count, dropping the upstream dout",
    ),
    edit(
        "TimeSoftmaxWithLoss", "backward",
        old="return np.where(mask[..., None], dxs * scale, 0).astype(dxs.dtype, copy=False)",
        new="return (dxs * scale).astype(dxs.dtype, copy=False)  # BUG: ignored positions not zeroed",
        name="loss-gradient-not-masked", family="not masked in the gradient", layers=_LOSS,
        description="backward gives ignored positions a gradient (no np.where(mask, ...))",
    ),
    edit(
        "TimeSoftmaxWithLoss", "backward",
        old=_SCALE_LINE,
        new="scale = np.asarray(dout, dtype=dxs.dtype) / mask.size  # BUG: every position, not count",
        name="loss-backward-normaliser-NT", family="wrong normaliser", layers=_LOSS,
        description="backward divides by N*T instead of the number of counted positions",
    ),
    edit(
        "TimeSoftmaxWithLoss", "backward",
        old="dxs = np.exp(logp)",
        new="dxs = np.exp(logp, out=logp)  # BUG: overwrites the cache; a second backward is wrong",
        name="loss-cache-mutated", family="cache mutated in backward", layers=_LOSS,
        description="backward exponentiates the cached log-probabilities in place (np.exp(logp, out=logp))",
        expect="warn",
    ),
    # --- forward: the loss line ---
    _loss(
        "loss = -np.sum(picked) / count if count else 0.0  # BUG: where=mask dropped",
        name="loss-forward-not-masked", family="ignored positions not masked in the loss",
        description="forward sums -log p over every position, ignored ones (read as class 0) included",
    ),
    _loss(
        "loss = -np.sum(picked, where=mask) if count else 0.0  # BUG: / count forgotten",
        name="loss-forward-sum-not-mean", family="sum instead of mean",
        description="forward returns the sum over counted positions, not the mean",
    ),
    _loss(
        "loss = -np.sum(picked, where=mask) / (N * T) if count else 0.0  # BUG: N * T, not count",
        name="loss-forward-normaliser-NT", family="wrong normaliser",
        description="forward divides by N*T instead of the number of counted positions",
    ),
    _loss(
        "loss = -np.sum(picked, where=mask) / count  # BUG: `if count else 0.0` dropped",
        name="loss-all-ignored-nan", family="all ignored gives NaN",
        description="forward divides by count without the `if count` guard: 0 / 0 when every position is ignored "
        "(the book's and PyTorch's convention: a warning, see docs/design-notes.md)",
        expect="warn",
    ),
    # --- forward: the log-softmax, the inputs, the labels ---
    edit(
        "TimeSoftmaxWithLoss", "forward",
        old=_LOGP_LINE,
        new="logp = xs - np.log(np.sum(np.exp(xs), axis=2, keepdims=True))  # BUG: exp overflows for large logits",
        name="loss-no-max-shift", family="non-finite on extreme logits", layers=_LOSS,
        description="log-softmax as xs - log(sum(exp(xs))), without subtracting the row max",
        expect="warn",
    ),
    edit(
        "TimeSoftmaxWithLoss", "forward",
        old=_LOGP_LINE,
        new="xs -= xs.max(axis=2, keepdims=True)  # BUG: shifts the caller's logits (the values stay right)\n"
        + _LOGP_LINE,
        name="loss-xs-shifted-in-place", family="input mutated in forward", layers=_LOSS,
        description="forward subtracts the row max from the caller's xs in place",
    ),
    edit(
        "TimeSoftmaxWithLoss", "forward",
        old=_LOGP_LINE,
        new="ts[~mask] = 0  # BUG: writes into the caller's labels (the values stay right)\n" + _LOGP_LINE,
        name="loss-ts-mutated", family="input mutated in forward", layers=_LOSS,
        description="forward overwrites the caller's ignored labels with 0",
    ),
    edit(
        "TimeSoftmaxWithLoss", "forward",
        old="ts = ts.argmax(axis=2)",
        new="ts = ts.argmax(axis=1)  # BUG: the class axis is 2",
        name="loss-onehot-wrong-axis", family="one-hot labels mishandled", layers=_LOSS,
        description="one-hot labels decoded with argmax(axis=1) (over time) instead of axis=2",
    ),
    edit(
        "TimeSoftmaxWithLoss", "forward",
        old="ts = ts.argmax(axis=2)",
        new="ts = ts.max(axis=2)  # BUG: the value of the 1, not where it is",
        name="loss-onehot-max-not-argmax", family="one-hot labels mishandled", layers=_LOSS,
        description="one-hot labels decoded with max (always 1) instead of argmax",
    ),
    edit(
        "TimeSoftmaxWithLoss", "forward",
        old="mask = ts != self.ignore_label",
        new="mask = ts != -1  # BUG: a caller's layer.ignore_label = ... has no effect",
        name="loss-ignore-label-hardcoded", family="ignored positions not masked in the loss", layers=_LOSS,
        description="forward masks labels equal to -1, not to self.ignore_label",
    ),
    edit(
        "TimeSoftmaxWithLoss", "forward",
        old=_LOGP_LINE,
        new=_LOGP_LINE
        + "\nnp.exp(xs - xs.max(axis=2, keepdims=True), out=xs)  # BUG: the probabilities overwrite the logits",
        name="loss-softmax-exp-in-place", family="logits mutated by softmax", layers=_LOSS,
        description="softmax computed into the caller's xs (exp(x, out=x)); the loss itself is right",
    ),
    # --- SoftmaxWithLoss, Simple_TimeSoftmaxWithLoss ---
    edit(
        "SoftmaxWithLoss", "backward",
        old="return dx * (np.asarray(dout, dtype=dx.dtype) / t.size)",
        new="return dx / t.size  # BUG: dout dropped",
        name="softmax-loss-dout-ignored", family="dout ignored", layers=("SoftmaxWithLoss",),
        description="backward returns (y - onehot(t)) / N whatever dout is",
    ),
    edit(
        "SoftmaxWithLoss", "backward",
        old="np.put_along_axis(dx, idx, np.take_along_axis(dx, idx, axis=-1) - 1, axis=-1)",
        new="np.put_along_axis(dx, idx, np.take_along_axis(dx, idx, axis=-1), axis=-1)  # BUG: - 1 forgotten",
        name="softmax-loss-onehot-not-subtracted", family="wrong derivative", layers=("SoftmaxWithLoss",),
        description="dx = softmax(x) / N: the - 1 at the true class forgotten",
    ),
    edit(
        "SoftmaxWithLoss", "forward",
        old="t = class_labels(self._t_name, t, x.shape[:-1], x.shape[-1])",
        new="t = class_labels(self._t_name, t.argmax(axis=0) if np.ndim(t) == x.ndim else t, x.shape[:-1], "
        "x.shape[-1])  # BUG: one-hot rows decoded over the batch axis",
        name="softmax-loss-onehot-wrong-axis", family="one-hot labels mishandled", layers=("SoftmaxWithLoss",),
        description="one-hot labels (N, V) decoded with argmax(axis=0) instead of the class axis",
    ),
    edit(
        "Simple_TimeSoftmaxWithLoss", "backward",
        old="return dx * (np.asarray(dout, dtype=dx.dtype) / t.size)",
        new="return dx * (np.asarray(dout, dtype=dx.dtype) / t.shape[0])  # BUG: / N, not / (N * T)",
        name="simple-time-softmax-loss-mean-over-N", family="wrong normaliser",
        layers=("Simple_TimeSoftmaxWithLoss",),
        description="backward divides by N only: the per-step means are not divided by T",
    ),
    # --- SigmoidWithLoss, TimeSigmoidWithLoss ---
    edit(
        "SigmoidWithLoss", "backward",
        old="return dx * (np.asarray(dout, dtype=x.dtype) / t.size)",
        new="return dx * np.asarray(dout, dtype=x.dtype)  # BUG: / N of the mean forgotten",
        name="sigmoid-loss-backward-no-mean", family="sum instead of mean", layers=("SigmoidWithLoss",),
        description="backward returns (sigmoid(x) - t) * dout, without the mean's 1 / N",
    ),
    edit(
        "TimeSigmoidWithLoss", "forward",
        old="return np.asarray(-np.mean(log_sigmoid(signed)), dtype=x.dtype)",
        new="return np.asarray(-np.sum(log_sigmoid(signed)), dtype=x.dtype)  # BUG: sum, not mean",
        name="time-sigmoid-loss-sum-not-mean", family="sum instead of mean", layers=("TimeSigmoidWithLoss",),
        description="forward returns the sum over N * T positions, not the mean (backward is the mean's)",
    ),
    edit(
        "SigmoidWithLoss", "backward",
        old="dx = sigmoid(x) - t.astype(x.dtype)",
        new="dx = t.astype(x.dtype) - sigmoid(x)  # BUG: sign flipped",
        name="sigmoid-loss-wrong-sign", family="wrong derivative", layers=("SigmoidWithLoss",),
        description="dx = (t - sigmoid(x)) / N: the gradient of the negated loss",
    ),
    edit(
        "TimeSigmoidWithLoss", "forward",
        old="signed = np.where(t == 1, x, -x)",
        new="signed = np.where(t == 0, x, -x)  # BUG: labels read the other way round",
        name="time-sigmoid-loss-labels-flipped", family="labels mishandled", layers=("TimeSigmoidWithLoss",),
        description="forward scores label 0 as 1 and 1 as 0 (backward is right)",
    ),
    edit(
        "SigmoidWithLoss", "forward",
        old="return np.asarray(-np.mean(log_sigmoid(signed)), dtype=x.dtype)",
        new="return np.asarray(-np.mean(np.log(sigmoid(signed))), dtype=x.dtype)  # BUG: log(0) = -inf at -1e4",
        name="sigmoid-loss-log-of-sigmoid", family="non-finite on extreme logits", layers=("SigmoidWithLoss",),
        description="log(sigmoid(x)) instead of log_sigmoid: -inf once sigmoid underflows (a warning, by design)",
        expect="warn",
    ),
]
