"""The runner finds hand-made bugs and shrinks each to a small example that shows
it, and the rendered report prints that example (run with -s to see them).

Each buggy class is an rnnref layer with one mistake a reader of the book makes.
"""

from __future__ import annotations

import re

import numpy as np
from prop_support import ORACLE

import rnnref
from gradcheck.runner import RunOptions, Target, run


class TimeRNNGradsOverwritten(rnnref.TimeRNN):
    """(a) the shared weights' gradients are overwritten at every step, not summed."""

    def backward(self, dhs):
        Wx = self.params[0]
        N, T, H = dhs.shape
        dxs = np.empty((N, T, Wx.shape[0]), dtype=Wx.dtype)
        dh = np.zeros((N, H), dtype=Wx.dtype)
        for t in reversed(range(T)):
            layer = self.layers[t]
            dx, dh = layer.backward(dhs[:, t, :] + dh)
            dxs[:, t, :] = dx
            for g, step_g in zip(self.grads, layer.grads, strict=True):
                g[...] = step_g  # BUG: g[...] += step_g over the steps
        self.dh = dh
        return dxs


class TimeEmbeddingNoAddAt(rnnref.TimeEmbedding):
    """(b) dW[idx] += dout: a token that appears twice keeps only one row of dout."""

    def backward(self, dout):
        (dW,) = self.grads
        dW[...] = 0
        dW[self.idx] += dout  # BUG: np.add.at(dW, self.idx, dout)
        return None


class SoftmaxGradNotMasked(rnnref.TimeSoftmaxWithLoss):
    """(c) the loss skips ignored positions but the gradient does not."""

    def backward(self, dout=1):
        ts, logp, mask, count = self.cache
        dxs = np.exp(logp)
        np.put_along_axis(dxs, ts[..., None], np.take_along_axis(dxs, ts[..., None], axis=2) - 1, axis=2)
        return dxs * (np.asarray(dout, dtype=dxs.dtype) / max(count, 1))  # BUG: no mask


class TimeRNNDropsState(rnnref.TimeRNN):
    """(d) stateful=True, yet each forward starts from zeros: the last hidden state
    is not kept for the next forward (set_state(h) still works, once)."""

    def forward(self, xs):
        hs = super().forward(xs)
        self.h = None  # BUG: the next chunk starts from zeros instead of hs[:, -1]
        return hs


def dims_of(example: str) -> dict[str, int]:
    """N=1, T=2, ... from the first line of a report's example."""
    return {k: int(v) for k, v in re.findall(r"\b([NTSDHV])=(\d+)", example.splitlines()[0])}


def array_of(example: str, name: str) -> list[float]:
    """The numbers of one array listed in a report's example (it may span lines)."""
    lines = example.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  {name} ("))
    text = lines[start].split(": ", 1)[1]
    for line in lines[start + 1 :]:
        if not line.startswith("    "):
            break
        text += line
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d*)?(?:e[-+]?\d+)?", text)]


def shrunk(target: Target):
    report = run([target], RunOptions(profile="ci"), oracle=ORACLE)
    layer = report.layers[0]
    text = report.render()
    print(f"\n--- {target.factory.__name__}: smallest failing example ---\n{layer.example}")
    assert not report.passed and layer.status == "fail", text
    assert layer.example, "no failing example in the report"
    assert "smallest failing example:" in text
    for line in layer.example.splitlines():
        assert line in text, f"render() does not print the example line {line!r}"
    assert layer.replay and target.name in layer.replay, layer.replay
    return layer, dims_of(layer.example)


def test_time_rnn_grads_not_summed_shrinks_to_two_steps():
    layer, dims = shrunk(Target("TimeRNN", TimeRNNGradsOverwritten, rnnref.RNN))
    # T=1 has a single step to sum, so two steps is the smallest example that shows it.
    assert dims["N"] == 1 and dims["T"] == 2, dims
    assert dims["D"] <= 2 and dims["H"] <= 2, dims
    verdicts = {f.tensor: f.verdict for f in layer.failures if f.check == "verdict"}
    assert verdicts.get("dWh") == "backward wrong", verdicts
    assert {"dWx", "dWh", "db"} <= {f.tensor for f in layer.failures if f.check == "backward-jax"}
    assert layer.checks["forward"].status == "pass"


def test_time_embedding_without_add_at_shrinks_to_a_repeated_token():
    layer, dims = shrunk(Target("TimeEmbedding", TimeEmbeddingNoAddAt, rnnref.Embedding))
    assert dims["N"] * dims["T"] == 2, dims
    tokens = array_of(layer.example, "xs")
    assert len(tokens) == 2 and tokens[0] == tokens[1], f"tokens {tokens} hold no repeat"
    assert dims["V"] <= 3 and dims["D"] <= 2, dims
    assert any(f.check == "verdict" and f.tensor == "dW" and f.verdict == "backward wrong" for f in layer.failures)
    assert layer.checks["forward"].status == "pass"


def test_softmax_gradient_not_masked_shrinks_to_a_few_positions():
    layer, dims = shrunk(Target("TimeSoftmaxWithLoss", SoftmaxGradNotMasked))
    # Hypothesis orders examples by how many choices they take: one with every label
    # ignored skips the one-hot draw, so N=2, T=2 all-ignored can rank below N=1, T=1.
    assert dims["N"] * dims["T"] <= 4 and dims["V"] <= 3, dims
    mask = [f for f in layer.failures if f.check == "mask"]
    assert mask and all("ignored" in f.message and "dxs" in f.message for f in mask), [
        f.message for f in layer.failures
    ]
    assert layer.checks["forward"].status == "pass"


def test_stateful_time_rnn_that_drops_its_state_shrinks_to_two_one_step_chunks():
    layer, dims = shrunk(Target("TimeRNN", TimeRNNDropsState, rnnref.RNN))
    assert dims["N"] == 1 and dims["T"] == 2, dims
    assert dims["D"] <= 2 and dims["H"] <= 2, dims
    # Only a second chunk shows it; the first starts from set_state(h0), as it should.
    assert "stateful plan: forward(1 steps), forward(1 steps)" in layer.example
    stateful = [f for f in layer.failures if f.check == "stateful"]
    assert stateful and all("chunk 2" in f.message for f in stateful), [f.message for f in layer.failures]
    assert layer.checks["forward"].status == "pass" and layer.checks["backward-jax"].status == "pass"
