"""What a spec is: `Arg` (one array a layer takes) and `Spec` (a layer's meaning and
calling convention). The specs themselves are in the family modules of this package.

A `Spec` says how the layer is called (the book's protocol), which arrays its
constructor takes (in `params` order), and the axes of every array, as letters
N (batch), T (time), D (input width), H (hidden width), V (vocabulary).

The JAX functions are evaluated in float64 (see `oracle.py`, which enables x64).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Literal

import jax

IGNORE_LABEL = -1  # the book's TimeSoftmaxWithLoss.ignore_label

ArgKind = Literal["weight", "table", "bias", "float", "state", "tokens", "labels", "classes", "binary"]

# Label kinds: "labels" are class ids that may hold IGNORE_LABEL (the book's
# TimeSoftmaxWithLoss); "classes" are class ids in [0, V) with no ignore label (the
# book's SoftmaxWithLoss); "binary" are 0 or 1 (the sigmoid losses). Class ids may
# also be passed one-hot. A label kind pads with -1 (`PAD_LABEL`): the loss specs
# count only labels >= 0, so padded positions drop out of the mean; examples of
# "classes" and "binary" never hold -1.
LABEL_KINDS = ("labels", "classes", "binary")
PAD_LABEL = -1


@dataclass(frozen=True)
class Arg:
    """One array a layer takes: a parameter, a forward input, or the initial state.

    axes: dim letters of its shape, e.g. ("N", "T", "D").
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
        return self.kind != "tokens" and not self.is_label

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


@dataclass(frozen=True)
class Spec:
    """A layer's meaning and calling convention.

    params: the constructor's arrays, in the order of the layer's `params`/`grads`.
    inputs: forward's positional arguments.
    returns: names of the inputs whose gradients backward returns, in its order
      (RNN.backward returns (dx, dh_prev); TimeEmbedding.backward returns None).
    state: the initial hidden state, set with `set_state` and read back as `.dh`.
    fn(*params, *inputs[, state]) -> output, in JAX.
    kind: "layer" (backward takes an array), "loss" (forward returns a scalar,
      backward takes dout, a number), "model" (built from dims, params written in).
    cell: the single-step layer a Time layer must equal at T=1.
    conventions: outputs other than the exact one that are conventions, not bugs
      (the book's log(y + 1e-7)); `variant(c)` is the spec with one of them in.
    """

    name: str
    params: tuple[Arg, ...]
    inputs: tuple[Arg, ...]
    output_axes: tuple[str, ...]
    fn: Callable[..., jax.Array]
    kind: Literal["layer", "loss", "model"] = "layer"
    returns: tuple[str, ...] = ()
    state: Arg | None = None
    cell: str | None = None
    letters: tuple[str, ...] = field(default=())
    conventions: tuple[Convention, ...] = ()

    def __post_init__(self) -> None:
        if not self.letters:
            used = {a for arg in (*self.params, *self.inputs) for a in arg.axes}
            object.__setattr__(self, "letters", tuple(x for x in "NTDHV" if x in used))

    @property
    def args(self) -> tuple[Arg, ...]:
        """Every array the spec function takes, in its order."""
        return (*self.params, *self.inputs, *((self.state,) if self.state else ()))

    @property
    def grad_args(self) -> tuple[Arg, ...]:
        """The arrays whose gradients the layer must produce. A model has no `.dh`:
        its state starts at zeros after reset_state() and gets no gradient."""
        return tuple(a for a in self.args if a.differentiable and not (a is self.state and self.kind == "model"))

    @property
    def labels(self) -> Arg | None:
        """The input holding labels, if any."""
        return next((a for a in self.inputs if a.is_label), None)

    def variant(self, convention: Convention) -> Spec:
        """This spec with `convention`'s function (its own name, so its own compile)."""
        return _variant(self, convention)


@cache
def _variant(spec: Spec, convention: Convention) -> Spec:
    return replace(spec, name=f"{spec.name}~{convention.name}", fn=convention.fn, conventions=())
