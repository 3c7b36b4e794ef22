"""Finite differences along one joint direction of all tensors (checks.check_backward_fd,
numeric.joint_probe): a right gradient passes with two forwards, a wrong one is
caught and named per tensor, and a tensor the joint projection is too coarse for
(compare.FD_JOINT_RTOL) still gets its own probe."""

from __future__ import annotations

import numpy as np
import pytest

import rnnref
from gradcheck.checks import check_backward_fd, setup
from gradcheck.compare import PRECISIONS
from gradcheck.engine import check_example, default_oracle
from gradcheck.examples import make_example
from gradcheck.numeric import joint_probe, random_direction
from gradcheck.specs import SPECS

F64 = PRECISIONS[np.dtype(np.float64)]


def _quadratic(W: np.ndarray, b: np.ndarray):
    """f = sum(W^2) / 2 + <c, b> on the very arrays the probe edits; gradient (W, c)."""
    c = np.linspace(-1.0, 1.0, b.size).reshape(b.shape)

    def f() -> tuple[float, float]:
        terms = np.concatenate([(W * W / 2).ravel(), (c * b).ravel()])
        return float(terms.sum()), float(np.abs(terms).sum())

    return f, c


def _joint(W, b, gW, gb, seed=0):
    rng = np.random.default_rng(seed)
    share = 1 / np.sqrt(2)
    us = [share * random_direction(W.shape, rng), share * random_direction(b.shape, rng)]
    return joint_probe(_quadratic(W, b)[0], [W, b], [gW, gb], us, F64)


def test_joint_probe_passes_the_right_gradient_and_restores_the_tensors():
    rng = np.random.default_rng(1)
    W, b = rng.standard_normal((30, 20)), rng.standard_normal(7)
    W0, b0 = W.copy(), b.copy()
    c = _quadratic(W, b)[1]
    d = _joint(W, b, W.copy(), c)
    assert d.ok and d.ratio < 1
    assert np.array_equal(W, W0) and np.array_equal(b, b0)


@pytest.mark.parametrize("seed", range(5))
def test_joint_probe_catches_a_wrong_small_tensor_next_to_a_large_one(seed):
    rng = np.random.default_rng(seed)
    W, b = rng.standard_normal((30, 20)), rng.standard_normal(7)
    c = _quadratic(W, b)[1]
    assert not _joint(W, b, W.copy(), 1.5 * c, seed).ok  # db wrong by half its size
    assert not _joint(W, b, 1.01 * W, c, seed).ok  # dW wrong by 1 %


def _fd(factory, spec: str, dims: dict, seed: int = 0):
    ex = make_example(SPECS[spec], dims, seed, np.float64)
    return [f for f in check_example(SPECS[spec], factory, ex, oracle=default_oracle()) if f.check == "backward-fd"]


def test_a_right_float64_layer_passes_on_the_joint_projection_alone():
    found = _fd(rnnref.TimeRNN, "TimeRNN", dict(N=3, T=4, D=5, H=6))
    assert {f.tensor for f in found} == {"dWx", "dWh", "db", "dxs", "dh"}
    assert all(f.status == "pass" and "one projection of all 5 tensors" in f.message for f in found)


class TimeRNNWrongDb(rnnref.TimeRNN):
    """Every gradient right but db, which is twice what it should be."""

    def backward(self, dhs):
        dxs = super().backward(dhs)
        self.grads[2][...] *= 2  # BUG
        return dxs


def test_a_joint_failure_names_only_the_wrong_tensor():
    found = _fd(TimeRNNWrongDb, "TimeRNN", dict(N=3, T=4, D=5, H=6))
    assert {f.tensor for f in found if f.status == "fail"} == {"db"}
    assert all(f.status == "pass" for f in found if f.tensor != "db")


class Float32AffineWrongDb(rnnref.Affine):
    """Computes in float32 (so float32 tolerances); db twice what it should be. Its
    dW is much larger than db at D=2000, H=5: one joint projection at float32's
    tolerance does not see db's error (with FD_JOINT_RTOL = 1e9 none of seeds 0-9
    fails), a probe of db alone does."""

    def forward(self, x):
        W, b = self.params
        self.x = x.astype(np.float32)
        return self.x @ W.astype(np.float32) + b.astype(np.float32)

    def backward(self, dout):
        W, _ = self.params
        dout = dout.astype(np.float32)
        self.grads[0][...] = self.x.T @ dout
        self.grads[1][...] = 2 * dout.sum(axis=0)  # BUG
        return dout @ W.astype(np.float32).T


@pytest.mark.parametrize("seed", range(3))
def test_float32_layers_keep_one_probe_per_tensor(seed):
    found = _fd(Float32AffineWrongDb, "Affine", dict(N=2, D=2000, H=5), seed)
    assert {f.tensor for f in found if f.status == "fail"} == {"db"}
    assert not any("one projection" in f.message for f in found)


class CountingFloat32Affine(Float32AffineWrongDb):
    forwards = 0

    def forward(self, x):
        type(self).forwards += 1
        return super().forward(x)

    def backward(self, dout):  # right this time
        W, _ = self.params
        dout = dout.astype(np.float32)
        self.grads[0][...] = self.x.T @ dout
        self.grads[1][...] = dout.sum(axis=0)
        return dout @ W.astype(np.float32).T


def test_float32_spends_no_forwards_on_a_joint_projection_that_could_stand_for_nothing():
    ex = make_example(SPECS["Affine"], dict(N=2, D=2000, H=5), 0)
    ctx = setup(SPECS["Affine"], CountingFloat32Affine, ex, default_oracle())
    CountingFloat32Affine.forwards = 0
    found = check_backward_fd(ctx)
    assert all(f.status == "pass" for f in found)
    # a float64 example: the primary's gradients, no forward of its own; then 2 per
    # tensor (dW, db, dx) and none for a joint projection
    assert CountingFloat32Affine.forwards == 2 * 3
