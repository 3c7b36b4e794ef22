"""The checks of structure run on two rows of the example (examples.thin) and pad
their smaller calls to a smaller bucket only when that halves the work
(oracle.sub_bucket): a bug of state across calls is still caught at any N, the
right layer still passes."""

from __future__ import annotations

import buggy_layers as B
import numpy as np
import pytest

import rnnref
from gradcheck.engine import check_example, default_oracle
from gradcheck.examples import make_example, thin
from gradcheck.oracle import sub_bucket
from gradcheck.specs import SPECS


def test_thin_takes_the_first_rows_of_every_batched_array():
    spec = SPECS["TimeRNN"]
    ex = make_example(spec, dict(N=5, T=4, D=3, H=2), 0)
    sub = thin(spec, ex)
    assert sub.dims == {**ex.dims, "N": 2}
    assert np.array_equal(sub.values["xs"], ex.values["xs"][:2])
    assert np.array_equal(sub.values["h0"], ex.values["h0"][:2])
    assert np.array_equal(sub.dout, ex.dout[:2])
    assert sub.values["Wh"] is ex.values["Wh"] and sub.plan == ex.plan


def test_thin_keeps_a_model_loss_and_a_small_batch():
    spec = SPECS["SimpleRnnlm"]
    ex = make_example(spec, dict(N=4, T=3, D=3, H=2, V=5), 0)
    sub = thin(spec, ex)
    assert sub.values["ts"].shape == (2, 3) and sub.dout == ex.dout
    one = make_example(SPECS["TimeRNN"], dict(N=1, T=2, D=3, H=2), 0)
    assert thin(SPECS["TimeRNN"], one).dims["N"] == 1


@pytest.mark.parametrize(
    "bucket, dims, want",
    [
        ({"N": 4, "T": 16, "H": 256}, {"N": 2, "T": 2, "H": 256}, {"N": 4, "T": 4, "H": 256}),
        ({"N": 20, "T": 35}, {"N": 2, "T": 30}, {"N": 4, "T": 35}),  # a long chunk: the example's bucket
        ({"N": 3, "T": 5}, {"N": 2, "T": 2}, {"N": 3, "T": 5}),  # the runner's bucket: no new compile
        ({"N": 8, "T": 8}, {"N": 2, "T": 4}, {"N": 4, "T": 4}),
        ({"N": 20, "T": 35}, {"N": 2, "T": 11}, {"N": 4, "T": 16}),  # 9..16 steps share one bucket
        ({"N": 20, "T": 35}, {"N": 2, "T": 7}, {"N": 4, "T": 8}),  # 5..8 steps another
        ({"N": 4, "T": 16}, {"N": 2, "T": 8}, {"N": 4, "T": 8}),  # half the example's 16 steps
        ({"N": 4, "T": 16}, {"N": 2, "T": 9}, {"N": 4, "T": 16}),  # 16 would not halve it
    ],
)
def test_sub_bucket_shrinks_only_where_it_halves_the_work(bucket, dims, want):
    assert sub_bucket(bucket, dims) == want


def _stateful(factory, spec, dims, seed=0):
    ex = make_example(SPECS[spec], dims, seed)
    return [f for f in check_example(SPECS[spec], factory, ex, oracle=default_oracle()) if f.check == "stateful"]


@pytest.mark.parametrize("seed", range(3))
def test_a_layer_that_does_not_carry_its_state_fails_stateful_at_a_large_batch(seed):
    found = _stateful(B.TimeRNNNoCarry, "TimeRNN", dict(N=7, T=6, D=3, H=4), seed)
    assert any(f.status == "fail" for f in found), [f.message for f in found]


@pytest.mark.parametrize("seed", range(3))
def test_the_reference_passes_stateful_at_a_large_batch(seed):
    found = _stateful(rnnref.TimeRNN, "TimeRNN", dict(N=7, T=6, D=3, H=4), seed)
    assert [f.status for f in found] == ["pass"]


def test_a_model_that_is_not_stateful_fails_stateful_at_a_large_batch():
    found = _stateful(B.SimpleRnnlmNotStateful, "SimpleRnnlm", dict(N=6, T=5, D=3, H=4, V=7))
    assert any(f.status == "fail" for f in found), [f.message for f in found]


def _checks(factory, spec, dims, names, seed=0, cell=None):
    ex = make_example(SPECS[spec], dims, seed)
    found = check_example(SPECS[spec], factory, ex, oracle=default_oracle(), cell_factory=cell)
    return [f for f in found if f.check in names]


@pytest.mark.parametrize(
    "bug, check", [(B.TimeRNNResetBroken, "state-reset"), (B.TimeRNNAlwaysStateful, "non-stateful")]
)
def test_state_method_bugs_fail_at_a_large_batch(bug, check):
    found = _checks(bug, "TimeRNN", dict(N=7, T=3, D=3, H=4), {check})
    assert found and all(f.status == "fail" for f in found)


@pytest.mark.parametrize(
    "bug, spec, cell",
    [(B.TimeRNNZeroStateAtT1, "TimeRNN", rnnref.RNN), (B.TimeAffineNoBiasAtT1, "TimeAffine", rnnref.Affine)],
)
def test_cell_bugs_fail_at_a_large_batch(bug, spec, cell):
    dims = dict(N=7, T=3, D=3, H=4) if spec == "TimeRNN" else dict(N=7, T=3, D=3, H=4, V=5)
    found = _checks(bug, spec, {k: v for k, v in dims.items() if k in SPECS[spec].letters}, {"cell"}, cell=cell)
    assert found and all(f.status == "fail" for f in found)


@pytest.mark.parametrize("spec, cell", [("TimeRNN", rnnref.RNN), ("TimeAffine", rnnref.Affine)])
def test_the_reference_passes_cell_and_state_checks_at_a_large_batch(spec, cell):
    dims = {k: v for k, v in dict(N=7, T=3, D=3, H=4, V=5).items() if k in SPECS[spec].letters}
    found = _checks(getattr(rnnref, spec), spec, dims, {"cell", "state-reset", "non-stateful"}, cell=cell)
    assert found and all(f.status == "pass" for f in found), [f.message for f in found]


def test_make_example_takes_given_arrays_as_they_are():
    spec = SPECS["TimeRNN"]
    base = make_example(spec, dict(N=2, T=3, D=3, H=4), 0)
    other = make_example(spec, dict(N=1, T=4, D=3, H=4), 5, given={"Wx": base.values["Wx"]})
    assert other.values["Wx"] is base.values["Wx"]
    assert other.values["xs"].shape == (1, 4, 3) and other.values["Wh"].shape == (4, 4)


MODEL_DIMS = dict(N=6, T=4, D=3, H=4, V=7)


@pytest.mark.parametrize("seed", range(3))
def test_a_model_reset_that_does_nothing_fails_state_reset_at_a_large_batch(seed):
    found = _checks(B.SimpleRnnlmResetBroken, "SimpleRnnlm", MODEL_DIMS, {"state-reset"}, seed)
    assert found and all(f.status == "fail" for f in found)


@pytest.mark.parametrize("seed", range(3))
def test_the_reference_model_passes_state_reset_at_a_large_batch(seed):
    found = _checks(rnnref.SimpleRnnlm, "SimpleRnnlm", MODEL_DIMS, {"state-reset"}, seed)
    assert [f.status for f in found] == ["pass"], [f.message for f in found]


def test_a_model_reset_on_rows_whose_labels_are_all_ignored_uses_the_whole_batch():
    spec = SPECS["SimpleRnnlm"]
    labels = np.array([[-1, -1, -1, -1], [-1, -1, -1, -1], [0, 1, 2, 3], [4, 5, 6, 0]])
    ex = make_example(spec, dict(N=4, T=4, D=3, H=4, V=7), 0, labels=labels)
    found = [
        f for f in check_example(spec, rnnref.SimpleRnnlm, ex, oracle=default_oracle()) if f.check == "state-reset"
    ]
    assert [f.status for f in found] == ["pass"], [f.message for f in found]
    bad = check_example(spec, B.SimpleRnnlmResetBroken, ex, oracle=default_oracle())
    assert [f.status for f in bad if f.check == "state-reset"] == ["fail"]
