"""The oracle's padding is exact: an example padded up to a bucket gives the same
output and vjp as the same example evaluated at its own shape, for every spec,
while the padded calls compile once per spec.

The unpadded side compiles once per distinct shape (0.1-1 s each), so its dims
come from a few configurations below the bucket, chosen so that every axis is
padded by several amounts, including zero on some axes (at the bucket's extent).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prop_support import BUCKET

from gradcheck import strategies as gs
from gradcheck.compare import PRECISIONS, compare
from gradcheck.examples import make_example
from gradcheck.oracle import Oracle
from gradcheck.specs import SPECS

PADDED, UNPADDED = Oracle(), Oracle()
FINALS = Oracle()  # its own: the final state is not padded in time (it runs in pieces of 2^k steps)
# spec.final in one piece, unpadded: jitted (one trace per shape, 3 per spec) rather than run
# op by op, which traced its scan anew on every example (~30 ms each, a sixth of this module).
WHOLE: dict[str, Callable] = {}
# Below BUCKET (N=3, T=5, D=4, H=4, V=6): minimal, middling, and some axes unpadded.
CONFIGS = (
    {"N": 1, "T": 1, "S": 1, "D": 1, "H": 1, "V": 2},
    {"N": 2, "T": 3, "S": 2, "D": 2, "H": 3, "V": 4},
    {"N": 3, "T": 2, "S": 3, "D": 4, "H": 1, "V": 6},
)
TOL = PRECISIONS[np.dtype(np.float64)].analytic
# Every spec, and the decode of each that generates (the scores generate's check reads).
ALL = {**SPECS, **{s.decoding.name: s.decoding for s in SPECS.values() if s.generates}}


@st.composite
def padded_cases(draw, name):
    spec = ALL[name]
    dims = {k: v for k, v in draw(st.sampled_from(CONFIGS), label="dims").items() if k in spec.letters}
    N, T = dims["N"], dims.get("T", 1)
    kinds = {a.kind for a in spec.args}
    tokens = labels = None
    if "tokens" in kinds:
        tokens = draw(gs.first_tokens(spec, dims), label="tokens")
    if "labels" in kinds:
        labels = draw(gs.labels_NT(N, T, dims["V"]), label="labels")
    seed = draw(st.integers(0, 2**16), label="seed")
    ex = make_example(spec, dims, seed, np.float64, tokens=tokens, labels=labels, extreme=draw(st.booleans()))
    for arg in spec.states:  # a nonzero initial state (h and TimeLSTM's c), as stateful chunks pass it
        ex.values[arg.name] = np.random.default_rng(seed).uniform(-0.9, 0.9, ex.values[arg.name].shape)
    return ex


@pytest.mark.parametrize("name", list(ALL))
def test_padding_to_a_bucket_gives_the_unpadded_result(name):
    spec = ALL[name]
    before = PADDED.compiles

    @given(ex=padded_cases(name))
    def padded_equals_unpadded(ex):
        big = PADDED(spec, ex.values, ex.dout, ex.dims, bucket=BUCKET)
        own = UNPADDED(spec, ex.values, ex.dout, ex.dims, bucket=ex.dims)
        pairs = [("out", big.out, own.out)] + [(f"d{k}", big.grads[k], own.grads[k]) for k in own.grads]
        assert sorted(big.grads) == sorted(own.grads)
        for what, a, b in pairs:
            assert np.isfinite(b).all(), f"{name} {what} unpadded is not finite"
            c = compare(a, b, TOL)
            assert c.ok, f"{name} {what}: padded differs from unpadded ({c.ratio:.3g}x the tolerance) at {c.worst[:1]}"
        if spec.final is not None:  # the state carried on: padded in all but time, run in pieces of 2^k steps
            final = WHOLE.get(name) or WHOLE.setdefault(name, jax.jit(spec.final))
            whole = final(*(jnp.asarray(ex.values[a.name]) for a in spec.args))  # one piece, no padding
            for arg, a, b, w in zip(
                spec.states,
                FINALS.final(spec, ex.values, ex.dims, bucket=BUCKET),
                UNPADDED.final(spec, ex.values, ex.dims, bucket=ex.dims),
                whole,
                strict=True,
            ):
                c = compare(a, b, TOL)
                assert c.ok, f"{name} final {arg.name}: padded differs from unpadded ({c.ratio:.3g}x the tolerance)"
                c = compare(b, np.asarray(w), TOL)
                assert c.ok, f"{name} final {arg.name}: in pieces differs from in one ({c.ratio:.3g}x the tolerance)"

    padded_equals_unpadded()
    # Once per spec; per extent of each dim the spec is not padded in (TimeBiLSTM reads
    # time from the end: T; SimpleSkipGram's softmax has no bias: V).
    allowed = int(np.prod([len({c[x] for c in CONFIGS}) for x in spec.unpadded]))
    assert 1 <= PADDED.compiles - before <= allowed, f"{name}: padded calls compiled {PADDED.compiles - before} times"


ATTENTION = {"AttentionWeight", "Attention", "TimeAttention", "AttentionDecoder", "AttentionSeq2seq"}
# the encoder's S, the decoder's T
TWO_SEQUENCES = {"TimeAttention", "AttentionDecoder", "AttentionSeq2seq", "Seq2seq", "PeekySeq2seq"}


def encoder_steps(spec) -> str:
    """The letter of the encoder's steps: S where a layer reads two sequences, else T."""
    return "S" if "S" in spec.letters else "T"


def test_the_attention_layers_that_read_the_encoder_through_a_softmax_are_not_padded_in_its_steps():
    """The decision for attention (docs/design-notes.md): a softmax over the encoder
    steps, or the decoder started from their last, is not padded in them (S, or T in
    a layer of one sequence); the decoder's steps T are, as are the weighted sum
    (linear in a, padded with 0) and the encoder (an LSTM). ch07's Seq2seq models,
    whose decoder starts from the encoder's last step, are the same: S not padded,
    T padded."""
    assert {n for n, s in SPECS.items() if "S" in s.letters} == TWO_SEQUENCES
    for name in ATTENTION:
        assert encoder_steps(SPECS[name]) in SPECS[name].unpadded, name
    for name in TWO_SEQUENCES:
        assert "S" in SPECS[name].unpadded and "T" not in SPECS[name].unpadded, name
    assert not {"WeightSum", "AttentionEncoder"} & {n for n, s in SPECS.items() if "T" in s.unpadded}


@pytest.mark.parametrize("name", sorted(ATTENTION))
def test_a_spec_marked_unpadded_in_the_encoders_steps_would_change_if_padded(name):
    """Not padding the encoder's steps costs a compile per length: each attention
    spec that declares it needs it. Padding them (the spec as if it allowed it)
    changes its output."""
    from dataclasses import replace

    spec = SPECS[name]
    k = encoder_steps(spec)
    kept = tuple(x for x in spec.unpadded if x != k)
    as_if = replace(spec, name=f"{name}~padded-{k}", pads_time=True, unpadded=kept)
    dims = {k: v for k, v in {"N": 2, "T": 2, "S": 2, "D": 3, "H": 3, "V": 4}.items() if k in spec.letters}
    ex = make_example(spec, dims, 0, np.float64)
    for arg in spec.states:
        ex.values[arg.name] = np.random.default_rng(0).uniform(-0.9, 0.9, ex.values[arg.name].shape)
    own = UNPADDED(spec, ex.values, ex.dout, dims, bucket=dims)
    padded = Oracle()(as_if, ex.values, ex.dout, dims, bucket={**dims, k: 4})
    assert not compare(padded.out, own.out, TOL).ok, f"{name}: padding {k} leaves the output unchanged"


def test_a_sum_axis_is_padded_part_by_part():
    """PeekyDecoder's Wx (H + D, 4H) at H=1, D=2 padded to H=D=4: the word's rows
    start after the h part's padding (rows 0 and 4, 5), each gate's column keeps
    its block (0, 4, 8, 12), and unpadding gives the array back. Padded at the end
    instead, a word's row would sit where the padded h reads it: padded != unpadded
    (the test above, on PeekyDecoder and PeekySeq2seq, with D != H)."""
    from gradcheck.oracle import _pad, _unpad
    from gradcheck.specs import axis_terms, extent

    dims, bucket, axes = {"H": 1, "D": 2}, {"H": 4, "D": 4}, ("H+D", "4H")
    assert axis_terms("H+D") == ((1, "H"), (1, "D")) and extent("H+D", dims) == 3
    arr = np.arange(1.0, 13.0).reshape(3, 4)
    padded = _pad(arr, axes, dims, bucket, 0.0, True)
    assert padded.shape == (8, 16)
    rows, cols = np.nonzero(padded)
    assert sorted(set(rows)) == [0, 4, 5] and sorted(set(cols)) == [0, 4, 8, 12]
    assert np.array_equal(_unpad(padded, axes, dims, bucket), arr)
