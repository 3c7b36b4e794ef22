"""The attention weights are a probability distribution over the encoder steps for
every batch row and decoder step: non-negative, summing to 1 over the encoder axis,
finite however large the scores. Asserted of the spec (every spec that declares
`distribution_over`, and TimeAttention's weights) and of rnnref's layers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rnnref
from gradcheck.compare import PRECISIONS
from gradcheck.oracle import Oracle
from gradcheck.specs import SPECS
from gradcheck.specs.attention import attention_weights

DISTRIBUTIONS = [n for n, s in SPECS.items() if s.distribution_over is not None]
ORACLE = Oracle()


def test_attention_weight_declares_its_distribution():
    assert DISTRIBUTIONS == ["AttentionWeight"]
    assert SPECS["AttentionWeight"].distribution_over == "T"


@st.composite
def states(draw):
    """hs (N, T, H) and one vector per decoder step (N, T', H), at a drawn scale:
    up to 1e3, where the scores (dot products) reach 1e6 and exp() alone overflows."""
    N, T, T2, H = (draw(st.integers(1, 4), label=k) for k in "NTSH")
    scale = draw(st.sampled_from([1e-3, 1.0, 30.0, 1e3]), label="scale")
    rng = np.random.default_rng(draw(st.integers(0, 2**16), label="seed"))
    return rng.standard_normal((N, T, H)) * scale, rng.standard_normal((N, T2, H)) * scale


def assert_distribution(a: np.ndarray, axis: int, what: str) -> None:
    tol = PRECISIONS[np.dtype(a.dtype)].analytic
    assert np.isfinite(a).all(), f"{what}: not finite"
    assert (a >= 0).all(), f"{what}: a negative weight {a.min()}"
    sums = a.sum(axis=axis)
    assert np.allclose(sums, 1, rtol=0, atol=tol * a.shape[axis]), f"{what}: sums over the encoder axis {sums}"


@pytest.mark.parametrize("name", DISTRIBUTIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=lambda d: np.dtype(d).name)
@given(data=states())
def test_weights_are_a_distribution_over_the_encoder_steps(name, dtype, data):
    """The spec (through the oracle, unpadded) and rnnref's layer, one decoder step."""
    spec = SPECS[name]
    hs, dec = (x.astype(dtype) for x in data)
    h = dec[:, 0]
    N, T, H = hs.shape
    axis = spec.output_axes.index(spec.distribution_over)
    values = {"hs": hs, "h": h}
    spec_a = ORACLE.forward(spec, values, {"N": N, "T": T, "H": H})
    assert_distribution(np.asarray(spec_a), axis, f"the spec of {name}")
    ours = getattr(rnnref, name)().forward(hs, h)
    assert ours.dtype == dtype
    assert_distribution(ours, axis, f"rnnref's {name}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=lambda d: np.dtype(d).name)
@given(data=states())
def test_time_attention_weights_are_a_distribution_at_every_decoder_step(dtype, data):
    """TimeAttention's encoder and decoder lengths drawn apart (as the checker's
    examples draw S and T): the weights (N, T_dec, T_enc) sum to 1 over T_enc."""
    hs_enc, hs_dec = (x.astype(dtype) for x in data)
    assert_distribution(np.asarray(attention_weights(hs_enc.astype(np.float64), hs_dec.astype(np.float64))), 2, "spec")
    layer = rnnref.TimeAttention()
    out = layer.forward(hs_enc, hs_dec)
    assert out.shape == hs_dec.shape and len(layer.attention_weights) == hs_dec.shape[1]
    for t, a in enumerate(layer.attention_weights):
        assert a.shape == hs_enc.shape[:2]
        assert_distribution(a, 1, f"rnnref's TimeAttention at decoder step {t}")


def test_a_weight_normalised_over_the_batch_is_not_a_distribution_over_the_steps():
    """The assertion can fail: weights that sum to 1 over N (the mutant
    attention-weights-summed-over-batch) do not sum to 1 over T."""
    e = np.exp(np.random.default_rng(0).standard_normal((3, 4)))
    with pytest.raises(AssertionError, match="sums over the encoder axis"):
        assert_distribution(e / e.sum(axis=0, keepdims=True), 1, "wrong axis")
