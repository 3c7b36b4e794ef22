"""The checks. Each is a small function of a `Context` (one layer, one example)
returning findings; `check_example` runs them in order.

Gradient checks: forward vs spec, backward vs JAX vjp, backward vs finite
differences (needs no spec), and the three-way verdict. Protocol and time checks
live in `protocol.py` and `timing.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import cast

import numpy as np

from . import calling
from .calling import Factory, Layer, LayerError
from .compare import (
    CONVENTION_LOSS_SCALE,
    FD_JOINT_RTOL,
    FD_REFINE,
    ROUNDING_MARGIN,
    ROUNDING_SCALES,
    Comparison,
    Entry,
    Precision,
    compare,
    precision_for,
)
from .examples import Example, shape_of
from .findings import Finding, Status, from_comparison
from .numeric import Directional, joint_probe, probe, random_direction, taylor_test, unit
from .oracle import Oracle, OracleResult, default_bucket
from .specs import Arg, Convention, Spec

# All tensors get one random projection together (2 forwards, as torch's fast
# mode spends 2 per tensor). Tensors of at most FD_ENTRYWISE_MAX entries (a bias
# of a tiny example) are also probed entry by entry; when the joint projection
# fails, every tensor gets its own projection, and any tensor whose projection
# fails is probed entry by entry (up to FD_LOCATE_MAX entries) so the failure
# names the entry. Probing every entry of 16-entry tensors on every example made
# TimeRNN's check 3.5x the cost of torch's fast gradcheck for no extra bug found
# (benchmarks/README.md).
FD_ENTRYWISE_MAX = 4
# Why forward and backward-jax are skipped when there is no JAX function to compare with.
NO_SPEC = "not run: no JAX function to compare with (a layer declared with shapes only, or use_spec=False)"
FD_LOCATE_MAX = 64


@dataclass
class Context:
    """One layer on one example, with the primary forward/backward already run.

    The primary run is watched: what it mutated, what it returned that is not an
    array, whether it left `.dh`, whether its grads stayed the same objects. The
    protocol checks read these instead of building and running a layer each."""

    spec: Spec
    factory: Factory
    ex: Example
    layer: Layer
    values: dict[str, np.ndarray]  # the example as the layer holds it
    inputs: list[np.ndarray]
    state: np.ndarray | None
    out: np.ndarray  # the first forward's output, as float64
    out_dtype: np.dtype  # ... and the dtype the layer returned it in
    grads: dict[str, np.ndarray | None]  # copies of the first backward's gradients
    prec: Precision
    requested: np.dtype
    oracle: Oracle | None
    ref: OracleResult | None = None
    cell_factory: Factory | None = None
    bucket: dict[str, int] | None = None
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    mutated: list[str] = field(default_factory=list)  # what the primary run modified in place
    not_arrays: list[str] = field(default_factory=list)  # outputs that are not ndarrays
    dh_problem: Finding | None = None  # `.dh` not left by backward (an output finding)
    no_set_state: bool = False  # a stateful layer without set_state(): runs start from zeros
    grads_before: list = field(default_factory=list)  # layer.grads before the primary run
    grads_after: list = field(default_factory=list)  # ... and after it
    repeatable: bool | None = None  # set by check_repeatable: a second backward gave the same
    # set by check_repeatable: (c, gradients of backward(c * dout)) when exactly c times the primary's
    scaled: tuple[float, dict[str, np.ndarray | None]] | None = None
    gradient_failed: bool = False  # set by the engine: forward or backward-jax failed on this example
    carry: tuple[np.ndarray, ...] = ()  # given to set_state after the state (TimeLSTM's c)
    convention: Convention | None = None  # set by check_forward: the spec's convention the output follows
    against_spec: SpecComparison | None = None  # set by setup() with `ref`

    def rounding(self) -> dict[str, float]:
        """What rounding alone explains in each spec result of this example
        (`rounding_allowance`; {} without a spec)."""
        return self.against_spec.allowance() if self.against_spec is not None else {}

    def compare_to_ref(self, actual, name: str) -> Comparison:
        """The layer's "out" or gradient `name` against the spec's (`SpecComparison`)."""
        assert self.against_spec is not None, "no spec result to compare with"
        return self.against_spec(actual, name)

    def fresh(self, *, stateful: bool = True) -> Layer:
        return calling.build(self.spec, self.factory, self.ex, stateful=stateful)

    def run(self, layer: Layer, inputs=None, state=None, dout=None, carry=None) -> calling.Run:
        """forward + backward on a layer; returns copies of output and gradients."""
        inputs = [x.copy() for x in (inputs if inputs is not None else self.inputs)]
        state = self.state if state is None else state
        carry = self.carry if carry is None else carry
        out = np.array(calling.forward(self.spec, layer, inputs, state, carry=carry), dtype=np.float64)
        grads = calling.snapshot(calling.backward(self.spec, layer, self.ex.dout if dout is None else dout))
        return calling.Run(out, grads)


def rounding_allowance(
    oracle: Oracle,
    spec: Spec,
    values: Mapping[str, np.ndarray],
    dout,
    dims: Mapping[str, int],
    ref: OracleResult,
    prec: Precision,
    bucket: Mapping[str, int] | None = None,
    out_part: Callable[[np.ndarray], np.ndarray] | None = None,
) -> dict[str, float]:
    """What rounding alone can move each of the spec's results by, at the precision
    `prec` a layer computes in ("out", and the gradients by arg name): ROUNDING_MARGIN
    times the largest difference between the spec run in float32 and `ref` (the spec
    in float64), scaled by eps(prec) / eps(float32). A result that is a small
    difference of large terms carries the rounding of those terms, far more than a
    tolerance relative to the result itself allows; the same computation rounded at
    float32 shows how much (see compare.ROUNDING_MARGIN). The difference is the
    largest over the example and its float values scaled by each of
    compare.ROUNDING_SCALES (one float32 run is one sample, small by luck at times).
    0 (no allowance) where a float32 run is not finite or the spec does not run in
    float32. `out_part`: the part of "out" that is compared (a cell's first result),
    so that the rounding of the rest (an LSTM's c) does not widen the allowance of
    that part."""
    part = out_part or _whole
    floats = {a.name for a in spec.args if a.differentiable and a.name in values}
    largest: dict[str, float] = {}
    for s in (None, *ROUNDING_SCALES):
        at = values if s is None else {k: v * s if k in floats else v for k, v in values.items()}
        try:
            high = ref if s is None else oracle(spec, at, dout, dims, bucket)
            low = oracle(spec, at, dout, dims, bucket, np.float32)
        except Exception:  # a spec that does not run in float32: no allowance
            return {}
        pairs = [("out", part(low.out), part(high.out)), *((k, g, high.grads[k]) for k, g in low.grads.items())]
        for name, lo, hi in pairs:
            d = float(np.max(np.abs(np.asarray(lo, np.float64) - hi), initial=0.0))
            largest[name] = max(largest.get(name, 0.0), d if np.isfinite(d) else np.inf)
    scale = ROUNDING_MARGIN * prec.eps / float(np.finfo(np.float32).eps)
    return {name: scale * d if np.isfinite(d) else 0.0 for name, d in largest.items()}


def _whole(out: np.ndarray) -> np.ndarray:
    """The spec's "out" compared whole (`out_part` when none is given)."""
    return out


class SpecComparison:
    """A layer's results against the spec's on one example (`ref`: the oracle on
    `values`, `dout`, `dims`, `bucket`): compare() at the analytic tolerance of
    `prec`, and a comparison that fails made again allowing what rounding alone
    explains there (`rounding_allowance`, computed once, on the first failure).
    `out_part`: the part of the spec's "out" the layer's is compared with."""

    def __init__(
        self,
        oracle: Oracle,
        spec: Spec,
        values,
        dout,
        dims,
        ref: OracleResult,
        prec: Precision,
        bucket=None,
        out_part=None,
    ):
        self.oracle, self.spec, self.values, self.dout, self.dims = oracle, spec, values, dout, dims
        self.ref, self.prec, self.bucket, self.out_part = ref, prec, bucket, out_part or _whole
        self._allowance: dict[str, float] | None = None

    def allowance(self) -> dict[str, float]:
        if self._allowance is None:
            self._allowance = rounding_allowance(
                self.oracle,
                self.spec,
                self.values,
                self.dout,
                self.dims,
                self.ref,
                self.prec,
                self.bucket,
                self.out_part,
            )
        return self._allowance

    def __call__(self, actual, name: str, expected: np.ndarray | None = None) -> Comparison:
        """`actual` against the spec's "out" (its `out_part`) or gradient `name`, or
        against `expected` given for them."""
        if expected is None:
            expected = self.out_part(self.ref.out) if name == "out" else self.ref.grads[name]
        c = compare(actual, expected, self.prec.analytic)
        if not c.ok and c.shape_error is None:
            atol = self.allowance().get(name, 0.0)
            if atol > 0:
                c = compare(actual, expected, self.prec.analytic, atol=atol)
        return c


def setup(spec: Spec, factory: Factory, ex: Example, oracle: Oracle | None, **kw) -> Context:
    """Build the layer and run the primary forward and backward (raises LayerError),
    watching what they modify and return."""
    layer = calling.build(spec, factory, ex)
    own = calling.chosen_dtype(spec, layer)
    if own is not None and isinstance(ex.dout, np.ndarray) and ex.dout.dtype != own:
        ex = replace(ex, dout=ex.dout.astype(own))  # its dtype, as its inputs (calling.layer_values)
    values = calling.layer_values(spec, layer, ex)
    inputs = calling.inputs_for(spec, ex, values)
    state = values[spec.state.name].copy() if spec.state is not None and spec.kind != "model" else None
    no_set_state = state is not None and not calling.has(layer, "set_state")
    if no_set_state:  # built with stateful=False (calling.build): it starts from zeros
        for arg in spec.states:
            values[arg.name] = np.zeros_like(values[arg.name])
        state = None
    carry = tuple(values[a.name].copy() for a in spec.carry) if state is not None else ()
    run_inputs = [x.copy() for x in inputs]
    run_state = None if state is None else state.copy()
    dout = calling.copied(ex.dout)
    params = calling.untied(spec, getattr(layer, "params", None) or [])
    saved_params = [np.copy(p) for p in params]
    grads_before = list(getattr(layer, "grads", None) or [])
    out = calling.forward(spec, layer, run_inputs, run_state, copy_state=False, carry=carry)
    mutated = _modified(spec, inputs, run_inputs, params, saved_params, state, run_state, "forward")
    raw = calling.backward(spec, layer, dout)
    mutated += [
        m
        for m in _modified(spec, inputs, run_inputs, params, saved_params, state, run_state, "backward")
        if m.split(" (")[0] not in {x.split(" (")[0] for x in mutated}
    ]
    if not _same(np.asarray(dout), np.asarray(ex.dout)):
        mutated.append("dout (by backward)")
    grads = calling.snapshot(raw)
    held = [p for p in getattr(layer, "params", None) or [] if isinstance(p, np.ndarray)]
    given = [x for x in inputs if np.issubdtype(x.dtype, np.floating)]
    cached = _held_arrays(layer)  # e.g. self.x = x.astype(np.float32): float32 work too
    # A model chooses its own dtype: what it holds is what was asked for.
    requested = least_precise(held, np.dtype(ex.dtype)) if spec.sized else np.dtype(ex.dtype)
    # The precision it computes in: the least of what it was given, holds (params
    # and caches) and returns (float32 work whose last division promotes to float64
    # is float32 work).
    prec = precision_for(least_precise([out, *raw.values(), *held, *given, *cached], requested))
    ctx = Context(
        spec,
        factory,
        ex,
        layer,
        values,
        inputs,
        state,
        np.asarray(out, dtype=np.float64),
        np.asarray(out).dtype,
        grads,
        prec,
        requested,
        oracle,
        mutated=mutated,
        not_arrays=_not_arrays(spec, out, raw),
        no_set_state=no_set_state,
        grads_before=grads_before,
        grads_after=list(getattr(layer, "grads", None) or []),
        carry=carry,
        **kw,
    )
    ctx.rng = np.random.default_rng(ex.seed + 1)
    # Every oracle call of this example (stateful chunks, T=1, masks) pads to one
    # bucket, so the chunks of a long sequence share the full sequence's compile.
    ctx.bucket = ctx.bucket or default_bucket(ex.dims)
    if oracle is not None and not ctx.mutated:
        ref_values = dict(values)
        if spec.kind == "model":  # a model's spec takes h0 (and c0): zeros after reset_state()
            for model_state in spec.states:
                ref_values[model_state.name] = np.zeros(shape_of(model_state, ex.dims))
        ctx.ref = oracle(spec, ref_values, ex.dout, ex.dims, ctx.bucket)
        ctx.against_spec = SpecComparison(oracle, spec, ref_values, ex.dout, ex.dims, ctx.ref, prec, ctx.bucket)
    ctx.dh_problem = _dh_problem(ctx)
    return ctx


def _dh_problem(ctx: Context) -> Finding | None:
    """A stateful layer must leave the gradient w.r.t. its initial state in `.dh`.
    Under another name with the right values it is a naming convention (a warning:
    the book's seq2seq encoders and chained layers read `.dh`); absent, a failure."""
    spec, layer = ctx.spec, ctx.layer
    if spec.state is None or spec.kind == "model" or isinstance(getattr(layer, "dh", None), np.ndarray):
        return None
    N, H = ctx.ex.dims["N"], ctx.ex.dims["H"]
    found = calling.dh_candidates(spec, layer, N, H)
    why = "no `.dh` after backward" if not hasattr(layer, "dh") else "`.dh` is None after backward"
    want = None if ctx.ref is None else ctx.ref.grads.get(cast(Arg, spec.state).name)
    right = [k for k, v in found.items() if want is not None and compare(v, want, ctx.prec.analytic).ok]
    if right:
        return Finding(
            "output",
            "warn",
            f"{why}: the state gradient is in .{right[0]} (right values); the book's protocol names it .dh "
            "(seq2seq encoders and chained layers read layer.dh)",
            tensor="dh",
        )
    hint = f" (found {', '.join('.' + k for k in found)}, not the gradient w.r.t. h0)" if found else ""
    return Finding(
        "output", "fail", f"{why}: the gradient w.r.t. the initial state must be stored as layer.dh{hint}", tensor="dh"
    )


def _held_arrays(layer) -> list[np.ndarray]:
    """The float arrays a layer keeps in its attributes after forward and backward,
    directly or in a tuple or list (the book's `self.cache = (x, h_prev, h_next)`)."""
    found: list[np.ndarray] = []
    for v in getattr(layer, "__dict__", {}).values():
        items = v[:64] if isinstance(v, (tuple, list)) else [v]
        found += [a for a in items if isinstance(a, np.ndarray) and np.issubdtype(a.dtype, np.floating)]
    return found


def _modified(spec: Spec, inputs, run_inputs, params, saved_params, state, run_state, stage: str) -> list[str]:
    """What the layer changed in place, by name, among what we handed it."""
    changed = []
    if state is not None and run_state is not None and not _same(run_state, state):
        changed.append(f"{cast(Arg, spec.state).name} (given to set_state, by {stage})")
    changed += [
        f"{a.name} (by {stage})" for a, x, b in zip(spec.inputs, run_inputs, inputs, strict=True) if not _same(x, b)
    ]
    changed += [
        f"params[{a.name}] (by {stage})"
        for a, p, b in zip(spec.params, params, saved_params, strict=False)
        if not _same(p, b)
    ]
    return changed


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=np.issubdtype(a.dtype, np.floating))


def _not_arrays(spec: Spec, out, raw: dict) -> list[str]:
    """Results that are not NumPy arrays where the protocol hands arrays on (a list
    works with np.asarray but breaks the next layer's `.shape`, `.T`, `+=`)."""
    problems = []
    if spec.output_axes and not isinstance(out, np.ndarray):
        problems.append(f"forward returned a {type(out).__name__}, not an ndarray")
    elif not spec.output_axes and not (isinstance(out, (int, float, np.number)) or np.ndim(out) == 0):
        problems.append(f"forward returned a {type(out).__name__}, not a scalar loss")
    for name in spec.returns:
        g = raw.get(name)
        if g is not None and not isinstance(g, np.ndarray):
            problems.append(f"backward returned a {type(g).__name__} for {grad_name(spec, name)}, not an ndarray")
    return problems


def least_precise(arrays, fallback: np.dtype) -> np.dtype:
    """The least precise float dtype among `arrays` (what a layer returns and holds:
    the precision it really computes in); `fallback` if none is a float array."""
    dts = [a.dtype if isinstance(a, np.ndarray | np.generic) else np.asarray(a).dtype for a in arrays if a is not None]
    floats = [d for d in dts if np.issubdtype(d, np.floating)]
    return min(floats, key=lambda d: np.finfo(d).bits) if floats else fallback


# --- forward and backward against the spec ---------------------------------------------


def check_forward(ctx: Context) -> list[Finding]:
    """The output equals the spec's."""
    axes = ctx.spec.output_axes
    if ctx.ref is None:
        return [Finding("forward", "skip", NO_SPEC)]
    c = ctx.compare_to_ref(ctx.out, "out")
    if not c.ok:
        ctx.convention = convention_of(ctx, ctx.out, ctx.values)
        if ctx.convention is not None:  # named once, by `extreme` (docs/design-notes.md, "Conventions")
            return [Finding("forward", "pass", f"equals the spec's output under its {ctx.convention.name} convention")]
    return [from_comparison("forward", "out", axes, c, "the spec's output")]


def convention_of(ctx: Context, out, values) -> Convention | None:
    """The first of the spec's conventions whose output `out` equals on `values`."""
    if ctx.oracle is None:
        return None
    for conv in ctx.spec.conventions:
        ref = ctx.oracle.forward(ctx.spec.variant(conv), values, ctx.ex.dims, ctx.bucket)
        if compare(out, ref, ctx.prec.analytic, scale_floor=CONVENTION_LOSS_SCALE).ok:
            return conv
    return None


def check_backward_jax(ctx: Context) -> list[Finding]:
    """Every gradient equals JAX's vjp for the same upstream gradient."""
    if ctx.ref is None:
        return [Finding("backward-jax", "skip", NO_SPEC)]
    findings = []
    for arg in ctx.spec.grad_args:
        got = ctx.grads.get(arg.name)
        name = grad_name(ctx.spec, arg.name)
        if got is None and arg is ctx.spec.state and ctx.dh_problem is not None:
            findings.append(Finding("backward-jax", "skip", f"{name}: skipped, see output", tensor=name))
            continue
        if got is None:
            findings.append(Finding("backward-jax", "fail", f"{name} is missing (backward gave None)", tensor=name))
            continue
        c = ctx.compare_to_ref(got, arg.name)
        findings.append(from_comparison("backward-jax", name, arg.axes, c, "JAX's vjp"))
    return findings


def differing(spec: Spec, actual: dict, expected: dict, rtol: float, scale: float = 1.0) -> list[str]:
    """Gradients (by book name, with their error ratio) where actual != scale * expected."""
    bad = []
    for k, g in expected.items():
        if g is None or actual.get(k) is None:
            continue
        c = compare(actual[k], scale * g, rtol)
        if not c.ok:
            bad.append(f"{grad_name(spec, k)} ({c.ratio:.3g}x the tolerance)")
    return bad


def grad_name(spec: Spec, arg: str) -> str:
    """What the book calls a gradient: dWx, dxs, and `.dh` for the initial state."""
    if spec.state is not None and arg == spec.state.name:
        return "dh"
    return "d" + arg


# --- finite differences ---------------------------------------------------------------


def check_backward_fd(ctx: Context) -> list[Finding]:
    """Central differences on the layer's own forward agree with its backward.

    First one projection of all tensors jointly (2 forwards; each tensor's part of
    the unit direction has the same norm), plus every entry of tiny tensors. When
    the joint projection disagrees, or is too coarse for a tensor (its gradient
    small next to the others', or float32 tolerances: compare.FD_JOINT_RTOL), that
    tensor is probed on its own (a random direction, then entry by entry on a
    failure, to name the entries). Runs on a float64 instance of the
    layer (the example's values upcast), so the differences are taken in float64
    whatever dtype the example has, unless the layer itself computes in less (then
    at that precision's tolerances).
    """
    spec = ctx.spec
    ex = _upcast(ctx.ex, ctx.values)
    layer = calling.build(spec, ctx.factory, ex)
    inputs = calling.inputs_for(spec, ex)
    # setup() gives ctx a state only when the spec has one and the layer takes it
    state = None if ctx.state is None else ex.values[cast(Arg, spec.state).name]
    carry = tuple(ex.values[a.name] for a in spec.carry) if ctx.carry else ()
    if np.dtype(ctx.ex.dtype) == np.float64:
        # The float64 instance is the primary one again (same values, fresh): its
        # first backward is the primary's, already copied in ctx.grads.
        grads, prec, out = ctx.grads, ctx.prec, ctx.out
    else:
        out = calling.forward(spec, layer, [x.copy() for x in inputs], state, carry=carry)
        raw = calling.backward(spec, layer, calling.copied(ex.dout))
        grads = calling.snapshot(raw)
        held = [p for p in getattr(layer, "params", []) if isinstance(p, np.ndarray)]
        prec = precision_for(least_precise([out, *raw.values(), *held, *_held_arrays(layer)], np.dtype(np.float64)))
    f = calling.objective(spec, layer, inputs, state, ex.dout, carry)
    plist = calling.untied(spec, getattr(layer, "params", []))
    conv = _fd_convention(ctx, out, ex.values, prec)
    if conv is not None:
        f = _less_convention(ctx, conv, f, plist, inputs, ex)
    findings: dict[str, Finding] = {}
    probed: list[tuple[Arg, str, np.ndarray, np.ndarray]] = []  # (arg, name, tensor varied in place, gradient)
    for arg in spec.grad_args:
        name = grad_name(spec, arg.name)
        g = grads.get(arg.name)
        if g is None or np.shape(g) != shape_of(arg, ex.dims):
            findings[name] = Finding(
                "backward-fd", "skip", f"{name}: no gradient of the right shape to probe", tensor=name
            )
        elif arg is spec.state and state is None:  # no set_state(): no way to vary h0 through the layer
            findings[name] = Finding("backward-fd", "skip", f"{name}: no set_state() to vary h0 with", tensor=name)
        else:
            probed.append((arg, name, _target(spec, arg.name, plist, inputs, state), g))
    covered: set[str] = set()  # the tensors the joint projection stands for (compare.FD_JOINT_RTOL)
    joint = None
    share = 1.0 / np.sqrt(max(len(probed), 1))
    norms = [float(np.linalg.norm(np.asarray(g, dtype=np.float64))) for *_, g in probed]
    # Its allowed error is at least fd_rtol |g| (all gradients): when that already
    # exceeds what any one tensor needs (float32), the joint probe could stand for
    # none, and its two forwards are not spent.
    if len(probed) > 1 and prec.fd_rtol * float(np.linalg.norm(norms)) <= FD_JOINT_RTOL * share * max(norms):
        us = [share * random_direction(t.shape, ctx.rng) for _, _, t, _ in probed]
        joint = joint_probe(f, [t for _, _, t, _ in probed], [g for *_, g in probed], us, prec)
        if joint.ok:
            covered = {
                name
                for (_, name, _, _), n in zip(probed, norms, strict=True)
                if joint.allowed <= FD_JOINT_RTOL * share * n
            }
    for arg, name, target, g in probed:
        probes = [] if name in covered else [probe(f, target, g, random_direction(target.shape, ctx.rng), prec)]
        if target.size <= FD_ENTRYWISE_MAX or (probes and not probes[0].ok):
            for idx in list(np.ndindex(target.shape))[:FD_LOCATE_MAX]:
                d = probe(f, target, g, unit(target.shape, idx), prec)
                d.index = idx
                probes.append(d)
        if probes:
            findings[name] = _fd_finding(name, arg.axes, probes, f, target, g, prec)
        else:
            findings[name] = Finding(
                "backward-fd",
                "pass",
                f"{name} matches finite differences (one projection of all {len(probed)} tensors)",
                tensor=name,
                ratio=cast(Directional, joint).ratio,
            )
    return [findings[grad_name(spec, arg.name)] for arg in spec.grad_args]


def _fd_convention(ctx: Context, out, values, prec: Precision) -> Convention | None:
    """The convention the float64 instance's output follows where it differs from
    the exact spec at the precision the differences are taken in (None if it does not)."""
    if ctx.oracle is None or not ctx.spec.conventions or ctx.ref is None:
        return None
    if compare(out, ctx.ref.out, prec.analytic).ok:
        return None
    return convention_of(ctx, out, values)


def _less_convention(ctx: Context, conv: Convention, f, plist, inputs, ex: Example):
    """f() less <variant(x) - spec(x), dout>, evaluated in float64 by the oracle on the
    arrays the probes edit: the differences of a forward that follows `conv` then
    estimate the exact loss's gradient, which is what backward must return."""
    oracle = cast(Oracle, ctx.oracle)
    spec, variant = ctx.spec, ctx.spec.variant(conv)
    d = np.asarray(ex.dout, dtype=np.float64)

    def corrected() -> tuple[float, float]:
        value, size = f()
        now = {**ex.values, **{a.name: p for a, p in zip(spec.params, plist, strict=False)}}
        now.update({a.name: x for a, x in zip(spec.inputs, inputs, strict=True) if a.differentiable})
        offset = oracle.forward(variant, now, ex.dims, ctx.bucket) - oracle.forward(spec, now, ex.dims, ctx.bucket)
        return value - float(np.sum(offset * d)), size

    return corrected


def _upcast(ex: Example, values: dict[str, np.ndarray]) -> Example:
    """The example with every float value (as the layer held it) in float64."""
    up = {k: v.astype(np.float64) if np.issubdtype(v.dtype, np.floating) else v for k, v in values.items()}
    dout = ex.dout.astype(np.float64) if isinstance(ex.dout, np.ndarray) else ex.dout
    return Example(ex.spec, ex.dims, up, dout, ex.seed, np.dtype(np.float64), onehot=ex.onehot, plan=ex.plan)


def _target(spec: Spec, name: str, plist, inputs, state) -> np.ndarray:
    for arg, p in zip(spec.params, plist, strict=False):
        if arg.name == name:
            return p
    for arg, x in zip(spec.inputs, inputs, strict=True):
        if arg.name == name:
            return x
    return state


def _fd_finding(name, axes, probes: list[Directional], f, target, g, prec: Precision) -> Finding:
    bad = [p for p in probes if not p.ok]
    ratio = max(p.ratio for p in probes)
    if not bad:
        return Finding("backward-fd", "pass", f"{name} matches finite differences", tensor=name, ratio=ratio)
    entries = [
        Entry(cast(tuple[int, ...], p.index), expected=p.fd, actual=p.analytic, error=p.error, allowed=p.allowed)
        for p in sorted((p for p in bad if p.index is not None), key=lambda p: -p.ratio)[:3]
    ]
    worst = max(bad, key=lambda p: p.ratio)
    # Ask the Taylor test along the direction that failed worst, not a new one.
    # probe() always records its direction
    taylor = taylor_test(f, target, g, cast(np.ndarray, worst.direction), prec)
    if taylor.gradient_ok is True:
        finer = [probe(f, target, g, cast(np.ndarray, p.direction), prec, step=prec.fd_step / FD_REFINE) for p in bad]
        if all(q.ok for q in finer):
            return Finding(
                "backward-fd",
                "pass",
                f"{name} matches finite differences (at a step of h/{FD_REFINE:g}: the function curves faster "
                "than the default step assumes)",
                tensor=name,
                ratio=max(q.ratio for q in finer),
            )
    slope = f"Taylor remainder shrinks like h^{taylor.slope:.1f}" if taylor.conclusive else "Taylor test inconclusive"
    along = "a random direction" if worst.index is None else f"{name}{list(worst.index)}"
    msg = (
        f"{name} disagrees with finite differences of the layer's own forward: along {along} "
        f"backward predicts {worst.analytic:.6g}, differences give {worst.fd:.6g} ({worst.ratio:.3g}x the tolerance); "
        f"{slope}"
    )
    status: Status = "fail" if taylor.gradient_ok is not True else "warn"
    if status == "warn":
        msg += " (a right gradient gives h^2: step size or precision, not the gradient)"
    return Finding("backward-fd", status, msg, tensor=name, ratio=ratio, entries=entries, axes=axes if entries else ())


# --- the three-way verdict ---------------------------------------------------------------

BACKWARD_WRONG = "backward wrong"
FORWARD_WRONG = "forward wrong"
FD_DISAGREES = "spec and FD disagree (step size / precision)"


def verdict(ctx: Context, findings: list[Finding]) -> list[Finding]:
    """Layer vs JAX vs finite differences, per tensor, into one of three verdicts."""
    fwd_ok = all(f.status != "fail" for f in findings if f.check == "forward")
    by = {(f.check, f.tensor): f for f in findings}
    out: list[Finding] = []
    agree: list[str] = []  # gradients wrong only because they follow a wrong forward
    spec_only: list[str] = []  # gradients right for the spec, so not for this wrong forward
    for arg in ctx.spec.grad_args:
        name = grad_name(ctx.spec, arg.name)
        jx, fd = by.get(("backward-jax", name)), by.get(("backward-fd", name))
        jax_ok = None if jx is None or jx.status == "skip" else jx.status == "pass"
        # An FD warning means the Taylor test found the gradient consistent: no verdict from FD.
        fd_ok = None if fd is None or fd.status in ("skip", "warn") else fd.status == "pass"
        v = _decide(fwd_ok, jax_ok, fd_ok)
        if v is None:
            continue
        if v == FORWARD_WRONG:
            # jax_ok: the gradient is the spec's, not this forward's (FD objects); else
            # it follows this wrong forward (FD agrees, JAX objects).
            (spec_only if jax_ok else agree).append(name)
            continue
        status: Status = "warn" if v == FD_DISAGREES else "fail"
        out.append(Finding("verdict", status, f"{name}: {v}", tensor=name, verdict=v))
    if not fwd_ok:
        # One finding for the forward: the gradients that differ from JAX's only
        # because they follow this forward are its consequence, not bugs of their own.
        which = f" for {', '.join(agree)}" if agree else ""
        also = f"; {', '.join(spec_only)} follow the spec, not this forward" if spec_only else ""
        out.insert(
            0,
            Finding(
                "verdict",
                "fail",
                f"out: {FORWARD_WRONG} (the backward agrees with its own forward{which}{also})"
                if agree or not spec_only
                else f"out: {FORWARD_WRONG} ({', '.join(spec_only)} follow the spec, not this forward)",
                tensor="out",
                verdict=FORWARD_WRONG,
            ),
        )
    return out or [Finding("verdict", "pass", "layer, JAX and finite differences agree")]


def explained_by_forward(findings: list[Finding]) -> list[Finding]:
    """backward-jax failures of the gradients that the verdict found consistent with
    a wrong forward become "skipped: see verdict" (one root cause, one finding)."""
    head = next((f for f in findings if f.check == "verdict" and f.verdict == FORWARD_WRONG), None)
    if head is None:
        return findings
    agree = set(head.message.partition(" for ")[2].rstrip(")").split(", ")) if " for " in head.message else set()
    return [
        Finding("backward-jax", "skip", f"{f.tensor}: skipped, see verdict (forward wrong)", tensor=f.tensor)
        if f.check == "backward-jax" and f.status == "fail" and f.tensor in agree
        else f
        for f in findings
    ]


def confirmed_by_jax(findings: list[Finding]) -> list[Finding]:
    """A backward-fd warning (finite differences too coarse on the example, while the
    Taylor test finds the gradient consistent with the layer's forward) becomes a
    pass where the forward equals the spec and that gradient equals JAX's vjp: two
    independent witnesses agree with backward, and the warning was about the
    differences, not the layer (found on rnnref's correct SimpleRnnlm in a thorough
    sweep; under --strict it failed it). Without a spec, or with a wrong forward,
    the warning stays: there it is all finite differences can say."""
    if not any(f.check == "forward" and f.status == "pass" for f in findings):
        return findings
    jax_ok = {f.tensor for f in findings if f.check == "backward-jax" and f.status == "pass"}
    return [
        Finding(
            "backward-fd",
            "pass",
            f"{f.tensor}: finite differences are too coarse on this example ({f.ratio:.3g}x their tolerance), "
            "while the Taylor test and JAX's vjp agree with backward",
            tensor=f.tensor,
            ratio=f.ratio,
        )
        if f.check == "backward-fd" and f.status == "warn" and f.tensor in jax_ok
        else f
        for f in findings
    ]


def _decide(fwd_ok: bool, jax_ok: bool | None, fd_ok: bool | None) -> str | None:
    if jax_ok is None:  # no spec: finite differences alone
        return None if fd_ok in (True, None) else BACKWARD_WRONG
    if jax_ok and fd_ok is not False:
        return None
    if jax_ok and fd_ok is False:
        # The layer agrees with the spec; only the differences object.
        return FD_DISAGREES if fwd_ok else FORWARD_WRONG
    if fd_ok is False:
        return BACKWARD_WRONG
    # JAX objects, differences agree with the layer's own forward.
    return FORWARD_WRONG if not fwd_ok else BACKWARD_WRONG


CheckFn = Callable[[Context], list[Finding]]


def crash_finding(err: LayerError, check: str = "crash") -> Finding:
    """A layer that cannot be run; weights a model should tie but does not are the
    `tied` check's finding (the model cannot be checked as the spec means it)."""
    return Finding("tied" if err.stage == "tied" else check, "fail", str(err))
