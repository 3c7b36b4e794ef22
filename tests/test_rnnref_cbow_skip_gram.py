"""rnnref's CBOW and SkipGram (ch04): against their JAX specs given the negatives
their losses drew, against the book's at the same seed, and bad input named."""

from __future__ import annotations

import json
import subprocess
import sys

import jax
import numpy as np
import pytest
from test_book_corpus import BOOK

from gradcheck.specs.losses import sigmoid_cross_entropy
from gradcheck.specs.word2vec import cbow, skip_gram
from gradcheck.stochastic import fixed_random  # also turns on JAX float64 (gradcheck.oracle)
from rnnref import CBOW, SkipGram

CORPUS = np.repeat(np.arange(8), np.arange(1, 9))
RTOL = 1e-10


def _model(cls, rng):
    model = cls(8, 3, 1, CORPUS, dtype=np.float64)
    W_in, W_out = rng.normal(size=(8, 3)), rng.normal(size=(8, 3))
    model.params[0][...], model.params[1][...] = W_in, W_out
    return model, W_in, W_out


@pytest.mark.parametrize(("cls", "spec", "draws"), [(CBOW, cbow, 1), (SkipGram, skip_gram, 2)])
def test_model_equals_its_spec_given_the_negatives_its_losses_drew(cls, spec, draws):
    """The negatives are re-drawn through the losses' own samplers, in the order the
    model draws them (SkipGram: context 0's rows, then context 1's)."""
    rng = np.random.default_rng(1)
    model, W_in, W_out = _model(cls, rng)
    contexts, target = np.array([[1, 2], [2, 2], [7, 0], [5, 3]]), np.array([0, 4, 4, 6])
    with fixed_random(5):
        loss = model.forward(contexts, target)
    model.backward(1.3)
    samplers = [model.ns_loss.sampler] if cls is CBOW else [layer.sampler for layer in model.loss_layers]
    words = [target] if cls is CBOW else [contexts[:, 0], contexts[:, 1]]
    with fixed_random(5):
        negatives = np.stack([s.get_negative_sample(w) for s, w in zip(samplers, words, strict=True)])
    negatives = negatives[0] if cls is CBOW else negatives
    assert negatives.shape[-2:] == (4, 5) and len(samplers) == draws
    fn = spec(sigmoid_cross_entropy)
    ref, vjp = jax.vjp(lambda a, b: fn(a, b, contexts, target, negatives), W_in, W_out)
    assert float(loss) == pytest.approx(float(ref), rel=RTOL)
    dW_in, dW_out = vjp(np.float64(1.3))
    np.testing.assert_allclose(model.grads[0], dW_in, rtol=RTOL, atol=1e-13)
    np.testing.assert_allclose(model.grads[1], dW_out, rtol=RTOL, atol=1e-13)


@pytest.mark.parametrize("cls", [CBOW, SkipGram])
def test_model_lists_each_weight_once_and_names_bad_input(cls):
    model = cls(8, 3, 2, CORPUS)
    assert len(model.params) == len(model.grads) == 2 and model.params[0].dtype == np.float32
    assert model.word_vecs is model.params[0]
    with pytest.raises(ValueError, match=r"contexts must have shape"):
        model.forward(np.zeros((3, 2), dtype=np.int64), np.zeros(3, dtype=np.int64))  # window 2: 4 contexts
    with pytest.raises(ValueError, match=r"window_size must be a positive int"):
        cls(8, 3, 0, CORPUS)


BOOK_SCRIPT = """
import json, sys
import numpy as np
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/ch04"]
from cbow import CBOW as BookCBOW
from skip_gram import SkipGram as BookSkipGram
import rnnref
rng = np.random.default_rng(6)
corpus = np.repeat(np.arange(9), rng.integers(1, 6, 9))
W_in, W_out = rng.normal(size=(9, 4)), rng.normal(size=(9, 4))
contexts, target = rng.integers(0, 9, (5, 4)), rng.integers(0, 9, 5)
out = {}
for name, book, ours in (("CBOW", BookCBOW, rnnref.CBOW), ("SkipGram", BookSkipGram, rnnref.SkipGram)):
    for who, cls in (("book", book), ("rnnref", ours)):
        model = cls(9, 4, 2, corpus)
        untied = [model.params[0], model.params[4 if name == "CBOW" and who == "book" else 1]]
        for p, v in zip(untied, (W_in, W_out)):
            p[...] = v
        np.random.seed(21)
        loss = float(model.forward(contexts, target))
        model.backward(1.0)
        sums = [sum(g for p, g in zip(model.params, model.grads) if p is q) for q in untied]
        out[name + "/" + who] = [loss, [s.tolist() for s in sums]]
print(json.dumps(out))
"""


@pytest.mark.skipif(not (BOOK / "ch04" / "cbow.py").is_file(), reason="no ../shared/book")
def test_models_equal_the_books_at_the_same_seed():
    """Window 2 (four context words), float32 as the book's: the same negatives at the
    same seed, so the same loss and (the book's tied entries summed) gradients."""
    got = subprocess.run(
        [sys.executable, "-c", BOOK_SCRIPT, str(BOOK)], capture_output=True, text=True, timeout=120, check=True
    )
    out = json.loads(got.stdout)
    for name in ("CBOW", "SkipGram"):
        book, ours = out[f"{name}/book"], out[f"{name}/rnnref"]
        # float32, and the book's SigmoidWithLoss is -log(y + 1e-7)
        assert ours[0] == pytest.approx(book[0], rel=1e-5), name
        for a, b in zip(ours[1], book[1], strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6, err_msg=name)


class MixedListingCBOW(CBOW):
    """Correct: W_in listed once per context word, as the book's CBOW does, over a
    loss that lists W_out once (the book lists it once per EmbeddingDot). The
    book's optimizer sums duplicates, so it trains as the book's does."""

    def _build(self, W_in, W_out, corpus):
        super()._build(W_in, W_out, corpus)
        gW_in, gW_out = self.grads
        self.params = [W_in] * self.n_contexts + [W_out]
        self.grads = [gW_in, *(np.zeros_like(gW_in) for _ in range(self.n_contexts - 1)), gW_out]


class MixedListingCBOWWrongOut(MixedListingCBOW):
    def backward(self, dout=1):
        super().backward(dout)
        self.grads[-1] *= 0.5  # BUG: dW_out halved


def test_a_model_listing_one_tied_weight_as_the_book_and_another_once_is_checked():
    """Found by review: it was a crash ('params holds 5 arrays; the model has 10 (or
    2 ...)'), a false alarm. Each tied weight may now be listed either way."""
    from gradcheck.engine import check_layer

    report = check_layer(MixedListingCBOW, "CBOW", dims={"N": 3, "H": 2, "V": 7})
    assert report.passed and not report.layers[0].warnings, report.layers[0].failures
    messages = [f.message for f in report.layers[0].failures + report.layers[0].warnings]
    assert messages == []
    wrong = check_layer(MixedListingCBOWWrongOut, "CBOW", dims={"N": 3, "H": 2, "V": 7}).layers[0]
    assert {(f.check, f.tensor) for f in wrong.failures if f.check == "backward-jax"} == {("backward-jax", "dW_out")}
