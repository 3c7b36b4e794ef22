"""Numerically stable elementwise and row-wise functions.

Every function works on arrays of any rank (the last axis is the class axis)
and keeps the floating dtype of its input: float32 in, float32 out.
"""

from __future__ import annotations

import numpy as np

__all__ = ["log_sigmoid", "log_softmax", "sigmoid", "softmax"]


def _float_array(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if x.ndim == 0:
        raise ValueError(f"{name} must have at least one axis (the class axis); got a scalar")
    return x


def log_softmax(x: np.ndarray) -> np.ndarray:
    """log(softmax(x)) along the last axis, computed as x - logsumexp(x).

    x: (..., V) float. Returns (..., V), same dtype. Finite for any finite x,
    including logits of +-1e4 where exp() alone would overflow.
    """
    x = _float_array(x, "x")
    # Subtracting the row max makes the largest exponent exp(0) = 1, so exp cannot
    # overflow and the sum is at least 1, so its log cannot be -inf.
    shifted = x - np.max(x, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax along the last axis. x: (..., V) float -> (..., V), same dtype."""
    x = _float_array(x, "x")
    # Same max shift as log_softmax: exp of a non-positive number never overflows.
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function 1 / (1 + exp(-x)), elementwise; any shape, same floating dtype.

    Evaluated through z = exp(-|x|), which never overflows: 1 / (1 + z) for x >= 0
    and z / (1 + z) for x < 0, so sigmoid(-40) keeps its full relative precision
    (4.25e-18) instead of rounding to 0.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z)).astype(x.dtype, copy=False)


def log_sigmoid(x: np.ndarray) -> np.ndarray:
    """log(sigmoid(x)) = -log(1 + exp(-x)), elementwise; any shape, same floating dtype.

    Written min(x, 0) - log1p(exp(-|x|)): exp never overflows, and log1p keeps the
    precision of a tiny exp(-|x|), so log_sigmoid(40) is -4.25e-18, not 0, and
    log_sigmoid(-1e4) is -1e4, not log(0) = -inf.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    return (np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))).astype(x.dtype, copy=False)
