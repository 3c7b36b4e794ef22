"""The word2vec family of rnnref (ch01-ch04) and TwoLayerNet: hand-computed values, a target word used
twice, bad input named, and the protocol (grads in place, inputs not mutated)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from gradcheck.engine import check_layer
from gradcheck.examples import make_example
from gradcheck.specs import SPECS
from rnnref import EmbeddingDot, SimpleCBOW, SimpleSkipGram, TwoLayerNet

RTOL64 = 1e-12  # a few roundings of O(1) values


def test_embedding_dot_scores_each_row_against_its_target_by_hand():
    W = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]])
    h = np.array([[1.0, 1.0], [2.0, 0.0]])
    layer = EmbeddingDot(W)
    out = layer.forward(h, np.array([1, 0]))
    np.testing.assert_allclose(out, [3 - 1, 2 * 1], rtol=RTOL64)
    dh = layer.backward(np.array([2.0, -1.0]))
    np.testing.assert_allclose(dh, [[6.0, -2.0], [-1.0, -2.0]], rtol=RTOL64)
    np.testing.assert_allclose(layer.grads[0], [[-2.0, 0.0], [2.0, 2.0], [0.0, 0.0]], rtol=RTOL64)


def test_embedding_dot_target_in_two_rows_gets_both_gradients():
    W = np.arange(6.0).reshape(3, 2)
    h = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    layer = EmbeddingDot(W)
    grads_before = layer.grads[0]
    layer.forward(h, np.array([2, 0, 2]))
    layer.backward(np.array([1.0, 1.0, 1.0]))
    assert layer.grads[0] is grads_before  # written in place
    np.testing.assert_allclose(layer.grads[0], [[3.0, 4.0], [0.0, 0.0], [6.0, 8.0]], rtol=RTOL64)


def test_embedding_dot_keeps_its_inputs_and_replaces_grads_each_backward():
    rng = np.random.default_rng(0)
    W, h, idx = rng.normal(size=(4, 3)), rng.normal(size=(2, 3)), np.array([3, 3])
    W0, h0 = W.copy(), h.copy()
    layer = EmbeddingDot(W)
    layer.forward(h, idx)
    h[...] = 0  # the caller reuses its buffer: the cached h must be ours
    layer.backward(np.ones(2))
    layer.backward(np.ones(2))
    np.testing.assert_array_equal(W, W0)
    np.testing.assert_allclose(layer.grads[0][3], h0.sum(axis=0), rtol=RTOL64)


@pytest.mark.parametrize(
    ("h", "idx", "message"),
    [
        (np.zeros((2, 3)), np.array([0, 5]), r"idx holds token id 5 at index \(1,\); ids must lie in \[0, 4\)"),
        (np.zeros((2, 2)), np.array([0, 1]), r"h"),
        (np.zeros((2, 3)), np.array([0.5, 1.0]), r"idx"),
    ],
)
def test_embedding_dot_names_bad_input(h, idx, message):
    with pytest.raises((ValueError, TypeError), match=message):
        EmbeddingDot(np.zeros((4, 3))).forward(h, idx)


def test_embedding_dot_backward_before_forward_says_so():
    with pytest.raises(RuntimeError, match="EmbeddingDot.backward called before forward"):
        EmbeddingDot(np.zeros((4, 3))).backward(np.ones(2))


# --- TwoLayerNet ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_two_layer_net_passes_every_check_in_its_dtype(dtype):
    """The checker builds a model as TwoLayerNet(input_size, hidden_size, output_size)
    (the spec's `sizes`: D, H, V) and checks it at the precision it computes in."""
    spec = SPECS["TwoLayerNet"]
    for seed in range(4):
        ex = make_example(spec, dict(N=3, D=4, H=5, V=6), seed, dtype, onehot=seed % 2 == 1)
        report = check_layer(functools.partial(TwoLayerNet, dtype=dtype), spec, example=ex)
        assert report.passed, report.render()
        assert not report.layers[0].warnings, report.render()


def test_two_layer_net_built_as_the_book_builds_it():
    model = TwoLayerNet(3, 5, 4, seed=0)  # input_size, hidden_size, output_size
    assert [p.shape for p in model.params] == [(3, 5), (5,), (5, 4), (4,)]
    assert all(p.dtype == np.float64 for p in model.params)
    x, t = np.random.default_rng(1).normal(size=(2, 3)), np.array([3, 0])
    loss = model.forward(x, t)
    assert loss.shape == () and np.isclose(loss, np.log(4), rtol=1e-2)  # weights of 0.01: near-uniform
    dx = model.backward(2.0)
    assert dx.shape == (2, 3) and model.grads[3].shape == (4,)
    np.testing.assert_allclose(model.forward(x, np.eye(4, dtype=np.int64)[t]), loss, rtol=RTOL64)  # one-hot t


def test_a_model_built_with_the_wrong_size_order_fails_its_check():
    """A TwoLayerNet whose constructor reads (output_size, input_size, hidden_size)
    cannot take the checker's arrays: a finding that names the shapes, not a pass."""

    def swapped(input_size, hidden_size, output_size):
        return TwoLayerNet(output_size, input_size, hidden_size)

    report = check_layer(swapped, "TwoLayerNet", dims=dict(N=2, D=3, H=4, V=5))
    assert not report.passed
    assert "expected shape (3, 4)" in report.render()


# --- SimpleSkipGram -------------------------------------------------------------------


def onehot(ids, V: int) -> np.ndarray:
    return np.eye(V, dtype=np.int32)[np.asarray(ids)]  # int32 like the book's convert_one_hot


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_simple_skip_gram_passes_every_check_in_its_dtype(dtype):
    spec = SPECS["SimpleSkipGram"]
    for seed in range(3):
        ex = make_example(spec, dict(N=3, H=4, V=5), seed, dtype)
        report = check_layer(functools.partial(SimpleSkipGram, dtype=dtype), spec, example=ex)
        assert report.passed, report.render()
        assert not report.layers[0].warnings, report.render()


def test_simple_skip_gram_loss_is_the_sum_over_both_context_words():
    model = SimpleSkipGram(5, 3, seed=0)
    W_in, W_out = model.params
    contexts, target = onehot([[1, 2], [0, 4]], 5), onehot([3, 3], 5)
    s = (target @ W_in) @ W_out
    logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    expected = -(logp[[0, 1], [1, 0]].mean() + logp[[0, 1], [2, 4]].mean())
    np.testing.assert_allclose(model.forward(contexts, target), expected, rtol=1e-6)
    assert model.backward(2.0) is None
    assert model.word_vecs is W_in and not model.grads[0][[0, 1, 2, 4]].any()  # only the target's row


@pytest.mark.parametrize(
    ("contexts", "target", "message"),
    [
        (onehot([[1, 2]], 5), np.array([[0, 1, 1, 0, 0]]), r"target\[0\] is not a one-hot row"),
        (onehot([[1, 2]], 5), onehot([3], 4), r"target must have shape \(N, 5\)"),
        (onehot([1, 2], 5), onehot([3, 3], 5), r"contexts must have shape \(2, 2, 5\)"),
        (onehot([[1, 2]], 5) * 0.5, onehot([3], 5), r"contexts\[0, 0\] is not a one-hot row"),
    ],
)
def test_simple_skip_gram_names_input_that_is_not_one_hot(contexts, target, message):
    with pytest.raises(ValueError, match=message):
        SimpleSkipGram(5, 3, seed=0).forward(contexts, target)


def test_onehot_inputs_are_drawn_as_one_hot_rows_with_a_fixed_context_axis():
    spec = SPECS["SimpleSkipGram"]
    ex = make_example(spec, dict(N=4, H=2, V=6), seed=3)
    contexts, target = ex.values["contexts"], ex.values["target"]
    assert contexts.shape == (4, 2, 6) and target.shape == (4, 6)
    for rows in (contexts, target):
        assert set(np.unique(rows)) <= {0, 1} and (rows.sum(axis=-1) == 1).all()
    assert not any(a.differentiable for a in spec.inputs)


def test_a_skip_gram_that_drops_one_context_words_gradient_fails():
    """The known-wrong case for the one-hot model: the scores feed both losses."""

    class OneContext(SimpleSkipGram):
        def backward(self, dout=1):
            self.in_layer.backward(self.out_layer.backward(self.loss_layers[0].backward(dout)))

    spec = SPECS["SimpleSkipGram"]
    ex = make_example(spec, dict(N=3, H=4, V=5), 0)
    report = check_layer(functools.partial(OneContext, dtype=np.float64), spec, example=ex)
    assert not report.passed and "backward-jax" in report.render()


# --- SimpleCBOW -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_simple_cbow_passes_every_check_in_its_dtype(dtype):
    spec = SPECS["SimpleCBOW"]
    for seed in range(3):
        ex = make_example(spec, dict(N=3, H=4, V=5), seed, dtype)
        report = check_layer(functools.partial(SimpleCBOW, dtype=dtype), spec, example=ex)
        assert report.passed, report.render()
        assert not report.layers[0].warnings, report.render()
        assert "W_in is tied: params[1] is W_in; its gradient is checked as grads[1] plus" in report.render()


def test_simple_cbow_averages_the_context_vectors_and_lists_W_in_twice():
    model = SimpleCBOW(5, 3, seed=0)
    W_in, W_in_again, W_out = model.params
    assert W_in is W_in_again and model.word_vecs is W_in
    contexts, target = onehot([[1, 2], [0, 0]], 5), onehot([3, 4], 5)
    s = ((W_in[[1, 0]] + W_in[[2, 0]]) / 2) @ W_out
    logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(model.forward(contexts, target), -logp[[0, 1], [3, 4]].mean(), rtol=1e-6)
    assert model.backward(1.0) is None
    # one gradient per context layer: each touches the rows of its own context words
    assert set(np.flatnonzero(model.grads[0].any(axis=1))) == {0, 1}
    assert set(np.flatnonzero(model.grads[1].any(axis=1))) == {0, 2}
    np.testing.assert_allclose(model.grads[0][0], model.grads[1][0], rtol=1e-6)  # word 0 in both, same dh row


def test_a_cbow_whose_second_context_layer_holds_a_copy_of_W_in_fails_tied():
    """The known-wrong case for `tied` without a transpose: a copy trains apart."""

    class Copied(SimpleCBOW):
        def __init__(self, V, H):
            super().__init__(V, H, dtype=np.float64)
            self.in_layers[1].params[0] = self.params[1] = self.params[0].copy()

    spec = SPECS["SimpleCBOW"]
    report = check_layer(Copied, spec, example=make_example(spec, dict(N=2, H=3, V=4), 0))
    assert not report.passed
    assert "params[1] must be W_in, the same memory (SimpleCBOW ties the weights)" in report.render()


def test_a_cbow_that_does_not_halve_the_context_gradient_fails():
    class NotHalved(SimpleCBOW):
        def backward(self, dout=1):
            dh = self.out_layer.backward(self.loss_layer.backward(dout))
            for layer in self.in_layers:
                layer.backward(dh)

    spec = SPECS["SimpleCBOW"]
    ex = make_example(spec, dict(N=3, H=4, V=5), 0)
    report = check_layer(functools.partial(NotHalved, dtype=np.float64), spec, example=ex)
    assert not report.passed and "backward-jax" in report.render()
