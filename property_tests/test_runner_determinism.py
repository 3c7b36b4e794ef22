"""Under the ci profile the runner is deterministic: two runs in one process give
the same report (everything but the wall time), passing or failing."""

from __future__ import annotations

import numpy as np

import rnnref
from gradcheck.runner import RunOptions, Target, reference_targets, run


def _without_seconds(report) -> dict:
    d = report.to_dict()
    assert "seconds" in d, sorted(d)
    d.pop("seconds")
    return d


def test_two_ci_runs_of_the_reference_give_identical_reports():
    # TimeRNN draws stateful plans and set_state values; the loss draws label masks.
    targets = reference_targets(["TimeRNN", "TimeSoftmaxWithLoss"])
    first, second = (_without_seconds(run(targets, RunOptions(profile="ci"))) for _ in range(2))
    assert first["passed"] is True, first
    assert [layer["examples"] for layer in first["layers"]] == [30, 30]
    assert first == second


class TimeEmbeddingNoAddAt(rnnref.TimeEmbedding):
    """dW[idx] += dout keeps one row of dout per repeated token."""

    def backward(self, dout):
        (dW,) = self.grads
        dW[...] = 0
        dW[self.idx] += dout
        return None


def test_two_ci_runs_shrink_a_bug_to_the_same_example():
    target = Target("TimeEmbedding", TimeEmbeddingNoAddAt, rnnref.Embedding)
    first, second = (_without_seconds(run([target], RunOptions(profile="ci", dtypes=(np.float64,)))) for _ in range(2))
    assert first["passed"] is False and first["layers"][0]["example"]
    assert first == second
