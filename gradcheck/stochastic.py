"""Layers that draw randomness when training (dropout, and the models built with it).

The book draws dropout masks with `np.random` inside forward, so a training-mode
layer is a different function at every call: finite differences need the same mask
in every forward they compare. So (see docs/design-notes.md, "Stochastic layers"):

* Training mode, held fixed: every forward runs with NumPy's global generator
  seeded to the example's seed, and the caller's generator state is restored
  afterwards (`fixed_random`), so every forward of a check draws the same mask
  and nothing leaks into the user's random stream. The training-mode layer is then
  a deterministic function, and every check that needs no spec runs on it: finite
  differences, not-mutated, grads in place, repeatable, linear in dout, reuse.
* Evaluation mode (`train_flg=False`): forward equals the spec (`eval`).
* An elementwise dropout layer also gets `dropout`: on a large input, the mask
  it applies (read back as out / x) is one scale on the kept entries, keeps a
  fraction 1 - dropout_ratio of them (a binomial test), has the expectation of the
  evaluation output, and backward is dout times that same mask.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

from . import calling
from .calling import Factory, LayerError
from .checks import least_precise
from .compare import compare, precision_for
from .examples import Example
from .findings import Finding, from_comparison, pair
from .oracle import Oracle
from .specs import Spec

# The dropout check's input: about this many entries, so that the kept fraction of
# a correct layer lies within KEPT_SIGMAS binomial standard deviations of
# 1 - dropout_ratio (a false alarm every ~5e8 runs at 6 sigma).
STAT_ENTRIES = 20_000
KEPT_SIGMAS = 6.0


@contextmanager
def fixed_random(seed: int) -> Iterator[None]:
    """NumPy's global generator seeded to `seed` inside, restored to its state
    before on the way out (whatever the layer drew)."""
    # The legacy global generator on purpose: it is what the book's layers draw from.
    saved = np.random.get_state()  # noqa: NPY002
    np.random.seed(seed % 2**32)  # noqa: NPY002
    try:
        yield
    finally:
        np.random.set_state(saved)  # noqa: NPY002


def training(spec: Spec, factory: Factory, seed: int) -> Factory:
    """A factory whose layers run every forward in training mode with the global
    generator seeded to `seed`: the same mask at every call (and backward seeded
    too, so that nothing the layer draws comes from or moves the caller's stream)."""

    def build(*args, **kwargs):
        layer = factory(*args, **kwargs)
        inner = getattr(layer, "forward", None)
        if not callable(inner):
            return layer  # calling.method reports the missing forward

        def forward(*inputs):
            with fixed_random(seed):
                if spec.train_flag == "argument":
                    return inner(*inputs, train_flg=True)
                layer.train_flg = True
                return inner(*inputs)

        def backward(*args):
            with fixed_random(seed + 1):  # whatever backward draws stays out of the caller's stream too
                return inner_backward(*args)

        inner_backward = getattr(layer, "backward", None)
        layer.forward = forward
        if callable(inner_backward):
            layer.backward = backward
        return layer

    return build


def check_example(
    spec: Spec, factory: Factory, ex: Example, oracle: Oracle | None, run_checks: Callable[..., list[Finding]], **kw
) -> list[Finding]:
    """Every check of a stochastic layer: the spec-free checks in training mode with
    the randomness fixed (`run_checks`, the engine's check_example, on a spec copy
    without train_flag and no oracle), then `eval` and `dropout`."""
    trained = dataclasses.replace(spec, train_flag=None)
    unfixed = _guarded("dropout", _not_reproducible, trained, training(spec, factory, ex.seed), ex)
    if unfixed:  # the randomness could not be held fixed: only evaluation mode can be checked
        return unfixed + _guarded("eval", check_eval, spec, factory, ex, oracle)
    findings = [
        _relabelled(f) for f in run_checks(trained, training(spec, factory, ex.seed), ex, oracle=None, **kw)
    ]
    if any(f.check in ("crash", "tied") and f.status == "fail" for f in findings):
        return findings  # the layer cannot be built or run as the spec means it: one finding
    findings += _guarded("eval", check_eval, spec, factory, ex, oracle)
    if _elementwise(spec):
        findings += _guarded("dropout", check_dropout, spec, factory, ex)
    return findings


def _not_reproducible(spec: Spec, factory: Factory, ex: Example) -> list[Finding]:
    """A warning if two training forwards with np.random seeded alike differ: the
    layer draws from a generator of its own, so training mode cannot be held fixed
    and its gradients cannot be checked (finite differences would compare two
    different functions: a false alarm)."""
    try:
        layer = calling.build(spec, factory, ex)
        inputs = calling.inputs_for(spec, ex, calling.layer_values(spec, layer, ex))
        state = ex.values[spec.state.name] if spec.state is not None and spec.kind != "model" else None
        carry = tuple(ex.values[a.name] for a in spec.carry) if state is not None else ()
        first = np.asarray(calling.forward(spec, layer, [x.copy() for x in inputs], state, carry=carry), dtype=float)
        second = np.asarray(calling.forward(spec, layer, [x.copy() for x in inputs], state, carry=carry), dtype=float)
    except (LayerError, TypeError, ValueError):
        return []  # the checks that follow report what is wrong with the layer
    if np.array_equal(first, second, equal_nan=True):
        return []
    return [
        Finding(
            "dropout",
            "warn",
            "two training forwards with np.random seeded alike gave different outputs: the randomness does not come "
            "from NumPy's global generator, so training mode cannot be held fixed and its gradients were not checked "
            "(evaluation mode was)",
        )
    ]


def _relabelled(f: Finding) -> Finding:
    """The spec-free run says "no spec": for a stochastic layer, say where the spec is used."""
    if f.status == "skip" and f.check in ("forward", "backward-jax") and "no spec" in f.message:
        return dataclasses.replace(
            f,
            message="training mode draws a mask, so it has no spec: see eval (forward vs the spec with "
            "train_flg=False) and backward-fd (the gradients, with the mask held fixed)",
        )
    return f


def _guarded(name: str, check, *args) -> list[Finding]:
    try:
        with np.errstate(all="ignore"):
            return check(*args)
    except LayerError as err:
        return [Finding(name, "fail", str(err))]


def _elementwise(spec: Spec) -> bool:
    """A dropout layer proper: one float input, output of its shape, no params."""
    return spec.kind == "layer" and not spec.params and len(spec.inputs) == 1 and spec.inputs[0].axes == spec.output_axes


def eval_forward(spec: Spec, layer, inputs: list[np.ndarray]):
    """forward in evaluation mode (train_flg=False), from zeros for a model."""
    if spec.kind == "model":
        calling.reset(layer)
    if spec.train_flag == "argument":
        return calling.packed(spec, calling.method(layer, "forward", *inputs, False))
    layer.train_flg = False
    return calling.packed(spec, calling.method(layer, "forward", *inputs))


def check_eval(spec: Spec, factory: Factory, ex: Example, oracle: Oracle | None) -> list[Finding]:
    """In evaluation mode the layer is deterministic: its forward equals the spec."""
    if oracle is None:
        return [Finding("eval", "skip", "no spec to compare evaluation mode with")]
    layer = calling.build(spec, factory, ex)
    values = calling.layer_values(spec, layer, ex)
    out = eval_forward(spec, layer, calling.inputs_for(spec, ex, values))
    held = [p for p in getattr(layer, "params", []) if isinstance(p, np.ndarray)]
    prec = precision_for(least_precise([np.asarray(out), *held], np.dtype(ex.dtype)))
    ref_values = {**values, **{a.name: np.zeros_like(values[a.name]) for a in spec.states if spec.kind == "model"}}
    ref = oracle.forward(spec, ref_values, ex.dims)
    what = "the spec (train_flg=False)"
    return [from_comparison("eval", "out" if spec.output_axes else "loss", spec.output_axes, compare(out, ref, prec.analytic), what)]


def check_dropout(spec: Spec, factory: Factory, ex: Example) -> list[Finding]:
    """The mask of a training forward, read back as out / x on a large input: one
    scale s on the kept entries; a kept fraction within KEPT_SIGMAS of 1 - p;
    s * (1 - p) equal to the evaluation output's scale (the same expectation);
    backward = dout * mask; the same mask again at the same seed."""
    arg = spec.inputs[0]
    side = math.ceil(STAT_ENTRIES ** (1 / len(arg.axes)))
    rng = np.random.default_rng(ex.seed + 7)
    shape = (side,) * len(arg.axes)
    x = (rng.uniform(0.1, 1.0, shape) * rng.choice([-1.0, 1.0], shape)).astype(ex.dtype)  # no zeros to divide by
    layer = calling.guarded("constructor", training(spec, factory, ex.seed))
    out = np.asarray(calling.method(layer, "forward", x.copy()), dtype=np.float64)
    again = np.asarray(calling.method(layer, "forward", x.copy()), dtype=np.float64)
    if out.shape != x.shape:
        return [Finding("dropout", "fail", f"forward returned shape {out.shape} for an input of shape {x.shape}")]
    if not np.array_equal(out, again, equal_nan=True):
        return [
            Finding(
                "dropout",
                "warn",
                "two training forwards with np.random seeded alike gave different outputs: the mask does not come "
                "from NumPy's global generator, so training mode could not be held fixed (gradients not checked)",
            )
        ]
    prec = precision_for(least_precise([np.asarray(out), x], np.dtype(ex.dtype)))
    mask = out / x.astype(np.float64)
    kept = np.abs(mask) > prec.analytic
    findings: list[Finding] = []
    scale = float(np.median(mask[kept])) if kept.any() else 0.0
    if kept.any() and not np.allclose(mask[kept], scale, rtol=prec.analytic, atol=0):
        worst = float(mask[kept][np.argmax(np.abs(mask[kept] - scale))])
        return [
            Finding(
                "dropout",
                "fail",
                "the kept entries are not all scaled alike: out / x is {} and {}".format(*pair(scale, worst)),
            )
        ]
    p = getattr(layer, "dropout_ratio", None)
    n, frac = kept.size, float(kept.mean())
    if isinstance(p, (int, float)) and 0 < p < 1:
        sigma = math.sqrt(p * (1 - p) / n)
        if abs(frac - (1 - p)) > KEPT_SIGMAS * sigma:
            findings.append(
                Finding(
                    "dropout",
                    "fail",
                    f"kept {frac:.4f} of {n} entries; dropout_ratio={p} keeps 1 - p = {1 - p:.4f} "
                    f"(off by {abs(frac - (1 - p)) / sigma:.1f} standard deviations)",
                )
            )
    else:
        p = 1 - frac
        findings.append(Finding("dropout", "warn", "no dropout_ratio attribute: the kept fraction was not checked"))
    eval_layer = calling.guarded("constructor", factory)
    eval_scale = np.asarray(eval_forward(spec, eval_layer, [x.copy()]), dtype=np.float64) / x
    expected = float(np.median(eval_scale))
    if not math.isclose(scale * (1 - p), expected, rel_tol=max(prec.analytic, 1e-6)):
        findings.append(
            Finding(
                "dropout",
                "fail",
                f"training keeps entries scaled by {scale:.6g} with probability {1 - p:.4g}, an expectation of "
                f"{scale * (1 - p):.6g} x, but evaluation gives {expected:.6g} x: the scale is forgotten in training "
                "or in evaluation",
            )
        )
    dout = rng.uniform(-1, 1, shape).astype(ex.dtype)
    dx = calling.method(layer, "backward", dout.copy())
    c = compare(dx, dout.astype(np.float64) * mask, prec.analytic)
    if not c.ok:
        findings.append(from_comparison("dropout", "dx", arg.axes, c, "dout * the mask forward applied"))
    return findings or [
        Finding("dropout", "pass", f"one mask: kept {frac:.3f} scaled by {scale:.4g}, backward = dout * mask")
    ]
