"""Mutants of the dropout layers: Dropout (the book's, not inverted) and TimeDropout
(inverted). Training mode is checked with the randomness held fixed
(gradcheck/stochastic.py), so these bugs are caught by finite differences, the
evaluation-mode spec and the mask statistics."""

from __future__ import annotations

from . import Mutant, edit

MUTANTS: list[Mutant] = [
    edit(
        "TimeDropout", "backward",
        old='return float_array("dout", dout, self.mask.shape) * self.mask',
        new='return float_array("dout", dout, self.mask.shape) * (self.mask != 0)  # BUG: the 1 / (1 - p) scale',
        name="time-dropout-scale-forgotten-in-backward", family="dropout scale forgotten", layers=("TimeDropout",),
        description="backward multiplies by the kept entries (0/1), not by the scaled mask forward used",
    ),
    edit(
        "TimeDropout", "forward",
        old="self.mask = kept.astype(xs.dtype) / xs.dtype.type(1 - self.dropout_ratio)",
        new="self.mask = kept.astype(xs.dtype)  # BUG: inverted dropout scales the kept entries by 1 / (1 - p)",
        name="time-dropout-not-scaled", family="dropout scale forgotten", layers=("TimeDropout",),
        description="training keeps entries unscaled, so its expectation is (1 - p) x while evaluation gives x",
    ),
    edit(
        "Dropout", "forward",
        old="self.mask = np.full(x.shape, 1 - self.dropout_ratio, dtype=x.dtype)",
        new="self.mask = np.ones_like(x)  # BUG: evaluation must scale by 1 - p (not inverted dropout)",
        name="dropout-eval-not-scaled", family="dropout scale forgotten", layers=("Dropout",),
        description="evaluation returns x although training keeps each entry with probability 1 - p unscaled",
    ),
    edit(
        "Dropout", "forward",
        old="self.mask = (np.random.rand(*x.shape) > self.dropout_ratio).astype(x.dtype)",
        new="self.mask = (np.random.rand(*x.shape) < self.dropout_ratio).astype(x.dtype)  # BUG: keeps p, drops 1 - p",
        name="dropout-keeps-p", family="dropout ratio inverted", layers=("Dropout",),
        description="training keeps an entry with probability p instead of 1 - p (alike only at p = 0.5)",
    ),
    edit(
        "Dropout", "backward",
        old='return float_array("dout", dout, self.mask.shape) * self.mask',
        new='return float_array("dout", dout, self.mask.shape) * (np.random.rand(*self.mask.shape) > 0.5)'
        "  # BUG: a new mask",
        name="dropout-mask-redrawn-in-backward", family="dropout mask not the forward's", layers=("Dropout",),
        description="backward draws a fresh mask instead of using the one forward applied",
    ),
]
