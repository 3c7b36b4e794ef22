"""repeatable and linear-in-dout share one backward (protocol.EXACT_SCALE): a right
layer pays one backward for both; a layer whose backward is linear only up to
rounding, or not repeatable, or not linear, gets the separate checks as before."""

from __future__ import annotations

import numpy as np

import rnnref
from gradcheck import protocol
from gradcheck.checks import setup
from gradcheck.engine import default_oracle
from gradcheck.examples import make_example
from gradcheck.specs import SPECS

SPEC = SPECS["TimeRNN"]
DIMS = dict(N=3, T=4, D=3, H=5)


class Counting(rnnref.TimeRNN):
    backwards = 0

    def backward(self, dhs):
        type(self).backwards += 1
        return super().backward(dhs)


class RoundedDout(Counting):
    """Linear in dout up to rounding only: (dhs + 0.1) - 0.1 is not exactly dhs."""

    def backward(self, dhs):
        return super().backward((dhs + 0.1) - 0.1)


class IgnoresDout(Counting):
    def backward(self, dhs):
        return super().backward(np.ones_like(dhs))


def _run(factory):
    ctx = setup(SPEC, factory, make_example(SPEC, DIMS, 0), default_oracle())
    factory.backwards = 0
    found = protocol.check_repeatable(ctx) + protocol.check_linear_in_dout(ctx)
    return {f.check: f for f in found}, factory.backwards, ctx


def test_a_right_layer_pays_one_backward_for_both_checks():
    found, backwards, ctx = _run(Counting)
    assert backwards == 1 and ctx.scaled is not None
    assert found["repeatable"].status == found["linear-in-dout"].status == "pass"


def test_a_backward_linear_up_to_rounding_passes_by_the_separate_checks():
    found, backwards, ctx = _run(RoundedDout)
    assert ctx.scaled is None and backwards == 3
    assert found["repeatable"].status == found["linear-in-dout"].status == "pass"


def test_a_backward_that_ignores_dout_fails_linear_in_dout():
    found, _, _ = _run(IgnoresDout)
    assert found["repeatable"].status == "pass"
    assert found["linear-in-dout"].status == "fail"
    assert found["linear-in-dout"].message.startswith("backward(2.5 * dout) != 2.5 * backward(dout)")
