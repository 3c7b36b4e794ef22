"""Trustworthy verdicts: the cases of issue 9, each a small layer written for it,
each asserting the status of *every* check, not only the layer's.

A correct layer with a convention of its own gets one named warning; a real bug
gets one finding at its root cause, and the checks it would have dragged down
say "skipped: see <check>".
"""

from __future__ import annotations

import numpy as np
import pytest

import rnnref
from gradcheck.engine import check_example, check_layer
from gradcheck.examples import make_example
from gradcheck.findings import pair
from gradcheck.report import LayerReport
from gradcheck.runner import RunOptions, Target, run
from gradcheck.specs import SPECS

DIMS = {"N": 2, "T": 3, "D": 4, "H": 5, "V": 6}
AFFINE_CHECKS = [
    "forward",
    "backward-jax",
    "backward-fd",
    "verdict",
    "output",
    "dtype",
    "not-mutated",
    "grads-in-place",
    "repeatable",
    "linear-in-dout",
    "reuse",
    "grads-replaced",
]
LOSS_CHECKS = [*AFFINE_CHECKS, "mask", "extreme"]
TIME_RNN_CHECKS = [*AFFINE_CHECKS, "cell", "stateful", "state-reset"]


def one(layer, spec: str, **kw) -> LayerReport:
    kw.setdefault("dims", DIMS)
    return check_layer(layer, spec, **kw).layers[0]


def statuses(lr: LayerReport) -> dict[str, str]:
    return {name: c.status for name, c in lr.checks.items()}


def expect(checks: list[str], **special: str) -> dict[str, str]:
    """Every check passes except those named (dashes written as underscores)."""
    special = {k.replace("_", "-"): v for k, v in special.items()}
    return {c: special.get(c, "pass") for c in checks}


# --- 1. a convention is one warning, never seven failures ---------------------------------


class BookStyleLoss:
    """A correct softmax cross-entropy that divides by the count even when it is 0,
    as the book and PyTorch do: every label ignored gives 0/0 = NaN."""

    def __init__(self):
        self.params, self.grads, self.ignore_label = [], [], -1

    def forward(self, xs, ts):
        N, T, V = xs.shape
        if ts.ndim == 3:
            ts = ts.argmax(axis=2)
        mask = ts != self.ignore_label
        z = xs - xs.max(axis=2, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=2, keepdims=True))
        picked = np.take_along_axis(logp, np.where(mask, ts, 0)[..., None], axis=2)[..., 0]
        with np.errstate(invalid="ignore", divide="ignore"):
            loss = -(picked * mask).sum() / mask.sum()
        self.cache = (np.where(mask, ts, 0), np.exp(logp), mask)
        return loss

    def backward(self, dout=1):
        ts, ys, mask = self.cache
        dx = ys.copy()
        np.put_along_axis(dx, ts[..., None], np.take_along_axis(dx, ts[..., None], axis=2) - 1, axis=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            return dx * dout / mask.sum() * mask[..., None]


def test_all_ignored_nan_is_one_warning_of_the_mask_check():
    lr = one(BookStyleLoss, "TimeSoftmaxWithLoss")
    assert statuses(lr) == expect(LOSS_CHECKS, mask="warn")
    (warning,) = lr.warnings
    assert "0/0 = nan" in warning.message and "convention" in warning.message
    assert "[[-1 -1 -1]" in warning.example.describe()  # the all-ignored example is the one shown


def test_all_ignored_nan_under_hypothesis_stays_one_warning_and_strict_shows_the_all_ignored_example():
    target = Target("TimeSoftmaxWithLoss", BookStyleLoss)
    report = run([target], RunOptions(profile="ci", max_examples=15))
    lr = report.layers[0]
    assert report.passed and lr.status == "warn"
    # float32 examples: its division by an int64 count promotes to float64, the
    # other convention the policy names (output dtype).
    assert {k: v for k, v in statuses(lr).items() if v != "pass"} == {"mask": "warn", "dtype": "warn"}
    strict = run([target], RunOptions(profile="ci", max_examples=15, strict=True))
    lr = strict.layers[0]
    assert not strict.passed
    assert [f.check for f in lr.failures] == ["mask"]
    ts_line = next(line for line in lr.example.splitlines() if line.strip().startswith("ts"))
    assert set(ts_line.split(":", 1)[1].replace("[", " ").replace("]", " ").split()) == {"-1"}


def test_primary_examples_always_count_a_label():
    from hypothesis import given, settings

    from gradcheck import strategies

    @settings(max_examples=60, database=None, deadline=None)
    @given(strategies.examples("TimeSoftmaxWithLoss", max_N=1, max_T=2))
    def counted(ex):
        assert (ex.values["ts"] != -1).any()

    counted()


# --- 2. float32 work returned as float64 is float32 work ------------------------------------


def test_float32_inputs_mean_float32_tolerances_even_when_float64_comes_back():
    # BookStyleLoss computes in its inputs' dtype, float32 here; its last division by
    # an int64 count (mask.sum()) promotes the loss and dxs to float64 (NumPy 2).
    lr = one(BookStyleLoss, "TimeSoftmaxWithLoss", dtype=np.float32)
    assert statuses(lr) == expect(LOSS_CHECKS, dtype="warn", mask="warn")
    assert "float64 for float32" in lr.checks["dtype"].message


# --- 3. blame lands on the root cause ---------------------------------------------------------


class BrokenAffine(rnnref.Affine):
    def forward(self, x):
        W, b = self.params
        self.x = x
        return x @ W  # forgets b: this file's Affine is wrong


def test_correct_time_layer_is_not_blamed_for_a_broken_cell():
    lr = one(rnnref.TimeAffine, "TimeAffine", cell=BrokenAffine)
    assert statuses(lr) == expect([*AFFINE_CHECKS, "cell"])
    assert "Affine was not consulted" in lr.checks["cell"].message
    assert "out" in lr.checks["cell"].message
    # ... and the broken cell itself fails where it is checked
    assert one(BrokenAffine, "Affine").checks["forward"].status == "fail"


class AffineWithoutBackward:
    def __init__(self, W, b):
        self.params, self.grads = [W, b], [np.zeros_like(W), np.zeros_like(b)]

    def forward(self, x):
        return x @ self.params[0] + self.params[1]


def test_correct_time_layer_is_not_blamed_for_a_cell_that_cannot_run():
    lr = one(rnnref.TimeAffine, "TimeAffine", cell=AffineWithoutBackward)
    assert statuses(lr) == expect([*AFFINE_CHECKS, "cell"])
    assert "Affine was not consulted: it cannot run" in lr.checks["cell"].message
    assert "no backward() method" in lr.checks["cell"].message


class AffineDecaysWeightsInForward(rnnref.Affine):
    """Right maths, but forward applies weight decay to W in place."""

    def forward(self, x):
        self.params[0] *= 0.999
        return super().forward(x)


def test_forward_mutating_params_is_one_not_mutated_failure():
    lr = one(AffineDecaysWeightsInForward, "Affine")
    skipped = ["forward", "backward-jax", "backward-fd", "verdict", "repeatable", "linear-in-dout", "reuse"]
    assert statuses(lr) == expect(
        AFFINE_CHECKS, not_mutated="fail", grads_replaced="skip", **{k.replace("-", "_"): "skip" for k in skipped}
    )
    assert [f.check for f in lr.failures] == ["not-mutated"]
    assert "params[W] (by forward)" in lr.failures[0].message
    assert lr.checks["backward-jax"].message == "skipped: see not-mutated"


class TimeRNNDhOtherName(rnnref.TimeRNN):
    """Stores the state gradient as .dhidden instead of .dh."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        del self.dh

    def backward(self, dhs):
        dxs = super().backward(dhs)
        self.dhidden = self.__dict__.pop("dh")
        return dxs


def test_state_gradient_under_another_name_says_no_dh_and_only_warns():
    """The values under .dhidden are right (a naming convention, not a wrong gradient)."""
    lr = one(TimeRNNDhOtherName, "TimeRNN", cell=rnnref.RNN)
    assert statuses(lr) == expect(TIME_RNN_CHECKS, output="warn")
    (warning,) = lr.warnings
    assert "no `.dh` after backward" in warning.message and ".dhidden (right values)" in warning.message
    assert lr.failures == []


class TimeRNNDhWrongUnderOtherName(TimeRNNDhOtherName):
    def backward(self, dhs):
        dxs = super().backward(dhs)
        self.dhidden = 2 * self.dhidden
        return dxs


class TimeRNNNoDhAtAll(TimeRNNDhOtherName):
    def backward(self, dhs):
        dxs = super().backward(dhs)
        del self.dhidden
        return dxs


@pytest.mark.parametrize("layer", [TimeRNNDhWrongUnderOtherName, TimeRNNNoDhAtAll])
def test_state_gradient_absent_or_wrong_fails_output_alone(layer):
    lr = one(layer, "TimeRNN", cell=rnnref.RNN)
    assert statuses(lr) == expect(TIME_RNN_CHECKS, output="fail")
    (failure,) = lr.failures
    assert "no `.dh` after backward" in failure.message
    assert not any(f.verdict for f in lr.failures)  # no "dh: backward wrong"


# --- 4. the protocol: tuples of grads are fine, lists for arrays are not -----------------------


class AffineTupleGrads(rnnref.Affine):
    def __init__(self, W, b):
        super().__init__(W, b)
        self.params, self.grads = tuple(self.params), tuple(self.grads)


def test_grads_as_a_tuple_written_in_place_pass():
    assert statuses(one(AffineTupleGrads, "Affine")) == expect(AFFINE_CHECKS)


class AffineReturnsList(rnnref.Affine):
    def forward(self, x):
        return super().forward(x).tolist()


class AffineBackwardReturnsList(rnnref.Affine):
    def backward(self, dout):
        return list(super().backward(dout))


@pytest.mark.parametrize(
    ("layer", "said"),
    [(AffineReturnsList, "forward returned a list"), (AffineBackwardReturnsList, "backward returned a list for dx")],
)
def test_a_list_where_an_array_belongs_fails_output_alone(layer, said):
    lr = one(layer, "Affine")
    assert statuses(lr) == expect(AFFINE_CHECKS, output="fail")
    assert said in lr.checks["output"].message


# --- 5. one instance, many examples -------------------------------------------------------------


class TimeEmbeddingBuiltOnce(rnnref.TimeEmbedding):
    """The per-step Embedding layers are built on the first forward, for its T."""

    def forward(self, xs):
        N, T = xs.shape
        W = self.params[0]
        if not hasattr(self, "steps"):
            self.steps = [rnnref.Embedding(W) for _ in range(T)]
        self.idx = xs
        return np.stack([self.steps[t].forward(xs[:, t]) for t in range(T)], axis=1)


def test_per_step_layers_built_once_fail_reuse_alone():
    lr = one(TimeEmbeddingBuiltOnce, "TimeEmbedding", cell=rnnref.Embedding)
    everything = [c for c in AFFINE_CHECKS if c != "linear-in-dout"] + ["linear-in-dout", "cell"]
    assert statuses(lr) == expect(everything, reuse="fail", grads_replaced="skip")
    assert lr.checks["grads-replaced"].message == "skipped: see reuse"
    assert "IndexError" in lr.checks["reuse"].message and "same instance" in lr.checks["reuse"].message


# --- 7. numbers printed with the digits that tell them apart ------------------------------------


def test_pair_prints_the_digits_where_two_numbers_part():
    assert pair(0.5304591, 0.5304592) == ("0.5304591", "0.5304592")
    assert pair(1.5, 2.5) == ("1.5", "2.5")
    assert pair(1.0, 1.0 + 2**-52) == ("1", "1.0000000000000002")


class AffineOffByAMillionth(rnnref.Affine):
    def forward(self, x):
        return super().forward(x) * (1 + 1e-7)


def test_failure_message_shows_the_differing_digits():
    lr = one(AffineOffByAMillionth, "Affine")
    msg = lr.checks["forward"].message
    expected, got = msg.split("expected ")[1].split(" (")[0].split(", got ")
    assert expected != got


# --- 9. a class without backward is a finding, not a traceback ----------------------------------


class NoBackward:
    def __init__(self, W, b):
        self.params, self.grads = [W, b], [np.zeros_like(W), np.zeros_like(b)]

    def forward(self, x):
        return x @ self.params[0] + self.params[1]


def test_a_class_without_backward_is_one_crash_finding():
    ex = make_example(SPECS["Affine"], DIMS, 0)
    findings = check_example(SPECS["Affine"], NoBackward, ex)
    assert [(f.check, f.status) for f in findings] == [("crash", "fail")]
    assert "has no backward() method" in findings[0].message


class TimeRNNNoSetState(rnnref.TimeRNN):
    set_state = None  # type: ignore[assignment]


class TimeRNNNoStateMethods(TimeRNNNoSetState):
    reset_state = None  # type: ignore[assignment]


def test_a_missing_set_state_is_one_warning_and_the_gradients_are_still_checked():
    lr = one(TimeRNNNoSetState, "TimeRNN", cell=rnnref.RNN)
    assert statuses(lr) == expect(TIME_RNN_CHECKS, stateful="warn")
    assert "no set_state(h) method" in lr.checks["stateful"].message
    assert lr.checks["backward-jax"].ratio is not None  # dWx ... dh compared, from zeros


def test_missing_state_methods_are_one_warning_each():
    lr = one(TimeRNNNoStateMethods, "TimeRNN", cell=rnnref.RNN)
    assert statuses(lr) == expect(TIME_RNN_CHECKS, stateful="warn", state_reset="warn")
    assert "no reset_state() method" in lr.checks["state-reset"].message


class TimeRNNNoSetStateWrongGrad(TimeRNNNoSetState):
    def backward(self, dhs):
        dxs = super().backward(dhs)
        self.grads[1][...] *= 2
        return dxs


def test_a_missing_set_state_hides_no_gradient_bug():
    lr = one(TimeRNNNoSetStateWrongGrad, "TimeRNN", cell=rnnref.RNN)
    assert lr.checks["backward-jax"].status == "fail" and "dWh" in lr.checks["backward-jax"].message


class ModelNoResetState(rnnref.SimpleRnnlm):
    reset_state = None  # type: ignore[assignment]

    def __init__(self, V, D, H):
        super().__init__(V, D, H, dtype=np.float64)


def test_a_model_without_reset_state_is_one_warning():
    lr = one(ModelNoResetState, "SimpleRnnlm")
    assert statuses(lr) == expect([*AFFINE_CHECKS, "stateful", "state-reset", "mask"], state_reset="warn")
    assert "no reset_state() method" in lr.checks["state-reset"].message


# --- found by an adversarial review after the merge --------------------------------------------


class AffineCachesFloat32(rnnref.Affine):
    """Right maths, but forward caches x in float32: dW is float32 work."""

    def forward(self, x):
        out = super().forward(x)
        self.x = x.astype(np.float32)
        return out


def test_a_float32_cache_is_float32_work_a_dtype_warning_not_backward_wrong():
    lr = one(AffineCachesFloat32, "Affine")
    assert statuses(lr) == expect(AFFINE_CHECKS, dtype="warn")
    assert "computes in float32 although given float64" in lr.checks["dtype"].message


class RNNBackwardReturnsList(rnnref.RNN):
    def backward(self, dh_next):
        return list(super().backward(dh_next))


def test_a_cell_returning_its_two_gradients_as_a_list_is_not_a_crash():
    """`dx, dh = layer.backward(...)` unpacks a list as well as a tuple."""
    assert statuses(one(RNNBackwardReturnsList, "RNN")) == expect(AFFINE_CHECKS)


def test_the_oracle_stays_float64_when_the_checked_module_turns_x64_off():
    import jax

    jax.config.update("jax_enable_x64", False)
    try:
        lr = one(rnnref.Affine, "Affine")
        assert lr.status == "pass", lr.checks
    finally:
        jax.config.update("jax_enable_x64", True)


class Float64EncoderUsingDhAsGiven(rnnref.Encoder):
    """A correct float64 Encoder (built from sizes, it chooses its dtype) that does
    arithmetic in the dtype dh comes in, as code that trusts its caller does."""

    def __init__(self, vocab_size, wordvec_size, hidden_size, **kw):
        super().__init__(vocab_size, wordvec_size, hidden_size, dtype=np.float64)

    def backward(self, dh):
        return super().backward((dh * 3.0) / 3.0)  # the same dh, rounded in its own dtype


def test_a_layer_that_chooses_float64_gets_a_float64_dout_on_a_float32_example():
    """Its caller would hand it its own dtype: a float32 dout on a float32 example
    made its float64 gradients carry float32 rounding, judged at float64's tolerance
    (a false alarm found on a correct float64 AttentionDecoder, session 5)."""
    spec = SPECS["Encoder"]
    for seed in range(4):
        ex = make_example(spec, {"N": 2, "T": 3, "D": 4, "H": 5, "V": 6}, seed, np.float32)
        report = check_layer(Float64EncoderUsingDhAsGiven, "Encoder", example=ex)
        assert report.passed and not report.layers[0].warnings, report.layers[0].failures
