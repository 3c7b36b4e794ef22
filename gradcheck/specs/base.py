"""What a spec is: `Arg` (one array a layer takes) and `Spec` (a layer's meaning and
calling convention). The specs themselves are in the family modules of this package.

A `Spec` says how the layer is called (the book's protocol), which arrays its
constructor takes (in `params` order), and the axes of every array, as letters
N (batch), T (time), S (a second sequence's length: the encoder's, which an
attention decoder reads while it runs T steps of its own), D (input width), H
(hidden width), V (vocabulary), with blocks ("4H") and sums ("H+D") of them
(`axis_terms`).

The JAX functions are evaluated in float64 (see `oracle.py`, which enables x64).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Literal

import jax

from ..profiles import LETTERS

IGNORE_LABEL = -1  # the book's TimeSoftmaxWithLoss.ignore_label

ArgKind = Literal[
    "weight", "table", "bias", "float", "state", "tokens", "labels", "classes", "binary", "onehot", "drawn"
]

# Label kinds: "labels" are class ids that may hold IGNORE_LABEL (the book's
# TimeSoftmaxWithLoss); "classes" are class ids in [0, V) with no ignore label (the
# book's SoftmaxWithLoss); "binary" are 0 or 1 (the sigmoid losses). Class ids may
# also be passed one-hot. A label kind pads with -1 (`PAD_LABEL`): the loss specs
# count only labels >= 0, so padded positions drop out of the mean; examples of
# "classes" and "binary" never hold -1.
LABEL_KINDS = ("labels", "classes", "binary")
PAD_LABEL = -1
# "onehot": words given as one-hot rows, the book's ch03 input (contexts (N, 2, V),
# target (N, V)): ids in [0, V) drawn and stored one-hot, the last axis V. A
# matrix product reads them, so they are inputs, not labels; they have no
# gradient, and pad with 0 (a padded row or class is no word).
# "drawn": word ids the layer draws itself in forward (NegativeSamplingLoss's
# negatives), which the spec takes as an input (`Spec.drawn`): no gradient; the
# example holds zeros until the checker records what the layer drew
# (gradcheck/sampling.py).


@dataclass(frozen=True)
class Arg:
    """One array a layer takes: a parameter, a forward input, or the initial state.

    axes: dim letters of its shape, e.g. ("N", "T", "D"); an axis may be blocks
      ("4H") or a sum of parts ("H+D"), see `axis_terms`.
    kind: how examples are drawn (weights scaled by 1/sqrt(fan-in), activations in
      (-1, 1), embedding tables in (-1, 1), token ids, labels with ignore_label),
      and whether it has a gradient
      (every float kind does; tokens and labels do not).
    pad: the value that leaves the result unchanged when the oracle pads this array
      to a larger shape (see `oracle.py`): 0 nearly everywhere, -inf for a bias
      over vocabulary classes that do not exist, ignore_label for labels.
    """

    name: str
    axes: tuple[str, ...]
    kind: ArgKind
    pad: float = 0.0

    @property
    def differentiable(self) -> bool:
        return self.kind not in ("tokens", "onehot", "drawn") and not self.is_label

    @property
    def is_label(self) -> bool:
        return self.kind in LABEL_KINDS

    @property
    def onehot_ok(self) -> bool:
        """Class ids, which a layer may also take as one-hot rows."""
        return self.kind in ("labels", "classes")

    @property
    def has_ignore_label(self) -> bool:
        return self.kind == "labels"


@dataclass(frozen=True)
class Convention:
    """A known way of computing a layer's output that differs from the exact spec
    without being a wrong gradient (docs/design-notes.md, "Conventions").

    fn: the spec's function with the convention in (same arguments); message: the
    warning that names it, from the one check that probes it (`extreme`)."""

    name: str
    fn: Callable[..., jax.Array]
    message: str


def tie(entry: str) -> tuple[str, bool]:
    """A `Spec.tied` entry -> (the param it repeats, whether it is its transpose):
    "embed_W.T" -> ("embed_W", True), "W_in" -> ("W_in", False)."""
    return (entry[:-2], True) if entry.endswith(".T") else (entry, False)


@cache
def axis_terms(axis: str) -> tuple[tuple[int, str], ...]:
    """An axis is a sum of terms, each a dim letter with an optional block count:
    "H" -> ((1, "H"),), "4H" -> ((4, "H"),), the width of an LSTM's four gates side
    by side (each block H wide); "H+D" -> ((1, "H"), (1, "D")), an H-wide part then
    a D-wide one, concatenated (PeekyDecoder's LSTM reads the encoder's h next to
    each embedded word); or a number alone, a fixed extent: "2" -> ((2, ""),), the
    book's two context words. The oracle pads each block of each term on its own."""
    return tuple(_term(t) for t in axis.split("+"))


def _term(term: str) -> tuple[int, str]:
    if term.isdigit():
        return int(term), ""
    count, letter = term[:-1], term[-1]
    return (int(count) if count else 1), letter


def axis_parts(axis: str) -> tuple[int, str]:
    """The one term of an axis that is no sum: "4H" -> (4, "H"), "2" -> (2, "")."""
    terms = axis_terms(axis)
    if len(terms) != 1:
        raise ValueError(f"axis {axis!r} is a sum of {len(terms)} parts")
    return terms[0]


def axis_letters(axis: str) -> tuple[str, ...]:
    """The dim letters an axis' extent depends on: "H+D" -> ("H", "D"); "2" -> ()."""
    return tuple(letter for _, letter in axis_terms(axis) if letter)


def extent(axis: str, dims: Mapping[str, int]) -> int:
    """The length of `axis` at `dims`: "4H" at H=3 is 12; "H+D" at H=3, D=2 is 5;
    "2" is 2."""
    return sum(count * dims[letter] if letter else count for count, letter in axis_terms(axis))


def shape_of(axes: Sequence[str], dims: Mapping[str, int]) -> tuple[int, ...]:
    return tuple(extent(a, dims) for a in axes)


@dataclass(frozen=True)
class Spec:
    """A layer's meaning and calling convention.

    params: the constructor's arrays, in the order of the layer's `params`/`grads`.
    inputs: forward's positional arguments.
    returns: names of the inputs whose gradients backward returns, in its order
      (RNN.backward returns (dx, dh_prev); TimeEmbedding.backward returns None).
    state: the initial hidden state, set with `set_state` and read back as `.dh`.
    carry: more initial state the layer keeps between calls (TimeLSTM's c), given to
      `set_state(h, *carry)` after the state; the book exposes no gradient for it.
    final(*args) -> (state, *carry) after the sequence, in JAX: what a stateful layer
      carries into its next forward (checked chunk by chunk).
    outputs: for a cell that returns several arrays (LSTM: h_next, c_next), their
      names; they are the blocks of `output_axes`' last axis, in order, and
      backward takes one gradient per block.
    fn(*params, *inputs, *drawn[, state, *carry]) -> output, in JAX.
    kind: "layer" (backward takes an array), "loss" (forward returns a scalar,
      backward takes dout, a number), "model" (built from dims, params written in).
    sizes: a model's constructor arguments, as the dims they are: SimpleRnnlm(
      vocab_size, wordvec_size, hidden_size) is ("V", "D", "H"), the book's
      TwoLayerNet(input_size, hidden_size, output_size) is ("D", "H", "V").
    cell: the single-step layer a Time layer must equal at T=1.
    pads_time: the oracle may pad T with steps after the real ones (see oracle.py);
      False for a function that also reads the sequence from its end (TimeBiLSTM),
      where padded steps would come first (the same as "T" in `unpadded`).
    unpadded: dims the oracle must not pad, because padding them changes the
      result: V for a softmax over x @ W with no bias to give padded classes -inf.
    train_flag: a layer that draws randomness when training (dropout): how it is
      told, "argument" (forward(..., train_flg=...)) or "attribute" (layer.train_flg);
      fn is then its evaluation-mode meaning (see gradcheck/stochastic.py).
    tied: one parameter listed twice in the layer's params: (position of the second
      entry, what it is: "embed_W.T", the transpose of embed_W in the same memory
      (BetterRnnlm's weight tying), or "W_in", the very same array (SimpleCBOW's two
      input layers); see `tie`). Such an entry is not in `params`; the gradient of
      the param is the sum of its two entries in grads.
    conventions: outputs other than the exact one that are conventions, not bugs
      (the book's log(y + 1e-7)); `variant(c)` is the spec with one of them in.
    from_sizes: a layer built like a model, from its `sizes`, the example's params
      then written into its params (the book's Encoder(vocab_size, wordvec_size,
      hidden_size)); it is still called as a layer (backward takes an array).
    min_dims: (letter, least extent) the examples keep to: Seq2seq needs T >= 2.
    generates: a model with generate(xs, start_id, sample_size), its inputs (xs,
      ts), or a decoder with generate(h, start_id, sample_size), its inputs (xs, h):
      checked for word ids, determinism, params untouched and greedy decoding
      (protocol.py).
    decode(*params, source, fed) -> scores (N, T, V): what generate decodes from,
      the scores of the words `fed` (start id, then the ids generate returned but
      the last) given the `source` generate is given (xs for a model, h for a
      decoder); see `decoding`. Each id generate returns must be an argmax of its
      step's scores.
    distribution_over: the output is a probability distribution over this axis for
      every index of the others, non-negative and summing to 1 (AttentionWeight:
      over T, the encoder steps); property_tests/test_attention_weights.py asserts
      it of the spec and of rnnref.
    drawn: what the layer draws at random in forward and the spec takes after the
      inputs (NegativeSamplingLoss's negatives, axes in draw order); the checker
      holds np.random fixed and records the draws (gradcheck/sampling.py).
    extra_args(dims): constructor arguments after the arrays (or sizes), built from
      the example's dims: NegativeSamplingLoss(W, corpus), CBOW(V, H, window_size, corpus).
    sampler: the layer takes (W, corpus) and draws its negatives from count ** 0.75
      with the target left out: the draws get a statistical check (sampling.py).
    """

    name: str
    params: tuple[Arg, ...]
    inputs: tuple[Arg, ...]
    output_axes: tuple[str, ...]
    fn: Callable[..., jax.Array]
    kind: Literal["layer", "loss", "model"] = "layer"
    sizes: tuple[str, ...] = ("V", "D", "H")
    returns: tuple[str, ...] = ()
    state: Arg | None = None
    carry: tuple[Arg, ...] = ()
    final: Callable[..., tuple[jax.Array, ...]] | None = None
    outputs: tuple[str, ...] = ()
    cell: str | None = None
    pads_time: bool = True
    unpadded: tuple[str, ...] = ()
    train_flag: Literal["argument", "attribute"] | None = None
    tied: tuple[tuple[int, str], ...] = ()
    letters: tuple[str, ...] = field(default=())
    conventions: tuple[Convention, ...] = ()
    from_sizes: bool = False
    min_dims: tuple[tuple[str, int], ...] = ()
    generates: bool = False
    distribution_over: str | None = None
    decode: Callable[..., jax.Array] | None = None
    drawn: tuple[Arg, ...] = ()
    extra_args: Callable[[Mapping[str, int]], tuple] | None = None
    sampler: bool = False

    def __post_init__(self) -> None:
        if not self.letters:
            used = {x for arg in (*self.params, *self.inputs) for a in arg.axes for x in axis_letters(a)}
            object.__setattr__(self, "letters", tuple(x for x in LETTERS if x in used))
        if not self.pads_time and "T" not in self.unpadded:
            object.__setattr__(self, "unpadded", (*self.unpadded, "T"))
        if self.state is not None and self.final is None:
            raise ValueError(f"{self.name}: a spec with a state says what it carries on (final=)")
        if self.generates and self.decode is None:
            raise ValueError(f"{self.name}: a spec that generates says what it decodes from (decode=)")

    def model_sizes(self, dims: Mapping[str, int]) -> tuple[int, ...]:
        """The arguments a model is built with at `dims` (see `sizes`)."""
        return tuple(dims[letter] for letter in self.sizes)

    def constructor_extra(self, dims: Mapping[str, int]) -> tuple:
        """The constructor's arguments after its arrays or sizes (see `extra_args`)."""
        return tuple(self.extra_args(dims)) if self.extra_args is not None else ()

    @property
    def sized(self) -> bool:
        """Built from `sizes` (a model, or a layer `from_sizes`): it chooses its dtype."""
        return self.kind == "model" or self.from_sizes

    @property
    def limits(self) -> dict[str, int]:
        """min_X options for the example strategy (strategies.examples)."""
        return {f"min_{k}": n for k, n in self.min_dims}

    @property
    def states(self) -> tuple[Arg, ...]:
        """The state a stateful layer carries between calls: (state, *carry)."""
        return (self.state, *self.carry) if self.state is not None else ()

    @property
    def args(self) -> tuple[Arg, ...]:
        """Every array the spec function takes, in its order."""
        return (*self.params, *self.inputs, *self.drawn, *self.states)

    @property
    def grad_args(self) -> tuple[Arg, ...]:
        """The arrays whose gradients the layer must produce. A model has no `.dh`:
        its state starts at zeros after reset_state() and gets no gradient; nor does
        a carry (the book's TimeLSTM keeps no `dc`)."""
        return tuple(
            a
            for a in self.args
            if a.differentiable and a not in self.carry and not (a is self.state and self.kind == "model")
        )

    @property
    def labels(self) -> Arg | None:
        """The input holding labels, if any."""
        return next((a for a in self.inputs if a.is_label), None)

    def variant(self, convention: Convention) -> Spec:
        """This spec with `convention`'s function (its own name, so its own compile)."""
        return _variant(self, convention)

    @property
    def generate_inputs(self) -> tuple[Arg, Arg]:
        """(source, fed) of a spec that generates: what generate is given (Seq2seq's
        xs, a decoder's h) and the word ids its decoder reads (Seq2seq's ts, a
        decoder's xs: the last tokens input)."""
        fed = [a for a in self.inputs if a.kind == "tokens"][-1]
        return next(a for a in self.inputs if a is not fed), fed

    @property
    def decoding(self) -> Spec:
        """The spec of `decode` (scores (N, T, V) of the ids fed, (N, T), from the
        source), padded as this spec is (its own name, so its own compile): the ids
        fed pad with word 0, as padded steps come after the real ones."""
        return _decoding(self)


@cache
def _decoding(spec: Spec) -> Spec:
    assert spec.decode is not None, f"{spec.name} does not generate"
    source, fed = spec.generate_inputs
    return replace(
        spec,
        name=f"{spec.name}~decode",
        inputs=(source, replace(fed, pad=0.0)),
        output_axes=("N", "T", "V"),
        fn=spec.decode,
        kind="layer",
        returns=(),
        generates=False,
        decode=None,
        conventions=(),
    )


@cache
def _variant(spec: Spec, convention: Convention) -> Spec:
    return replace(spec, name=f"{spec.name}~{convention.name}", fn=convention.fn, conventions=())
