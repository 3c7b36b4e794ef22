"""Layers that draw their own inputs in forward: negative sampling (the book's ch04).

`NegativeSamplingLoss.forward(h, target)` draws sample_size negative words per row
with `np.random.choice`, so, like a training-mode dropout layer, it is a different
function at every call, and its spec needs the words it drew (`Spec.drawn`).
So (see docs/design-notes.md, "Negative sampling"):

* Every forward runs with NumPy's global generator seeded to the example's seed
  and the caller's state restored afterwards (`stochastic.training`, which holds
  dropout fixed too): every forward of a check draws the same negatives, and the
  user's random stream is left as it was.
* The negatives are recorded, not guessed: one held-fixed forward runs with
  `np.random.choice` wrapped to keep what it returns, and the values, in draw
  order, are the spec's `drawn` input (the book's sampler calls choice once a row,
  (S,) each; its GPU branch once, (N, S); both flatten to the same rows). No
  attribute of the layer is read. Where the draws cannot be laid out as the spec's
  input (drawn another way, or more of them), forward and backward-jax have
  nothing to compare with: a warning says so and the spec-free checks run.
* A layer with a sampler (`Spec.sampler`) gets `sampler`, once per layer class:
  on a corpus of known counts, the first negative of each of many rows follows
  count ** 0.75 with the row's target left out (within SAMPLE_SIGMAS binomial
  standard deviations per word), and no row draws its own target.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

from . import calling
from .calling import Factory, LayerError
from .checks import NO_SPEC
from .examples import Example, make_example, shape_of
from .findings import Finding
from .oracle import Oracle
from .specs import Spec
from .stochastic import fixed_random, forward_once, training

# The sampler check: a vocabulary of STAT_V words, word w appearing 2 ** w times
# (so count ** 0.75 and count ** 1 differ by > 10 standard deviations at these
# many rows), STAT_ROWS rows (one np.random.choice each in the book: ~0.2 s).
STAT_V = 8
STAT_ROWS = 6000
STAT_POWER = 0.75  # the book's default
SAMPLE_SIGMAS = 6.0  # per word; a false alarm every ~1e8 runs over 8 words


@contextmanager
def recorded_choices() -> Iterator[list[np.ndarray]]:
    """Inside, np.random.choice returns as before and appends a copy of what it
    returned to the list yielded (the legacy global function, the book's)."""
    inner = np.random.choice
    draws: list[np.ndarray] = []

    def choice(*args, **kwargs):
        out = inner(*args, **kwargs)
        draws.append(np.array(out, copy=True))
        return out

    np.random.choice = choice
    try:
        yield draws
    finally:
        np.random.choice = inner


def laid_out(draws: list[np.ndarray], shape: tuple[int, ...], V: int) -> np.ndarray | str:
    """The draws, in order, as one int array of `shape`; or why they cannot be."""
    flat = np.concatenate([d.ravel() for d in draws]) if draws else np.zeros(0, dtype=np.int64)
    need = math.prod(shape)
    if not draws:
        return "forward drew nothing with np.random.choice"
    if flat.size != need or flat.dtype.kind not in "iu":
        return (
            f"forward's {len(draws)} np.random.choice call(s) returned {flat.size} {flat.dtype} values; "
            f"{need} word ids make the {shape} the spec takes"
        )
    if flat.min() < 0 or flat.max() >= V:
        return f"np.random.choice returned ids outside [0, {V})"
    return flat.reshape(shape)


def check_example(
    spec: Spec, factory: Factory, ex: Example, oracle: Oracle | None, run_checks: Callable[..., list[Finding]], **kw
) -> list[Finding]:
    """Every check of a layer that draws its inputs: np.random held fixed in every
    forward, the spec given the draws recorded from one of them, and `sampler`."""
    held = training(spec, factory, ex.seed)
    if not _held_fixed(spec, held, ex):
        return [
            Finding(
                "sampler",
                "warn",
                "two forwards with np.random seeded alike gave different losses: the negatives do not come from "
                "NumPy's global generator, so they cannot be held fixed and the gradients were not checked (finite "
                "differences would compare two different functions)",
            )
        ]
    findings: list[Finding] = []
    drawn: dict[str, np.ndarray] = {}
    why = ""
    try:
        layer = calling.build(spec, held, ex)
        inputs = calling.inputs_for(spec, ex, calling.layer_values(spec, layer, ex))
        with recorded_choices() as draws, np.errstate(all="ignore"):
            calling.forward(spec, layer, inputs, None)
        for arg in spec.drawn:  # one drawn input: the book's negatives (SkipGram's, per context, in order)
            got = laid_out(draws, shape_of(arg, ex.dims), ex.dims["V"])
            if isinstance(got, str):
                why = got
            else:
                drawn[arg.name] = got
    except (LayerError, TypeError, ValueError):
        pass  # the checks below report what is wrong with the layer
    else:
        if why:
            findings.append(
                Finding(
                    "sampler",
                    "warn",
                    f"the negatives the layer drew could not be recovered ({why}), so forward and backward-jax were "
                    "not compared with the spec; finite differences of the layer's own forward (np.random held "
                    "fixed) and the protocol checks were",
                )
            )
    ok = len(drawn) == len(spec.drawn)
    checked = dataclasses.replace(ex, values={**ex.values, **drawn})
    for f in run_checks(spec, held, checked, oracle=oracle if ok else None, **kw):
        if why and f.status == "skip" and f.check in ("forward", "backward-jax") and f.message == NO_SPEC:
            f = dataclasses.replace(f, message="skipped: see sampler (the negatives the layer drew are not known)")
        findings.append(f)
    if spec.sampler and not any(f.check == "crash" and f.status == "fail" for f in findings):
        findings += sampler_findings(spec, factory, ex)
    return findings


def _held_fixed(spec: Spec, held: Factory, ex: Example) -> bool:
    """Two fresh instances and a second forward of one, seeded alike, give the same
    output, on an example with more words and rows than the one checked (at V = S + 1
    every row's negatives are all the other words, and the loss does not depend on
    their order: two draws would look alike)."""
    dims = {**ex.dims, "N": max(ex.dims["N"], 8), "V": max(ex.dims["V"], 4 * dict(spec.min_dims).get("V", 1))}
    big = make_example(spec, dims, ex.seed, ex.dtype)
    try:
        first, second = (calling.build(spec, held, big) for _ in range(2))
        outs = [forward_once(spec, first, big), forward_once(spec, second, big), forward_once(spec, first, big)]
    except (LayerError, TypeError, ValueError):
        return True  # the checks that follow report what is wrong with the layer
    return all(np.array_equal(outs[0], o, equal_nan=True) for o in outs[1:])


_SAMPLER_DONE: dict[tuple, tuple[Factory, list[Finding]]] = {}


def sampler_findings(spec: Spec, factory: Factory, ex: Example) -> list[Finding]:
    """`check_sampler`, once per layer class in a process (its draws take ~0.2 s;
    every example of a layer, float32 or float64, would repeat the same verdict:
    which words are drawn does not depend on the dtype of W and h)."""
    key = (id(factory), spec.name)
    if key not in _SAMPLER_DONE:  # the factory is kept with the result, so its id is not reused
        try:
            with np.errstate(all="ignore"):
                found = check_sampler(spec, factory, ex)
        except LayerError as err:
            found = [Finding("sampler", "fail", str(err))]
        _SAMPLER_DONE[key] = (factory, found)
    return list(_SAMPLER_DONE[key][1])


def expected_counts(p: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per word, the mean and variance of how often it is a row's first negative
    when row r draws from p with targets[r]'s share removed (renormalized)."""
    rows = np.tile(p, (targets.size, 1))
    rows[np.arange(targets.size), targets] = 0
    rows /= rows.sum(axis=1, keepdims=True)
    return rows.sum(axis=0), (rows * (1 - rows)).sum(axis=0)


def check_sampler(spec: Spec, factory: Factory, ex: Example) -> list[Finding]:
    """The negatives' distribution, on a corpus where word w appears 2 ** w times:
    the layer built with its default power and sample_size, STAT_ROWS rows whose
    targets cycle through the vocabulary; the first negative of row r follows
    count ** 0.75 without targets[r] (with no replacement only the first column
    is drawn from that p); no negative is its row's target; the same draws at the
    same seed."""
    rng = np.random.default_rng(ex.seed + 11)
    counts = 2 ** np.arange(STAT_V)
    corpus = np.repeat(np.arange(STAT_V), counts)
    W = rng.uniform(-1, 1, (STAT_V, ex.dims["D"])).astype(ex.dtype)
    h = rng.uniform(-1, 1, (STAT_ROWS, ex.dims["D"])).astype(ex.dtype)
    targets = np.arange(STAT_ROWS) % STAT_V
    layer = calling.guarded("constructor", factory, W, corpus)

    def draw(seed: int) -> np.ndarray | str:
        with fixed_random(seed), recorded_choices() as draws:
            calling.method(layer, "forward", h.copy(), targets.copy())
        if not draws:
            return "forward drew nothing with np.random.choice"
        total = sum(d.size for d in draws)
        if total % STAT_ROWS:
            return f"{total} values from np.random.choice for {STAT_ROWS} rows"
        return laid_out(draws, (STAT_ROWS, total // STAT_ROWS), STAT_V)

    neg, again = draw(ex.seed), draw(ex.seed)
    if isinstance(neg, str):
        return [Finding("sampler", "warn", f"the sampler's distribution was not checked: {neg}")]
    if isinstance(again, str) or not np.array_equal(neg, again):
        return [
            Finding(
                "sampler",
                "warn",
                "two forwards with np.random seeded alike drew different negatives: they do not come from NumPy's "
                "global generator alone, so they cannot be held fixed",
            )
        ]
    own = (neg == targets[:, None]).any(axis=1)
    if own.any():
        r = int(np.argmax(own))
        return [
            Finding(
                "sampler",
                "fail",
                f"{int(own.sum())} of {STAT_ROWS} rows drew their own target as a negative (row {r}: target "
                f"{targets[r]}, negatives {neg[r].tolist()}): set the target's p to 0 before drawing",
            )
        ]
    p = counts.astype(np.float64) ** STAT_POWER
    mean, var = expected_counts(p / p.sum(), targets)
    seen = np.bincount(neg[:, 0], minlength=STAT_V)
    z = np.abs(seen - mean) / np.sqrt(var)
    if (z > SAMPLE_SIGMAS).any():
        w = int(np.argmax(z))
        return [
            Finding(
                "sampler",
                "fail",
                f"on a corpus where word w appears 2 ** w times, word {w} was the first negative of {seen[w]} of "
                f"{STAT_ROWS} rows; count ** {STAT_POWER} with the target left out gives {mean[w]:.0f} +- "
                f"{math.sqrt(var[w]):.0f} (off by {z[w]:.1f} standard deviations): is the power applied?",
            )
        ]
    return [
        Finding(
            "sampler",
            "pass",
            f"{STAT_ROWS} rows: negatives follow count ** {STAT_POWER} without the target, never the target, "
            "the same at the same seed",
        )
    ]
