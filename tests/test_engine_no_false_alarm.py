"""No false alarms: rnnref's layers pass every check, in float64 and in float32, over
many seeds and shapes (including the degenerate N=T=D=H=1)."""

from __future__ import annotations

import functools

import buggy_layers as B
import numpy as np
import pytest

import rnnref
from gradcheck.engine import CHECK_NAMES

LAYERS = {
    "RNN": (rnnref.RNN, "RNN", {}),
    "Affine": (rnnref.Affine, "Affine", {}),
    "Embedding": (rnnref.Embedding, "Embedding", {}),
    "TimeRNN": (rnnref.TimeRNN, "TimeRNN", {"cell": rnnref.RNN}),
    "TimeEmbedding": (rnnref.TimeEmbedding, "TimeEmbedding", {"cell": rnnref.Embedding}),
    "TimeAffine": (rnnref.TimeAffine, "TimeAffine", {"cell": rnnref.Affine}),
    "TimeSoftmaxWithLoss": (rnnref.TimeSoftmaxWithLoss, "TimeSoftmaxWithLoss", {}),
    "SimpleRnnlm-float64": (functools.partial(rnnref.SimpleRnnlm, dtype=np.float64), "SimpleRnnlm", {}),
    "SimpleRnnlm-default": (rnnref.SimpleRnnlm, "SimpleRnnlm", {}),  # float32, as the book
}
# Two per seed, cycled over the seeds. All fit the oracle's padded bucket of the
# default dims (N, T, D <= 4; H, V <= 8), so JAX compiles each spec once.
DIMS = [
    {"N": 1, "T": 1, "D": 1, "H": 1, "V": 2},
    {"N": 2, "T": 3, "D": 4, "H": 5, "V": 6},
    {"N": 3, "T": 4, "D": 2, "H": 8, "V": 7},
    {"N": 4, "T": 2, "D": 3, "H": 3, "V": 8},
]
SEEDS = range(30)


def problems(lr) -> dict[str, str]:
    return {c.check: f"{c.status}: {c.message}" for c in lr.checks.values() if c.status not in ("pass", "skip")}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", list(LAYERS))
def test_reference_passes_every_check(name, dtype):
    factory, spec, kw = LAYERS[name]
    alarms = []
    for seed in SEEDS:
        for dims in (DIMS[seed % len(DIMS)], DIMS[(seed + 2) % len(DIMS)]):  # 30 seeds x 2 shapes
            lr = B.run(factory, spec, dims=dims, seed=seed, dtype=dtype, **kw)
            if lr.status != "pass" or lr.failures or lr.warnings:
                alarms.append((seed, dims, problems(lr)))
            # Every check that applies to the layer ran (none skipped for want of a class).
            skipped = [c.check for c in lr.checks.values() if c.status == "skip"]
            if skipped:
                alarms.append((seed, dims, f"skipped: {skipped}"))
    assert alarms == []


@pytest.mark.parametrize("name", list(LAYERS))
def test_reference_runs_the_checks_that_apply(name):
    """A pass must mean the checks ran: the spec's gradient checks and the protocol
    ones always, the time/state/mask checks where the layer has time/state/labels."""
    factory, spec, kw = LAYERS[name]
    lr = B.run(factory, spec, **kw)
    ran = set(lr.checks)
    always = {"forward", "backward-jax", "backward-fd", "verdict", "output", "dtype", "not-mutated"}
    always |= {"grads-in-place", "repeatable", "grads-replaced", "linear-in-dout"}
    assert always <= ran
    assert ran <= set(CHECK_NAMES)
    assert ("cell" in ran) == (spec in ("TimeRNN", "TimeEmbedding", "TimeAffine"))
    assert ("stateful" in ran) == (spec in ("TimeRNN", "SimpleRnnlm"))
    assert ("state-reset" in ran) == (spec in ("TimeRNN", "SimpleRnnlm"))
    assert ("mask" in ran) == (spec in ("TimeSoftmaxWithLoss", "SimpleRnnlm"))
    assert ("extreme" in ran) == (spec == "TimeSoftmaxWithLoss")


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=lambda d: np.dtype(d).name)
def test_loss_passes_with_ignored_and_one_hot_labels(dtype):
    """Ignored positions (random, all but one, all) and one-hot labels: no alarm."""
    rng = np.random.default_rng(0)
    alarms = []
    for seed in range(10):
        labels = rng.integers(0, B.DIMS["V"], size=(2, 3))
        if seed % 3 == 0:
            labels[rng.random((2, 3)) < 0.4] = -1
        elif seed % 3 == 1:
            labels[:] = -1
            labels[1, 2] = 4
        else:
            labels[:] = -1
        ex = B.labels_example(seed, dtype, labels=labels)
        lr = B.run(rnnref.TimeSoftmaxWithLoss, "TimeSoftmaxWithLoss", example=ex)
        if lr.status != "pass":
            alarms.append((seed, labels.tolist(), problems(lr)))
        counted = rng.integers(0, B.DIMS["V"], size=(2, 3))  # one-hot labels cannot say "ignored"
        onehot = B.make_example(B.SPECS["TimeSoftmaxWithLoss"], B.DIMS, seed, dtype, labels=counted, onehot=True)
        lr = B.run(rnnref.TimeSoftmaxWithLoss, "TimeSoftmaxWithLoss", example=onehot)
        if lr.status != "pass":
            alarms.append((seed, "one-hot", problems(lr)))
    assert alarms == []


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=lambda d: np.dtype(d).name)
def test_embedding_passes_with_repeated_tokens(dtype):
    alarms = []
    for seed in range(10):
        tokens = np.full((2, 3), seed % B.DIMS["V"]) if seed % 2 else B.REPEATED_TOKENS
        lr = B.run(rnnref.TimeEmbedding, "TimeEmbedding", example=B.tokens_example(seed, dtype, tokens))
        if lr.status != "pass":
            alarms.append((seed, problems(lr)))
    assert alarms == []


def test_correct_float32_layer_given_float64_only_warns():
    """Precision awareness: a right layer that computes in float32 (as the book does) is
    held to float32 tolerances; given float64 it gets the dtype warning, never a failure."""
    alarms = []
    for seed in SEEDS:
        dims = DIMS[seed % len(DIMS)]
        lr = B.run(B.AffineFloat32, "Affine", dims=dims, seed=seed)
        if lr.status != "warn" or [c for c, s in problems(lr).items() if c != "dtype"]:
            alarms.append((seed, dims, problems(lr)))
    assert alarms == []


def test_one_hot_example_with_default_labels_is_not_a_false_alarm():
    """make_example(..., onehot=True) draws its own labels; the correct loss must pass it."""
    alarms = []
    for seed in range(6):
        ex = B.make_example(B.SPECS["TimeSoftmaxWithLoss"], B.DIMS, seed, onehot=True)
        lr = B.run(rnnref.TimeSoftmaxWithLoss, "TimeSoftmaxWithLoss", example=ex)
        if lr.status != "pass":
            alarms.append((seed, ex.values["ts"].tolist(), problems(lr)))
    assert alarms == []
