"""Dropout: what it means in evaluation mode. Training mode draws a mask at random;
`gradcheck/stochastic.py` checks it with the randomness held fixed."""

from __future__ import annotations

from .base import Arg, Spec

# The ratio the checker builds a dropout layer with: the book's default, `Dropout()`.
DROPOUT_RATIO = 0.5


def dropout_eval(x):
    """The book's Dropout (not inverted) in evaluation: x * (1 - ratio), the
    expectation of its training output x * mask."""
    return x * (1 - DROPOUT_RATIO)


def time_dropout_eval(xs):
    """TimeDropout (inverted: training scales the kept entries by 1 / (1 - ratio))
    in evaluation: the identity."""
    return xs * 1.0


SPECS = (
    Spec(
        "Dropout",
        params=(),
        inputs=(Arg("x", ("N", "D"), "float"),),
        output_axes=("N", "D"),
        fn=dropout_eval,
        returns=("x",),
        train_flag="argument",
    ),
    Spec(
        "TimeDropout",
        params=(),
        inputs=(Arg("xs", ("N", "T", "D"), "float"),),
        output_axes=("N", "T", "D"),
        fn=time_dropout_eval,
        returns=("xs",),
        train_flag="attribute",
    ),
)
