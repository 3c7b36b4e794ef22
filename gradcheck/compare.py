"""Tolerances, error metrics and the worst entries of a comparison.

Every tolerance of gradcheck lives in `PRECISIONS`, keyed by the dtype the checked
layer *computes* in (the dtype of what it returns), not the dtype we fed it: a
layer that computes in float32 is held to float32's precision.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Precision:
    """Tolerances for one floating dtype; all derived from its machine epsilon.

    analytic: relative tolerance for two computations of the same exact quantity
      (layer vs JAX, Time layer vs cell). Both round at every operation; the sums in
      these layers have up to ~10^3 terms, so rounding grows to ~10^3 eps in the
      worst direction. 2^12 eps leaves a margin of 4 over that. The error of each
      entry is measured against rtol * (|expected| + scale), scale = the largest
      magnitude in the tensor: an entry that cancels next to large ones gives no
      false alarm, while any bug that is wrong by more than 2^12 eps of the
      tensor's size is caught (float64: 9e-13; float32: 4.9e-4). A whole tensor
      that is small next to the terms it was computed from is the other case: see
      ROUNDING_MARGIN.
    fd_step: central-difference step along a unit direction, eps^(1/3), which
      balances the truncation error (~h^2) against rounding (~eps/h).
    fd_rtol: allowed truncation error relative to the gradient's size, 10^3 h^2:
      the third derivatives of these layers (tanh, softmax on O(1) inputs) are O(1)
      times the gradient, so h^2 is the expected error; 10^3 is the margin
      (float64: 1.5e-8, float32: 2.4e-2 before noise is added, see numeric.py).
    fd_noise: multiple of eps * sum|out * dout| / h allowed for rounding in the
      two forwards of a difference; 64 covers rounding accumulated along a
      sequence of up to ~50 time steps.

    The same tolerance (`fd_allowed`) serves a probe along one tensor and the
    joint probe along all of a layer's tensors at once (`numeric.probe` with
    several tensors): the joint direction is a unit vector of the concatenated
    space, so the truncation error is h^2 times a third derivative along a unit
    direction, as for one tensor (the mixed third derivatives of x @ W products
    through tanh / softmax are of the same O(1) size as the pure ones); the
    gradient's size is the norm of the concatenated gradient (Cauchy-Schwarz
    bound of the projection); rounding depends only on the two forwards.
    """

    dtype: np.dtype
    analytic: float
    fd_step: float
    fd_rtol: float
    fd_noise: float = 64.0

    @property
    def eps(self) -> float:
        return float(np.finfo(self.dtype).eps)

    def fd_allowed(self, analytic: float, gnorm: float, magnitude: float, step: float) -> float:
        """Error allowed for one central difference along a unit direction:
        truncation fd_rtol * (|<g, u>| + |g| |u|) plus rounding of the two
        forwards, fd_noise * eps * magnitude / (2 step), magnitude = the sum of
        |out * dout| over both forwards."""
        return self.fd_rtol * (abs(analytic) + gnorm) + self.fd_noise * self.eps * magnitude / (2 * step)


def _precision(dtype: type[np.floating]) -> Precision:
    eps = float(np.finfo(dtype).eps)
    h = eps ** (1 / 3)
    return Precision(dtype=np.dtype(dtype), analytic=2**12 * eps, fd_step=h, fd_rtol=1e3 * h * h)


# When differences disagree but the Taylor test finds the gradient right (remainder
# ~h^2), the function curves faster than fd_rtol assumed (long tanh chains: T=12
# and more): the failing directions are probed again at fd_step / FD_REFINE, where
# the truncation error is FD_REFINE^2 = 16x smaller and rounding 4x larger (still
# far below fd_rtol in float64). Only a disagreement that survives that is reported.
FD_REFINE = 4.0

# A loss that follows a convention such as log(p + 1e-7) is matched against the
# convention's spec with a scale of at least 1 (`compare(..., scale_floor=)`): in
# float32, p + 1e-7 is rounded at the precision of p <= 1 (1 + 1e-7 becomes
# 1 + 1.19e-7), so a position with p near 1 carries an absolute error of up to
# eps, however small the loss (-log(1 + 1e-7) = -1e-7 exactly, -1.19e-7 in float32).
# Matching the exact spec keeps the loss's own scale.
CONVENTION_LOSS_SCALE = 1.0

# The analytic tolerance is relative to the compared tensor's own size. A result
# that is a small difference of large terms carries the rounding of the terms:
# SimpleSkipGram's dW_in at V=2 is (2p - 1) (W_out[:, 0] - W_out[:, 1]) with p near
# 1/2 and the two columns nearly equal, 2.7e-5 with the terms' rounding of ~1e-7 in
# float32 (4x the tolerance: a false alarm of the correct model, found by the
# property tests). So a comparison with the spec that fails is made again allowing
# ROUNDING_MARGIN times the difference between the spec run in float32 and in
# float64 (scaled to the layer's precision): the same computation, rounded at
# float32, shows how much its rounding moves each result. There the layer's float32
# error was 1.2-1.3x that difference; 16 covers another order of operations (the
# layer sums in its own order). A bug smaller than that on an example is within
# rounding of it; examples that are not ill-conditioned still show it.
ROUNDING_MARGIN = 16.0
# One float32 run is one sample of the rounding, and a sample can be small by luck:
# on the same SimpleSkipGram example with dout 3 (float64, a thorough sweep, seed
# 99) the float32 run landed 3.1e-9 from float64 where the same point scaled by
# 1 -+ 2^-10 gave 1.3e-9 and 8.4e-8, and the float64 model's own error (2.6e-16)
# was above the one sample's allowance. So the difference is the largest over the
# example and the example's float values scaled by each of ROUNDING_SCALES (each a
# float64 and a float32 run of the spec: only a comparison that already failed pays
# for them).
ROUNDING_SCALES = (1 + 2.0**-10, 1 - 2.0**-10)

# The joint probe (checks.check_backward_fd) moves k tensors at once, each along a
# random direction of norm share = 1/sqrt(k). A gradient g_i wrong by e_i adds
# <e_i, u_i> ~ share |e_i| |cos| to the disagreement, where a probe of tensor i
# alone would see |e_i| |cos|; and the joint tolerance (fd_allowed) is set by the
# norm of *all* gradients, so a tensor with a small gradient next to a large one
# is diluted. The joint projection therefore stands for tensor i only when its
# allowed error is at most FD_JOINT_RTOL of share * |g_i|: a bug that moves g_i by
# more than 1e-4 of its size along the direction still exceeds the tolerance
# (alone: fd_rtol, 1.5e-8 in float64; real bugs are wrong by 1e-3 and more). In
# float64 that holds unless a gradient is ~10^4 times smaller than the others; in
# float32 (fd_rtol 2.4e-2) never, so a layer computing in float32 keeps one probe
# per tensor. A tensor the joint projection does not stand for gets its own.
FD_JOINT_RTOL = 1e-4

PRECISIONS: dict[np.dtype, Precision] = {np.dtype(t): _precision(t) for t in (np.float64, np.float32)}


def precision_for(dtype: np.dtype) -> Precision:
    """The Precision of a computed dtype; float16 and others fall back to float32's
    table only if they are at least as precise, else to their own derived table."""
    dtype = np.dtype(dtype)
    if dtype in PRECISIONS:
        return PRECISIONS[dtype]
    if np.issubdtype(dtype, np.floating):
        return _precision(dtype.type)
    return PRECISIONS[np.dtype(np.float64)]


@dataclass
class Entry:
    """One compared entry: where it is, what was expected and what came."""

    index: tuple[int, ...]
    expected: float
    actual: float
    error: float  # |actual - expected|
    allowed: float

    def where(self, axes: tuple[str, ...] = ()) -> str:
        named = [f"{a.lower()}={i}" for a, i in zip(axes, self.index, strict=False)] if axes else []
        return "[" + ", ".join(named or map(str, self.index)) + "]"


@dataclass
class Comparison:
    """Result of comparing an actual array to an expected one. `worst` (the entries
    with the largest error ratio, largest first) is found when first read: most
    comparisons pass and nobody reads theirs."""

    ok: bool
    ratio: float  # worst error / allowed error; <= 1 passes
    _worst: list[Entry] | None = field(default=None, repr=False)
    shape_error: str | None = None
    bad_count: int = 0
    size: int = 0
    _find: Callable[[], list[Entry]] | None = field(default=None, repr=False, compare=False)

    @property
    def worst(self) -> list[Entry]:
        if self._worst is None:
            self._worst = self._find() if self._find is not None else []
            self._find = None
        return self._worst


def compare(
    actual: object,
    expected: np.ndarray,
    rtol: float,
    *,
    n_worst: int = 3,
    scale_floor: float = 0.0,
    atol: float = 0.0,
) -> Comparison:
    """Entrywise |a - e| <= rtol * (|e| + scale) + atol, scale = max(|e|, |a|) over
    the tensor, and at least `scale_floor` (see CONVENTION_LOSS_SCALE); atol: what
    rounding alone explains (checks.Context.rounding, ROUNDING_MARGIN).

    Non-finite actual values fail unless expected has the same value there.
    """
    expected = np.asarray(expected, dtype=np.float64)
    try:
        a = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        return Comparison(False, np.inf, shape_error=f"not a numeric array ({type(actual).__name__})")
    if a.shape != expected.shape:
        return Comparison(False, np.inf, shape_error=f"shape {a.shape}, expected {expected.shape}")
    if a.size == 0:
        return Comparison(True, 0.0)
    abs_e = np.abs(expected)
    # (array methods and math.isfinite: most comparisons are of a few dozen entries,
    # where NumPy's function wrappers cost as much as the arithmetic)
    raw = max(float(np.abs(a).max()), float(abs_e.max()))
    if math.isfinite(raw) and raw > 0:
        scale = max(scale_floor, raw)
        # Everything finite (a NaN or inf anywhere makes the max non-finite): the
        # same formula in fewer passes over the arrays.
        err = np.abs(a - expected)
        allowed = abs_e
        allowed += scale
        allowed *= rtol
        allowed += atol
        ratios = err / allowed
    else:
        finite = np.isfinite(a) & np.isfinite(expected)
        same_nonfinite = ~finite & (a == expected)
        scale = max(
            scale_floor,
            float(np.max(np.abs(np.where(finite, a, 0)))),
            float(np.max(np.where(finite, abs_e, 0))),
        )
        allowed = rtol * (np.where(finite, abs_e, 0) + scale) + atol
        err = np.where(finite, np.abs(a - expected), np.where(same_nonfinite, 0.0, np.inf))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = np.where(err == 0, 0.0, err / np.where(allowed > 0, allowed, np.finfo(float).tiny))
    ratio = float(ratios.max())

    def find() -> list[Entry]:
        return [
            Entry(
                index=tuple(int(i) for i in np.unravel_index(k, a.shape)),
                expected=float(expected.flat[k]),
                actual=float(a.flat[k]),
                error=float(err.flat[k]),
                allowed=float(allowed.flat[k]),
            )
            for k in _largest(ratios.ravel(), n_worst)
            if ratios.flat[k] > 0
        ]

    bad = 0 if ratio <= 1 else int(np.count_nonzero(ratios > 1))
    return Comparison(ok=ratio <= 1, ratio=ratio, bad_count=bad, size=int(a.size), _find=find)


def _largest(values: np.ndarray, n: int) -> np.ndarray:
    """Flat indices of the n largest values, largest first.

    A partial selection (O(size)) and then a sort of those n only: a full argsort
    of a 10^6-entry gradient (the PTB embedding table) cost 9x more to find 3 entries.
    """
    n = max(0, min(n, values.size))
    if n == 0:
        return np.empty(0, dtype=np.intp)
    top = np.argpartition(values, values.size - n)[values.size - n :] if n < values.size else np.arange(values.size)
    return top[np.argsort(values[top])[::-1]]


def not_greedy(scores: np.ndarray, ids: np.ndarray, rtol: float) -> list[Entry]:
    """The steps of a greedy decoding whose id is not an argmax of its step's
    scores (T', V), each as Entry(index=(step, best id), expected=the best score,
    actual=the id's score): the id's score is below the best by more than
    rtol * (|best| + scale), scale = the largest |score| (compare's measure). A
    near-tie that the layer's float32 broke the other way is within it."""
    scale = float(np.abs(scores).max(initial=0.0))
    out = []
    for t, (row, i) in enumerate(zip(scores, ids, strict=True)):
        best = int(np.argmax(row))
        gap, allowed = float(row[best] - row[int(i)]), rtol * (abs(float(row[best])) + scale)
        if gap > allowed:
            out.append(Entry((t, best), float(row[best]), float(row[int(i)]), gap, allowed))
    return out
