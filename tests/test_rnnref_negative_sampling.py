"""rnnref's UnigramSampler and NegativeSamplingLoss (ch04): the sampler's distribution
(unigram ** power within binomial bounds, the target never its own negative), the
loss by hand, against its JAX spec given the negatives drawn, and against the book's."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import jax
import numpy as np
import pytest
from test_book_corpus import BOOK

from gradcheck.specs.losses import sigmoid_cross_entropy
from gradcheck.specs.word2vec import negative_sampling
from gradcheck.stochastic import fixed_random  # also turns on JAX float64 (gradcheck.oracle)
from rnnref import NegativeSamplingLoss, UnigramSampler

RTOL64 = 1e-12  # a few roundings of O(1) values
SIGMAS = 6.0  # binomial bound of the frequency checks: a false alarm every ~5e8 runs
CORPUS = np.array([0, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 4, 5, 5])


def _unigram(corpus: np.ndarray, power: float, without: int) -> np.ndarray:
    p = np.bincount(corpus).astype(float) ** power
    p[without] = 0
    return p / p.sum()


@pytest.mark.parametrize("power", [0.75, 1.0])
def test_sampler_draws_unigram_to_the_power_within_binomial_bounds(power):
    """sample_size=1: each row's one negative is one draw from count ** power with
    the row's target removed (with sample_size > 1 and no replacement the later
    columns are not distributed so)."""
    sampler = UnigramSampler(CORPUS, power, 1)
    n, target = 40_000, 3
    with fixed_random(1234):
        drawn = sampler.get_negative_sample(np.full(n, target))[:, 0]
    freq = np.bincount(drawn, minlength=6) / n
    p = _unigram(CORPUS, power, target)
    sigma = np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(freq - p) <= SIGMAS * sigma + 1e-12), (freq, p)
    # The bound can fail: 0.75 and 1 are told apart at this n (word 0: 0.067 vs 0.1).
    other = _unigram(CORPUS, 1.75 - power, target)
    assert np.any(np.abs(freq - other) > SIGMAS * sigma)


def test_sampler_never_draws_the_target_and_draws_distinct_negatives():
    sampler = UnigramSampler(CORPUS, 0.75, 5)
    target = np.resize(np.arange(6), 3000)
    with fixed_random(7):
        neg = sampler.get_negative_sample(target)
    assert neg.shape == (3000, 5)
    assert not (neg == target[:, None]).any()
    assert all(len(set(row)) == 5 for row in neg.tolist())  # without replacement, as the book's


def test_sampler_draws_from_the_global_generator_a_caller_seeds():
    sampler = UnigramSampler(CORPUS, 0.75, 3)
    target = np.array([0, 3, 5, 5])
    with fixed_random(11):
        a = sampler.get_negative_sample(target)
    with fixed_random(11):
        b = sampler.get_negative_sample(target)
    np.testing.assert_array_equal(a, b)
    with fixed_random(11):
        big = sampler.get_negative_sample(np.resize(target, 64))
    with fixed_random(12):
        other = sampler.get_negative_sample(np.resize(target, 64))
    np.testing.assert_array_equal(big[:4], a)  # row by row from the stream: a prefix draws alike
    assert not np.array_equal(big, other)


@pytest.mark.parametrize(
    ("corpus", "sample_size", "message"),
    [
        (np.array([0, 1, 1]), 2, r"2 distinct words: sample_size=2 .* at least sample_size \+ 1"),
        (np.array([0, -1, 2]), 1, r"all >= 0"),
        (np.array([0.0, 1.0]), 1, r"corpus must be an integer array"),
        (CORPUS, 0, r"sample_size must be a positive int"),
    ],
)
def test_sampler_names_bad_input(corpus, sample_size, message):
    with pytest.raises((ValueError, TypeError), match=message):
        UnigramSampler(corpus, 0.75, sample_size)


def test_loss_names_a_target_out_of_range_and_a_corpus_larger_than_w():
    with pytest.raises(ValueError, match=r"W has 4 rows"):
        NegativeSamplingLoss(np.zeros((4, 2)), CORPUS, sample_size=2)
    layer = NegativeSamplingLoss(np.zeros((6, 2)), CORPUS, sample_size=2)
    with pytest.raises(ValueError, match=r"target holds token id 6"):
        layer.forward(np.zeros((1, 2)), np.array([6]))


def test_loss_by_hand_with_one_negative():
    """corpus of two words: the one negative of target 0 is 1, and of 1 is 0."""
    W = np.array([[1.0, 0.0], [0.0, 2.0]])
    h = np.array([[1.0, 1.0], [0.5, -1.0]])
    layer = NegativeSamplingLoss(W, np.array([0, 1]), sample_size=1)
    loss = layer.forward(h, np.array([0, 1]))
    # row 0: target score 1, negative score 2; row 1: target score -2, negative score 0.5
    sp = lambda x: math.log1p(math.exp(x))  # noqa: E731  softplus: -log sigmoid(-x)
    expected = (sp(-1) + sp(2) + sp(2) + sp(0.5)) / 2
    assert loss == pytest.approx(expected, rel=RTOL64)
    dh = layer.backward(1.0)
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    d = np.array([[sig(1) - 1, sig(2)], [sig(-2) - 1, sig(0.5)]]) / 2  # dscore: (row, target/negative)
    np.testing.assert_allclose(dh, [[d[0, 0], 2 * d[0, 1]], [d[1, 1], 2 * d[1, 0]]], rtol=RTOL64)
    dW = np.array([[d[0, 0] * h[0] + d[1, 1] * h[1]], [d[0, 1] * h[0] + d[1, 0] * h[1]]])[:, 0]
    np.testing.assert_allclose(layer.grads[0], dW, rtol=RTOL64)


def test_loss_equals_its_spec_given_the_negatives_and_backward_equals_jax():
    """The negatives come from re-drawing through the layer's own sampler with the
    seed the forward ran under; the spec takes them as an input."""
    rng = np.random.default_rng(3)
    N, D, S = 7, 4, 3
    W, h = rng.normal(size=(6, D)), rng.normal(size=(N, D))
    target = np.array([3, 3, 0, 5, 2, 3, 1])  # repeats: np.add.at must sum them
    layer = NegativeSamplingLoss(W, CORPUS, sample_size=S)
    with fixed_random(99):
        loss = layer.forward(h, target)
    with fixed_random(99):
        negatives = layer.sampler.get_negative_sample(target)
    dout = 1.7
    dh = layer.backward(dout)
    spec = negative_sampling(sigmoid_cross_entropy)
    ref, vjp = jax.vjp(lambda W_, h_: spec(W_, h_, target, negatives), W, h)
    assert loss == pytest.approx(float(ref), rel=RTOL64)
    dW_ref, dh_ref = vjp(np.float64(dout))
    np.testing.assert_allclose(dh, dh_ref, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(layer.grads[0], dW_ref, rtol=1e-10, atol=1e-14)
    # The check can fail: other negatives give another loss.
    with fixed_random(100):
        others = layer.sampler.get_negative_sample(target)
    assert float(spec(W, h, target, others)) != pytest.approx(float(loss), rel=1e-6)


def test_spec_does_not_count_a_padded_row():
    rng = np.random.default_rng(4)
    W, h = rng.normal(size=(6, 3)), rng.normal(size=(3, 3))
    target, negatives = np.array([1, 4, -1]), np.array([[0, 2], [3, 5], [0, 0]])
    spec = negative_sampling(sigmoid_cross_entropy)
    np.testing.assert_allclose(spec(W, h, target, negatives), spec(W, h[:2], target[:2], negatives[:2]), rtol=RTOL64)


BOOK_SCRIPT = """
import json, sys
import numpy as np
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/ch04"]
from negative_sampling_layer import NegativeSamplingLoss as Book
from rnnref import NegativeSamplingLoss
rng = np.random.default_rng(5)
corpus = rng.integers(0, 9, 200)
W, h, target = rng.normal(size=(9, 4)), rng.normal(size=(6, 4)), np.array([0, 8, 8, 3, 1, 0])
out = {}
for name, cls in (("book", Book), ("rnnref", NegativeSamplingLoss)):
    np.random.seed(21)
    layer = cls(W.copy(), corpus, 0.75, 4)
    loss = float(layer.forward(h, target))
    dh = layer.backward(1.0)
    out[name] = [loss, dh.tolist(), sum(layer.grads).tolist()]
print(json.dumps(out))
"""


@pytest.mark.skipif(not (BOOK / "ch04" / "negative_sampling_layer.py").is_file(), reason="no ../shared/book")
def test_loss_equals_the_books_at_the_same_seed():
    """Same p, same per-row np.random.choice: the same negatives, so the same loss,
    dh and (the book's S + 1 tied entries summed) dW."""
    got = subprocess.run(
        [sys.executable, "-c", BOOK_SCRIPT, str(BOOK)], capture_output=True, text=True, timeout=120, check=True
    )
    out = json.loads(got.stdout)
    book, ours = out["book"], out["rnnref"]
    # The book's SigmoidWithLoss is -log(y + 1e-7): about 1e-7 / y per score.
    assert ours[0] == pytest.approx(book[0], rel=1e-5)
    np.testing.assert_allclose(ours[1], book[1], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours[2], book[2], rtol=1e-9, atol=1e-12)


def test_sampler_keeps_every_word_id_when_the_corpus_skips_one():
    """The vocabulary is [0, max id]: word 4 is drawn though id 1 never occurs. (The
    book's sampler sizes it len(set(corpus)) = 4 and never draws word 4; a corpus
    from the book's preprocess has no gaps, so this shows only on hand-made ids.)"""
    corpus = np.array([0, 2, 2, 3, 3, 3, 4])
    sampler = UnigramSampler(corpus, 0.75, 1)
    with fixed_random(0):
        drawn = sampler.get_negative_sample(np.zeros(2000, dtype=np.int64))[:, 0]
    counts = np.bincount(drawn, minlength=5)
    assert counts[1] == 0 and counts[0] == 0
    assert counts[4] > 0
