"""rnnref's seq2seq (ch07): Encoder, Decoder and Seq2seq pass gradcheck in float64
and float32; the examples keep T >= 2; Seq2seq's generate (the check's own
buggy cases are in tests/test_engine_checks.py)."""

from __future__ import annotations

import numpy as np
import pytest

import rnnref
from gradcheck.engine import check_layer
from gradcheck.examples import make_example
from gradcheck.mutants import reference
from gradcheck.protocol import other_shapes
from gradcheck.specs import SPECS
from gradcheck.strategies import examples


def not_passing(report) -> dict[str, str]:
    layer = report.layers[0]
    return {f.check: f.status for f in layer.failures + layer.warnings}


@pytest.mark.parametrize("name", ["Encoder", "Decoder", "Seq2seq"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rnnref_seq2seq_passes_every_check(name, dtype):
    report = check_layer(reference()[name], name, dtype=dtype, dims={"T": 4})
    assert report.passed and not_passing(report) == {}, report
    assert "generate" in report.layers[0].checks or name != "Seq2seq"


def test_decoder_returns_dh_and_encoder_returns_nothing():
    V, D, H, N, T = 5, 3, 4, 2, 3
    rng = np.random.default_rng(0)
    enc, dec = rnnref.Encoder(V, D, H, seed=1), rnnref.Decoder(V, D, H, seed=2)
    xs = rng.integers(0, V, (N, T))
    h = enc.forward(xs)
    assert h.shape == (N, H)
    assert enc.backward(np.ones_like(h)) is None
    score = dec.forward(xs, h)
    assert score.shape == (N, T, V)
    dh = dec.backward(np.ones_like(score))
    assert dh.shape == (N, H) and np.abs(dh).sum() > 0


def test_seq2seq_rejects_a_target_too_short_to_shift():
    model = rnnref.Seq2seq(5, 3, 4, seed=0)
    with pytest.raises(ValueError, match="T' >= 2"):
        model.forward(np.zeros((2, 3), dtype=int), np.zeros((2, 1), dtype=int))


def test_seq2seq_examples_keep_T_at_least_2_and_reuse_never_goes_below():
    """min_dims: the strategy draws T >= 2, and reuse's shorter example stops at 2."""
    spec = SPECS["Seq2seq"]
    from hypothesis import given, settings

    seen = []

    @settings(max_examples=30, deadline=None, database=None)
    @given(examples(spec, max_T=3))
    def draw(ex):
        seen.append(ex.dims["T"])
        assert np.array_equal(ex.values["ts"] >= 0, np.ones_like(ex.values["ts"], dtype=bool))

    draw()
    assert min(seen) == 2

    class Ctx:
        pass

    ctx = Ctx()
    ctx.spec, ctx.ex = spec, make_example(spec, {"N": 2, "T": 2, "D": 2, "H": 2, "V": 3}, 0)
    ctx.values = ctx.ex.values
    assert [ex.dims["T"] for ex in other_shapes(ctx)] == [3]


def test_generate_shape_determinism_and_params_untouched():
    model = rnnref.Seq2seq(7, 3, 4, seed=0)
    before = [p.copy() for p in model.params]
    xs = np.array([[1, 2, 3]])
    a, b = model.generate(xs, 0, 5), model.generate(xs, 0, 5)
    assert len(a) == 5 and a == b and all(0 <= i < 7 for i in a)
    assert all(np.array_equal(p, q) for p, q in zip(model.params, before, strict=True))
