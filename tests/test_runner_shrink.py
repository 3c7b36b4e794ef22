"""A constructor that crashes on an example of the least dims ends the run there:
shrinking would only try inputs, labels and plans, which a constructor never sees.
A crash that needs larger dims is still shrunk to the smallest that shows it."""

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
