"""Mutants of the loss layer, TimeSoftmaxWithLoss.

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
]
