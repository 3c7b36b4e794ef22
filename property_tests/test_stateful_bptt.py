"""Stateful truncated BPTT: every recurrent Time layer (TimeRNN, TimeLSTM with h
and c, TimeGRU) and every model, run chunk by chunk along a random plan (chunks,
reset_state(), set_state(h[, c])), equals one long forward, and each chunk's output
and gradients equal JAX's from the state the spec says is carried, held constant."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prop_support import (
    BUCKET,
    DTYPES,
    assert_close,
    assert_matches_spec,
    build,
    reference,
    spec_final_state,
)
from prop_support import strategies as gs  # examples(...) built once: see there

from gradcheck.examples import Example, make_example
from gradcheck.specs import SPECS

TIME_LAYERS = [n for n, s in SPECS.items() if s.state is not None and s.kind == "layer"]
# BetterRnnlm draws dropout masks when training: test_dropout_and_tying.py checks it in evaluation.
MODELS = [n for n, s in SPECS.items() if s.state is not None and s.kind == "model" and s.train_flag is None]
MAX_T = BUCKET["T"]


def test_the_recurrent_family_is_covered():
    assert {"TimeRNN", "TimeLSTM", "TimeGRU"} <= set(TIME_LAYERS)
    assert {"SimpleRnnlm", "Rnnlm"} <= set(MODELS)


def _plan_states(spec, step, N: int, H: int, dtype) -> tuple[np.ndarray, ...]:
    """The states a set_state step of the plan hands the layer (h, and c for an LSTM)."""
    rng = np.random.default_rng(step[1])
    return tuple(rng.uniform(-0.9, 0.9, size=(N, H)).astype(dtype) for _ in spec.states)


@pytest.mark.parametrize("name", TIME_LAYERS)
@given(data=st.data())
def test_chunked_forward_equals_one_long_forward_and_spec_per_chunk(name, data):
    spec = SPECS[name]
    dims = data.draw(gs.dims(letters="NTDH", min_T=2, max_T=MAX_T), label="dims")
    plan = data.draw(gs.stateful_plans(dims["T"]), label="plan")
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    ex = make_example(spec, dims, data.draw(st.integers(0, 2**16), label="seed"), dtype, plan=plan)
    xs, N, H = ex.values["xs"], dims["N"], dims["H"]
    params = {a.name: ex.values[a.name] for a in spec.params}
    zeros = tuple(np.zeros((N, H)) for _ in spec.states)

    layer = build(spec, ex)
    carried = zeros  # the states the spec says the layer carries (h, c)
    # Segments: runs of chunks between state changes, each must equal one long forward.
    segments: list[tuple[tuple[np.ndarray, ...], int, list[np.ndarray]]] = [(zeros, 0, [])]
    pos = 0
    for i, step in enumerate(plan):
        if step[0] == "reset":
            layer.reset_state()
            carried = zeros
            segments.append((zeros, pos, []))
            continue
        if step[0] == "set_state":
            states = _plan_states(spec, step, N, H, dtype)
            layer.set_state(*(s.copy() for s in states))
            carried = tuple(s.astype(np.float64) for s in states)
            segments.append((states, pos, []))
            continue
        k = step[1]
        sl = slice(pos, pos + k)
        pos += k
        chunk = {**params, "xs": xs[:, sl], **{a.name: s for a, s in zip(spec.states, carried, strict=True)}}
        dhs = ex.dout[:, sl]
        hs = layer.forward(xs[:, sl].copy())
        dxs = layer.backward(dhs.copy())
        grads = {**dict(zip(params, layer.grads, strict=True)), "xs": dxs, "h0": layer.dh}
        sub = Example(name, {**dims, "T": k}, chunk, dhs, ex.seed, dtype)
        ref = reference(spec, sub)
        assert_matches_spec(spec, sub, hs, grads, ref, label=f" chunk {i} (t={sl.start}..{sl.stop - 1})")
        segments[-1][2].append(hs.copy())
        carried = spec_final_state(spec, chunk, {**dims, "T": k})
    assert pos == dims["T"], f"the plan covers {pos} of {dims['T']} steps"

    for states, start, outs in segments:
        if not outs:
            continue
        stop = start + sum(o.shape[1] for o in outs)
        whole = build(spec, ex)
        whole.set_state(*(s.astype(dtype) for s in states))
        long_hs = whole.forward(xs[:, start:stop].copy())
        assert_close(np.concatenate(outs, axis=1), long_hs, dtype, f"chunks t={start}..{stop - 1} vs one forward")


@pytest.mark.parametrize("name", TIME_LAYERS)
@given(data=st.data())
def test_non_stateful_layer_starts_every_forward_from_zeros(name, data):
    spec = SPECS[name]
    ex = data.draw(gs.examples(spec), label="example")
    fresh = build(spec, ex, stateful=False).forward(ex.values["xs"].copy())
    layer = build(spec, ex, stateful=False)
    layer.forward(ex.values["xs"].copy())
    rng = np.random.default_rng(ex.seed)
    layer.set_state(*(rng.uniform(-0.9, 0.9, ex.values[a.name].shape) for a in spec.states))
    again = layer.forward(ex.values["xs"].copy())
    np.testing.assert_array_equal(again, fresh)
    zeros = {**ex.values, **{a.name: np.zeros_like(ex.values[a.name]) for a in spec.states}}
    assert_close(fresh, reference(spec, ex, values=zeros).out, ex.dtype, "stateful=False forward")


@pytest.mark.parametrize("name", MODELS)
@given(data=st.data())
def test_model_chunks_equal_the_spec_from_the_spec_carried_state(name, data):
    spec = SPECS[name]
    dims = data.draw(gs.dims(letters="NTDHV", min_T=2, max_T=MAX_T), label="dims")
    N, T, V = dims["N"], dims["T"], dims["V"]
    tokens = data.draw(gs.tokens_NT(N, T, V), label="xs")
    labels = data.draw(gs.labels_NT(N, T, V), label="ts")
    plan = data.draw(gs.stateful_plans(T, allow_set_state=False), label="plan")
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    dout = data.draw(gs.loss_dout(), label="dout")
    ex = make_example(spec, dims, data.draw(st.integers(0, 2**16), label="seed"), dtype, tokens=tokens, labels=labels)
    params = {a.name: ex.values[a.name] for a in spec.params}

    model = build(spec, ex)
    zeros = tuple(np.zeros((N, dims["H"])) for _ in spec.states)
    carried = zeros
    pos = 0
    for i, step in enumerate(plan):
        if step[0] == "reset":
            model.reset_state()
            carried = zeros
            continue
        k = step[1]
        sl = slice(pos, pos + k)
        pos += k
        chunk = {
            **params,
            "xs": tokens[:, sl],
            "ts": labels[:, sl],
            **{a.name: s for a, s in zip(spec.states, carried, strict=True)},
        }
        loss = model.forward(tokens[:, sl].copy(), labels[:, sl].copy())
        model.backward(dout)
        grads = dict(zip((a.name for a in spec.params), model.grads, strict=True))
        sub = Example(name, {**dims, "T": k}, chunk, dout, ex.seed, dtype)
        ref = reference(spec, sub)
        assert_matches_spec(spec, sub, loss, grads, ref, label=f" chunk {i} (t={sl.start}..{sl.stop - 1})")
        carried = spec_final_state(spec, chunk, {**dims, "T": k})
    assert pos == T
