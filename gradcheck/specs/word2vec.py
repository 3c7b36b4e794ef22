"""The word2vec family (the book's chapters 1-4): embedding dot products, and the
small networks trained on one-hot words."""

from __future__ import annotations

from collections.abc import Mapping

import jax.numpy as jnp
import numpy as np

from .base import PAD_LABEL, Arg, Convention, Spec
from .basic import affine, embedding, matmul, sigmoid
from .losses import SIGMOID_EPS, SOFTMAX_EPS, sigmoid_cross_entropy, softmax_cross_entropy


def embedding_dot(W, h, idx):
    """The score of each row of h against its target's embedding: sum_d W[idx, d] h[:, d]."""
    return jnp.sum(embedding(W, idx) * h, axis=-1)


def two_layer_net(loss):
    """x -> affine -> sigmoid -> affine -> `loss` with class ids t."""

    def fn(W1, b1, W2, b2, x, t):
        return loss(affine(W2, b2, sigmoid(affine(W1, b1, x))), t)

    return fn


def word_ids(onehot):
    """One-hot rows (..., V) -> word ids (...); an all-zero row (padding) -> PAD_LABEL,
    which the losses do not count."""
    return jnp.where(onehot.sum(axis=-1) > 0, jnp.argmax(onehot, axis=-1), PAD_LABEL)


def simple_skip_gram(loss):
    """h = target @ W_in, s = h @ W_out, and `loss` of s against each of the two
    context words, summed."""

    def fn(W_in, W_out, contexts, target):
        s = matmul(W_out, matmul(W_in, target))
        return loss(s, word_ids(contexts[:, 0])) + loss(s, word_ids(contexts[:, 1]))

    return fn


def simple_cbow(loss):
    """h = the mean of the two context words' rows of W_in, s = h @ W_out, `loss` of
    s against the target word."""

    def fn(W_in, W_out, contexts, target):
        h = (matmul(W_in, contexts[:, 0]) + matmul(W_in, contexts[:, 1])) * 0.5
        return loss(matmul(W_out, h), word_ids(target))

    return fn


def negative_sampling(loss):
    """The target word's score against label 1 and each of its negatives' (N, S)
    against label 0, through the binary `loss` (a mean over counted positions):
    the book sums S + 1 means over the batch, which is S + 1 times the mean over
    all (N, S + 1) scores. A padded row (target PAD_LABEL) is not counted."""

    def fn(W, h, target, negatives):
        words = jnp.concatenate([target[:, None], negatives], axis=1)  # (N, 1 + S): the target first
        scores = jnp.sum(embedding(W, words) * h[:, None, :], axis=-1)
        first = jnp.arange(words.shape[1])[None, :] == 0
        labels = jnp.where(target[:, None] >= 0, jnp.where(first, 1, 0), PAD_LABEL)
        return words.shape[1] * loss(scores, labels)

    return fn


# The book's NegativeSamplingLoss(W, corpus, power=0.75, sample_size=5): the spec
# takes S = 5 negatives per row (a fixed extent), so V >= S + 1 distinct words.
SAMPLE_SIZE = 5
# CBOW and SkipGram are built with window_size 2: four context words, so that a
# model written for SimpleCBOW's two (a mean taken as * 0.5, contexts[:, 0] and
# contexts[:, 1] alone) is wrong on the examples, as it is on the book's data
# (window_size 5 in ch04's training script).
WINDOW = 2
CONTEXTS = 2 * WINDOW


def unigram_corpus(V: int) -> np.ndarray:
    """A corpus over the vocabulary [0, V) with every id present (the book sizes its
    sampler's vocabulary as the number of distinct ids): word w appears w + 1 times."""
    return np.repeat(np.arange(V), np.arange(1, V + 1))


def corpus_args(dims: Mapping[str, int]) -> tuple:
    """NegativeSamplingLoss(W, corpus)'s arguments after W."""
    return (unigram_corpus(dims["V"]),)


def cbow(loss):
    """h = the mean of the context words' rows of W_in, then negative sampling of h
    against the target with W_out."""
    ns = negative_sampling(loss)

    def fn(W_in, W_out, contexts, target, negatives):
        return ns(W_out, jnp.mean(embedding(W_in, contexts), axis=1), target, negatives)

    return fn


def skip_gram(loss):
    """h = the target's row of W_in, then negative sampling of h against each
    context word with W_out, summed; negatives (contexts, N, S): each context word's
    loss draws its own, the first context's rows first."""
    ns = negative_sampling(loss)

    def fn(W_in, W_out, contexts, target, negatives):
        h = embedding(W_in, target)
        return sum(ns(W_out, h, contexts[:, k], negatives[k]) for k in range(contexts.shape[1]))

    return fn


def window_corpus_args(dims: Mapping[str, int]) -> tuple:
    """CBOW(V, H, window_size, corpus)'s arguments after the sizes: window_size WINDOW."""
    return (WINDOW, *corpus_args(dims))


def with_book_loss(net, exact=softmax_cross_entropy, book=SOFTMAX_EPS):
    """A network over a loss (softmax cross-entropy unless told): its exact function,
    and its function with the book's loss (log(y + 1e-7)) as the one convention."""
    convention = Convention(book.name, net(book.fn), book.message)
    return {"fn": net(exact), "conventions": (convention,)}


SPECS = (
    Spec(
        "EmbeddingDot",
        params=(Arg("W", ("V", "D"), "table"),),
        inputs=(Arg("h", ("N", "D"), "float"), Arg("idx", ("N",), "tokens")),
        output_axes=("N",),
        fn=embedding_dot,
        returns=("h",),
    ),
    Spec(
        "TwoLayerNet",
        params=(
            Arg("W1", ("D", "H"), "weight"),
            Arg("b1", ("H",), "bias"),
            Arg("W2", ("H", "V"), "weight"),
            Arg("b2", ("V",), "bias", pad=-jnp.inf),  # padded classes: probability 0
        ),
        inputs=(Arg("x", ("N", "D"), "float"), Arg("t", ("N",), "classes", PAD_LABEL)),
        output_axes=(),
        kind="model",
        sizes=("D", "H", "V"),  # TwoLayerNet(input_size, hidden_size, output_size)
        returns=("x",),
        **with_book_loss(two_layer_net),
    ),
    Spec(
        "SimpleSkipGram",
        params=(Arg("W_in", ("V", "H"), "table"), Arg("W_out", ("H", "V"), "weight")),
        inputs=(Arg("contexts", ("N", "2", "V"), "onehot"), Arg("target", ("N", "V"), "onehot")),
        output_axes=(),
        kind="model",
        sizes=("V", "H"),  # SimpleSkipGram(vocab_size, hidden_size)
        # No bias to give padded classes a logit of -inf: x @ W_out would give them 0.
        unpadded=("V",),
        **with_book_loss(simple_skip_gram),
    ),
    Spec(
        "SimpleCBOW",
        params=(Arg("W_in", ("V", "H"), "table"), Arg("W_out", ("H", "V"), "weight")),
        inputs=(Arg("contexts", ("N", "2", "V"), "onehot"), Arg("target", ("N", "V"), "onehot")),
        output_axes=(),
        kind="model",
        sizes=("V", "H"),  # SimpleCBOW(vocab_size, hidden_size)
        unpadded=("V",),  # as SimpleSkipGram: no bias for padded classes
        tied=((1, "W_in"),),  # params: [W_in, W_in, W_out], one MatMul(W_in) per context word
        **with_book_loss(simple_cbow),
    ),
    Spec(
        "NegativeSamplingLoss",
        params=(Arg("W", ("V", "D"), "table"),),
        # A padded row's target is PAD_LABEL: the spec does not count it.
        inputs=(Arg("h", ("N", "D"), "float"), Arg("target", ("N",), "tokens", PAD_LABEL)),
        drawn=(Arg("negatives", ("N", str(SAMPLE_SIZE)), "drawn"),),
        output_axes=(),
        kind="loss",
        returns=("h",),
        # The book lists W once per EmbeddingDot: S + 1 entries of the same array.
        tied=tuple((i, "W") for i in range(1, SAMPLE_SIZE + 1)),
        min_dims=(("V", SAMPLE_SIZE + 1),),
        extra_args=corpus_args,
        sampler=True,
        **with_book_loss(negative_sampling, sigmoid_cross_entropy, SIGMOID_EPS),  # the book's SigmoidWithLoss
    ),
    Spec(
        "CBOW",
        params=(Arg("W_in", ("V", "H"), "table"), Arg("W_out", ("V", "H"), "table")),
        # window_size WINDOW: 2 * WINDOW context words; a padded row's target is not counted.
        inputs=(Arg("contexts", ("N", str(CONTEXTS)), "tokens"), Arg("target", ("N",), "tokens", PAD_LABEL)),
        drawn=(Arg("negatives", ("N", str(SAMPLE_SIZE)), "drawn"),),
        output_axes=(),
        kind="model",
        sizes=("V", "H"),  # CBOW(vocab_size, hidden_size, window_size, corpus)
        extra_args=window_corpus_args,
        # The book's params: W_in once per context word, W_out once per EmbeddingDot.
        tied=(
            *((i, "W_in") for i in range(1, CONTEXTS)),
            *((i, "W_out") for i in range(CONTEXTS + 1, CONTEXTS + SAMPLE_SIZE + 1)),
        ),
        min_dims=(("V", SAMPLE_SIZE + 1),),
        **with_book_loss(cbow, sigmoid_cross_entropy, SIGMOID_EPS),
    ),
    Spec(
        "SkipGram",
        params=(Arg("W_in", ("V", "H"), "table"), Arg("W_out", ("V", "H"), "table")),
        # A padded row's context words are the labels: not counted.
        inputs=(Arg("contexts", ("N", str(CONTEXTS)), "tokens", PAD_LABEL), Arg("target", ("N",), "tokens")),
        # in draw order: context by context
        drawn=(Arg("negatives", (str(CONTEXTS), "N", str(SAMPLE_SIZE)), "drawn"),),
        output_axes=(),
        kind="model",
        sizes=("V", "H"),  # SkipGram(vocab_size, hidden_size, window_size, corpus)
        extra_args=window_corpus_args,
        # The book's params: W_in, then W_out once per EmbeddingDot of each context word's loss.
        tied=tuple((i, "W_out") for i in range(2, CONTEXTS * (SAMPLE_SIZE + 1) + 1)),
        min_dims=(("V", SAMPLE_SIZE + 1),),
        **with_book_loss(skip_gram, sigmoid_cross_entropy, SIGMOID_EPS),
    ),
)
