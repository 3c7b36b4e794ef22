"""Every rnnref layer and the model: forward and every gradient equal the JAX
spec's output and vjp, in float64 and float32; the dtype follows the parameters."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prop_support import DTYPES, assert_matches_spec, build, forward_backward, reference
from prop_support import strategies as gs  # examples(...) built once: see there

from gradcheck.specs import SPECS

# Stochastic layers draw a mask when training: test_dropout_and_tying.py covers them.
LAYERS = [n for n, s in SPECS.items() if s.train_flag is None]
dtype_param = pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)


def test_every_spec_is_covered():
    """The suite below runs over SPECS: it must hold the book's layers and the model."""
    assert set(LAYERS) >= {
        "RNN",
        "TimeRNN",
        "TimeEmbedding",
        "TimeAffine",
        "TimeSoftmaxWithLoss",
        "SimpleRnnlm",
    }


@dtype_param
@pytest.mark.parametrize("name", LAYERS)
@given(data=st.data())
def test_forward_and_every_gradient_equal_the_spec_vjp(name, dtype, data):
    spec = SPECS[name]
    ex = data.draw(gs.examples(spec, dtypes=(dtype,)), label="example")
    out, grads = forward_backward(spec, build(spec, ex), ex)
    assert_matches_spec(spec, ex, out, grads, reference(spec, ex))


@dtype_param
@pytest.mark.parametrize("name", LAYERS)
@given(data=st.data())
def test_dtype_of_output_and_gradients_follows_the_parameters(name, dtype, data):
    spec = SPECS[name]
    ex = data.draw(gs.examples(spec, dtypes=(dtype,)), label="example")
    out, grads = forward_backward(spec, build(spec, ex), ex)
    want = np.dtype(dtype)
    assert np.asarray(out).dtype == want, f"{name} output is {np.asarray(out).dtype}, params are {want}"
    for a in spec.grad_args:
        got = np.asarray(grads[a.name]).dtype
        assert got == want, f"{name} d{a.name} is {got}, params are {want}"
