"""Bad input raises ValueError / TypeError naming the argument and the expected shape,
and a call that fails leaves the layer as it was."""

from __future__ import annotations

import re

import numpy as np
import pytest

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

D, H, V = 3, 4, 5


def f64(*shape) -> np.ndarray:
    return np.random.default_rng(sum(shape)).standard_normal(shape)


def rnn_params(dtype=np.float64):
    return f64(D, H).astype(dtype), f64(H, H).astype(dtype), f64(H).astype(dtype)


def raises(exc, *fragments: str):
    """pytest.raises that also requires every fragment (argument name, expected shape)
    to appear literally in the message."""
    return pytest.raises(exc, match="(?s)" + "".join(f"(?=.*{re.escape(f)})" for f in fragments))


# ---------------------------------------------------------------------------
# constructors


@pytest.mark.parametrize(
    ("make", "exc", "fragments"),
    [
        (lambda: RNN(f64(D, H), f64(D, D), f64(H)), ValueError, ("Wh", f"({H}, {H})", f"({D}, {D})")),
        (lambda: RNN(f64(D, H), f64(H, H), f64(H + 1)), ValueError, ("b", f"({H},)")),
        (lambda: RNN(f64(D), f64(H, H), f64(H)), ValueError, ("Wx", "(D, H)")),
        (lambda: RNN(np.ones((D, H), dtype=np.int64), f64(H, H), f64(H)), TypeError, ("Wx", "float")),
        (lambda: RNN(f64(D, H), f64(H, H).astype(np.float32), f64(H)), TypeError, ("Wh", "float64", "float32")),
        (lambda: TimeRNN(f64(D, H), f64(H, H), f64(H, 1)), ValueError, ("b", f"({H},)")),
        (lambda: Affine(f64(D, H), f64(D)), ValueError, ("b", f"({H},)")),
        (lambda: TimeAffine(f64(D, H, 1), f64(H)), ValueError, ("W", "(D, M)")),
        (lambda: TimeAffine(f64(D, H), f64(H).astype(np.float32)), TypeError, ("b", "float64")),
        (lambda: Embedding(f64(V)), ValueError, ("W", "(V, D)")),
        (lambda: TimeEmbedding(np.ones((V, D), dtype=np.int32)), TypeError, ("W", "float")),
    ],
)
def test_constructor_rejects_bad_params_naming_them(make, exc, fragments):
    with raises(exc, *fragments):
        make()


@pytest.mark.parametrize(
    ("args", "kwargs", "exc", "name"),
    [
        ((0, 3, 4), {}, ValueError, "vocab_size"),
        ((5, -1, 4), {}, ValueError, "wordvec_size"),
        ((5, 3, 2.5), {}, ValueError, "hidden_size"),
        ((5, 3, 4), {"dtype": np.int32}, TypeError, "dtype"),
    ],
)
def test_simple_rnnlm_rejects_bad_sizes_and_dtype_naming_them(args, kwargs, exc, name):
    with raises(exc, name):
        SimpleRnnlm(*args, **kwargs)


# ---------------------------------------------------------------------------
# forward / backward arguments


def test_rnn_forward_rejects_bad_x_and_h_prev():
    layer = RNN(*rnn_params())
    with raises(ValueError, "x", f"(N, {D})", "(2, 7)"):
        layer.forward(f64(2, 7), f64(2, H))
    with raises(ValueError, "h_prev", f"(2, {H})", f"(3, {H})"):
        layer.forward(f64(2, D), f64(3, H))
    with raises(TypeError, "x", "float"):
        layer.forward(np.ones((2, D), dtype=np.int64), f64(2, H))


def test_rnn_backward_rejects_bad_dh_next():
    layer = RNN(*rnn_params())
    layer.forward(f64(2, D), f64(2, H))
    with raises(ValueError, "dh_next", f"(2, {H})", f"(2, {H + 1})"):
        layer.backward(f64(2, H + 1))


def test_time_rnn_forward_rejects_bad_xs():
    layer = TimeRNN(*rnn_params())
    with raises(ValueError, "xs", f"(N, T, {D})", f"(2, 5, {D + 1})"):
        layer.forward(f64(2, 5, D + 1))
    with raises(ValueError, "xs", f"(N, T, {D})", f"(5, {D})"):
        layer.forward(f64(5, D))
    with raises(TypeError, "xs", "float", "int64"):
        layer.forward(np.ones((2, 5, D), dtype=np.int64))


def test_time_rnn_backward_rejects_bad_dhs():
    layer = TimeRNN(*rnn_params())
    layer.forward(f64(2, 5, D))
    with raises(ValueError, "dhs", f"(2, 5, {H})", f"(2, 4, {H})"):
        layer.backward(f64(2, 4, H))


def test_time_rnn_set_state_rejects_bad_h():
    layer = TimeRNN(*rnn_params(), stateful=True)
    with raises(ValueError, "h", f"(N, {H})", f"(2, {H + 1})"):
        layer.set_state(f64(2, H + 1))
    with raises(TypeError, "h", "float"):
        layer.set_state(np.zeros((2, H), dtype=np.int64))


def test_backward_before_forward_raises_runtime_error():
    for layer in (RNN(*rnn_params()), TimeRNN(*rnn_params()), Affine(f64(D, H), f64(H)), Embedding(f64(V, D)),
                  TimeAffine(f64(D, H), f64(H)), TimeEmbedding(f64(V, D)), TimeSoftmaxWithLoss()):
        with raises(RuntimeError, type(layer).__name__, "before forward"):
            layer.backward(f64(1, 1))


@pytest.mark.parametrize("layer_cls", [Embedding, TimeEmbedding])
def test_embedding_rejects_float_ids_and_ids_outside_the_vocabulary(layer_cls):
    name, shape = ("idx", (3,)) if layer_cls is Embedding else ("xs", (1, 3))
    layer = layer_cls(f64(V, D))
    with raises(TypeError, name, "integer"):
        layer.forward(np.zeros(shape))
    for bad in (V, -1):  # -1 would silently read the last row
        ids = np.zeros(shape, dtype=np.int64)
        ids.flat[1] = bad
        with raises(ValueError, name, f"token id {bad} ", f"[0, {V})"):
            layer.forward(ids)


def test_time_affine_forward_rejects_bad_xs():
    layer = TimeAffine(f64(D, H), f64(H))
    with raises(ValueError, "xs", f"(N, T, {D})", f"(2, 3, {D + 2})"):
        layer.forward(f64(2, 3, D + 2))


def test_time_softmax_with_loss_rejects_bad_xs_and_ts():
    layer = TimeSoftmaxWithLoss()
    with raises(ValueError, "xs", "(N, T, V)", f"(2, {V})"):
        layer.forward(f64(2, V), np.zeros((2,), dtype=np.int64))
    with raises(ValueError, "ts", "(2, 3)", "(3, 2)"):
        layer.forward(f64(2, 3, V), np.zeros((3, 2), dtype=np.int64))
    with raises(ValueError, "ts", f"(2, 3, {V})", f"(2, 3, {V + 1})"):
        layer.forward(f64(2, 3, V), np.zeros((2, 3, V + 1)))
    with raises(TypeError, "ts", "integer"):
        layer.forward(f64(2, 3, V), np.zeros((2, 3)))


# ---------------------------------------------------------------------------
# a failed call leaves the layer as it was


def test_failed_time_rnn_forward_leaves_state_and_cache_unchanged():
    layer = TimeRNN(*rnn_params(), stateful=True)
    xs, dhs = f64(2, 3, D), f64(2, 3, H)
    layer.forward(xs)
    h, h_copy, layers = layer.h, layer.h.copy(), layer.layers
    for bad in (f64(2, 3, D + 1), np.ones((2, 3, D), dtype=np.int64), f64(5, 3, D)):  # the last: wrong N for h
        with pytest.raises((ValueError, TypeError)):
            layer.forward(bad)
        assert layer.h is h and layer.layers is layers
        np.testing.assert_array_equal(layer.h, h_copy)
    # backward still belongs to the last successful forward
    reference = TimeRNN(*rnn_params(), stateful=True)
    reference.forward(xs)
    np.testing.assert_array_equal(layer.backward(dhs), reference.backward(dhs))
    np.testing.assert_array_equal(layer.dh, reference.dh)


def test_carried_state_of_the_wrong_batch_size_raises_naming_h():
    layer = TimeRNN(*rnn_params(), stateful=True)
    layer.forward(f64(2, 3, D))
    with raises(ValueError, "h", f"(2, {H})", "N=5", "reset_state"):
        layer.forward(f64(5, 3, D))
    layer.reset_state()
    assert layer.forward(f64(5, 3, D)).shape == (5, 3, H)


def test_failed_backward_leaves_grads_and_dh_unchanged():
    layer = TimeRNN(*rnn_params())
    layer.forward(f64(2, 3, D))
    layer.backward(f64(2, 3, H))
    grads, dh = [g.copy() for g in layer.grads], layer.dh.copy()
    with pytest.raises(ValueError):
        layer.backward(f64(2, 4, H))
    for g, g0 in zip(layer.grads, grads, strict=True):
        np.testing.assert_array_equal(g, g0)
    np.testing.assert_array_equal(layer.dh, dh)


def test_failed_loss_forward_keeps_the_previous_cache():
    layer = TimeSoftmaxWithLoss()
    xs = f64(1, 2, V)
    layer.forward(xs, np.array([[1, 2]]))
    before = layer.backward(1.0)
    with pytest.raises(ValueError):
        layer.forward(f64(1, 2, V) * 10, np.array([[1, V]]))
    np.testing.assert_array_equal(layer.backward(1.0), before)


def test_failed_embedding_forward_keeps_the_previous_ids():
    layer = TimeEmbedding(f64(V, D))
    layer.forward(np.array([[1, 2]]))
    with pytest.raises(ValueError):
        layer.forward(np.array([[0, V]]))
    layer.backward(np.ones((1, 2, D)))
    (dW,) = layer.grads
    np.testing.assert_array_equal(dW, [[0.0] * D, [1.0] * D, [1.0] * D, [0.0] * D, [0.0] * D])
