"""The oracle's padding is exact: an example padded up to a bucket gives the same
output and vjp as the same example evaluated at its own shape, for every spec,
while the padded calls compile once per spec.

The unpadded side compiles once per distinct shape (0.1-1 s each), so its dims
come from a few configurations below the bucket, chosen so that every axis is
padded by several amounts, including zero on some axes (at the bucket's extent).
"""

from __future__ import annotations

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
FINALS = Oracle()  # its own: the final state is not padded in time, so it compiles per T
# Below BUCKET (N=3, T=5, D=4, H=4, V=6): minimal, middling, and some axes unpadded.
CONFIGS = (
    {"N": 1, "T": 1, "D": 1, "H": 1, "V": 2},
    {"N": 2, "T": 3, "D": 2, "H": 3, "V": 4},
    {"N": 3, "T": 2, "D": 4, "H": 1, "V": 6},
)
TOL = PRECISIONS[np.dtype(np.float64)].analytic


@st.composite
def padded_cases(draw, name):
    spec = SPECS[name]
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


@pytest.mark.parametrize("name", list(SPECS))
def test_padding_to_a_bucket_gives_the_unpadded_result(name):
    spec = SPECS[name]
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
        if spec.final is not None:  # the state carried on: padded in all but time
            for arg, a, b in zip(
                spec.states,
                FINALS.final(spec, ex.values, ex.dims, bucket=BUCKET),
                UNPADDED.final(spec, ex.values, ex.dims, bucket=ex.dims),
                strict=True,
            ):
                c = compare(a, b, TOL)
                assert c.ok, f"{name} final {arg.name}: padded differs from unpadded ({c.ratio:.3g}x the tolerance)"

    padded_equals_unpadded()
    # Once per spec; per extent of each dim the spec is not padded in (TimeBiLSTM reads
    # time from the end: T; SimpleSkipGram's softmax has no bias: V).
    allowed = int(np.prod([len({c[x] for c in CONFIGS}) for x in spec.unpadded]))
    assert 1 <= PADDED.compiles - before <= allowed, f"{name}: padded calls compiled {PADDED.compiles - before} times"
