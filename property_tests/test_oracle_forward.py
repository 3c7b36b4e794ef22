"""The forward-only oracle gives the output of the full (output + vjp) oracle, for
every spec, on the same padded bucket, and compiles once per spec like it."""

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

ORACLE = Oracle()  # its own, so that the compile counts below are this module's
TOL = PRECISIONS[np.dtype(np.float64)].analytic


@pytest.mark.parametrize("name", list(SPECS))
def test_forward_only_equals_the_output_of_the_vjp(name):
    spec = SPECS[name]
    before = ORACLE.compiles

    seen: set[tuple[int, ...]] = set()  # extents of the dims the spec is not padded in

    @given(ex=st.one_of(gs.examples(spec), gs.examples(spec, extreme=True)))
    def forward_equals_out(ex):
        seen.add(tuple(ex.dims.get(x, 0) for x in spec.unpadded))
        full = ORACLE(spec, ex.values, ex.dout, ex.dims, bucket=BUCKET)
        fwd = ORACLE.forward(spec, ex.values, ex.dims, bucket=BUCKET)
        assert fwd.dtype == np.float64
        c = compare(fwd, full.out, TOL)
        assert c.ok, f"{name}: forward-only differs from the vjp's output: {c.shape_error or c.worst[:1]}"

    forward_equals_out()
    # One compile of each program (vjp and forward-only) for every example in the bucket;
    # per extent of a dim it is not padded in (TimeBiLSTM: T, read from the end;
    # SimpleSkipGram: V, a softmax without a bias).
    expected = 2 * len(seen)
    assert ORACLE.compiles == before + expected, f"{name}: {ORACLE.compiles - before} compiles, expected {expected}"


def test_forward_only_pads_like_the_vjp_by_default():
    """Without a bucket both programs round each extent up the same way."""
    spec = SPECS["TimeRNN"]
    ex = make_example(spec, {"N": 3, "T": 5, "D": 2, "H": 3}, 7, np.float64)
    c = compare(ORACLE.forward(spec, ex.values, ex.dims), ORACLE(spec, ex.values, ex.dout, ex.dims).out, TOL)
    assert c.ok and c.size == 3 * 5 * 3
