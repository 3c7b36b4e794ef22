"""Stateful truncated BPTT: a TimeRNN (and the model) run chunk by chunk along a
random plan (chunks, reset_state(), set_state(h)) equals one long forward, and each
chunk's gradients equal JAX's with the carried state held constant."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from prop_support import (
    BUCKET,
    DTYPES,
    assert_close,
    assert_matches_spec,
    reference,
    spec_final_state,
)

import rnnref
from gradcheck import strategies as gs
from gradcheck.examples import Example, make_example
from gradcheck.specs import SPECS

RNN_SPEC, LM_SPEC = SPECS["TimeRNN"], SPECS["SimpleRnnlm"]
MAX_T = BUCKET["T"]


def _plan_state(step, N: int, H: int, dtype) -> np.ndarray:
    """The state a set_state step of the plan hands the layer (from its seed)."""
    return np.random.default_rng(step[1]).uniform(-0.9, 0.9, size=(N, H)).astype(dtype)


@given(data=st.data())
def test_time_rnn_chunked_forward_equals_one_long_forward_and_spec_per_chunk(data):
    dims = data.draw(gs.dims(letters="NTDH", min_T=2, max_T=MAX_T), label="dims")
    plan = data.draw(gs.stateful_plans(dims["T"]), label="plan")
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    ex = make_example(RNN_SPEC, dims, data.draw(st.integers(0, 2**16), label="seed"), dtype, plan=plan)
    Wx, Wh, b, xs = (ex.values[k] for k in ("Wx", "Wh", "b", "xs"))
    N, H = dims["N"], dims["H"]

    layer = rnnref.TimeRNN(Wx.copy(), Wh.copy(), b.copy(), stateful=True)
    h_spec = np.zeros((N, H))  # the state the spec says the layer carries
    # Segments: runs of chunks between state changes, each must equal one long forward.
    segments: list[tuple[np.ndarray, int, list[np.ndarray]]] = [(np.zeros((N, H), dtype), 0, [])]
    pos = 0
    for i, step in enumerate(plan):
        if step[0] == "reset":
            layer.reset_state()
            h_spec = np.zeros((N, H))
            segments.append((np.zeros((N, H), dtype), pos, []))
            continue
        if step[0] == "set_state":
            h = _plan_state(step, N, H, dtype)
            layer.set_state(h.copy())
            h_spec = h.astype(np.float64)
            segments.append((h, pos, []))
            continue
        k = step[1]
        sl = slice(pos, pos + k)
        pos += k
        chunk = {"Wx": Wx, "Wh": Wh, "b": b, "xs": xs[:, sl], "h0": h_spec}
        dhs = ex.dout[:, sl]
        hs = layer.forward(xs[:, sl].copy())
        dxs = layer.backward(dhs.copy())
        grads = {"Wx": layer.grads[0], "Wh": layer.grads[1], "b": layer.grads[2], "xs": dxs, "h0": layer.dh}
        sub = Example("TimeRNN", {**dims, "T": k}, chunk, dhs, ex.seed, dtype)
        ref = reference(RNN_SPEC, sub)
        assert_matches_spec(RNN_SPEC, sub, hs, grads, ref, label=f" chunk {i} (t={sl.start}..{sl.stop - 1})")
        segments[-1][2].append(hs.copy())
        h_spec = spec_final_state(Wx, Wh, b, xs[:, sl], h_spec)
    assert pos == dims["T"], f"the plan covers {pos} of {dims['T']} steps"

    for h0, start, outs in segments:
        if not outs:
            continue
        stop = start + sum(o.shape[1] for o in outs)
        whole = rnnref.TimeRNN(Wx.copy(), Wh.copy(), b.copy(), stateful=True)
        whole.set_state(h0.copy())
        long_hs = whole.forward(xs[:, start:stop].copy())
        assert_close(np.concatenate(outs, axis=1), long_hs, dtype, f"chunks t={start}..{stop - 1} vs one forward")


@given(ex=gs.examples("TimeRNN"))
def test_non_stateful_time_rnn_starts_every_forward_from_zeros(ex):
    Wx, Wh, b, xs, h0 = (ex.values[k] for k in ("Wx", "Wh", "b", "xs", "h0"))
    fresh = rnnref.TimeRNN(Wx.copy(), Wh.copy(), b.copy(), stateful=False).forward(xs.copy())
    layer = rnnref.TimeRNN(Wx.copy(), Wh.copy(), b.copy(), stateful=False)
    layer.forward(xs.copy())
    layer.set_state(h0.copy())
    again = layer.forward(xs.copy())
    np.testing.assert_array_equal(again, fresh)
    zeros = {**ex.values, "h0": np.zeros_like(h0)}
    assert_close(fresh, reference(SPECS["TimeRNN"], ex, values=zeros).out, ex.dtype, "stateful=False forward")


@given(data=st.data())
def test_model_chunks_equal_the_spec_from_the_spec_carried_state(data):
    dims = data.draw(gs.dims(letters="NTDHV", min_T=2, max_T=MAX_T), label="dims")
    N, T, V = dims["N"], dims["T"], dims["V"]
    tokens = data.draw(gs.tokens_NT(N, T, V), label="xs")
    labels = data.draw(gs.labels_NT(N, T, V), label="ts")
    plan = data.draw(gs.stateful_plans(T, allow_set_state=False), label="plan")
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    dout = data.draw(gs.loss_dout(), label="dout")
    ex = make_example(
        LM_SPEC, dims, data.draw(st.integers(0, 2**16), label="seed"), dtype, tokens=tokens, labels=labels
    )
    params = {a.name: ex.values[a.name] for a in LM_SPEC.params}

    model = rnnref.SimpleRnnlm(V, dims["D"], dims["H"], dtype=dtype)
    for p, a in zip(model.params, LM_SPEC.params, strict=True):
        p[...] = ex.values[a.name]
    h_spec = np.zeros((N, dims["H"]))
    pos = 0
    for i, step in enumerate(plan):
        if step[0] == "reset":
            model.reset_state()
            h_spec = np.zeros_like(h_spec)
            continue
        k = step[1]
        sl = slice(pos, pos + k)
        pos += k
        chunk = {**params, "xs": tokens[:, sl], "ts": labels[:, sl], "h0": h_spec}
        loss = model.forward(tokens[:, sl].copy(), labels[:, sl].copy())
        model.backward(dout)
        grads = dict(zip((a.name for a in LM_SPEC.params), model.grads, strict=True))
        sub = Example("SimpleRnnlm", {**dims, "T": k}, chunk, dout, ex.seed, dtype)
        ref = reference(LM_SPEC, sub)
        assert_matches_spec(LM_SPEC, sub, loss, grads, ref, label=f" chunk {i} (t={sl.start}..{sl.stop - 1})")
        embedded = params["embed_W"].astype(np.float64)[tokens[:, sl]]
        h_spec = spec_final_state(params["Wx"], params["Wh"], params["b"], embedded, h_spec)
    assert pos == T
