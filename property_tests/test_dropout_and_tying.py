"""Dropout in both modes and weight tying, on rnnref, against the mathematics.

Training: with NumPy's global generator seeded alike, two forwards draw the same
mask; the mask is 0 or one scale (1 for the book's Dropout, 1 / (1 - p) for the
inverted TimeDropout); backward is dout times that mask; and the caller's random
stream is as it was (gradcheck.stochastic.fixed_random). Evaluation: the spec.
Tying: BetterRnnlm's params hold embed_W and a view of its transpose, and in
evaluation the sum of their two grads entries is JAX's gradient for embed_W."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from prop_support import DTYPES, assert_close, build, inputs_of, reference
from prop_support import strategies as gs  # examples(...) built once: see there

import rnnref
from gradcheck.specs import SPECS
from gradcheck.stochastic import fixed_random

SCALE = {"Dropout": lambda p: 1.0, "TimeDropout": lambda p: 1 / (1 - p)}


@given(
    name=st.sampled_from(sorted(SCALE)),
    ratio=st.sampled_from([0.0, 0.1, 0.5, 0.9]),
    seed=st.integers(0, 2**16),
    dtype=st.sampled_from(DTYPES),
    data=st.data(),
)
def test_training_mask_is_fixed_by_the_seed_and_backward_applies_it(name, ratio, seed, dtype, data):
    spec = SPECS[name]
    dims = data.draw(gs.dims(letters="".join(spec.letters)), label="dims")
    shape = tuple(dims[a] for a in spec.inputs[0].axes)
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.1, 1, shape).astype(dtype) * rng.choice([-1, 1], shape)
    dout = rng.uniform(-1, 1, shape).astype(dtype)
    layer = getattr(rnnref, name)(ratio)
    before = np.random.get_state()[1].copy()
    with fixed_random(seed):
        out = layer.forward(x.copy())
    with fixed_random(seed):
        again = layer.forward(x.copy())
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # the caller's stream untouched
    np.testing.assert_array_equal(out, again)
    mask = out / x
    kept = mask != 0
    np.testing.assert_allclose(mask[kept], SCALE[name](ratio), rtol=1e-6)
    if ratio == 0.0:
        assert kept.all()
    np.testing.assert_array_equal(layer.backward(dout.copy()), dout * layer.mask)
    np.testing.assert_allclose(layer.backward(dout.copy()), dout * mask, rtol=1e-6)


@given(name=st.sampled_from(sorted(SCALE)), dtype=st.sampled_from(DTYPES), data=st.data())
def test_evaluation_equals_the_spec(name, dtype, data):
    spec = SPECS[name]
    ex = data.draw(gs.examples(spec, dtypes=(dtype,)), label="example")
    layer = getattr(rnnref, name)()  # the book's default ratio, which the spec assumes
    if spec.train_flag == "argument":
        out = layer.forward(*inputs_of(spec, ex), train_flg=False)
    else:
        layer.train_flg = False
        out = layer.forward(*inputs_of(spec, ex))
    assert_close(out, reference(spec, ex).out, dtype, f"{name} in evaluation")


@given(dtype=st.sampled_from(DTYPES), data=st.data())
def test_tied_weight_gradient_is_the_sum_of_its_entries(dtype, data):
    spec = SPECS["BetterRnnlm"]
    ex = data.draw(gs.examples(spec, dtypes=(dtype,)), label="example")
    model = build(spec, ex)
    assert model.params[7].base is model.params[0] or np.shares_memory(model.params[7], model.params[0])
    np.testing.assert_array_equal(model.params[7], model.params[0].T)
    model.reset_state()
    loss = model.forward(*inputs_of(spec, ex), train_flg=False)
    model.backward(ex.dout)
    ref = reference(spec, ex)
    assert_close(loss, ref.out, dtype, "BetterRnnlm loss in evaluation")
    grads = dict(zip((a.name for a in spec.params), [g for i, g in enumerate(model.grads) if i != 7], strict=True))
    grads["embed_W"] = grads["embed_W"] + model.grads[7].T
    for a in spec.grad_args:
        assert_close(grads[a.name], ref.grads[a.name], dtype, f"d{a.name}")
    # Either entry alone is not the gradient (both uses of the weight matter).
    assert not np.allclose(model.grads[0], ref.grads["embed_W"], rtol=1e-3, atol=1e-9)
