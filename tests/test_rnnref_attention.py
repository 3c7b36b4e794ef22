"""rnnref's attention (ch08): every layer passes gradcheck in float64 and float32;
hand-computed values; each of the several returned gradients is checked by name
(a layer wrong in one of them is flagged for that one alone); AttentionDecoder's
denc_hs holds the LSTM's dh at the encoder's last step."""

from __future__ import annotations

import numpy as np
import pytest
from test_rnnref_seq2seq import not_passing

import rnnref
from gradcheck.engine import check_layer
from gradcheck.mutants import reference

ATTENTION = [
    "WeightSum",
    "AttentionWeight",
    "Attention",
    "TimeAttention",
    "AttentionEncoder",
    "AttentionDecoder",
    "AttentionSeq2seq",
]


@pytest.mark.parametrize("name", ATTENTION)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rnnref_attention_passes_every_check(name, dtype):
    report = check_layer(reference()[name], name, dtype=dtype, dims={"T": 4, "S": 3})
    assert report.passed and not_passing(report) == {}, report
    assert "generate" in report.layers[0].checks or name != "AttentionSeq2seq"


def test_weight_sum_and_attention_weight_by_hand():
    hs = np.array([[[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]])  # N=1, T=3, H=2
    a = np.array([[0.5, 0.25, 0.25]])
    ws = rnnref.WeightSum()
    np.testing.assert_allclose(ws.forward(hs, a), [[0.75, 0.75]])
    dhs, da = ws.backward(np.array([[1.0, 2.0]]))
    np.testing.assert_allclose(dhs, [[[0.5, 1.0], [0.25, 0.5], [0.25, 0.5]]])
    np.testing.assert_allclose(da, [[1.0, 4.0, 3.0]])  # hs[t] . dc
    aw = rnnref.AttentionWeight()
    h = np.array([[1.0, 0.5]])  # scores 1, 1, 1.5
    e = np.exp([1.0, 1.0, 1.5])
    np.testing.assert_allclose(aw.forward(hs, h), [e / e.sum()])
    # A gradient constant over T is absorbed by the softmax: nothing moves.
    dhs, dh = aw.backward(np.ones((1, 3)))
    np.testing.assert_allclose(dhs, 0, atol=1e-15)
    np.testing.assert_allclose(dh, 0, atol=1e-15)


class WeightSumDaScaled(rnnref.WeightSum):
    def backward(self, dc):
        dhs, da = super().backward(dc)
        return dhs, da * 1.5  # BUG: da alone is wrong


class TimeAttentionDecWrong(rnnref.TimeAttention):
    def backward(self, dout):
        dhs_enc, dhs_dec = super().backward(dout)
        return dhs_enc, dhs_dec[:, ::-1]  # BUG: dhs_dec alone is wrong (steps reversed)


@pytest.mark.parametrize(
    ("cls", "name", "wrong", "right"),
    [(WeightSumDaScaled, "WeightSum", "da", "dhs"), (TimeAttentionDecWrong, "TimeAttention", "dhs_dec", "dhs_enc")],
)
def test_each_returned_gradient_is_checked_by_name(cls, name, wrong, right):
    report = check_layer(cls, name, dims={"T": 4, "S": 3})
    failures = report.layers[0].failures
    assert not report.passed
    by_check = {f.check: f.tensor for f in failures if f.check in ("backward-jax", "backward-fd")}
    assert by_check == {"backward-jax": wrong, "backward-fd": wrong}, failures
    assert all(f.tensor != right for f in failures)


def test_attention_backward_needs_both_paths_to_hs():
    """dhs of Attention is the sum of the weighted sum's and the weights' paths:
    with either alone it differs from the layer's own finite differences."""
    rng = np.random.default_rng(0)
    hs, h, dc = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    layer = rnnref.Attention()
    layer.forward(hs, h)
    dhs, _ = layer.backward(dc)
    eps, num = 1e-6, np.zeros_like(hs)
    for i in np.ndindex(hs.shape):
        up, down = hs.copy(), hs.copy()
        up[i] += eps
        down[i] -= eps
        num[i] = (np.sum(rnnref.Attention().forward(up, h) * dc) - np.sum(rnnref.Attention().forward(down, h) * dc)) / (
            2 * eps
        )
    np.testing.assert_allclose(dhs, num, rtol=1e-6, atol=1e-8)
    dhs_sum, _ = layer.weight_sum_layer.backward(dc)
    assert not np.allclose(dhs_sum, num, atol=1e-3)


def test_encoder_returns_every_state_and_decoder_returns_the_whole_sequences_gradient():
    V, D, H, N, T = 6, 3, 4, 2, 5
    rng = np.random.default_rng(0)
    enc, dec = rnnref.AttentionEncoder(V, D, H, seed=1), rnnref.AttentionDecoder(V, D, H, seed=2)
    assert dec.params[4].shape == (2 * H, V)  # affine over [context | state]
    xs = rng.integers(0, V, (N, T))
    hs = enc.forward(xs)
    assert hs.shape == (N, T, H)
    score = dec.forward(xs[:, :3], hs)
    assert score.shape == (N, 3, V)
    denc = dec.backward(np.ones_like(score))
    assert denc.shape == (N, T, H)
    # Without the LSTM's dh at the last step, denc_hs is the attention's alone.
    dec.forward(xs[:, :3], hs)
    dout = dec.affine.backward(np.ones_like(score))
    attention_only, _ = dec.attention.backward(dout[:, :, :H])
    np.testing.assert_allclose(denc[:, :-1], attention_only[:, :-1])
    assert dec.lstm.dh is not None
    np.testing.assert_allclose(denc[:, -1], attention_only[:, -1] + dec.lstm.dh)
    assert enc.backward(denc) is None


def test_attention_seq2seq_generates_from_the_whole_encoding():
    model = rnnref.AttentionSeq2seq(7, 3, 4, seed=0)
    before = [p.copy() for p in model.params]
    xs = np.array([[1, 2, 3]])
    a, b = model.generate(xs, 0, 5), model.generate(xs, 0, 5)
    assert len(a) == 5 and a == b and all(0 <= i < 7 for i in a)
    assert all(np.array_equal(p, q) for p, q in zip(model.params, before, strict=True))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: rnnref.WeightSum().forward(np.zeros((2, 3, 4)), np.zeros((2, 4))), r"a must have shape \(2, 3\)"),
        (lambda: rnnref.AttentionWeight().forward(np.zeros((2, 3)), np.zeros((2, 3))), r"hs must have shape"),
        (lambda: rnnref.TimeAttention().forward(np.zeros((2, 3, 4)), np.zeros((2, 3, 5))), r"hs_dec must have shape"),
        (lambda: rnnref.WeightSum().backward(np.zeros((2, 4))), "before forward"),
    ],
)
def test_bad_input_gets_a_message_naming_the_argument(call, match):
    with pytest.raises((ValueError, TypeError, RuntimeError), match=match):
        call()


class TimeAttentionShapesOnce(rnnref.TimeAttention):
    """Keeps the shapes of its first call: right on one example, wrong on the next
    encoder length (a stale (N, S, H) for dhs_enc)."""

    def forward(self, hs_enc, hs_dec):
        first = self.shapes
        out = super().forward(hs_enc, hs_dec)
        self.shapes = first or self.shapes  # BUG: the first call's shapes, kept
        return out


def test_a_layer_that_keeps_the_first_encoder_length_fails_reuse_naming_it():
    report = check_layer(TimeAttentionShapesOnce, "TimeAttention", dims={"T": 3, "S": 4})
    failures = {f.check: f.message for f in report.layers[0].failures}
    assert set(failures) == {"reuse"}, failures
    assert "N=1, T=4, S=5 through the same instance" in failures["reuse"]
    assert "built once for the first N, T or S?" in failures["reuse"]


class GenerateCutsTheSource(rnnref.AttentionDecoder):
    def generate(self, enc_hs, start_id, sample_size):
        return self._greedy(enc_hs[:, -1], enc_hs[:, :sample_size], start_id, sample_size)  # BUG: S, not sample_size


class GenerateStartsAtSampleSize(rnnref.AttentionDecoder):
    def generate(self, enc_hs, start_id, sample_size):
        return self._greedy(enc_hs[:, sample_size - 1], enc_hs, start_id, sample_size)  # BUG: the last step is S - 1


@pytest.mark.parametrize("cls", [GenerateCutsTheSource, GenerateStartsAtSampleSize])
def test_a_generate_that_reads_sample_size_as_the_sources_length_fails_on_its_one_word_run(cls):
    """On this example no word of the T-word samples moves (a greedy argmax is a
    coarse witness); the one-word sample of row 1 decodes from the first encoder
    step (the source cut to 1) or starts there, and its word is not the spec's."""
    report = check_layer(cls, "AttentionDecoder", dims={"N": 3, "T": 3, "S": 5, "V": 6}, seed=2)
    (failure,) = report.layers[0].failures
    assert failure.check == "generate" and failure.message.startswith("generate(enc_hs[1:2], 1, 1) returned")
    assert "is sample_size read where the source's length is meant?" in failure.message
