"""The layer protocol (grads written in place, repeatable and side-effect-free backward,
each backward replacing the grads) and dtype handling, for every layer and SimpleRnnlm."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import seed_notebook as notebook

import rnnref
from rnnref import (
    RNN,
    Affine,
    Embedding,
    SimpleRnnlm,
    TimeAffine,
    TimeEmbedding,
    TimeRNN,
    TimeSoftmaxWithLoss,
)

# float64 NumPy recomputation vs the layers: same operations up to summation order on O(1) values.
RTOL64 = 1e-12

N, T, D, H, V = 2, 4, 3, 4, 6


@dataclass(frozen=True)
class Example:
    inputs: tuple
    dout: Any
    state: np.ndarray | None = None  # initial state for a stateful TimeRNN


@dataclass(frozen=True)
class Case:
    name: str
    make_layer: Callable[[np.dtype], Any]  # same parameters every call
    make_example: Callable[[np.dtype, int], Example]  # inputs drawn from the seed


def _rand(seed: int, shape, dtype) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _tokens(seed: int, shape, high: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, high, size=shape)


def _labels(seed: int) -> np.ndarray:
    ts = _tokens(seed, (N, T), V)
    ts[0, 1] = -1  # one ignored position
    return ts


CASES = [
    Case("RNN", lambda dt: RNN(_rand(1, (D, H), dt), _rand(2, (H, H), dt) / 2, _rand(3, (H,), dt)),
         lambda dt, s: Example((_rand(s, (N, D), dt), _rand(s + 1, (N, H), dt)), _rand(s + 2, (N, H), dt))),
    Case("Affine", lambda dt: Affine(_rand(1, (D, V), dt), _rand(2, (V,), dt)),
         lambda dt, s: Example((_rand(s, (N, D), dt),), _rand(s + 1, (N, V), dt))),
    Case("Embedding", lambda dt: Embedding(_rand(1, (V, D), dt)),
         lambda dt, s: Example((_tokens(s, (5,), 3),), _rand(s + 1, (5, D), dt))),  # 5 ids < 3: repeats
    Case("TimeRNN", lambda dt: TimeRNN(_rand(1, (D, H), dt), _rand(2, (H, H), dt) / 2, _rand(3, (H,), dt)),
         lambda dt, s: Example((_rand(s, (N, T, D), dt),), _rand(s + 1, (N, T, H), dt))),
    Case("TimeRNN-stateful",
         lambda dt: TimeRNN(_rand(1, (D, H), dt), _rand(2, (H, H), dt) / 2, _rand(3, (H,), dt), stateful=True),
         lambda dt, s: Example((_rand(s, (N, T, D), dt),), _rand(s + 1, (N, T, H), dt), _rand(s + 2, (N, H), dt))),
    Case("TimeEmbedding", lambda dt: TimeEmbedding(_rand(1, (V, D), dt)),
         lambda dt, s: Example((_tokens(s, (N, T), 3),), _rand(s + 1, (N, T, D), dt))),  # ids < 3: repeats
    Case("TimeAffine", lambda dt: TimeAffine(_rand(1, (D, V), dt), _rand(2, (V,), dt)),
         lambda dt, s: Example((_rand(s, (N, T, D), dt),), _rand(s + 1, (N, T, V), dt))),
    Case("TimeSoftmaxWithLoss", lambda dt: TimeSoftmaxWithLoss(),
         lambda dt, s: Example((_rand(s, (N, T, V), dt), _labels(s + 1)), np.array(0.5 + s / 10, dtype=dt))),
    Case("SimpleRnnlm", lambda dt: SimpleRnnlm(V, D, H, dtype=dt, seed=7),
         lambda dt, s: Example((_tokens(s, (N, T), V), _labels(s + 1)), np.array(0.5 + s / 10, dtype=dt))),
]
CASE_IDS = [c.name for c in CASES]
WITH_PARAMS = [c for c in CASES if c.name != "TimeSoftmaxWithLoss"]


def forward(layer, ex: Example):
    if ex.state is not None:
        layer.set_state(ex.state)
    elif hasattr(layer, "reset_state"):
        layer.reset_state()
    return layer.forward(*ex.inputs)


def as_list(result) -> list[np.ndarray]:
    """backward returns None (embeddings, the model), an array, or a tuple (RNN)."""
    if result is None:
        return []
    if isinstance(result, tuple):
        return list(result)
    return [result]


def copies(arrays) -> list[np.ndarray]:
    return [np.array(a, copy=True) for a in arrays]


def assert_all_equal(actual, expected, what: str) -> None:
    assert len(actual) == len(expected), what
    for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
        np.testing.assert_array_equal(a, e, err_msg=f"{what}[{i}]")


# ---------------------------------------------------------------------------
# grads written in place


@pytest.mark.parametrize("case", WITH_PARAMS, ids=[c.name for c in WITH_PARAMS])
def test_backward_writes_grads_into_the_same_arrays(case):
    layer = case.make_layer(np.float64)
    grads, params = list(layer.grads), list(layer.params)
    assert len(grads) == len(params) > 0
    for seed in (10, 20):
        ex = case.make_example(np.float64, seed)
        forward(layer, ex)
        layer.backward(ex.dout)
        assert len(layer.grads) == len(grads)
        assert all(g is g0 for g, g0 in zip(layer.grads, grads, strict=True)), "a grads array was replaced"
        assert all(p is p0 for p, p0 in zip(layer.params, params, strict=True)), "a params array was replaced"
        for i, (g, p) in enumerate(zip(layer.grads, params, strict=True)):
            assert g.shape == p.shape and g.dtype == p.dtype, i
            assert np.any(g != 0), f"grads[{i}] was not written"
            assert not np.shares_memory(g, p), f"grads[{i}] shares memory with params[{i}]"


def test_simple_rnnlm_params_and_grads_alias_the_layers_arrays_after_training_steps():
    model = SimpleRnnlm(V, D, H, dtype=np.float64, seed=0)
    layers = [*model.layers, model.loss_layer]
    assert model.rnn_layer is model.layers[1]
    for seed in (1, 2):
        ex = CASES[-1].make_example(np.float64, seed)
        model.forward(*ex.inputs)
        model.backward(ex.dout)
        for p, g in zip(model.params, model.grads, strict=True):
            p -= 0.1 * g  # an optimizer updates model.params in place ...
    # ... and so updates the layers' own arrays, because they are the same objects
    assert [id(p) for p in model.params] == [id(p) for layer in layers for p in layer.params]
    assert [id(g) for g in model.grads] == [id(g) for layer in layers for g in layer.grads]


# ---------------------------------------------------------------------------
# backward: repeatable, mutates nothing, replaces the grads


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_backward_twice_gives_identical_results(case):
    layer = case.make_layer(np.float64)
    ex = case.make_example(np.float64, 10)
    forward(layer, ex)
    first = copies(as_list(layer.backward(ex.dout)))
    first_grads = copies(layer.grads)
    first_dh = None if getattr(layer, "dh", None) is None else layer.dh.copy()
    second = as_list(layer.backward(ex.dout))
    assert_all_equal(second, first, "backward result")
    assert_all_equal(layer.grads, first_grads, "grads")
    if first_dh is not None:
        np.testing.assert_array_equal(layer.dh, first_dh)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_forward_and_backward_mutate_neither_inputs_dout_params_nor_outputs(case):
    layer = case.make_layer(np.float64)
    ex = case.make_example(np.float64, 10)
    inputs0, dout0, params0 = copies(ex.inputs), np.array(ex.dout, copy=True), copies(layer.params)
    state0 = None if ex.state is None else ex.state.copy()
    out = forward(layer, ex)
    out0 = np.array(out, copy=True)
    assert_all_equal(ex.inputs, inputs0, "inputs after forward")
    layer.backward(ex.dout)
    assert_all_equal(ex.inputs, inputs0, "inputs after backward")
    np.testing.assert_array_equal(ex.dout, dout0, err_msg="dout")
    assert_all_equal(layer.params, params0, "params")
    np.testing.assert_array_equal(out, out0, err_msg="forward's output changed by backward")
    if state0 is not None:
        np.testing.assert_array_equal(ex.state, state0, err_msg="array given to set_state")


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_each_backward_replaces_the_grads(case):
    used = case.make_layer(np.float64)
    ex_a, ex_b = case.make_example(np.float64, 10), case.make_example(np.float64, 20)
    forward(used, ex_a)
    result_a = copies(as_list(used.backward(ex_a.dout)))
    grads_a = copies(used.grads)
    forward(used, ex_b)
    result_b = as_list(used.backward(ex_b.dout))

    fresh = case.make_layer(np.float64)
    forward(fresh, ex_b)
    expected_b = as_list(fresh.backward(ex_b.dout))
    assert_all_equal(result_b, expected_b, "backward result on B after A")
    assert_all_equal(used.grads, fresh.grads, "grads on B after A")
    # A and B must really differ, or the comparison above proves nothing
    assert any(not np.array_equal(x, y) for x, y in zip(result_a + grads_a, expected_b + fresh.grads, strict=True))


# ---------------------------------------------------------------------------
# dtype follows the parameters


def _dtypes(layer, out, back) -> dict[str, np.dtype]:
    found = {"forward": np.asarray(out).dtype}
    found |= {f"backward[{i}]": a.dtype for i, a in enumerate(as_list(back))}
    found |= {f"params[{i}]": p.dtype for i, p in enumerate(layer.params)}
    found |= {f"grads[{i}]": g.dtype for i, g in enumerate(layer.grads)}
    for name in ("h", "dh"):
        if getattr(layer, name, None) is not None:
            found[name] = getattr(layer, name).dtype
    return found


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_outputs_and_grads_have_the_params_dtype(case, dtype):
    layer = case.make_layer(dtype)
    ex = case.make_example(dtype, 10)
    out = forward(layer, ex)
    back = layer.backward(ex.dout)
    found = _dtypes(layer, out, back)
    assert found == dict.fromkeys(found, np.dtype(dtype))


@pytest.mark.parametrize("case", WITH_PARAMS, ids=[c.name for c in WITH_PARAMS])
def test_float32_layer_computes_float64_inputs_in_float32(case):
    layer = case.make_layer(np.float32)
    ex64 = case.make_example(np.float64, 10)
    out = forward(layer, ex64)
    assert np.asarray(out).dtype == np.float32
    ex32 = case.make_example(np.float32, 10)
    back = layer.backward(ex32.dout)
    found = _dtypes(layer, out, back)
    assert found == dict.fromkeys(found, np.dtype(np.float32))


BACKWARD_MIXED = [c for c in CASES if c.name in ("RNN", "Affine", "TimeRNN", "TimeAffine")]


@pytest.mark.parametrize("case", BACKWARD_MIXED, ids=[c.name for c in BACKWARD_MIXED])
def test_float32_layer_backward_given_float64_dout_returns_float32(case):
    # (regression: backward used to compute in float64 and return float64 dx, dh_prev and
    #  TimeRNN.dh, next to a float32 TimeRNN dxs, while forward casts float64 inputs to float32)
    layer = case.make_layer(np.float32)
    forward(layer, case.make_example(np.float32, 10))
    back = layer.backward(case.make_example(np.float64, 10).dout)
    found = _dtypes(layer, None, back)
    del found["forward"]
    assert found == dict.fromkeys(found, np.dtype(np.float32))


def test_simple_rnnlm_float64_is_never_rounded_through_float32():
    """A float64 model must agree with a float64 NumPy recomputation to ~1e-12; anything
    computed in float32 on the way (a hard-coded 'f') would be off by ~1e-7."""
    model = SimpleRnnlm(V, D, H, dtype=np.float64, seed=3)
    ex = CASES[-1].make_example(np.float64, 10)
    xs, ts = ex.inputs
    loss = model.forward(xs, ts)
    embed_W, Wx, Wh, b, affine_W, affine_b = model.params
    h = np.zeros((N, H))
    total, count = 0.0, 0
    for t in range(T):
        h = np.tanh(embed_W[xs[:, t]] @ Wx + h @ Wh + b)
        logits = h @ affine_W + affine_b
        logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        for n in range(N):
            if ts[n, t] != -1:
                total -= logp[n, ts[n, t]]
                count += 1
    assert loss.dtype == np.float64
    np.testing.assert_allclose(loss, total / count, rtol=RTOL64, atol=0)


def check_time_rnn_keeps_float64(TimeRNN) -> None:
    case = CASES[3]
    assert case.name == "TimeRNN"
    layer = TimeRNN(*case.make_layer(np.float64).params)
    ex = case.make_example(np.float64, 10)
    hs = layer.forward(*ex.inputs)
    assert hs.dtype == np.float64, "hs"
    dxs = layer.backward(ex.dout)
    assert dxs.dtype == np.float64, "dxs"
    assert all(g.dtype == np.float64 for g in layer.grads), "grads"


def test_time_rnn_float64_params_give_float64_hs_and_dxs():
    check_time_rnn_keeps_float64(rnnref.TimeRNN)


def test_seed_time_rnn_hard_coded_float32_is_caught():
    # the notebook's TimeRNN allocates hs and dxs with dtype='f' whatever the params are
    with pytest.raises(AssertionError, match="hs"):
        check_time_rnn_keeps_float64(notebook.TimeRNN_all_fixed)
