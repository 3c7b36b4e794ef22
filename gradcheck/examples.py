"""Examples: the arrays one check runs on, built from dims and a seed.

Float values come from a NumPy generator seeded by `seed`, so every example is
generic (no accidental symmetry that hides a missing transpose) and replayable from
its seed alone. Token ids, label masks and the stateful plan can be given
explicitly; `strategies.py` draws them with Hypothesis so that they shrink.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, cast

import numpy as np

from .specs import IGNORE_LABEL, Arg, Spec
from .specs.base import shape_of as axes_shape

MaskPattern = Literal["none", "random", "all_but_one", "all"]
# A stateful plan: ("forward", k) runs the next k time steps, ("reset",) calls
# reset_state(), ("set_state", seed) calls set_state with a fresh random state.
PlanStep = tuple


@dataclass
class Example:
    """Everything one check of one layer needs.

    values: every array of the spec by name (params, inputs, state), float arrays
      in `dtype`; dout: the upstream gradient (an array like the output, or a
      number != 1 for losses and models); plan: stateful steps over values' xs.
    """

    spec: str
    dims: dict[str, int]
    values: dict[str, np.ndarray]
    dout: np.ndarray | float
    seed: int
    dtype: np.dtype
    onehot: bool = False
    plan: list[PlanStep] = field(default_factory=list)

    def describe(self, max_entries: int = 24) -> str:
        """A readable listing: dims, then each array (whole when small)."""
        lines = [
            f"{self.spec} example, seed={self.seed}, dtype={np.dtype(self.dtype).name}, "
            + ", ".join(f"{k}={v}" for k, v in self.dims.items())
        ]
        with np.printoptions(precision=4, suppress=True, threshold=max_entries, linewidth=100):
            for name, v in self.values.items():
                body = np.array2string(np.asarray(v), prefix="    ")
                lines.append(f"  {name} {tuple(np.shape(v))}: {body}")
            lines.append(f"  dout: {np.array2string(np.asarray(self.dout), prefix='    ')}")
        if self.onehot:
            lines.append("  labels passed one-hot (N, T, V)")
        if self.plan:
            lines.append("  stateful plan: " + ", ".join(_step(s) for s in self.plan))
        return "\n".join(lines)


def _step(s: PlanStep) -> str:
    return {
        "forward": lambda: f"forward({s[1]} steps)",
        "reset": lambda: "reset_state()",
        "set_state": lambda: "set_state(h)",
    }[s[0]]()


def shape_of(arg: Arg, dims: Mapping[str, int]) -> tuple[int, ...]:
    return axes_shape(arg.axes, dims)


def make_example(
    spec: Spec,
    dims: Mapping[str, int],
    seed: int,
    dtype: np.dtype | type = np.float64,
    *,
    tokens: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    onehot: bool = False,
    extreme: bool = False,
    plan: Sequence[PlanStep] | None = None,
    given: Mapping[str, np.ndarray] | None = None,
) -> Example:
    """Build an example of `spec` at `dims`; float values from `seed`.

    tokens / labels: ints of the arg's shape to use instead of drawing them (labels
    of kind "labels" may hold IGNORE_LABEL). given: arrays to take as they are
    instead of drawing them (the params of another example: at PTB size drawing
    them costs more than the check that reads the example). extreme: losses get
    logits of +-1e4 at some positions, to show a softmax that overflows. plan:
    stateful steps (default: two chunks when T >= 2).
    """
    missing = [a for a in spec.letters if a not in dims]
    if missing:
        raise ValueError(f"{spec.name} needs dims {', '.join(spec.letters)}; missing {', '.join(missing)}")
    dims = {k: int(dims[k]) for k in spec.letters}
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    values: dict[str, np.ndarray] = {}
    for arg in spec.args:
        shape = shape_of(arg, dims)
        if given is not None and arg.name in given:
            values[arg.name] = given[arg.name]
        elif arg.kind == "tokens":
            # `tokens` are the first tokens input's (Seq2seq's xs); a second (its ts) is drawn.
            first = arg is next(a for a in spec.args if a.kind == "tokens")
            v = tokens if tokens is not None and first else rng.integers(0, dims["V"], size=shape)
            values[arg.name] = np.asarray(v, dtype=np.int64).reshape(shape)
        elif arg.kind == "drawn":
            values[arg.name] = np.zeros(shape, dtype=np.int64)  # replaced by what the layer draws (sampling.py)
        elif arg.kind == "onehot":
            values[arg.name] = onehot_labels(rng.integers(0, dims["V"], size=shape[:-1]), dims["V"])
        elif arg.is_label:
            if labels is not None:
                v = labels
            elif arg.kind == "binary":
                v = rng.integers(0, 2, size=shape)
            else:  # One-hot rows cannot say "ignored", so one-hot examples ignore nothing.
                v = random_labels(rng, shape, dims["V"], "random" if arg.has_ignore_label and not onehot else "none")
            values[arg.name] = np.asarray(v, dtype=np.int64).reshape(shape)
            if onehot and (values[arg.name] == IGNORE_LABEL).any():
                raise ValueError("one-hot labels cannot mark ignored positions; pass labels without ignore_label")
        elif arg in spec.states and spec.kind == "model":
            values[arg.name] = np.zeros(shape, dtype=dtype)  # a model starts from zeros after reset_state()
        else:
            values[arg.name] = float_values(arg, shape, rng).astype(dtype)
    if extreme and spec.kind == "loss":
        logits = spec.inputs[0].name
        xs = values[logits]
        big = rng.random(xs.shape) < 0.3
        values[logits] = np.where(big, np.sign(xs) * 1e4, xs).astype(dtype)
    if spec.kind in ("loss", "model"):
        dout: np.ndarray | float = loss_cotangent(rng)
    else:
        dout = rng.uniform(-1, 1, size=axes_shape(spec.output_axes, dims)).astype(dtype)
    if plan is None:
        plan = default_plan(dims.get("T", 1), rng) if spec.state is not None else []
    return Example(spec.name, dims, values, dout, seed, dtype, onehot=onehot, plan=list(plan))


def float_values(arg: Arg, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Bounded values that keep tanh away from saturation: weights scaled by
    1/sqrt(fan-in) make each pre-activation a sum of O(1) total variance."""
    u = rng.uniform(-1.0, 1.0, size=shape)
    if arg.kind == "weight":
        return u * np.sqrt(3.0 / max(shape[0], 1))
    if arg.kind == "bias":
        return 0.5 * u
    if arg.kind == "state":
        return 0.9 * u  # a tanh output lies in (-1, 1)
    return u


def random_labels(rng: np.random.Generator, shape: tuple[int, ...], V: int, pattern: MaskPattern) -> np.ndarray:
    """Labels with `pattern` ignored; a "random" mask always leaves one position
    counted (every position ignored is the mask check's own probe, see
    docs/design-notes.md, "Conventions")."""
    labels = rng.integers(0, V, size=shape)
    keep = int(rng.integers(0, cast(int, max(1, np.prod(shape)))))
    ignored = mask_for(pattern, shape, rng.random(shape) < 0.3, keep)
    if pattern == "random" and ignored.all():
        ignored.flat[keep % ignored.size] = False
    return np.where(ignored, IGNORE_LABEL, labels)


def mask_for(pattern: MaskPattern, shape: tuple[int, ...], random_mask: np.ndarray | None, keep: int) -> np.ndarray:
    """Which positions are ignored: none, `random_mask`, all but the position `keep`
    (a flat index), or all."""
    if pattern == "none":
        return np.zeros(shape, dtype=bool)
    if pattern == "all":
        return np.ones(shape, dtype=bool)
    if pattern == "all_but_one":
        m = np.ones(shape, dtype=bool)
        m.flat[keep % m.size] = False
        return m
    return np.asarray(random_mask, dtype=bool).reshape(shape)


def loss_cotangent(rng: np.random.Generator) -> float:
    """A loss's upstream gradient, never 1 (so a backward that ignores dout shows)."""
    d = float(rng.uniform(0.3, 3.0))
    return d if abs(d - 1.0) > 0.1 else d + 0.5


def default_plan(T: int, rng: np.random.Generator) -> list[PlanStep]:
    if T < 2:
        return [("forward", T)]
    k = int(rng.integers(1, T))
    return [("forward", k), ("forward", T - k)]


def onehot_labels(ts: np.ndarray, V: int) -> np.ndarray:
    """(...) labels -> (..., V) one-hot; ignored positions stay ignorable only as
    int labels, so callers pass one-hot only where nothing is ignored."""
    out = np.zeros((*ts.shape, V), dtype=np.int64)
    np.put_along_axis(out, np.where(ts >= 0, ts, 0)[..., None], 1, axis=-1)
    return out


# The batch of the checks of structure (stateful chunks, T=1, reset_state): rows are
# independent in every layer of the book (no op mixes rows but a loss's mean, which
# the spec takes over the same rows), so two rows test the same logic as N; two,
# not one, so that a row mix-up or an (N, H) state transposed still shows.
THIN_N = 2


def thin(spec: Spec, ex: Example, values: Mapping[str, np.ndarray] | None = None, n: int = THIN_N) -> Example:
    """The example's first n rows (all of them if it has no more): every value with
    an N axis and dout sliced; params, plan and seed kept. `values` (default the
    example's) are the arrays to slice, e.g. as the layer holds them."""
    values = ex.values if values is None else values
    if ex.dims.get("N", 0) <= n:
        return Example(ex.spec, dict(ex.dims), dict(values), ex.dout, ex.seed, ex.dtype, ex.onehot, list(ex.plan))
    args = {a.name: a for a in spec.args}

    def rows(v, axes):
        return v[(slice(None),) * axes.index("N") + (slice(0, n),)] if "N" in axes else v

    sliced = {k: rows(v, args[k].axes) if k in args else v for k, v in values.items()}
    dout = rows(ex.dout, spec.output_axes) if isinstance(ex.dout, np.ndarray) else ex.dout
    return Example(ex.spec, {**ex.dims, "N": n}, sliced, dout, ex.seed, ex.dtype, ex.onehot, list(ex.plan))
