"""softmax / log_softmax with logits up to +-1e4 (where exp alone overflows):
finite, rows sum to 1, log_softmax == log(softmax) wherever softmax is a normal
number, and the loss built on them is finite and equals the spec."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from prop_support import DTYPES, assert_close, reference, rtol

import rnnref
from gradcheck import strategies as gs
from gradcheck.examples import make_example
from gradcheck.specs import SPECS


@st.composite
def logits(draw):
    """Any rank 1..3, last axis the classes; entries in [-30, 30] or exactly +-1e4."""
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3), label="shape"))
    dtype = draw(st.sampled_from(DTYPES), label="dtype")
    return draw(gs.float_arrays(shape, bound=30.0, extreme=True, dtype=dtype), label="x")


@given(x=logits())
def test_softmax_is_finite_keeps_dtype_and_rows_sum_to_one(x):
    p = rnnref.softmax(x.copy())
    assert p.dtype == x.dtype and p.shape == x.shape
    assert np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()
    sums = p.astype(np.float64).sum(axis=-1)
    assert np.abs(sums - 1).max() <= rtol(x.dtype), f"row sums {sums}"


@given(x=logits())
def test_log_softmax_equals_log_of_softmax_where_softmax_is_normal(x):
    lp = rnnref.log_softmax(x.copy())
    p = rnnref.softmax(x.copy())
    assert lp.dtype == x.dtype and lp.shape == x.shape
    assert np.isfinite(lp).all() and (lp <= 0).all()
    normal = p > np.finfo(x.dtype).tiny
    assert normal.any(axis=-1).all(), "every row has its largest entry at probability >= 1/V"
    with np.errstate(divide="ignore"):
        assert_close(lp[normal], np.log(p[normal]), x.dtype, "log_softmax vs log(softmax)")


@given(data=st.data())
def test_loss_with_huge_logits_is_finite_and_equals_the_spec(data):
    d = data.draw(gs.dims(letters="NTV"), label="dims")
    N, T, V = d["N"], d["T"], d["V"]
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    xs = data.draw(gs.float_arrays((N, T, V), bound=30.0, extreme=True, dtype=dtype), label="xs")
    ts = data.draw(gs.labels_NT(N, T, V), label="ts")
    dout = data.draw(gs.loss_dout(), label="dout")
    layer = rnnref.TimeSoftmaxWithLoss()
    loss = layer.forward(xs.copy(), ts.copy())
    dxs = layer.backward(dout)
    assert np.isfinite(loss) and np.isfinite(dxs).all()
    spec = SPECS["TimeSoftmaxWithLoss"]
    ref = reference(spec, make_example(spec, d, 0, dtype, labels=ts), values={"xs": xs, "ts": ts}, dout=dout)
    assert_close(loss, ref.out, dtype, "loss")
    assert_close(dxs, ref.grads["xs"], dtype, "dxs")
