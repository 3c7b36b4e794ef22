"""Mutants of the word2vec family: EmbeddingDot, TwoLayerNet, SimpleSkipGram, SimpleCBOW,
NegativeSamplingLoss, CBOW, SkipGram."""

from __future__ import annotations

import numpy as np

import rnnref

from . import Mutant, edit

_EMBED_DOT = ("EmbeddingDot",)
_TWO_LAYER = ("TwoLayerNet",)
_SKIP_GRAM = ("SimpleSkipGram",)
_CBOW = ("SimpleCBOW",)

MUTANTS: list[Mutant] = [
    edit(
        "EmbeddingDot", "backward",
        old="np.add.at(dW, idx, dout * h)",
        new="dW[idx] += dout * h  # BUG: buffered fancy-index add: a repeated target gets one row",
        name="embedding-dot-assign-not-add-at", family="assignment instead of np.add.at", layers=_EMBED_DOT,
        description="dW[idx] += dout * h: a target in two rows keeps one contribution",
    ),
    edit(
        "EmbeddingDot", "backward",
        old="return dout * target_W",
        new="return dout * h  # BUG: dh is dout times the target's embedding, not h",
        name="embedding-dot-dh-wrong-factor", family="wrong derivative", layers=_EMBED_DOT,
        description="dh = dout * h instead of dout * W[idx]",
    ),
    edit(
        "EmbeddingDot", "forward",
        old="return np.sum(target_W * h, axis=1)",
        new="return np.sum(target_W * h, axis=0)  # BUG: summed over the batch, not over D",
        name="embedding-dot-sum-wrong-axis", family="reduction over the wrong axis", layers=_EMBED_DOT,
        description="forward sums over the batch axis: (D,), not (N,)",
    ),
    edit(
        "TwoLayerNet", "_collect",
        old="for layer in self.layers:",
        new="for layer in self.layers[:1]:  # BUG: self.layers, the second Affine too",
        name="two-layer-net-params-left-out", family="model leaves a layer's params out", layers=_TWO_LAYER,
        description="params/grads collect the first Affine only",
    ),
    edit(
        "TwoLayerNet", "backward",
        old="grad: Any = self.loss_layer.backward(dout)",
        new="grad: Any = self.loss_layer.backward()  # BUG: dout dropped: the loss's gradient is taken as 1",
        name="two-layer-net-dout-ignored", family="dout ignored", layers=_TWO_LAYER,
        description="backward calls loss_layer.backward() without dout",
    ),
    edit(
        "SimpleSkipGram", "backward",
        old="ds = self.loss_layers[0].backward(dout) + self.loss_layers[1].backward(dout)",
        new="ds = self.loss_layers[0].backward(dout)  # BUG: the second context word's gradient is dropped",
        name="simple-skip-gram-one-context-gradient", family="a gradient path dropped", layers=_SKIP_GRAM,
        description="ds takes the first loss's gradient only; the scores feed both",
    ),
    edit(
        "SimpleSkipGram", "forward",
        old="return l0 + l1",
        new="return (l0 + l1) / 2  # BUG: the book sums the two context losses, it does not average them",
        name="simple-skip-gram-losses-averaged", family="mean instead of sum", layers=_SKIP_GRAM,
        description="forward returns the mean of the two context losses, backward the sum's gradient",
    ),
    edit(
        "SimpleCBOW", "backward",
        old="dh = self.out_layer.backward(self.loss_layer.backward(dout)) * 0.5",
        new="dh = self.out_layer.backward(self.loss_layer.backward(dout))  # BUG: h is the mean of two vectors",
        name="simple-cbow-context-gradient-not-halved", family="gradient not divided as the forward does",
        layers=_CBOW,
        description="each context layer gets dh, not dh * 0.5, though h = (h0 + h1) * 0.5",
    ),
    edit(
        "SimpleCBOW", "backward",
        old="for layer in self.in_layers:",
        new="for layer in self.in_layers[:1]:  # BUG: both context words' layers get dh",
        name="simple-cbow-one-context-gradient", family="gradient not duplicated as the forward does",
        layers=_CBOW,
        description="only the first context layer runs backward; grads[1] keeps zeros",
    ),
    edit(
        "SimpleCBOW", "predict",
        old="return self.out_layer.forward((h0 + h1) * 0.5)",
        new="return self.out_layer.forward(h0 + h1)  # BUG: the sum of the context vectors, not their mean",
        name="simple-cbow-forward-sum-not-mean", family="mean instead of sum", layers=_CBOW,
        description="forward sums the two context vectors; backward halves dh as for the mean",
    ),
]


class _SamplerKeepsTarget(rnnref.UnigramSampler):
    def row_p(self, target_word: int) -> np.ndarray:
        return self.word_p  # BUG: the target keeps its share of p: a word can be drawn as its own negative


class NegativeSamplingTargetInP(rnnref.NegativeSamplingLoss):
    """rnnref.NegativeSamplingLoss whose sampler leaves the target in the distribution."""

    def __init__(self, W: np.ndarray, corpus: np.ndarray, power: float = 0.75, sample_size: int = 5) -> None:
        super().__init__(W, corpus, power, sample_size)
        self.sampler = _SamplerKeepsTarget(corpus, power, sample_size)  # BUG: its row_p keeps the target's share


_NEG = ("NegativeSamplingLoss",)

MUTANTS += [
    edit(
        "NegativeSamplingLoss", "forward",
        old="label[:, 0] = 1",
        new="label[:, 1:] = 1  # BUG: labels exchanged: the negatives get 1, the target 0",
        name="neg-sampling-labels-swapped", family="negative labels swapped", layers=_NEG,
        description="the target is scored against label 0 and its negatives against 1",
    ),
    Mutant(
        "neg-sampling-target-in-p", "target left in the sampling distribution", _NEG,
        "the sampler draws from count ** 0.75 without removing the row's target: a word can be its own negative",
        written=NegativeSamplingTargetInP,
    ),
    edit(
        "NegativeSamplingLoss", "backward",
        old="np.add.at(dW, words, dscore[:, :, None] * h[:, None, :])",
        new="np.add.at(dW, words[:, :1], dscore[:, :1, None] * h[:, None, :])  # BUG: the negatives' rows of dW dropped",
        name="neg-sampling-negatives-dW-dropped", family="a gradient path dropped", layers=_NEG,
        description="dW gets the target's contribution only, not its negatives'",
    ),
    edit(
        "NegativeSamplingLoss", "backward",
        old="np.add.at(dW, words, dscore[:, :, None] * h[:, None, :])",
        new="dW[words] += dscore[:, :, None] * h[:, None, :]  # BUG: buffered fancy-index add: a repeated word gets one row",
        name="neg-sampling-assign-not-add-at", family="assignment instead of np.add.at", layers=_NEG,
        description="dW[words] += ...: a word drawn in two rows (or as a target and a negative) keeps one contribution",
    ),
]

_CBOW4 = ("CBOW",)
_SKIP_GRAM4 = ("SkipGram",)

MUTANTS += [
    edit(
        "CBOW", "backward",
        old="dh = self.ns_loss.backward(dout) * (1 / self.n_contexts)",
        new="dh = self.ns_loss.backward(dout)  # BUG: h is the mean of the context rows: each gets dh / 2",
        name="cbow-context-gradient-not-divided", family="gradient not divided as the forward does",
        layers=_CBOW4,
        description="each context word's row gets dh, not dh / (2 * window_size), though h is their mean",
    ),
    edit(
        "CBOW", "backward",
        old="self.in_layer.backward(np.repeat(dh[:, None, :], self.n_contexts, axis=1))",
        new="""dhs = np.zeros((dh.shape[0], self.n_contexts, dh.shape[1]), dtype=dh.dtype)
dhs[:, 0] = dh  # BUG: every context word's row feeds h, not the first only
self.in_layer.backward(dhs)""",
        name="cbow-one-context-gradient", family="gradient not duplicated as the forward does", layers=_CBOW4,
        description="only the first context word's row gets dh; the others' rows of dW_in stay 0",
    ),
    edit(
        "CBOW", "forward",
        old="h = self.in_layer.forward(contexts).sum(axis=1) * (1 / self.n_contexts)",
        new="h = self.in_layer.forward(contexts).sum(axis=1)  # BUG: the sum of the context rows, not their mean",
        name="cbow-forward-sum-not-mean", family="mean instead of sum", layers=_CBOW4,
        description="forward sums the context rows; backward divides dh as for the mean",
    ),
    edit(
        "CBOW", "backward",
        old="dh = self.ns_loss.backward(dout) * (1 / self.n_contexts)",
        new="dh = self.ns_loss.backward(dout) * 0.5  # BUG: SimpleCBOW's mean of two, at any window_size",
        name="cbow-gradient-halved-at-any-window", family="gradient not divided as the forward does",
        layers=_CBOW4,
        description="backward divides dh by 2, as SimpleCBOW's two contexts: right only at window_size 1",
    ),
    edit(
        "SkipGram", "forward",
        old="return sum((layer.forward(h, contexts[:, k]) for k, layer in enumerate(self.loss_layers)), np.zeros((), h.dtype))",
        new="return sum((layer.forward(h, contexts[:, k]) for k, layer in enumerate(self.loss_layers[:2])), "
        "np.zeros((), h.dtype))  # BUG: SimpleSkipGram's two contexts, at any window_size",
        name="skip-gram-two-contexts-at-any-window", family="a loop over the wrong length",
        layers=_SKIP_GRAM4,
        description="forward scores the first two context words only, as SimpleSkipGram (right only at window_size "
        "1); backward then meets losses forward never ran",
    ),
    edit(
        "SkipGram", "backward",
        old="dh = np.sum([layer.backward(dout) for layer in self.loss_layers], axis=0)",
        new="dh = [layer.backward(dout) for layer in self.loss_layers][0]  # BUG: h feeds every context's loss: sum them",
        name="skip-gram-one-context-dh", family="a gradient path dropped", layers=_SKIP_GRAM4,
        description="dW_in takes the first context word's loss gradient only",
    ),
    edit(
        "SkipGram", "backward",
        old="dW_out[...] = np.sum([layer.grads[0] for layer in self.loss_layers], axis=0)",
        new="dW_out[...] = self.loss_layers[0].grads[0]  # BUG: every context word's loss uses W_out: sum their grads",
        name="skip-gram-dW-out-one-context", family="tied weights' gradients not summed", layers=_SKIP_GRAM4,
        description="dW_out is the first context word's loss's gradient only",
    ),
]
