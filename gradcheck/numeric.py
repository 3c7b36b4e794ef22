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
    h = prec.fd_step if step is None else step
    saved = x.copy()
    try:
        x[...] = saved + h * u
        plus = x.astype(np.float64)
        f_plus, s_plus = f()
        x[...] = saved - h * u
        minus = x.astype(np.float64)
        f_minus, s_minus = f()
    finally:
        x[...] = saved
    # x +- h u was rounded to x's dtype; the step that really happened is plus - minus.
    delta = plus - minus
    g = np.asarray(grad, dtype=np.float64)
    analytic = float(np.sum(g * delta)) / (2 * h)
    fd = (f_plus - f_minus) / (2 * h)
    gnorm = float(np.linalg.norm(g)) * float(np.linalg.norm(delta)) / (2 * h)
    rounding = prec.fd_noise * prec.eps * (s_plus + s_minus) / (2 * h)
    allowed = prec.fd_rtol * (abs(analytic) + gnorm) + rounding
    return Directional(fd=fd, analytic=analytic, allowed=allowed, direction=u)


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
