"""What each layer means: one JAX function per layer, written from the mathematics.

Nothing here imports `rnnref`: the oracle must not share code with what it checks.
One module per family, each a tuple `SPECS` of `Spec`s (see `base.py` for what a
spec holds); adding a layer is one entry in its family's module:

  recurrent.py  RNN cells and their Time forms
  basic.py      affine maps, embeddings, softmax and sigmoid
  dropout.py    dropout (evaluation mode; training is checked with the randomness fixed)
  losses.py     losses
  models.py     language models
  word2vec.py   word2vec (ch01-ch04): embedding dot products, the one-hot networks
  seq2seq.py    seq2seq (ch07): LSTM encoder and decoder, the model on their loss
  attention.py  attention (ch08): the weights, the context vector, the attention seq2seq

`SPECS` gathers them by name, ordered so that a cell comes before the Time layers
built on it, layers before losses before models (the order of reports).
"""

from __future__ import annotations

from . import attention, basic, dropout, losses, models, recurrent, seq2seq, word2vec
from .base import (
    IGNORE_LABEL,
    LETTERS,
    PAD_LABEL,
    Arg,
    ArgKind,
    Convention,
    Spec,
    axis_letters,
    axis_parts,
    axis_terms,
    extent,
    shape_of,
)

FAMILIES = (recurrent, basic, dropout, losses, models, word2vec, seq2seq, attention)


def _order(spec: Spec) -> int:
    if spec.kind != "layer":
        return {"loss": 2, "model": 3}[spec.kind]
    has_time = any("T" in a.axes for a in spec.inputs)
    return 1 if has_time else 0


SPECS: dict[str, Spec] = {
    s.name: s
    for s in sorted((s for family in FAMILIES for s in family.SPECS), key=_order)  # stable sort
}

__all__ = [
    "FAMILIES",
    "IGNORE_LABEL",
    "LETTERS",
    "PAD_LABEL",
    "SPECS",
    "Arg",
    "ArgKind",
    "Convention",
    "Spec",
    "axis_letters",
    "axis_parts",
    "axis_terms",
    "extent",
    "shape_of",
]
