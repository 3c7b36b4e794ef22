"""Shared driver for the property tests (not a test module).

Runs an rnnref layer on a `gradcheck.examples.Example` the way the book calls it,
written here rather than borrowed from `gradcheck.calling`, so that these tests do
not depend on the harness they also check. JAX goes through one module-level
`Oracle` whose bucket is the strategies' upper bounds: one compile per spec for
every example drawn within those bounds.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np

import rnnref
from gradcheck import strategies as gs
from gradcheck.checks import SpecComparison
from gradcheck.compare import PRECISIONS, Comparison, compare, precision_for
from gradcheck.examples import Example
from gradcheck.oracle import Oracle
from gradcheck.specs import Spec
from gradcheck.specs.base import tie
from gradcheck.stochastic import fixed_random  # seeds np.random and restores the caller's state
from gradcheck.strategies import DEFAULT_BOUNDS

# The upper bounds of the default strategies, which are also what `runner.run`
# pads to: examples drawn within them share one compile per spec.
BUCKET: dict[str, int] = {k: hi for k, (lo, hi) in DEFAULT_BOUNDS.items()}
ORACLE = Oracle()
DTYPES = (np.float64, np.float32)


class _ExamplesBuiltOnce:
    """`gradcheck.strategies`, with `examples(...)` built once per arguments. A test that
    draws `gs.examples(spec, ...)` in its body builds it anew for every example, and
    Hypothesis parses the @st.composite's source each time (~1 ms, a quarter of
    test_layers_match_spec's time), for the same strategy. Imported as `gs`, so that the
    tests' source, from which Hypothesis derives the ci profile's examples, stays as it was."""

    examples = staticmethod(functools.cache(gs.examples))

    def __getattr__(self, name: str):
        return getattr(gs, name)


strategies = _ExamplesBuiltOnce()


def rtol(dtype) -> float:
    """The analytic tolerance of gradcheck's one table, for the dtype computed in."""
    return PRECISIONS[np.dtype(dtype)].analytic


def onehot(ts: np.ndarray, V: int) -> np.ndarray:
    """(N, T) int labels -> (N, T, V) one-hot (labels must all be valid classes)."""
    assert (ts >= 0).all(), "one-hot labels cannot express ignored positions"
    return np.eye(V, dtype=np.int64)[ts]


def build(spec: Spec, ex: Example, *, stateful: bool = True):
    """The rnnref layer of `spec` holding copies of the example's params; the model
    is built from its sizes (`spec.model_sizes`) in the example's dtype and its params overwritten,
    and so is a layer the book builds from sizes (`spec.sized`: ch07's Encoder, Decoder)."""
    params = [ex.values[a.name].copy() for a in spec.params]
    extra = spec.constructor_extra(ex.dims)  # NegativeSamplingLoss's corpus; CBOW's window_size and corpus
    if spec.sized:
        model = getattr(rnnref, spec.name)(*spec.model_sizes(ex.dims), *extra, dtype=ex.dtype)
        # a tied entry is a view of another param: written through it
        for p, v in zip(_untied(spec, model.params), params, strict=True):
            p[...] = v
        return model
    cls = getattr(rnnref, spec.name)
    return cls(*params, stateful=stateful) if spec.state is not None else cls(*params, *extra)


def _untied(spec: Spec, seq) -> list:
    """params or grads without the tied entries, where the layer lists them (BetterRnnlm
    does; NegativeSamplingLoss, CBOW and SkipGram list each weight once)."""
    listed = len(seq) == len(spec.params) + len(spec.tied)
    tied = {pos for pos, _ in spec.tied} if listed else set()
    return [x for i, x in enumerate(seq) if i not in tied]


def _redrawn(spec: Spec, layer, inputs: list[np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """The negatives a forward under np.random.seed(seed) drew, re-drawn through
    rnnref's own samplers in the order its forward draws them (the caller's stream
    restored)."""
    if spec.name == "SkipGram":  # one loss per context word, the first context's rows first
        draws = [(loss.sampler, inputs[0][:, k]) for k, loss in enumerate(layer.loss_layers)]
    else:  # NegativeSamplingLoss(h, target), CBOW(contexts, target): the target's negatives
        draws = [((layer.ns_loss if spec.name == "CBOW" else layer).sampler, inputs[1])]
    with fixed_random(seed):
        negatives = np.stack([sampler.get_negative_sample(words) for sampler, words in draws])
    (arg,) = spec.drawn
    return {arg.name: negatives[0] if len(draws) == 1 else negatives}


def inputs_of(spec: Spec, ex: Example, values: Mapping[str, np.ndarray] | None = None) -> list[np.ndarray]:
    values = values or ex.values
    out = []
    for a in spec.inputs:
        v = np.array(values[a.name], copy=True)
        if a.onehot_ok and ex.onehot:
            v = onehot(v, ex.dims["V"])
        out.append(v)
    return out


def forward_backward(spec: Spec, layer, ex: Example, values: Mapping[str, np.ndarray] | None = None, dout=None):
    """forward from the example's initial state, then backward(dout).

    Returns (out, grads): grads by spec arg name, the very arrays the layer gave
    (params' grads, what backward returned, `.dh` for the initial state)."""
    values = values or ex.values
    dout = ex.dout if dout is None else dout
    if spec.kind == "model" and spec.state is not None:  # Seq2seq keeps no state between calls
        layer.reset_state()
    elif spec.state is not None:  # h, and TimeLSTM's c
        layer.set_state(*(np.array(values[a.name], copy=True) for a in spec.states))
    inputs = inputs_of(spec, ex, values)
    if spec.drawn:  # negative sampling: forward draws; the spec takes what it drew (into ex.values)
        with fixed_random(ex.seed):
            out = layer.forward(*[x.copy() for x in inputs])
        ex.values.update(_redrawn(spec, layer, inputs, ex.seed))
    else:
        out = layer.forward(*inputs)
    dout = np.array(dout, copy=True) if isinstance(dout, np.ndarray) else dout
    if spec.outputs:  # a cell with several results (LSTM: h_next, c_next) as the blocks of one array
        out = np.concatenate(out, axis=-1)
        ret = layer.backward(*np.split(dout, len(spec.outputs), axis=-1))
    else:
        ret = layer.backward(dout)
    grads: dict[str, np.ndarray] = {}
    if len(spec.returns) == 1:
        grads[spec.returns[0]] = ret
    elif spec.returns:
        grads.update(zip(spec.returns, ret, strict=True))
    for a, g in zip(spec.params, _untied(spec, layer.grads), strict=True):
        grads[a.name] = g
    listed = len(layer.grads) == len(spec.params) + len(spec.tied)
    for pos, entry in spec.tied if listed else ():  # a param listed twice: its gradient is the sum of both entries
        name, transposed = tie(entry)
        grads[name] = grads[name] + (layer.grads[pos].T if transposed else layer.grads[pos])
    if spec.state is not None and spec.kind != "model":
        grads[spec.state.name] = layer.dh
    return out, grads


def reference(spec: Spec, ex: Example, values: Mapping[str, np.ndarray] | None = None, dout=None, dims=None):
    """The spec's output and vjp (float64) on the example, padded to BUCKET."""
    return ORACLE(spec, _ref_values(spec, ex, values), ex.dout if dout is None else dout, dims or ex.dims, bucket=BUCKET)


def _ref_values(spec: Spec, ex: Example, values: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    values = dict(values or ex.values)
    if spec.kind == "model":
        for a in spec.states:
            values.setdefault(a.name, np.zeros((ex.dims["N"], ex.dims["H"])))
    return values


def assert_close(actual, expected, dtype, what: str) -> None:
    """compare() with the analytic tolerance of `dtype`; the message names the worst entry."""
    _assert_ok(compare(actual, expected, rtol(dtype)), what)


def _assert_ok(c: Comparison, what: str) -> None:
    if not c.ok:
        worst = c.worst[0] if c.worst else None
        detail = c.shape_error or (
            f"{c.bad_count} of {c.size} entries off; worst at {worst.index}: "
            f"expected {worst.expected!r}, got {worst.actual!r} ({c.ratio:.3g}x the tolerance)"
        )
        raise AssertionError(f"{what}: {detail}")


def assert_matches_spec(spec: Spec, ex: Example, out, grads, ref, label: str = "") -> None:
    """Output and every gradient the layer owes (spec.grad_args) equal the spec's vjp,
    compared as gradcheck's checks compare them (`checks.SpecComparison`: a failing
    comparison is made again allowing what rounding alone explains)."""
    prefix = f"{spec.name}{label} "
    against = SpecComparison(ORACLE, spec, _ref_values(spec, ex), ex.dout, ex.dims, ref, precision_for(ex.dtype), BUCKET)
    _assert_ok(against(out, "out"), prefix + "forward")
    for a in spec.grad_args:
        assert grads.get(a.name) is not None, f"{prefix}d{a.name} is missing"
        _assert_ok(against(grads[a.name], a.name), f"{prefix}d{a.name}")


def spec_final_state(spec: Spec, values: Mapping[str, np.ndarray], dims: Mapping[str, int]) -> tuple[np.ndarray, ...]:
    """The spec's state after running the sequence of `values` (h, and c for an
    LSTM): what a stateful layer must carry into the next chunk."""
    return ORACLE.final(spec, values, dims, bucket=BUCKET)
