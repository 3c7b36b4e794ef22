"""A result that is a small difference of large terms carries the rounding of the
terms: the correct layer must not fail for it (compare.ROUNDING_MARGIN), and a
real bug on the same ill-conditioned example must still fail."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import rnnref
from gradcheck.checks import SpecComparison, rounding_allowance, setup
from gradcheck.compare import PRECISIONS, ROUNDING_MARGIN, ROUNDING_SCALES, compare
from gradcheck.engine import check_example
from gradcheck.examples import Example
from gradcheck.oracle import Oracle
from gradcheck.specs import SPECS

SKIP_GRAM = SPECS["SimpleSkipGram"]
# Found by the property tests (Hypothesis, thorough profile): V=2, so the two scores'
# softmax p is near 1/2 and ds = 2p - 1 (one target, two context words) cancels,
# and dW_in = ds @ W_out.T cancels again (W_out's two columns nearly equal):
# dW_in[0] = 2.7e-5 from terms of ~0.5.
ILL = Example(
    "SimpleSkipGram",
    {"N": 1, "H": 1, "V": 2},
    {
        "W_in": np.array([[0.0763287], [-0.31345826]]),
        "W_out": np.array([[-0.45356439, -0.43475596]]),
        "contexts": np.array([[[1, 0], [0, 1]]]),
        "target": np.array([[1, 0]]),
    },
    2.0,
    6,
    np.dtype(np.float64),
)


def problems(factory, ex: Example = ILL) -> dict[str, str]:
    found = check_example(SKIP_GRAM, factory, ex, oracle=Oracle())
    return {f.check: f.message for f in found if f.status == "fail"}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_the_correct_model_passes_where_its_gradient_cancels(dtype):
    assert problems(functools.partial(rnnref.SimpleSkipGram, dtype=dtype)) == {}


def test_a_float32_run_that_rounds_close_by_luck_does_not_set_the_allowance():
    """The same example with dout 3 (a thorough sweep, seed 99): the float32 spec
    lands 3.1e-9 from float64 there, 28x closer than at dout 2, and that one sample
    allowed less than the correct float64 model's own rounding (2.6e-16, 7x the
    plain tolerance: it failed at 1.88x). The allowance is now the largest over the
    example and the example scaled by 1 -+ 2^-10 (compare.ROUNDING_SCALES)."""
    ex = Example(ILL.spec, ILL.dims, ILL.values, 3.0, ILL.seed, np.dtype(np.float64))
    assert problems(functools.partial(rnnref.SimpleSkipGram, dtype=np.float64), ex) == {}
    assert "backward-jax" in problems(functools.partial(SkipGramDWinScaled, dtype=np.float64), ex)


def test_without_the_allowance_the_float32_model_would_fail():
    """The example is ill-conditioned indeed: at the plain analytic tolerance the
    correct float32 model's dW_in fails (what gradcheck reported before)."""
    ctx = setup(SKIP_GRAM, rnnref.SimpleSkipGram, ILL, Oracle())
    assert ctx.prec.dtype == np.float32
    plain = compare(ctx.grads["W_in"], ctx.ref.grads["W_in"], ctx.prec.analytic)
    assert not plain.ok and 1 < plain.ratio < 100
    allowed = ctx.rounding()["W_in"]
    assert compare(ctx.grads["W_in"], ctx.ref.grads["W_in"], ctx.prec.analytic, atol=allowed).ok
    assert ctx.compare_to_ref(ctx.grads["W_in"], "W_in").ok
    # what rounding explains is small next to the terms (~0.5), if not next to dW_in
    assert 0 < allowed < 1e-5


class SkipGramDWinScaled(rnnref.SimpleSkipGram):
    """A float64 model whose dW_in is 1e-6 too large: a real (if small) bug."""

    def backward(self, dout=1):
        out = super().backward(dout)
        self.grads[0] *= 1 + 1e-6
        return out


def test_a_small_bug_on_the_same_example_still_fails_in_float64():
    found = problems(functools.partial(SkipGramDWinScaled, dtype=np.float64))
    assert "backward-jax" in found and "dW_in" in found["backward-jax"]


def test_a_gradient_path_dropped_still_fails_in_float32():
    class OneContext(rnnref.SimpleSkipGram):
        def backward(self, dout=1):
            out = super().backward(dout)
            self.grads[0] *= 0.5  # as if one of the two context words' gradients were dropped
            return out

    assert "backward-jax" in problems(OneContext)


def test_the_allowance_scales_with_the_precision_and_is_zero_for_an_exact_result():
    oracle = Oracle()
    ctx = setup(SKIP_GRAM, functools.partial(rnnref.SimpleSkipGram, dtype=np.float64), ILL, oracle)
    values = ctx.against_spec.values
    f64 = rounding_allowance(oracle, SKIP_GRAM, values, ILL.dout, ILL.dims, ctx.ref, PRECISIONS[np.dtype(np.float64)])
    f32 = rounding_allowance(oracle, SKIP_GRAM, values, ILL.dout, ILL.dims, ctx.ref, PRECISIONS[np.dtype(np.float32)])
    assert f32["W_in"] > 0 and f64["W_in"] == pytest.approx(f32["W_in"] * 2.0**-29)
    # an Affine's output on small integers is exact in float32 too: nothing to allow
    affine = SPECS["Affine"]
    values = {"W": np.array([[1.0, 2.0], [3.0, 4.0]]), "b": np.array([1.0, -1.0]), "x": np.array([[1.0, 2.0]])}
    dims = {"N": 1, "D": 2, "H": 2}
    ref = oracle(affine, values, np.ones((1, 2)), dims)
    assert rounding_allowance(oracle, affine, values, np.ones((1, 2)), dims, ref, PRECISIONS[np.dtype(np.float64)])["out"] == 0.0


def test_a_cells_first_result_gets_the_allowance_of_that_result_alone():
    """check_cell compares a TimeLSTM at T=1 with the LSTM's h_next only: the
    rounding of c_next (here ~1e4, rounded ~1e-3 in float32) must not widen h_next's
    allowance (h_next = o * tanh(c_next) is saturated, its rounding ~1e-8)."""
    oracle = Oracle()
    lstm = SPECS["LSTM"]
    rng = np.random.default_rng(3)
    dims = {"N": 2, "D": 3, "H": 4}
    values = {
        "Wx": rng.normal(size=(3, 16)),
        "Wh": rng.normal(size=(4, 16)),
        "b": rng.normal(size=16),
        "x": rng.normal(size=(2, 3)),
        "h_prev": rng.normal(size=(2, 4)),
        "c_prev": 1e4 * (1 + rng.random(size=(2, 4))),
    }
    dout = rng.normal(size=(2, 8))
    ref = oracle(lstm, values, dout, dims)
    prec = PRECISIONS[np.dtype(np.float32)]

    def first(out):
        return out[..., :4]

    whole = rounding_allowance(oracle, lstm, values, dout, dims, ref, prec)["out"]
    part = rounding_allowance(oracle, lstm, values, dout, dims, ref, prec, out_part=first)["out"]
    floats = {"Wx", "Wh", "b", "x", "h_prev", "c_prev"}
    samples = []
    for s in (1.0, *ROUNDING_SCALES):
        at = {k: v * s if k in floats else v for k, v in values.items()}
        high, low = oracle(lstm, at, dout, dims), oracle(lstm, at, dout, dims, None, np.float32)
        samples.append(float(np.max(np.abs(first(np.asarray(low.out, np.float64)) - first(high.out)))))
    by_hand = ROUNDING_MARGIN * max(samples)
    assert part == pytest.approx(by_hand) and 0 < part < whole / 100
    # an h_next off by 4x the tolerance fails, though the whole output's allowance
    # would have let it pass
    h_next = first(ref.out) + 4 * prec.analytic * np.max(np.abs(first(ref.out)))
    assert not compare(h_next, first(ref.out), prec.analytic, atol=part).ok
    assert compare(h_next, first(ref.out), prec.analytic, atol=whole).ok
    assert not SpecComparison(oracle, lstm, values, dout, dims, ref, prec, out_part=first)(h_next, "out").ok
