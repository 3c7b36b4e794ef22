"""ignore_label: ignored positions get no gradient and do not count in the loss;
every position ignored gives loss 0.0 and zero gradients; one-hot labels mean the
same as int labels (TimeSoftmaxWithLoss and the model)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from prop_support import DTYPES, assert_close, onehot, reference

import rnnref
from gradcheck import strategies as gs
from gradcheck.examples import make_example
from gradcheck.specs import IGNORE_LABEL, SPECS

LOSS, LM = SPECS["TimeSoftmaxWithLoss"], SPECS["SimpleRnnlm"]


@st.composite
def loss_cases(draw, patterns=gs.MASK_PATTERNS, extreme=False):
    """(xs, ts, dout, dtype) for TimeSoftmaxWithLoss, labels with ignore patterns."""
    d = draw(gs.dims(letters="NTV"), label="dims")
    N, T, V = d["N"], d["T"], d["V"]
    dtype = draw(st.sampled_from(DTYPES), label="dtype")
    xs = draw(gs.float_arrays((N, T, V), bound=8.0, extreme=extreme, dtype=dtype), label="xs")
    ts = draw(gs.labels_NT(N, T, V, patterns=patterns), label="ts")
    return xs, ts, draw(gs.loss_dout(), label="dout"), dtype


def _loss_and_grad(xs, ts, dout, ignore_label=IGNORE_LABEL):
    layer = rnnref.TimeSoftmaxWithLoss()
    layer.ignore_label = ignore_label
    loss = layer.forward(xs.copy(), ts.copy())
    return loss, layer.backward(dout)


@given(case=loss_cases(), noise=st.integers(0, 2**16))
def test_ignored_positions_have_zero_gradient_and_do_not_change_the_loss(case, noise):
    xs, ts, dout, dtype = case
    ignored = ts == IGNORE_LABEL
    loss, dxs = _loss_and_grad(xs, ts, dout)
    assert (dxs[ignored] == 0).all(), f"dxs non-zero at ignored positions {np.argwhere(ignored).tolist()}"

    # Any logits at the ignored positions, even huge ones, leave loss and dxs as they were.
    other = xs.copy()
    rng = np.random.default_rng(noise)
    other[ignored] = rng.choice([-1e4, -3.0, 0.5, 7.0, 1e4], size=other[ignored].shape).astype(dtype)
    loss2, dxs2 = _loss_and_grad(other, ts, dout)
    assert loss2 == loss, f"loss {loss!r} -> {loss2!r} after changing logits at ignored positions"
    np.testing.assert_array_equal(dxs2, dxs)


@given(case=loss_cases(patterns=("all",)))
def test_every_position_ignored_gives_loss_exactly_zero_and_zero_gradient(case):
    xs, ts, dout, dtype = case
    loss, dxs = _loss_and_grad(xs, ts, dout)
    assert np.asarray(loss).dtype == np.dtype(dtype)
    assert float(loss) == 0.0 and np.isfinite(loss)
    assert np.isfinite(dxs).all() and (dxs == 0).all()
    assert dxs.shape == xs.shape and dxs.dtype == np.dtype(dtype)


@given(case=loss_cases(patterns=("none",)))
def test_one_hot_labels_equal_int_labels(case):
    xs, ts, dout, dtype = case
    loss, dxs = _loss_and_grad(xs, ts, dout)
    loss1, dxs1 = _loss_and_grad(xs, onehot(ts, xs.shape[-1]), dout)
    assert_close(loss1, loss, dtype, "one-hot loss")
    assert_close(dxs1, dxs, dtype, "one-hot dxs")


@given(case=loss_cases(), ignore=st.sampled_from([-100, 255]))
def test_custom_ignore_label_means_the_same_as_minus_one(case, ignore):
    xs, ts, dout, dtype = case
    custom = np.where(ts == IGNORE_LABEL, ignore, ts)  # ignore lies outside [0, V): no real class
    loss, dxs = _loss_and_grad(xs, ts, dout)
    loss2, dxs2 = _loss_and_grad(xs, custom, dout, ignore_label=ignore)
    assert loss2 == loss
    np.testing.assert_array_equal(dxs2, dxs)


@given(case=loss_cases())
def test_masked_loss_equals_the_spec(case):
    """The masked mean (and its vjp) equals the spec's, which never calls rnnref."""
    xs, ts, dout, dtype = case
    N, T, V = xs.shape
    loss, dxs = _loss_and_grad(xs, ts, dout)
    ex = make_example(LOSS, {"N": N, "T": T, "V": V}, 0, dtype, labels=ts)
    ref = reference(LOSS, ex, values={"xs": xs, "ts": ts}, dout=dout)
    assert_close(loss, ref.out, dtype, "loss")
    assert_close(dxs, ref.grads["xs"], dtype, "dxs")


@st.composite
def model_cases(draw, patterns):
    d = draw(gs.dims(letters="NTDHV"), label="dims")
    N, T, V = d["N"], d["T"], d["V"]
    tokens = draw(gs.tokens_NT(N, T, V), label="xs")
    labels = draw(gs.labels_NT(N, T, V, patterns=patterns), label="ts")
    dtype = draw(st.sampled_from(DTYPES), label="dtype")
    ex = make_example(LM, d, draw(st.integers(0, 2**16), label="seed"), dtype, tokens=tokens, labels=labels)
    ex.dout = draw(gs.loss_dout(), label="dout")
    return ex


def _model(ex):
    m = rnnref.SimpleRnnlm(ex.dims["V"], ex.dims["D"], ex.dims["H"], dtype=ex.dtype)
    for p, a in zip(m.params, LM.params, strict=True):
        p[...] = ex.values[a.name]
    return m


@given(ex=model_cases(patterns=("all",)))
def test_model_with_every_position_ignored_has_loss_zero_and_zero_grads(ex):
    m = _model(ex)
    loss = m.forward(ex.values["xs"].copy(), ex.values["ts"].copy())
    m.backward(ex.dout)
    assert float(loss) == 0.0
    for a, g in zip(LM.params, m.grads, strict=True):
        assert np.isfinite(g).all() and (g == 0).all(), f"d{a.name} is not zero"


@given(ex=model_cases(patterns=("none",)))
def test_model_one_hot_labels_equal_int_labels(ex):
    xs, ts = ex.values["xs"], ex.values["ts"]
    m = _model(ex)
    loss = m.forward(xs.copy(), ts.copy())
    m.backward(ex.dout)
    grads = [g.copy() for g in m.grads]
    m.reset_state()
    loss1 = m.forward(xs.copy(), onehot(ts, ex.dims["V"]))
    m.backward(ex.dout)
    assert_close(loss1, loss, ex.dtype, "one-hot loss")
    for a, g, g1 in zip(LM.params, grads, m.grads, strict=True):
        assert_close(g1, g, ex.dtype, f"one-hot d{a.name}")
