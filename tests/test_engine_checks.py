"""Every check of gradcheck catches its bug, and rnnref passes it.

For each name in CHECK_NAMES there is at least one layer with one deliberate bug
(tests/buggy_layers.py): the test asserts that this check reports `fail` (or `warn`,
where the design says it is only a warning) and that the layer's overall status is
fail/warn. The twin test runs rnnref's correct layer on the same example and asserts
that the same check passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import buggy_layers as B
import numpy as np
import pytest

import rnnref
from gradcheck.engine import CHECK_NAMES

# The correct layer of each spec, and the single-step cell of a Time layer.
REFERENCE = {
    "RNN": rnnref.RNN,
    "Affine": rnnref.Affine,
    "Embedding": rnnref.Embedding,
    "TimeRNN": rnnref.TimeRNN,
    "TimeEmbedding": rnnref.TimeEmbedding,
    "TimeAffine": rnnref.TimeAffine,
    "TimeSoftmaxWithLoss": rnnref.TimeSoftmaxWithLoss,
    "SimpleRnnlm": rnnref.SimpleRnnlm,
    "TimeDropout": rnnref.TimeDropout,
    "BetterRnnlm": rnnref.BetterRnnlm,
    "Seq2seq": rnnref.Seq2seq,
    "NegativeSamplingLoss": rnnref.NegativeSamplingLoss,
}
CELLS = {"TimeRNN": rnnref.RNN, "TimeEmbedding": rnnref.Embedding, "TimeAffine": rnnref.Affine}


@dataclass
class Case:
    check: str
    bug: object  # the buggy factory
    spec: str
    status: str = "fail"  # what `check` must report
    tensors: set[str] | None = None  # exactly these tensors are named by the check (None: not asserted)
    kw: dict = field(default_factory=dict)  # passed to check_layer (dtype, example, cell, ...)
    cell_bug: bool = False  # the bug is in the cell given to the check, not in the layer

    @property
    def id(self) -> str:
        return f"{self.check}-{getattr(self.bug, '__name__', self.bug)}"

    def kwargs(self, *, reference: bool = False) -> dict:
        kw = dict(self.kw)
        if self.spec in CELLS and "cell" not in kw:
            kw["cell"] = CELLS[self.spec]
        if reference and self.cell_bug:
            kw["cell"] = CELLS[self.spec]
        return kw


CASES = [
    Case("forward", B.RNNNoBias, "RNN", tensors={"out"}),
    Case("forward", B.TimeAffineNoBias, "TimeAffine", tensors={"out"}),
    Case("forward", B.TimeSoftmaxWithLossDividesByNT, "TimeSoftmaxWithLoss", kw={"example": B.labels_example()}),
    Case("backward-jax", B.RNNWrongTanhGrad, "RNN", tensors={"dWx", "dWh", "db", "dx", "dh_prev"}),
    Case("backward-jax", B.RNNMissingTranspose, "RNN", tensors={"dh_prev"}),
    Case("backward-jax", B.TimeRNNGradsOverwritten, "TimeRNN", tensors={"dWx", "dWh", "db"}),
    Case("backward-jax", B.TimeRNNNoDh, "TimeRNN", tensors={"dh"}),
    Case(
        "backward-jax", B.TimeEmbeddingFancyIndex, "TimeEmbedding", tensors={"dW"}, kw={"example": B.tokens_example()}
    ),
    Case("backward-jax", B.AffineIgnoresDout, "Affine", tensors={"dx", "dW", "db"}),
    Case("backward-jax", B.SimpleRnnlmSkipsEmbedding, "SimpleRnnlm", tensors={"dembed_W"}),
    Case(
        "backward-jax",
        B.SimpleRnnlmIgnoresDout,
        "SimpleRnnlm",
        tensors={"dembed_W", "dWx", "dWh", "db", "daffine_W", "daffine_b"},
    ),
    Case("backward-fd", B.RNNWrongTanhGrad, "RNN", tensors={"dWx", "dWh", "db", "dx", "dh_prev"}),
    Case("backward-fd", B.RNNMissingTranspose, "RNN", tensors={"dh_prev"}),
    Case("backward-fd", B.TimeRNNGradsOverwritten, "TimeRNN", tensors={"dWx", "dWh", "db"}),
    Case("backward-fd", B.SimpleRnnlmSkipsEmbedding, "SimpleRnnlm", tensors={"dembed_W"}),
    Case("backward-fd", B.TimeEmbeddingFancyIndex, "TimeEmbedding", tensors={"dW"}, kw={"example": B.tokens_example()}),
    Case("verdict", B.RNNWrongTanhGrad, "RNN", tensors={"dWx", "dWh", "db", "dx", "dh_prev"}),
    Case("verdict", B.AffineDoubleBias, "Affine"),
    Case("verdict", B.SimpleRnnlmSkipsEmbedding, "SimpleRnnlm", tensors={"dembed_W"}),
    Case("output", B.AffineNaN, "Affine"),
    Case("output", B.AffineNaNGrad, "Affine"),
    Case("dtype", B.AffineFloat32, "Affine", status="warn"),
    Case("dtype", B.AffineUpcasts, "Affine", status="warn", kw={"dtype": np.float32}),
    Case("not-mutated", B.AffineMutatesInput, "Affine"),
    Case("not-mutated", B.AffineMutatesDout, "Affine"),
    Case("not-mutated", B.AffineSGDInBackward, "Affine"),
    Case("not-mutated", B.TimeSoftmaxWithLossShiftsInPlace, "TimeSoftmaxWithLoss"),
    Case("grads-in-place", B.AffineGradsRebound, "Affine"),
    Case("grads-in-place", B.SimpleRnnlmGradsCopied, "SimpleRnnlm"),
    Case("repeatable", B.TimeSoftmaxWithLossEditsCache, "TimeSoftmaxWithLoss", status="warn"),
    Case("repeatable", B.AffineAccumulates, "Affine", status="warn"),
    Case("grads-replaced", B.AffineAccumulates, "Affine"),
    Case("linear-in-dout", B.TimeSoftmaxWithLossIgnoresDout, "TimeSoftmaxWithLoss"),
    Case("linear-in-dout", B.AffineIgnoresDout, "Affine"),
    Case("linear-in-dout", B.SimpleRnnlmIgnoresDout, "SimpleRnnlm"),
    Case("cell", B.TimeAffineNoBiasAtT1, "TimeAffine", tensors={"out[t=0]"}),
    Case("cell", B.TimeRNNZeroStateAtT1, "TimeRNN", tensors={"dh"}),
    # Without a spec the target's own cell is the only reference, trusted as given.
    Case("cell", rnnref.TimeRNN, "TimeRNN", kw={"cell": B.RNNNoBias, "use_spec": False}, cell_bug=True),
    Case("reuse", B.TimeEmbeddingBuiltOnce, "TimeEmbedding"),
    Case("reuse", B.TimeRNNBuiltOnce, "TimeRNN"),
    Case("stateful", B.TimeRNNNoCarry, "TimeRNN"),
    Case("stateful", B.TimeRNNGradsOverwritten, "TimeRNN"),
    Case("stateful", B.SimpleRnnlmNotStateful, "SimpleRnnlm"),
    Case("state-reset", B.TimeRNNResetBroken, "TimeRNN"),
    Case("non-stateful", B.TimeRNNAlwaysStateful, "TimeRNN"),
    Case("mask", B.TimeSoftmaxWithLossNoMask, "TimeSoftmaxWithLoss", kw={"example": B.labels_example()}),
    Case("mask", B.TimeSoftmaxWithLossNaNWhenAllIgnored, "TimeSoftmaxWithLoss", status="warn"),
    Case("mask", B.TimeSoftmaxWithLossHalfWhenAllIgnored, "TimeSoftmaxWithLoss"),
    Case("extreme", B.TimeSoftmaxWithLossNaive, "TimeSoftmaxWithLoss", status="warn"),
    Case("eval", B.TimeDropoutEvalMasks, "TimeDropout"),
    Case("dropout", B.TimeDropoutKeepsTooMuch, "TimeDropout"),
    Case("sampler", B.NegativeSamplingPowerIgnored, "NegativeSamplingLoss"),
    Case("tied", B.BetterRnnlmNotTied, "BetterRnnlm", kw={"dims": {"N": 2, "T": 3, "H": 4, "V": 6}}),
    Case("crash", B.RNNForwardRaises, "RNN"),
    Case("crash", B.RNNMissingTransposeRaises, "RNN"),
    Case("generate", B.Seq2seqGenerateTrains, "Seq2seq"),
    Case("generate", B.Seq2seqGenerateSamples, "Seq2seq", kw={"dims": {"T": 5, "V": 50}}),
    # h barely moves the argmax of some examples: these dims are one where it does.
    Case("generate", B.Seq2seqGenerateFromZeros, "Seq2seq", kw={"dims": {"N": 3, "T": 5, "H": 6, "V": 50}}),
]


def test_every_check_has_a_bug_that_it_catches():
    assert set(CHECK_NAMES) <= {c.check for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_check_catches_its_bug(case: Case):
    lr = B.run(case.bug, case.spec, **case.kwargs())
    got = lr.checks.get(case.check)
    assert got is not None, f"{case.check} did not report on {case.id}; checks: {sorted(lr.checks)}"
    assert got.status == case.status, f"{case.check}: {got.status} ({got.message})"
    # The layer as a whole: a failure fails it; a warning leaves it at warn at least.
    assert lr.status == "fail" if case.status == "fail" else lr.status in ("warn", "fail")
    found = B.findings(lr, case.check)
    assert found and all(f.status == case.status for f in found)
    assert all(f.message for f in found)
    if case.tensors is not None:
        assert B.bad_tensors(lr, case.check) == case.tensors


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_reference_passes_the_same_check(case: Case):
    lr = B.run(REFERENCE[case.spec], case.spec, **case.kwargs(reference=True))
    assert lr.status == "pass", {c.check: c.message for c in lr.checks.values() if c.status != "pass"}
    assert lr.failures == [] and lr.warnings == []
    if case.check == "crash":  # a layer that runs has no crash finding at all
        assert "crash" not in lr.checks
    elif case.check == "non-stateful":  # reported as one passing state-reset finding
        assert "non-stateful" not in lr.checks
        assert lr.checks["state-reset"].status == "pass"
    else:
        assert lr.checks[case.check].status == "pass"


# --- warnings are warnings: the layer's status is warn, nothing fails --------------------


@pytest.mark.parametrize(
    "bug, spec, kw, check",
    [
        (B.AffineFloat32, "Affine", {}, "dtype"),
        (B.AffineUpcasts, "Affine", {"dtype": np.float32}, "dtype"),
        (B.TimeSoftmaxWithLossEditsCache, "TimeSoftmaxWithLoss", {}, "repeatable"),
        (B.TimeSoftmaxWithLossNaive, "TimeSoftmaxWithLoss", {}, "extreme"),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_warning_only_bugs_leave_the_layer_at_warn(bug, spec, kw, check):
    lr = B.run(bug, spec, **kw)
    assert lr.status == "warn"
    assert [c.check for c in lr.checks.values() if c.status != "pass"] == [check]
    assert lr.failures == []
    assert [w.check for w in lr.warnings] == [check]


def test_warning_only_layer_passes_report_unless_strict():
    from gradcheck.engine import check_layer

    r = check_layer(B.TimeSoftmaxWithLossNaive, "TimeSoftmaxWithLoss")
    assert r.passed
    r.strict = True
    assert not r.passed


# --- bugs that only one check can see stay with that check ------------------------------


@pytest.mark.parametrize(
    "bug, check",
    [
        (B.TimeRNNNoCarry, "stateful"),
        (B.TimeRNNResetBroken, "state-reset"),
        (B.TimeRNNAlwaysStateful, "non-stateful"),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_state_bugs_are_seen_only_by_their_check(bug, check):
    """The primary forward/backward starts from set_state(h0), so these bugs leave
    forward and gradients right: exactly one check must fail."""
    lr = B.run(bug, "TimeRNN", cell=rnnref.RNN)
    assert lr.status == "fail"
    assert [c.check for c in lr.checks.values() if c.status != "pass"] == [check]


def test_accumulating_grads_fail_grads_replaced_and_warn_repeatable():
    lr = B.run(B.AffineAccumulates, "Affine")
    assert lr.checks["grads-replaced"].status == "fail"
    assert lr.checks["repeatable"].status == "warn"
    # The first backward of a fresh layer is right: forward and gradients pass.
    for check in ("forward", "backward-jax", "backward-fd", "verdict"):
        assert lr.checks[check].status == "pass"
    assert "dW" in lr.checks["grads-replaced"].message and "db" in lr.checks["grads-replaced"].message


def test_not_mutated_names_what_was_modified():
    assert "x" in B.run(B.AffineMutatesInput, "Affine").checks["not-mutated"].message
    assert "dout" in B.run(B.AffineMutatesDout, "Affine").checks["not-mutated"].message
    assert "params[W]" in B.run(B.AffineSGDInBackward, "Affine").checks["not-mutated"].message
    msg = B.run(B.TimeSoftmaxWithLossShiftsInPlace, "TimeSoftmaxWithLoss").checks["not-mutated"].message
    assert "xs" in msg


def test_grads_in_place_names_the_rebound_arrays():
    msg = B.run(B.AffineGradsRebound, "Affine").checks["grads-in-place"].message
    assert "grads[0] (dW)" in msg and "grads[1] (db)" in msg
    assert "g[...] =" in msg
    msg = B.run(B.SimpleRnnlmGradsCopied, "SimpleRnnlm").checks["grads-in-place"].message
    assert "model.grads" in msg


def test_output_names_the_non_finite_values():
    assert "non-finite" in B.run(B.AffineNaN, "Affine").checks["output"].message
    msg = B.run(B.AffineNaNGrad, "Affine").checks["output"].message
    assert "non-finite" in msg and "db" in msg


def test_dtype_warning_says_what_was_computed():
    msg = B.run(B.AffineFloat32, "Affine").checks["dtype"].message
    assert "float32" in msg and "float64" in msg
    msg = B.run(B.AffineUpcasts, "Affine", dtype=np.float32).checks["dtype"].message
    assert "float64" in msg and "float32" in msg


def test_mask_names_the_ignored_position():
    lr = B.run(B.TimeSoftmaxWithLossNoMask, "TimeSoftmaxWithLoss", example=B.labels_example())
    msgs = " | ".join(f.message for f in B.findings(lr, "mask"))
    # IGNORED_LABELS ignores (0, 1) and (1, 0)
    assert "(n=0, t=1)" in msgs or "(n=1, t=0)" in msgs
    assert "dxs" in msgs


def test_mask_all_ignored_nan_is_one_named_warning():
    lr = B.run(B.TimeSoftmaxWithLossNaNWhenAllIgnored, "TimeSoftmaxWithLoss")
    assert lr.status == "warn"
    assert [c.check for c in lr.checks.values() if c.status != "pass"] == ["mask"]
    assert "nan" in lr.checks["mask"].message and "convention" in lr.checks["mask"].message
    (warning,) = lr.warnings
    assert "ts (2, 3): [[-1 -1 -1]" in warning.example.describe()  # the all-ignored example is the one shown


def test_mask_all_ignored_finite_nonzero_loss_fails():
    lr = B.run(B.TimeSoftmaxWithLossHalfWhenAllIgnored, "TimeSoftmaxWithLoss")
    assert lr.checks["mask"].status == "fail"
    assert "the loss is 0.5" in lr.checks["mask"].message and "should be 0" in lr.checks["mask"].message


def test_extreme_warning_points_at_log_sum_exp():
    lr = B.run(B.TimeSoftmaxWithLossNaive, "TimeSoftmaxWithLoss")
    assert "1e4" in lr.checks["extreme"].message
    assert "log-sum-exp" in lr.checks["extreme"].message


def test_loss_ignoring_dout_is_caught_by_linearity_and_jax():
    lr = B.run(B.TimeSoftmaxWithLossIgnoresDout, "TimeSoftmaxWithLoss")
    assert lr.checks["linear-in-dout"].status == "fail"
    assert "dxs" in lr.checks["linear-in-dout"].message
    assert B.bad_tensors(lr, "backward-jax") == {"dxs"}


def test_loss_dividing_by_NT_is_a_forward_bug():
    """Masking right but dividing by N*T: the mask check has nothing to say, the
    forward and the gradient are wrong by count/(N*T). The gradient follows its own
    forward, so it is the forward's consequence: one verdict, backward-jax skipped."""
    lr = B.run(B.TimeSoftmaxWithLossDividesByNT, "TimeSoftmaxWithLoss", example=B.labels_example())
    assert lr.checks["forward"].status == "fail"
    assert lr.checks["backward-jax"].status == "skip"
    assert lr.checks["backward-jax"].message == "dxs: skipped, see verdict (forward wrong)"
    assert lr.checks["verdict"].message == "out: forward wrong (the backward agrees with its own forward for dxs)"
    assert lr.checks["backward-fd"].status == "pass"
    assert lr.checks["mask"].status == "pass"


# --- a check that crashes in the middle is a failure of that check ------------------------


def test_crash_finding_names_exception_and_line():
    lr = B.run(B.RNNForwardRaises, "RNN")
    msg = lr.checks["crash"].message
    assert lr.status == "fail"
    assert msg.startswith("forward raised TypeError")
    assert "dype" in msg
    assert "buggy_layers.py:" in msg  # the checked code's file:line, not gradcheck's
    assert 'np.zeros(h_prev.shape, dype="f")' in msg  # and its source line


def test_crash_in_backward_names_stage_and_line():
    lr = B.run(B.RNNMissingTransposeRaises, "RNN")
    msg = lr.checks["crash"].message
    assert msg.startswith("backward raised ValueError")
    assert "return dt @ Wx, dt @ Wh.T" in msg
    assert list(lr.checks) == ["crash"]  # nothing else could run


def test_crash_in_a_later_check_fails_that_check():
    """A crash after the primary run (here reset_state, used by the state checks) is
    reported by the check that hit it, with the exception and the line."""
    lr = B.run(B.TimeRNNResetRaises, "TimeRNN", cell=rnnref.RNN)
    assert lr.status == "fail"
    assert lr.checks["forward"].status == "pass"
    msg = lr.checks["stateful"].message
    assert "reset_state raised RuntimeError: reset_state is not implemented" in msg
    assert "buggy_layers.py:" in msg


def test_every_finding_uses_a_documented_check_name():
    """JSON/JUnit consumers key on CHECK_NAMES: every finding's check must be one of them."""
    for bug, spec, kw in [
        (B.TimeRNNResetRaises, "TimeRNN", {"cell": rnnref.RNN}),
        (B.RNNForwardRaises, "RNN", {}),
        (B.TimeSoftmaxWithLossNoMask, "TimeSoftmaxWithLoss", {"example": B.labels_example()}),
    ]:
        lr = B.run(bug, spec, **kw)
        assert set(lr.checks) <= set(CHECK_NAMES), f"{bug.__name__}: {sorted(set(lr.checks) - set(CHECK_NAMES))}"


def test_forward_returning_the_wrong_shape_is_reported_not_raised():
    """A forward that returns the wrong shape is a finding (output: shape), not a crash of
    gradcheck (the finite-difference objective once multiplied it by dout unguarded)."""
    for bug, spec in [(B.AffineWrongShape, "Affine"), (B.TimeRNNWrongShape, "TimeRNN")]:
        lr = B.run(bug, spec)
        assert lr.status == "fail"
        assert lr.checks["output"].status == "fail"
        assert "shape" in lr.checks["output"].message


def test_state_passed_to_set_state_is_not_mutated():
    """set_state(h) gives the layer the caller's h0 (an input of the chunk, `h0` in the
    spec); writing the carried state back into it corrupts the caller's array."""
    # not-mutated hands set_state the caller's own array and compares it afterwards.
    lr = B.run(B.TimeRNNWritesCallersState, "TimeRNN", cell=rnnref.RNN)
    assert lr.checks["not-mutated"].status == "fail"
    assert "h0" in lr.checks["not-mutated"].message


def test_model_reset_state_that_does_nothing_fails_state_reset():
    """SimpleRnnlm.reset_state() must start the next sequence from zeros (design, time
    structure: 'reset_state and set_state behave'); the check that says so is state-reset."""
    lr = B.run(B.SimpleRnnlmResetBroken, "SimpleRnnlm")
    assert lr.status == "fail"
    assert lr.checks.get("state-reset") is not None and lr.checks["state-reset"].status == "fail"


def test_model_not_stateful_is_seen_only_by_stateful():
    lr = B.run(B.SimpleRnnlmNotStateful, "SimpleRnnlm")
    assert [c.check for c in lr.checks.values() if c.status != "pass"] == ["stateful"]
    assert "chunk 2" in lr.checks["stateful"].message


def test_check_example_runs_every_applicable_check_once():
    """check_example (one layer, one example) on the reference: every finding passes
    and names a documented check; a crash in setup is a single crash finding."""
    from gradcheck.engine import check_example, default_oracle
    from gradcheck.examples import make_example
    from gradcheck.specs import SPECS

    spec = SPECS["TimeRNN"]
    ex = make_example(spec, B.DIMS, 3)
    found = check_example(spec, rnnref.TimeRNN, ex, oracle=default_oracle(), cell_factory=rnnref.RNN)
    assert found and all(f.status == "pass" for f in found), [f.message for f in found if f.status != "pass"]
    assert {f.check for f in found} <= set(CHECK_NAMES)
    # one gradient finding per tensor, for JAX and for finite differences
    tensors = {"dWx", "dWh", "db", "dxs", "dh"}
    assert {f.tensor for f in found if f.check == "backward-jax"} == tensors
    assert {f.tensor for f in found if f.check == "backward-fd"} == tensors

    crashed = check_example(SPECS["RNN"], B.RNNForwardRaises, make_example(SPECS["RNN"], B.DIMS, 0))
    assert [(f.check, f.status) for f in crashed] == [("crash", "fail")]
