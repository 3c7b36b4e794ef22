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
import functools
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

from . import calling
from .calling import Factory, LayerError
from .checks import NO_SPEC, least_precise
from .compare import compare, precision_for
from .examples import Example, make_example, shape_of
from .findings import Finding, from_comparison, pair
from .oracle import Oracle
from .specs import IGNORE_LABEL, Spec
from .specs.dropout import DROPOUT_RATIO
from .timing import chunk_values

# The dropout check's input: about this many entries, so that the kept fraction of
# a correct layer lies within KEPT_SIGMAS binomial standard deviations of
# 1 - dropout_ratio (a false alarm every ~5e8 runs at 6 sigma).
STAT_ENTRIES = 20_000
KEPT_SIGMAS = 6.0
# The ratio the dropout check builds with: not 0.5, where "keep with probability p"
# and "keep with probability 1 - p" (a real bug) look alike.
CHECK_RATIO = 0.3


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
    """A factory whose layers run every forward in training mode (if the spec has
    one) with the global generator seeded to `seed`: the same mask (or negatives) at every call (and backward seeded
    too, so that nothing the layer draws comes from or moves the caller's stream)."""

    def build(*args, **kwargs):
        layer = factory(*args, **kwargs)
        inner = getattr(layer, "forward", None)
        if not callable(inner):
            return layer  # calling.method reports the missing forward

        def forward(*inputs):
            with fixed_random(seed):
                if spec.train_flag is None:  # a layer that draws in every forward (negative sampling)
                    return inner(*inputs)
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
    if unfixed:  # training mode could not be held fixed: only evaluation mode can be checked
        return unfixed + _guarded("eval", check_eval, spec, factory, ex, oracle)
    findings = [
        _relabelled(f) for f in run_checks(trained, training(spec, factory, ex.seed), ex, oracle=None, **kw)
    ]
    if any(f.check in ("crash", "tied") and f.status == "fail" for f in findings):
        return findings  # the layer cannot be built or run as the spec means it: one finding
    findings += _guarded("eval", check_eval, spec, factory, ex, oracle)
    if spec.state is not None and oracle is not None:  # the chunks, in evaluation mode
        findings = [f for f in findings if f.check != "stateful"]
        findings += _guarded("stateful", check_eval_stateful, spec, factory, ex, oracle)
    if _elementwise(spec):
        findings += _guarded("dropout", check_dropout, spec, factory, ex)
    return findings


def _not_reproducible(spec: Spec, factory: Factory, ex: Example) -> list[Finding]:
    """Can training mode be held fixed? On a larger example than the one checked (a
    tiny example has so few entries that two independent masks often agree), two
    fresh instances and a second forward of one, with np.random seeded alike, must
    give the same output. If not, the layer draws from a generator of its own:
    training mode cannot be held fixed and its gradients are not checked (a
    warning: finite differences would compare two different functions, a false
    alarm). Except a model whose second forward differs in evaluation mode too,
    where nothing is drawn: its reset_state does not clear the state (a failure)."""
    big = make_example(spec, _larger(spec, ex.dims), ex.seed, ex.dtype)
    own_generator = [
        Finding(
            "dropout",
            "warn",
            "two training forwards with np.random seeded alike gave different outputs: the randomness does not come "
            "from NumPy's global generator, so training mode cannot be held fixed and its gradients were not "
            "checked (evaluation mode was)",
        )
    ]
    try:
        outs = []
        for layer in (calling.build(spec, factory, big), calling.build(spec, factory, big)):
            outs.append(forward_once(spec, layer, big))
        again = forward_once(spec, layer, big)
        if np.array_equal(outs[0], outs[1], equal_nan=True) and np.array_equal(outs[1], again, equal_nan=True):
            return []
        if not np.array_equal(outs[0], outs[1], equal_nan=True) or spec.kind != "model":
            return own_generator  # a generator of its own (seeded alike in every instance, or not)
        # A model whose second forward differs: a generator of its own, or a state that
        # reset_state does not clear? Evaluation mode draws nothing: it tells them apart.
        inputs = calling.inputs_for(spec, big, calling.layer_values(spec, layer, big))
        first = np.asarray(eval_forward(spec, layer, [x.copy() for x in inputs]), dtype=float)
        second = np.asarray(eval_forward(spec, layer, [x.copy() for x in inputs]), dtype=float)
    except (LayerError, TypeError, ValueError):
        return []  # the checks that follow report what is wrong with the layer
    if np.array_equal(first, second, equal_nan=True):
        return own_generator
    return [
        Finding(
            "state-reset",
            "fail",
            "after reset_state() a second forward (train_flg=False: nothing drawn) differs from the first: "
            "reset_state does not clear the state",
        )
    ]


def _larger(spec: Spec, dims: dict[str, int]) -> dict[str, int]:
    """The example's dims with N, T and D at least 8 (16 without T): enough dropout
    entries that two independent masks never agree."""
    least = {"N": 8, "T": 8, "D": 8} if "T" in spec.letters else {"N": 16, "D": 16}
    return {k: max(v, least.get(k, 0)) for k, v in dims.items()}


def forward_once(spec: Spec, layer, ex: Example) -> np.ndarray:
    inputs = calling.inputs_for(spec, ex, calling.layer_values(spec, layer, ex))
    state = ex.values[spec.state.name] if spec.state is not None and spec.kind != "model" else None
    carry = tuple(ex.values[a.name] for a in spec.carry) if state is not None else ()
    return np.asarray(calling.forward(spec, layer, inputs, state, carry=carry), dtype=float)


def _relabelled(f: Finding) -> Finding:
    """The spec-free run says "no spec": for a stochastic layer, say where the spec is used."""
    if f.status == "skip" and f.check in ("forward", "backward-jax") and f.message == NO_SPEC:
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
    return calling.packed(spec, _forward_in_mode(spec, layer, inputs, train=False))


def _forward_in_mode(spec: Spec, layer, inputs: list[np.ndarray], *, train: bool):
    """One forward with the mode set the way the spec says the layer takes it
    (train_flg as forward's last argument, or as an attribute); keeps any carried
    state and does not seed np.random."""
    if spec.train_flag == "argument":
        return calling.method(layer, "forward", *inputs, train)
    layer.train_flg = train
    return calling.method(layer, "forward", *inputs)


def check_eval(spec: Spec, factory: Factory, ex: Example, oracle: Oracle | None) -> list[Finding]:
    """In evaluation mode the layer is deterministic: its forward equals the spec.
    A dropout layer proper is held to either convention at its own dropout_ratio
    (`_eval_scale`); a model to the spec."""
    if oracle is None:
        return [Finding("eval", "skip", "no spec to compare evaluation mode with")]
    layer = calling.build(spec, factory, ex)
    values = calling.layer_values(spec, layer, ex)
    out = eval_forward(spec, layer, calling.inputs_for(spec, ex, values))
    held = [p for p in getattr(layer, "params", []) if isinstance(p, np.ndarray)]
    prec = precision_for(least_precise([np.asarray(out), *held], np.dtype(ex.dtype)))
    if _elementwise(spec):
        return _eval_scale(spec, layer, np.asarray(out, dtype=np.float64), values[spec.inputs[0].name], oracle, prec)
    ref_values = {**values, **{a.name: np.zeros_like(values[a.name]) for a in spec.states if spec.kind == "model"}}
    ref = oracle.forward(spec, ref_values, ex.dims)
    what = "the spec (train_flg=False)"
    name = "out" if spec.output_axes else "loss"
    return [from_comparison("eval", name, spec.output_axes, compare(out, ref, prec.analytic), what)]


def check_eval_stateful(spec: Spec, factory: Factory, ex: Example, oracle: Oracle) -> list[Finding]:
    """The example's stateful plan (chunks, reset_state) in evaluation mode, forward
    only (the book's dropout cannot run backward after an evaluation forward): each
    chunk's output equals the spec run from the state the spec says is carried."""
    if not ex.plan:
        return []
    layer = calling.build(spec, factory, ex)
    values = calling.layer_values(spec, layer, ex)
    held = [p for p in getattr(layer, "params", []) if isinstance(p, np.ndarray)]
    calling.reset(layer)
    zeros = tuple(np.zeros(shape_of(a, ex.dims)) for a in spec.states)
    states, pos, findings = zeros, 0, []
    for i, step in enumerate(ex.plan):
        if step[0] == "reset":
            calling.reset(layer)
            states = zeros
            continue
        if step[0] != "forward" or step[1] <= 0 or pos + step[1] > ex.dims["T"]:
            continue  # a model has no set_state
        sl = slice(pos, pos + step[1])
        pos += step[1]
        chunk = chunk_values(spec, values, sl, states)
        dims = {**ex.dims, "T": step[1]}
        sub = Example(spec.name, dims, chunk, ex.dout, ex.seed, ex.dtype, onehot=ex.onehot)
        raw = np.asarray(_forward_in_mode(spec, layer, calling.inputs_for(spec, sub, chunk), train=False))
        prec = precision_for(least_precise([raw, *held], np.dtype(ex.dtype)))
        out = raw.astype(np.float64)
        ref = oracle.forward(spec, chunk, dims)
        counted = any(
            (chunk[a.name] != IGNORE_LABEL).any() for a in spec.inputs if a.kind == "labels"
        ) or not any(a.kind == "labels" for a in spec.inputs)
        c = compare(out, ref, prec.analytic)
        if counted and not c.ok:
            label = f"chunk {i + 1} (t={sl.start}..{sl.stop - 1}, train_flg=False)"
            what = "loss" if not spec.output_axes else "out"
            findings.append(
                from_comparison("stateful", f"{what} of {label}", spec.output_axes, c, "the spec from the carried state")
            )
            break
        states = oracle.final(spec, chunk, dims)
    return findings or [Finding("stateful", "pass", f"{len(ex.plan)}-step plan in evaluation mode matches the spec")]


def _eval_scale(spec: Spec, layer, out: np.ndarray, x: np.ndarray, oracle: Oracle, prec) -> list[Finding]:
    """Dropout in evaluation is x times a constant: 1 - p (the book's Dropout: not
    inverted, training keeps entries unscaled) or 1 (inverted, the book's
    TimeDropout and PyTorch: training scales by 1 / (1 - p)). The spec's convention
    passes; the other is a convention, not a bug: one warning (`dropout` checks that
    training has the same expectation, whichever it is)."""
    p = getattr(layer, "dropout_ratio", None)
    if not isinstance(p, (int, float)) or not 0 <= p < 1:
        p = DROPOUT_RATIO
    ones = {a.name: np.ones((1,) * len(a.axes)) for a in spec.inputs}
    spec_scale = float(np.asarray(oracle.forward(spec, ones, dict.fromkeys(spec.letters, 1))).ravel()[0])
    ours = 1 - p if spec_scale < 1 else 1.0
    other = 1.0 if spec_scale < 1 else 1 - p
    x = np.asarray(x, dtype=np.float64)
    c = compare(out, x * ours, prec.analytic)
    if c.ok:
        return [Finding("eval", "pass", f"evaluation gives {ours:.4g} x (dropout_ratio={p})", ratio=c.ratio)]
    if compare(out, x * other, prec.analytic).ok:
        kind = "inverted (evaluation is the identity, training scales by 1 / (1 - p))" if other == 1.0 else (
            "not inverted (evaluation scales by 1 - p, training keeps entries unscaled)"
        )
        return [
            Finding(
                "eval",
                "warn",
                f"dropout {kind}: the other convention than the book's {spec.name}; a convention, not a wrong "
                "gradient (training is checked to have the same expectation)",
            )
        ]
    return [from_comparison("eval", "out", spec.output_axes, c, f"x * {ours:.4g} (dropout_ratio={p}, train_flg=False)")]


def check_dropout(spec: Spec, factory: Factory, ex: Example) -> list[Finding]:
    """The mask of a training forward, read back as out / x on a large input, with
    the layer built at CHECK_RATIO (not the default 0.5, where keeping p and keeping
    1 - p look alike): one scale s on the kept entries; a kept fraction within
    KEPT_SIGMAS of 1 - p; s * (1 - p) equal to the evaluation output's scale (the
    same expectation); the same mask at the same seed and another mask at another
    seed (drawn at every forward, not once); backward = dout * mask."""
    arg = spec.inputs[0]
    side = math.ceil(STAT_ENTRIES ** (1 / len(arg.axes)))
    rng = np.random.default_rng(ex.seed + 7)
    shape = (side,) * len(arg.axes)
    x = (rng.uniform(0.1, 1.0, shape) * rng.choice([-1.0, 1.0], shape)).astype(ex.dtype)  # no zeros to divide by
    findings: list[Finding] = []
    made: Factory = functools.partial(factory, dropout_ratio=CHECK_RATIO)
    try:
        layer = calling.guarded("constructor", made)
    except LayerError as err:
        if not isinstance(err.exc, TypeError):
            raise
        made = factory
        layer = calling.guarded("constructor", made)
        findings.append(
            Finding("dropout", "warn", "the constructor takes no dropout_ratio: checked at its default ratio only")
        )

    def train(seed: int) -> np.ndarray:
        with fixed_random(seed):
            return np.asarray(_forward_in_mode(spec, layer, [x.copy()], train=True), dtype=np.float64)

    out, again, other = train(ex.seed), train(ex.seed), train(ex.seed + 1)
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
    if np.array_equal(out, other, equal_nan=True):
        findings.append(
            Finding(
                "dropout",
                "fail",
                "the same mask under another seed: the mask is drawn once and reused, not drawn at every forward",
            )
        )
    out = train(ex.seed)  # backward below is of this forward
    prec = precision_for(least_precise([np.asarray(out), x], np.dtype(ex.dtype)))
    mask = out / x.astype(np.float64)
    kept = np.abs(mask) > prec.analytic
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
    # One mask shared along an axis (variational dropout: the same units dropped at
    # every t) is another convention, not a wrong gradient: named once, and the
    # kept fraction is counted over the independent draws only.
    shared = [k for k in range(kept.ndim) if kept.shape[k] > 1 and (kept == kept.take([0], axis=k)).all()]
    draws = kept[tuple(slice(0, 1) if k in shared else slice(None) for k in range(kept.ndim))]
    if shared and 0 < draws.mean() < 1:
        letters = ", ".join(arg.axes[k] for k in shared)
        findings.append(
            Finding(
                "dropout",
                "warn",
                f"one mask shared along {letters} (variational dropout), where the book's {spec.name} draws every "
                "entry: another convention, not a wrong gradient",
            )
        )
    else:
        draws = kept
    p = getattr(layer, "dropout_ratio", None)
    n, frac = draws.size, float(draws.mean())
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
    eval_layer = calling.guarded("constructor", made)
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
    with fixed_random(ex.seed + 2):
        dx = calling.method(layer, "backward", dout.copy())
    c = compare(dx, dout.astype(np.float64) * mask, prec.analytic)
    if not c.ok:
        findings.append(from_comparison("dropout", "dx", arg.axes, c, "dout * the mask forward applied"))
    return findings or [
        Finding(
            "dropout",
            "pass",
            f"at dropout_ratio={p}: kept {frac:.3f} scaled by {scale:.4g}, a new mask each forward, backward = dout * mask",
        )
    ]
