"""The three-way verdict (layer vs JAX vs finite differences), and checking
without a spec (use_spec=False: finite differences and the protocol only)."""

from __future__ import annotations

import functools

import buggy_layers as B
import numpy as np
import pytest

import rnnref
from gradcheck.checks import BACKWARD_WRONG, FORWARD_WRONG
from gradcheck.engine import check_layer


def verdicts(lr) -> dict[str, str]:
    """tensor -> verdict, from the failing verdict findings. The forward's one
    finding names the gradients that follow that wrong forward ("... for dWx, db")."""
    out = {}
    for f in lr.failures:
        if f.check != "verdict":
            continue
        if f.verdict == FORWARD_WRONG:
            named = f.message.partition(" for ")[2].rstrip(")")
            out.update(dict.fromkeys(named.split(", ") if named else [], FORWARD_WRONG))
        elif f.tensor is not None:
            out[f.tensor] = f.verdict
    return out


# --- backward wrong -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bug, spec, kw, tensors",
    [
        (B.RNNWrongTanhGrad, "RNN", {}, {"dWx", "dWh", "db", "dx", "dh_prev"}),
        (B.RNNMissingTranspose, "RNN", {}, {"dh_prev"}),
        (B.TimeRNNGradsOverwritten, "TimeRNN", {}, {"dWx", "dWh", "db"}),
        (B.TimeRNNNoDh, "TimeRNN", {}, {"dh"}),
        (B.TimeEmbeddingFancyIndex, "TimeEmbedding", {"example": B.tokens_example()}, {"dW"}),
        (B.TimeSoftmaxWithLossIgnoresDout, "TimeSoftmaxWithLoss", {}, {"dxs"}),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_wrong_backward_gets_verdict_backward_wrong(bug, spec, kw, tensors):
    lr = B.run(bug, spec, **kw)
    assert lr.status == "fail"
    assert lr.checks["forward"].status == "pass"
    assert verdicts(lr) == dict.fromkeys(tensors, BACKWARD_WRONG)
    assert lr.checks["verdict"].status == "fail"
    assert BACKWARD_WRONG in lr.checks["verdict"].message


# --- forward wrong, backward the exact derivative of that wrong forward ----------------------


def test_affine_2b_is_forward_wrong_not_backward_wrong():
    """x W + 2 b with db = 2 sum(dout): the backward agrees with its own forward (FD
    passes), JAX disagrees on db, the forward disagrees with the spec."""
    lr = B.run(B.AffineDoubleBias, "Affine")
    assert lr.status == "fail"
    assert lr.checks["forward"].status == "fail"
    assert lr.checks["backward-fd"].status == "pass"
    assert lr.checks["backward-jax"].status == "pass"  # db follows the wrong forward: the verdict says so
    assert not B.bad_tensors(lr, "backward-jax")
    assert verdicts(lr) == {"db": FORWARD_WRONG}
    assert lr.checks["verdict"].message == f"out: {FORWARD_WRONG} (the backward agrees with its own forward for db)"


def test_loss_dividing_by_NT_is_forward_wrong():
    lr = B.run(B.TimeSoftmaxWithLossDividesByNT, "TimeSoftmaxWithLoss", example=B.labels_example())
    assert lr.checks["backward-fd"].status == "pass"
    assert verdicts(lr) == {"dxs": FORWARD_WRONG}


def test_missing_bias_is_headlined_forward_wrong():
    """The seed notebook's bug (forward forgets b): every gradient that JAX rejects but the
    layer's own forward supports is 'forward wrong'; that is what the summary shows."""
    lr = B.run(B.RNNNoBias, "RNN")
    v = verdicts(lr)
    assert {k: v[k] for k in ("dWx", "dWh", "dx", "dh_prev")} == dict.fromkeys(
        ("dWx", "dWh", "dx", "dh_prev"), FORWARD_WRONG
    )
    assert lr.checks["verdict"].message.startswith(f"out: {FORWARD_WRONG}")
    assert [f.check for f in lr.failures].count("verdict") == 2  # the forward, and db (below)


def test_forward_wrong_without_gradients_to_blame():
    """A loss whose forward is wrong only in its output's container (a list of one value)
    still gets a verdict: the forward, since the backward agrees with itself."""

    class LossReturnsList(rnnref.TimeSoftmaxWithLoss):
        def forward(self, xs, ts):
            return [float(super().forward(xs, ts))]  # deliberate: a list, not a 0-d array

    lr = B.run(LossReturnsList, "TimeSoftmaxWithLoss")
    assert lr.status == "fail"
    assert any(f.verdict == FORWARD_WRONG for f in lr.failures if f.check == "verdict")


def test_correct_layer_verdict_passes():
    lr = B.run(rnnref.TimeRNN, "TimeRNN", cell=rnnref.RNN)
    assert lr.checks["verdict"].status == "pass"
    assert verdicts(lr) == {}


# --- use_spec=False: finite differences and the protocol only --------------------------------

REFERENCE = [
    (rnnref.RNN, "RNN", {}),
    (rnnref.Affine, "Affine", {}),
    (rnnref.Embedding, "Embedding", {}),
    (rnnref.TimeRNN, "TimeRNN", {"cell": rnnref.RNN}),
    (rnnref.TimeEmbedding, "TimeEmbedding", {"cell": rnnref.Embedding}),
    (rnnref.TimeAffine, "TimeAffine", {"cell": rnnref.Affine}),
    (rnnref.TimeSoftmaxWithLoss, "TimeSoftmaxWithLoss", {}),
    (functools.partial(rnnref.SimpleRnnlm, dtype=np.float64), "SimpleRnnlm", {}),
    (rnnref.SimpleRnnlm, "SimpleRnnlm", {}),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("factory, spec, kw", REFERENCE, ids=[f"{s}-{i}" for i, (_, s, _) in enumerate(REFERENCE)])
def test_reference_passes_without_spec(factory, spec, kw, dtype):
    for seed in range(5):
        lr = B.run(factory, spec, seed=seed, dtype=dtype, use_spec=False, **kw)
        assert lr.status == "pass", (seed, {c.check: c.message for c in lr.checks.values() if c.status != "pass"})
        # Without a spec, nothing is compared with JAX.
        assert lr.checks["forward"].status == "skip"
        assert lr.checks["backward-jax"].status == "skip"
        assert lr.checks["backward-fd"].status == "pass"


@pytest.mark.parametrize(
    "bug, spec, kw, tensors",
    [
        (B.RNNWrongTanhGrad, "RNN", {}, {"dWx", "dWh", "db", "dx", "dh_prev"}),
        (B.RNNMissingTranspose, "RNN", {}, {"dh_prev"}),
        (B.TimeRNNGradsOverwritten, "TimeRNN", {}, {"dWx", "dWh", "db"}),
        (B.TimeRNNDropsCarriedGrad, "TimeRNN", {}, {"dWx", "dWh", "db", "dxs", "dh"}),
        (B.TimeRNNNoDh, "TimeRNN", {}, {"dh"}),
        (B.TimeEmbeddingFancyIndex, "TimeEmbedding", {"example": B.tokens_example()}, {"dW"}),
        (B.TimeSoftmaxWithLossIgnoresDout, "TimeSoftmaxWithLoss", {}, {"dxs"}),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_wrong_backward_fails_backward_fd_without_spec(bug, spec, kw, tensors):
    lr = B.run(bug, spec, use_spec=False, **kw)
    assert lr.status == "fail"
    assert lr.checks["backward-fd"].status == "fail"
    assert B.bad_tensors(lr, "backward-fd") == tensors
    assert verdicts(lr) == dict.fromkeys(tensors, BACKWARD_WRONG)


@pytest.mark.parametrize("seed", range(10))
def test_seed_bug_overwritten_grads_fails_backward_fd_over_seeds(seed):
    lr = B.run(B.TimeRNNGradsOverwritten, "TimeRNN", seed=seed, use_spec=False)
    assert lr.checks["backward-fd"].status == "fail"


def test_fd_cannot_see_a_self_consistent_forward_bug():
    """The limit of use_spec=False: the backward of x W + 2 b agrees with that forward."""
    lr = B.run(B.AffineDoubleBias, "Affine", use_spec=False)
    assert lr.checks["backward-fd"].status == "pass"
    assert lr.checks["verdict"].status == "pass"


def test_without_spec_protocol_checks_still_run():
    lr = B.run(B.AffineAccumulates, "Affine", use_spec=False)
    assert lr.checks["grads-replaced"].status == "fail"
    lr = B.run(B.AffineGradsRebound, "Affine", use_spec=False)
    assert lr.checks["grads-in-place"].status == "fail"
    lr = B.run(B.TimeSoftmaxWithLossNoMask, "TimeSoftmaxWithLoss", use_spec=False, example=B.labels_example())
    assert lr.checks["mask"].status == "fail"


def test_fd_only_float32_catches_repeated_token_bug():
    """dW[idx] += dout drops rows of repeated tokens: whole rows of dW are wrong by O(1).
    float64 finite differences catch it on every seed; so must float32 ones (the design:
    'central differences in float64 on the layer's own forward'). Every one of these
    default examples (V=6, six tokens) repeats a token."""
    missed = []
    for seed in range(8):
        ex = B.make_example(B.SPECS["TimeEmbedding"], B.DIMS, seed, np.float32)
        assert len(np.unique(ex.values["xs"])) < ex.values["xs"].size  # a repeated token
        lr = B.run(B.TimeEmbeddingFancyIndex, "TimeEmbedding", example=ex, use_spec=False)
        assert B.run(B.TimeEmbeddingFancyIndex, "TimeEmbedding", example=ex).checks["backward-jax"].status == "fail"
        if lr.checks["backward-fd"].status != "fail":
            missed.append((seed, lr.status, lr.checks["backward-fd"].status, round(lr.checks["backward-fd"].ratio, 2)))
    assert missed == []


def test_fd_warn_does_not_contradict_verdict():
    """When backward-fd only warns ('step size or precision, not the gradient'), the
    verdict must not call that tensor 'backward wrong' (and the other way round)."""
    lr = check_layer(B.TimeEmbeddingFancyIndex, "TimeEmbedding", seed=13, dtype=np.float32, use_spec=False).layers[0]
    fd = {f.tensor: f.status for f in B.findings(lr, "backward-fd")}
    v = verdicts(lr)
    for tensor, status in fd.items():
        assert (status == "fail") == (v.get(tensor) == BACKWARD_WRONG), (tensor, status, v)


def test_an_fd_warning_is_a_pass_where_the_forward_and_jax_agree_with_backward():
    """confirmed_by_jax: the FD warning (differences too coarse, the Taylor test finds
    the gradient consistent) says nothing against a layer whose forward equals the
    spec and whose gradient equals JAX's vjp; it stays where either is missing."""
    from gradcheck.checks import confirmed_by_jax
    from gradcheck.findings import Finding

    fd = Finding("backward-fd", "warn", "dWx disagrees with finite differences ...", tensor="dWx", ratio=116.0)
    jax = Finding("backward-jax", "pass", "dWx matches", tensor="dWx")
    forward = Finding("forward", "pass", "out matches")
    (_, _, got) = confirmed_by_jax([forward, jax, fd])
    assert got.status == "pass" and got.tensor == "dWx" and "116x" in got.message
    assert confirmed_by_jax([forward, fd])[-1].status == "warn"  # no JAX verdict for it (no spec)
    assert confirmed_by_jax([Finding("forward", "fail", "out differs"), jax, fd])[-1].status == "warn"
    other = Finding("backward-jax", "pass", "db matches", tensor="db")
    assert confirmed_by_jax([forward, other, fd])[-1].status == "warn"  # JAX agreed on another tensor only
