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

    seen_T: set[int] = set()

    @given(ex=st.one_of(gs.examples(spec), gs.examples(spec, extreme=True)))
    def forward_equals_out(ex):
        seen_T.add(ex.dims.get("T", 0))
        full = ORACLE(spec, ex.values, ex.dout, ex.dims, bucket=BUCKET)
        fwd = ORACLE.forward(spec, ex.values, ex.dims, bucket=BUCKET)
        assert fwd.dtype == np.float64
        c = compare(fwd, full.out, TOL)
        assert c.ok, f"{name}: forward-only differs from the vjp's output: {c.shape_error or c.worst[:1]}"

    forward_equals_out()
    # One compile of each program (vjp and forward-only) for every example in the bucket;
    # per length for a spec not padded in time (TimeBiLSTM reads time from the end).
    expected = 2 if spec.pads_time else 2 * len(seen_T)
    assert ORACLE.compiles == before + expected, f"{name}: {ORACLE.compiles - before} compiles, expected {expected}"


def test_forward_only_pads_like_the_vjp_by_default():
    """Without a bucket both programs round each extent up the same way."""
    spec = SPECS["TimeRNN"]
    ex = make_example(spec, {"N": 3, "T": 5, "D": 2, "H": 3}, 7, np.float64)
    c = compare(ORACLE.forward(spec, ex.values, ex.dims), ORACLE(spec, ex.values, ex.dout, ex.dims).out, TOL)
    assert c.ok and c.size == 3 * 5 * 3
