"""rnnref's seq2seq (ch07): Encoder, Decoder, Seq2seq, PeekyDecoder and
PeekySeq2seq pass gradcheck in float64 and float32; the examples keep T >= 2;
generate (the check's own buggy cases are in tests/test_engine_checks.py);
PeekyDecoder's dh against a plain-NumPy derivation of its concatenations."""

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


@pytest.mark.parametrize("name", ["Encoder", "Decoder", "Seq2seq", "PeekyDecoder", "PeekySeq2seq"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rnnref_seq2seq_passes_every_check(name, dtype):
    report = check_layer(reference()[name], name, dtype=dtype, dims={"T": 4})
    assert report.passed and not_passing(report) == {}, report
    assert "generate" in report.layers[0].checks or not name.endswith("Seq2seq")


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
    """min_dims: the strategy draws T >= 2, and reuse's shorter example stops at 2
    (the encoder's S changes alone instead: 1 -> 2 with T, then 3)."""
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
    ctx.spec, ctx.ex = spec, make_example(spec, {"N": 2, "T": 2, "S": 1, "D": 2, "H": 2, "V": 3}, 0)
    ctx.values = ctx.ex.values
    assert [(ex.dims["N"], ex.dims["T"], ex.dims["S"]) for ex in other_shapes(ctx)] == [(1, 3, 2), (1, 3, 3)]
    ctx.ex = make_example(spec, {"N": 2, "T": 4, "S": 3, "D": 2, "H": 2, "V": 3}, 0)
    assert [(ex.dims["N"], ex.dims["T"], ex.dims["S"]) for ex in other_shapes(ctx)] == [(1, 5, 4), (1, 5, 2), (1, 3, 2)]


@pytest.mark.parametrize("cls", [rnnref.Seq2seq, rnnref.PeekySeq2seq])
def test_generate_shape_determinism_and_params_untouched(cls):
    model = cls(7, 3, 4, seed=0)
    before = [p.copy() for p in model.params]
    xs = np.array([[1, 2, 3]])
    a, b = model.generate(xs, 0, 5), model.generate(xs, 0, 5)
    assert len(a) == 5 and a == b and all(0 <= i < 7 for i in a)
    assert all(np.array_equal(p, q) for p, q in zip(model.params, before, strict=True))


def test_peeky_decoder_shapes_and_dh_holds_the_peeked_gradients():
    """The book's shapes (Wx (H + D, 4H), affine_W (H + H, V)); dh is the LSTM's dh
    plus the h parts of both concatenations' gradients summed over the steps:
    with the LSTM's and affine's weights on h zeroed, only the LSTM's dh is left."""
    V, D, H, N, T = 6, 2, 3, 2, 4
    dec = rnnref.PeekyDecoder(V, D, H, dtype=np.float64, seed=0)
    assert [p.shape for p in dec.params] == [(V, D), (H + D, 4 * H), (H, 4 * H), (4 * H,), (H + H, V), (V,)]
    rng = np.random.default_rng(1)
    xs, h = rng.integers(0, V, (N, T)), rng.uniform(-1, 1, (N, H))
    dscore = rng.uniform(-1, 1, (N, T, V))
    dec.forward(xs, h)
    dh = dec.backward(dscore)
    assert dh.shape == (N, H)
    dec.params[1][:H] = 0  # the LSTM's input no longer reads h
    dec.params[4][:H] = 0  # nor the affine's
    dec.forward(xs, h)
    lstm_only = dec.backward(dscore)
    assert np.allclose(lstm_only, dec.lstm.dh) and not np.allclose(dh, lstm_only)


def test_peeky_generate_reads_h_at_every_step():
    """Two h that start the LSTM alike but differ as the peeked input: generate's ids
    differ after the first step only if h is fed to every step. With the LSTM's
    weights on h and Wh zeroed, h reaches steps after the first through the peek
    alone; the model is built so that the peeked h decides each argmax."""
    V, D, H = 5, 2, 3
    dec = rnnref.PeekyDecoder(V, D, H, dtype=np.float64, seed=0)
    dec.params[1][:] = 0  # the LSTM reads nothing: its h is 0.5 * tanh(0) = 0
    dec.params[2][:] = 0
    W = dec.params[4]
    W[:] = 0
    W[:H] = np.eye(H, V)  # the score of word k < H is h[k]
    a = dec.generate(np.array([[1.0, 0.0, 0.0]]), 0, 4)
    b = dec.generate(np.array([[0.0, 0.0, 1.0]]), 0, 4)
    assert a == [0, 0, 0, 0] and b == [2, 2, 2, 2]


def test_not_greedy_allows_a_near_tie_and_names_a_clear_miss():
    """generate's ids against the spec's scores: an id on a near-tie (within
    float32's analytic tolerance) passes; one clearly below the best is named by
    its step, the best id and the gap."""
    from gradcheck.compare import PRECISIONS, not_greedy

    rtol = PRECISIONS[np.dtype(np.float32)].analytic
    scores = np.array([[0.5, 0.5 + 1e-6, 0.1], [0.2, 0.9, 0.3]])
    assert not_greedy(scores, np.array([0, 1]), rtol) == []
    (miss,) = not_greedy(scores, np.array([1, 2]), rtol)
    assert miss.index == (1, 1) and np.isclose(miss.error, 0.6) and miss.allowed < 1e-3


class Seq2seqStaleBuffer(rnnref.Seq2seq):
    """Keeps the encoder's dhs buffer while ts keep their shape and xs do not grow:
    on a shorter xs alone the old buffer's last step is past xs' last, and dh is
    lost. No crash, and the primary example run again (another N) is right."""

    def forward(self, xs, ts):
        xs = np.asarray(xs)
        buf = getattr(self, "_buf", None)
        if np.shape(ts) != getattr(self, "_key", None) or buf is None or buf.shape[1] < xs.shape[1]:
            self._key, self._buf = np.shape(ts), np.zeros((*xs.shape, self.params[2].shape[0]), self.params[2].dtype)
        self._S = xs.shape[1]
        return super().forward(xs, ts)

    def backward(self, dout=1):
        dh = self.decoder.backward(self.softmax.backward(dout))
        self._buf[...] = 0
        self._buf[:, -1] = dh  # BUG: the buffer's last step, not xs'
        enc = self.encoder
        enc.embed.backward(enc.lstm.backward(self._buf[:, : self._S]))


def test_a_buffer_kept_for_an_earlier_size_fails_reuse_against_a_fresh_instance():
    """Found by review: reuse used to see a kept buffer only when it crashed, or when
    the primary example run again differed. Each example of another size now runs
    on a fresh instance too, and the same instance must give what it gives."""
    report = check_layer(Seq2seqStaleBuffer, "Seq2seq", dims={"N": 2, "T": 3, "S": 3, "D": 2, "H": 2, "V": 5})
    failures = {f.check: f.message for f in report.layers[0].failures}
    assert set(failures) == {"reuse"}, failures
    assert failures["reuse"].startswith("on a second example with N=1, T=4, S=2, the same instance gives other dembed_W")
    assert "than a fresh instance" in failures["reuse"]
