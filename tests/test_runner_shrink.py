"""A layer that crashes on an example of the least dims ends the run there: what
shrinking would try next (the seed of the values, the dtype, a 1x1 label) leaves a
crash's report as it is. A crash that needs larger dims is still shrunk to the
smallest that shows it, and a wrong gradient is shrunk as before."""

from __future__ import annotations

import seed_notebook as seed

import rnnref
from gradcheck.oracle import Oracle
from gradcheck.runner import RunOptions, Target, run


def one(target: Target):
    return run([target], RunOptions(profile="ci"), oracle=Oracle()).layers[0]


def test_a_constructor_crash_at_the_least_dims_is_not_shrunk_further():
    lr = one(Target("SimpleRnnlm", seed.SimpleRnnlm, None))  # `layer.parmas` in its constructor
    assert lr.status == "fail" and lr.failures[0].message.startswith("constructor raised AttributeError")
    assert "N=1, T=1, D=1, H=1, V=2" in lr.example
    assert lr.examples <= 3  # was 106: Hypothesis went on shrinking what the constructor never reads
    assert lr.replay  # still says how to replay it


def test_a_forward_crash_at_the_least_dims_is_not_shrunk_further():
    lr = one(Target("TimeRNN", seed.TimeRNN, rnnref.RNN))  # `self.layer.append` in forward
    assert lr.status == "fail" and lr.failures[0].message.startswith("forward raised AttributeError")
    assert "N=1, T=1, D=1, H=1" in lr.example and lr.examples <= 3  # was 103


class TimeRNNNoWideH(rnnref.TimeRNN):
    """Crashes in its constructor only when H > 2."""

    def __init__(self, Wx, Wh, b, stateful=False):
        if Wh.shape[0] > 2:
            raise ValueError("H > 2 is not supported")
        super().__init__(Wx, Wh, b, stateful=stateful)


def test_a_constructor_crash_at_larger_dims_is_still_shrunk_to_the_smallest():
    lr = one(Target("TimeRNN", TimeRNNNoWideH, rnnref.RNN))
    assert lr.status == "fail" and "H > 2 is not supported" in lr.failures[0].message
    assert "H=3" in lr.example and "N=1" in lr.example and "T=1" in lr.example


class TimeRNNDhHalved(rnnref.TimeRNN):
    """A wrong gradient (no crash): shrunk as before, past the first failing example."""

    def backward(self, dhs):
        dxs = super().backward(dhs)
        self.dh = self.dh * 0.5
        return dxs


def test_a_wrong_gradient_is_still_shrunk():
    lr = one(Target("TimeRNN", TimeRNNDhHalved, rnnref.RNN))
    assert lr.status == "fail" and "N=1, T=1, D=1, H=1" in lr.example
    assert lr.examples > lr.first_failure  # examples were tried after the first failure: shrinking ran
