"""Finite differences and the Taylor-remainder test, on a layer's own forward.

Both take `f`, a function of no arguments that runs the layer's forward and
returns (value, magnitude): the scalar <forward output, dout> and the sum of
|out * dout| (the size of the terms whose rounding limits the difference). The
tensor being varied is edited *in place* (a parameter the layer holds, or an
input array we pass it) and always restored bit for bit, also when f raises.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .compare import Precision

Objective = Callable[[], tuple[float, float]]


@dataclass
class Directional:
    """One finite-difference probe along a direction of one tensor."""

    fd: float  # (f(x + h u) - f(x - h u)) / (2 h)
    analytic: float  # <gradient, actual x+ - x-> / (2 h): what the layer's backward predicts
    allowed: float  # error allowed for this probe (truncation + rounding)
    index: tuple[int, ...] | None = None  # the entry, for an entrywise probe
    direction: np.ndarray | None = None  # the unit direction u

    @property
    def error(self) -> float:
        return abs(self.fd - self.analytic)

    @property
    def ok(self) -> bool:
        return bool(self.error <= self.allowed)

    @property
    def ratio(self) -> float:
        return self.error / self.allowed if self.allowed > 0 else (0.0 if self.error == 0 else np.inf)


def probe(
    f: Objective, x: np.ndarray, grad: np.ndarray, u: np.ndarray, prec: Precision, step: float | None = None
) -> Directional:
    """Central difference of f along unit direction u of tensor x (edited in place);
    `step` overrides the precision's step (a finer one, see checks._fd_finding)."""
    return joint_probe(f, [x], [grad], [u], prec, step)


def joint_probe(
    f: Objective,
    xs: list[np.ndarray],
    grads: list[np.ndarray],
    us: list[np.ndarray],
    prec: Precision,
    step: float | None = None,
) -> Directional:
    """Central difference of f along one direction of several tensors at once
    (each xs[i] moves by h us[i], all edited in place and restored): the
    concatenated us must have unit norm. Two forwards, whatever the number of
    tensors; the backward's prediction is the sum of the tensors' projections."""
    h = prec.fd_step if step is None else step
    saved = [x.copy() for x in xs]
    try:
        for x, s, u in zip(xs, saved, us, strict=True):
            x[...] = s + h * u
        plus = [x.astype(np.float64) for x in xs]
        f_plus, s_plus = f()
        for x, s, u in zip(xs, saved, us, strict=True):
            x[...] = s - h * u
        minus = [x.astype(np.float64) for x in xs]
        f_minus, s_minus = f()
    finally:
        for x, s in zip(xs, saved, strict=True):
            x[...] = s
    # x +- h u was rounded to x's dtype; the step that really happened is plus - minus.
    deltas = [p - m for p, m in zip(plus, minus, strict=True)]
    gs = [np.asarray(g, dtype=np.float64) for g in grads]
    analytic = sum(float(np.sum(g * d)) for g, d in zip(gs, deltas, strict=True)) / (2 * h)
    fd = (f_plus - f_minus) / (2 * h)
    gnorm = _norm(gs) * _norm(deltas) / (2 * h)
    allowed = prec.fd_allowed(analytic, gnorm, s_plus + s_minus, h)
    return Directional(fd=fd, analytic=analytic, allowed=allowed, direction=us[0] if len(us) == 1 else None)


def _norm(arrays: list[np.ndarray]) -> float:
    """The norm of the arrays concatenated."""
    return float(np.sqrt(sum(float(np.vdot(a, a)) for a in arrays)))


def random_direction(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """A Gaussian direction of unit norm: every entry takes part, none is favoured."""
    u = rng.standard_normal(shape)
    n = np.linalg.norm(u)
    return u / n if n > 0 else u


def unit(shape: tuple[int, ...], index: tuple[int, ...]) -> np.ndarray:
    u = np.zeros(shape)
    u[index] = 1.0
    return u


@dataclass
class Taylor:
    """Remainders r(h) = |f(x + h u) - f(x) - h <g, u>| for halving h.

    A right gradient leaves r = O(h^2) (slope 2 on a log-log plot), a wrong one
    r = O(h) (slope 1). Needs no tolerance: only the slope is read. When every
    remainder sits at the rounding floor f is linear along u and the gradient is
    consistent (conclusive=False, slope nan).
    """

    steps: list[float]
    remainders: list[float]
    slope: float
    conclusive: bool

    @property
    def gradient_ok(self) -> bool | None:
        if not self.conclusive:
            return True if all(np.isfinite(self.remainders)) else None
        return bool(self.slope > 1.5)


def taylor_test(f: Objective, x: np.ndarray, grad: np.ndarray, u: np.ndarray, prec: Precision) -> Taylor:
    """Taylor-remainder test of `grad` along unit direction u of tensor x (in place)."""
    saved = x.copy()
    g = np.asarray(grad, dtype=np.float64)
    # Start where the quadratic term dominates rounding: h0 = eps^(1/4) (1.2e-4 in
    # float64, 0.019 in float32) and halve four times.
    steps = [prec.eps**0.25 / 2**k for k in range(5)]
    try:
        f0, s0 = f()
        remainders, floor = [], 0.0
        for h in steps:
            x[...] = saved + h * u
            delta = x.astype(np.float64) - saved.astype(np.float64)
            fh, sh = f()
            remainders.append(abs(fh - f0 - float(np.sum(g * delta))))
            floor = max(floor, prec.fd_noise * prec.eps * (s0 + sh))
    finally:
        x[...] = saved
    r = np.asarray(remainders)
    above = r > floor
    if above.sum() < 2:
        return Taylor(steps, remainders, float("nan"), conclusive=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        slopes = np.log2(r[:-1] / r[1:])[above[:-1] & above[1:]]
    if slopes.size == 0:
        return Taylor(steps, remainders, float("nan"), conclusive=False)
    return Taylor(steps, remainders, float(np.median(slopes)), conclusive=True)
