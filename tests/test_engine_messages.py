"""Messages a reader can act on: the tensor, the entry (with its time step), expected
vs actual, error vs tolerance, and the example that shows it."""

from __future__ import annotations

import json
import re

import buggy_layers as B
import numpy as np

import rnnref
from gradcheck.engine import check_layer

WORST = re.compile(r"worst (\w+)\[([^\]]*)\]: expected (-?[\d.e+-]+|nan|inf), got (-?[\d.e+-]+|nan|inf)")


def test_backward_jax_message_names_tensor_entry_expected_and_actual():
    lr = B.run(B.TimeRNNGradsOverwritten, "TimeRNN", cell=rnnref.RNN)
    f = next(f for f in lr.failures if f.check == "backward-jax" and f.tensor == "dWx")
    m = WORST.search(f.message)
    assert m, f.message
    assert m.group(1) == "dWx"
    assert re.fullmatch(r"d=\d, h=\d", m.group(2))  # named axes of Wx (D, H)
    assert float(m.group(3)) != float(m.group(4))
    assert "x the tolerance" in f.message
    assert f.entries and f.axes == ("D", "H")
    # The entries are the real values: expected is JAX's, actual the layer's.
    e = f.entries[0]
    assert abs(e.actual - e.expected) == e.error > e.allowed


def test_time_step_of_a_wrong_dxs_entry_is_given():
    """Dropping the gradient carried from step t+1 leaves dxs right at the last step
    and wrong before it: every named entry must say t < T-1."""
    lr = B.run(B.TimeRNNDropsCarriedGrad, "TimeRNN", cell=rnnref.RNN)
    T = 3
    for check in ("backward-jax", "backward-fd"):
        f = next(f for f in lr.failures if f.check == check and f.tensor == "dxs")
        assert f.axes == ("N", "T", "D")
        assert f.entries
        for e in f.entries:
            assert e.index[1] < T - 1
            assert f"t={e.index[1]}" in e.where(f.axes)
    f = next(f for f in lr.failures if f.check == "backward-jax" and f.tensor == "dxs")
    assert re.search(r"worst dxs\[n=\d, t=[01], d=\d\]: expected", f.message), f.message
    lines = f.detail_lines()
    assert lines and all(
        re.match(r"dxs\[n=\d, t=[01], d=\d\]: expected .*, got .*\(error .*, allowed .*\)", x) for x in lines
    )


def test_time_step_in_render_and_json():
    r = check_layer(B.TimeRNNDropsCarriedGrad, "TimeRNN", cell=rnnref.RNN)
    text = r.render()
    assert "== TimeRNN failed ==" in text
    assert re.search(r"\[backward-jax\] dxs differs from JAX's vjp", text)
    assert re.search(r"dxs\[n=\d, t=\d, d=\d\]: expected", text)
    assert "smallest failing example" in text and "seed=0" in text and "N=2, T=3, D=4, H=5" in text
    d = json.loads(r.to_json())
    layer = d["layers"][0]
    assert layer["status"] == "fail" and d["passed"] is False
    wheres = [e["where"] for f in layer["findings"] if f["tensor"] == "dxs" for e in f["entries"]]
    assert wheres and all(re.fullmatch(r"\[n=\d, t=\d, d=\d\]", w) for w in wheres)


def test_fd_message_says_along_what_and_how_far():
    lr = B.run(B.RNNWrongTanhGrad, "RNN", use_spec=False)
    f = next(f for f in lr.failures if f.check == "backward-fd" and f.tensor == "dWx")
    assert f.message.startswith("dWx disagrees with finite differences")
    assert "backward predicts" in f.message and "differences give" in f.message
    assert "Taylor remainder shrinks like h^1" in f.message  # a wrong gradient: slope 1
    # dWx (4x5) is larger than the entrywise limit; the failing projection still locates entries.
    assert f.entries and all(len(e.index) == 2 for e in f.entries)
    assert all(e.error > e.allowed for e in f.entries)


def test_fd_entries_find_the_wrong_rows_of_repeated_tokens():
    """dW[idx] += dout: only the rows of repeated tokens are wrong; the entries named
    must be in those rows."""
    ex = B.tokens_example()
    tokens, counts = np.unique(ex.values["xs"], return_counts=True)
    repeated = set(tokens[counts > 1].tolist())
    lr = B.run(B.TimeEmbeddingFancyIndex, "TimeEmbedding", example=ex)
    for check in ("backward-jax", "backward-fd"):
        f = next(f for f in lr.failures if f.check == check and f.tensor == "dW")
        assert f.entries
        assert {e.index[0] for e in f.entries} <= repeated, (check, [e.index for e in f.entries])
        assert all(e.where(f.axes).startswith(f"[v={e.index[0]}, d=") for e in f.entries)
    msg = lr.checks["backward-jax"].message
    assert "dW differs from JAX's vjp at" in msg
    wrong_rows = len(repeated) * ex.dims["D"]
    assert f"at {wrong_rows} of {ex.dims['V'] * ex.dims['D']} entries" in msg


def test_dh_is_named_dh():
    lr = B.run(B.TimeRNNNoDh, "TimeRNN")
    f = next(f for f in lr.failures if f.check == "backward-jax")
    assert f.tensor == "dh" and f.axes == ("N", "H")
    assert "dh differs from JAX's vjp" in f.message and "got 0" in f.message


def test_stateful_message_names_the_chunk():
    lr = B.run(B.TimeRNNNoCarry, "TimeRNN")
    msg = lr.checks["stateful"].message
    assert re.match(r"out of chunk 2 \(t=\d\.\.\d\) differs from the spec run from the carried state", msg), msg


def test_state_reset_messages():
    msg = B.run(B.TimeRNNResetBroken, "TimeRNN").checks["state-reset"].message
    assert "reset_state()" in msg and "zeros" in msg
    msg = B.run(B.TimeRNNAlwaysStateful, "TimeRNN").checks["non-stateful"].message
    assert "stateful=False" in msg and "zeros" in msg


def test_cell_message_names_the_reference():
    lr = B.run(B.TimeAffineNoBiasAtT1, "TimeAffine", cell=rnnref.Affine)
    assert lr.checks["cell"].message.startswith("out[t=0] differs from the spec of Affine")
    lr = B.run(rnnref.TimeAffine, "TimeAffine", cell=rnnref.Affine)
    assert lr.checks["cell"].status == "pass"


def test_cell_without_spec_names_the_cell_class():
    lr = B.run(rnnref.TimeRNN, "TimeRNN", cell=B.RNNNoBias, use_spec=False)
    assert lr.checks["cell"].message.startswith("out[t=0] differs from RNN.forward/backward")


def test_linear_in_dout_message():
    msg = B.run(B.AffineIgnoresDout, "Affine").checks["linear-in-dout"].message
    assert msg.startswith("backward(2.5 * dout) != 2.5 * backward(dout)")
    assert "dx" in msg and "dW" in msg and "db" in msg
    assert "dout ignored" in msg


def test_repeatable_message_names_the_tensor():
    msg = B.run(B.TimeSoftmaxWithLossEditsCache, "TimeSoftmaxWithLoss").checks["repeatable"].message
    assert "second backward" in msg and "dxs" in msg


def test_failing_example_is_reproducible_from_the_report():
    """The example in the report is the one the findings are about: rerunning the
    layer on its seed and dims gives the same failure."""
    r1 = check_layer(B.RNNMissingTranspose, "RNN", seed=5, dims={"N": 3, "D": 2, "H": 4})
    text = r1.layers[0].example
    assert "seed=5" in text and "N=3, D=2, H=4" in text
    r2 = check_layer(B.RNNMissingTranspose, "RNN", seed=5, dims={"N": 3, "D": 2, "H": 4})
    assert r1.to_json() == r2.to_json()  # deterministic
